-- The live job holding the dedupe key of finished job $1, if another does.
SELECT d.job_id
  FROM (SELECT queue_id, dedupe_key FROM queue.dead WHERE id = $1
        UNION ALL SELECT queue_id, dedupe_key FROM queue.done WHERE id = $1 AND state = 'cancelled') AS f
  JOIN queue.dedupe d ON d.queue_id = f.queue_id AND d.dedupe_key = f.dedupe_key
 WHERE d.job_id <> $1
