-- Move up to $2 jobs of queue $1 whose run_at has come from scheduled to ready, earliest first,
-- and notify the queue's listeners when any moved (the notification goes out at commit).
-- $1 queue id, $2 how many at most. Returns the number moved, and the first default-group key.
WITH due AS (
    -- This queue's due range of scheduled_due_idx (scheduled_run_at_idx is the worker's: see its
    -- predicate in sql/jobs.sql), then each job by primary key. No recheck of run_at outside:
    -- FOR UPDATE rechecked the locked versions and holds them, and one would let the planner walk
    -- the primary key instead, for as long as the backend keeps the plan.
    DELETE FROM queue.scheduled s
     WHERE s.id = ANY (ARRAY(SELECT d.id FROM queue.scheduled d
                              WHERE d.queue_id = $1 AND d.run_at <= now()
                              ORDER BY d.run_at LIMIT $2 FOR UPDATE SKIP LOCKED))
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
)
SELECT (SELECT count(*) FROM moved),
       (SELECT array_agg(queue_id ORDER BY queue_id) FROM heads) AS head_queues,
       (SELECT array_agg(np ORDER BY queue_id) FROM heads) AS head_np,
       (SELECT array_agg(run_at ORDER BY queue_id) FROM heads) AS head_run_at,
       (SELECT array_agg(id ORDER BY queue_id) FROM heads) AS head_id,
       (SELECT pg_notify('queue_' || q.name, q.name) FROM queue.queues q
         WHERE q.id = $1 AND q.notify AND EXISTS (SELECT FROM due))::text
