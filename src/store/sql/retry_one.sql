-- Send dead or cancelled job $1 back to queue.ready with its attempts reset, take its dedupe
-- key again, and notify. Returns its id; nothing when it is neither dead nor cancelled.
WITH d AS (DELETE FROM queue.dead WHERE id = $1 RETURNING id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error),
     c AS (DELETE FROM queue.done WHERE id = $1 AND state = 'cancelled' RETURNING id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error),
gone AS (
    SELECT * FROM d UNION ALL SELECT * FROM c
), revived AS (
    INSERT INTO queue.ready (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT g.id, g.queue_id, g.priority, 0, g.max_attempts, now(), g.enqueued_at, g.group_key, g.payload,
           g.dedupe_key, g.first_claimed_at, g.claimed_at, g.locked_by, g.last_error
      FROM gone g
    RETURNING queue_id
), keyed AS (
    INSERT INTO queue.dedupe (queue_id, dedupe_key, job_id)
    SELECT g.queue_id, g.dedupe_key, g.id FROM gone g WHERE g.dedupe_key IS NOT NULL
)
SELECT g.id, g.queue_id,
       (SELECT pg_notify('queue_' || q.name, q.name) FROM queue.queues q
         WHERE q.notify AND q.id IN (SELECT queue_id FROM revived))::text
  FROM gone g
