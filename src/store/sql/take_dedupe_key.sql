-- Take dedupe key $2 of queue $1 for a new job: returns the job id to use, or nothing when a live
-- job holds the key already (or the queue does not exist, or role $3 may not produce into it).
-- Producers racing on one key wait for each other here on the primary key; exactly one wins.
INSERT INTO queue.dedupe (queue_id, dedupe_key, job_id)
SELECT q.id, $2, nextval('queue.jobs_id_seq')
  FROM queue.queues q
 WHERE q.name = $1 AND queue._may(q.id, $3, 'produce')
ON CONFLICT DO NOTHING
RETURNING job_id
