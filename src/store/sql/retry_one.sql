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
    RETURNING queue_id, group_key, priority, run_at, id
), heads AS (
    -- Per queue, the first default-group job made ready (claim key order): claims must not start
    -- past it once this commits (src/shmem/head.rs).
    SELECT DISTINCT ON (queue_id) queue_id, -(priority::bigint) AS np, run_at, id
      FROM revived WHERE group_key = ''
     ORDER BY queue_id, -(priority::bigint), run_at, id
), keyed AS (
    INSERT INTO queue.dedupe (queue_id, dedupe_key, job_id)
    SELECT g.queue_id, g.dedupe_key, g.id FROM gone g WHERE g.dedupe_key IS NOT NULL
)
SELECT g.id, g.queue_id,
       (SELECT array_agg(queue_id ORDER BY queue_id) FROM heads) AS head_queues,
       (SELECT array_agg(np ORDER BY queue_id) FROM heads) AS head_np,
       (SELECT array_agg(run_at ORDER BY queue_id) FROM heads) AS head_run_at,
       (SELECT array_agg(id ORDER BY queue_id) FROM heads) AS head_id,
       (SELECT pg_notify('queue_' || q.name, q.name) FROM queue.queues q
         WHERE q.notify AND q.id IN (SELECT queue_id FROM revived))::text
  FROM gone g
