-- Send every job of queue $1 in state $2 ('dead' or 'cancelled') back to queue.ready with its
-- attempts reset, and notify. Jobs whose dedupe key a live job holds stay where they are, and of
-- several sharing a key only the newest comes back: a redrive must not break one-live-job-per-key.
-- Returns the ids revived.
WITH candidates AS (
    SELECT x.id, x.dedupe_key
      FROM (SELECT id, dedupe_key FROM queue.dead WHERE queue_id = $1 AND $2 = 'dead'
            UNION ALL
            SELECT id, dedupe_key FROM queue.done WHERE queue_id = $1 AND $2 = 'cancelled' AND state = 'cancelled') x
     WHERE NOT EXISTS (SELECT FROM queue.dedupe l WHERE l.queue_id = $1 AND l.dedupe_key = x.dedupe_key)
), picked AS (
    SELECT id FROM candidates WHERE dedupe_key IS NULL
    UNION ALL
    SELECT max(id) FROM candidates WHERE dedupe_key IS NOT NULL GROUP BY dedupe_key
), d AS (
    DELETE FROM queue.dead j WHERE $2 = 'dead' AND j.queue_id = $1 AND j.id IN (SELECT id FROM picked)
    RETURNING j.id, j.queue_id, j.priority, j.attempts, j.max_attempts, j.run_at, j.enqueued_at, j.group_key, j.payload, j.dedupe_key, j.first_claimed_at, j.claimed_at, j.locked_by, j.last_error
), c AS (
    DELETE FROM queue.done j WHERE $2 = 'cancelled' AND j.queue_id = $1 AND j.state = 'cancelled'
       AND j.id IN (SELECT id FROM picked)
    RETURNING j.id, j.queue_id, j.priority, j.attempts, j.max_attempts, j.run_at, j.enqueued_at, j.group_key, j.payload, j.dedupe_key, j.first_claimed_at, j.claimed_at, j.locked_by, j.last_error
), gone AS (
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
       (SELECT pg_notify('queue_' || q.name, q.name) FROM queue.queues q WHERE q.id = $1 AND q.notify)::text
  FROM gone g
