-- The background worker's promotion: up to $1 due jobs of every queue move from scheduled to
-- ready, and each queue that got any is notified (once, at commit). Returns (moved, notified,
-- and per queue the first default-group key made ready).
WITH due AS (
    -- By scheduled_run_at_idx (queue_id > 0 is its predicate), then each job by primary key; no
    -- recheck outside, as in promote.sql.
    DELETE FROM queue.scheduled s
     WHERE s.id = ANY (ARRAY(SELECT d.id FROM queue.scheduled d
                              WHERE d.queue_id > 0 AND d.run_at <= now()
                              ORDER BY d.run_at LIMIT $1 FOR UPDATE SKIP LOCKED))
    RETURNING s.*
), moved AS (
    INSERT INTO queue.ready (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error FROM due
    RETURNING queue_id, group_key, priority, run_at, id
), heads AS (
    -- Per queue, the first default-group job made ready (claim key order): claims must not start
    -- past it once this commits (src/shmem/head.rs).
    SELECT DISTINCT ON (queue_id) queue_id, -(priority::bigint) AS np, run_at, id
      FROM moved WHERE group_key = ''
     ORDER BY queue_id, -(priority::bigint), run_at, id
), notified AS (
    SELECT pg_notify('queue_' || q.name, q.name)
      FROM queue.queues q
     WHERE q.notify AND q.id IN (SELECT DISTINCT queue_id FROM moved)
)
SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM notified),
       (SELECT array_agg(queue_id ORDER BY queue_id) FROM heads) AS head_queues,
       (SELECT array_agg(np ORDER BY queue_id) FROM heads) AS head_np,
       (SELECT array_agg(run_at ORDER BY queue_id) FROM heads) AS head_run_at,
       (SELECT array_agg(id ORDER BY queue_id) FROM heads) AS head_id
