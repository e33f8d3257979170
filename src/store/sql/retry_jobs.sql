-- retry_jobs: send at most $8 jobs of queue $1 in state $2 ('dead' or 'cancelled') back to
-- queue.ready with their attempts reset, as retry_queue.sql does, and notify. Filters, NULL
-- meaning any: $3 group key, $4 dedupe key, $5 older than (by finished_at), $6 and $7 the id
-- range. Jobs whose dedupe key a live job holds are not picked (they stay where they are, and a
-- later call does not pick them either), and of several in one batch sharing a key only the
-- newest comes back. Returns the count and, per queue, the first default-group key made ready.
WITH candidates AS (
    SELECT x.dead, x.ctid, x.id, x.dedupe_key FROM (
        (SELECT true AS dead, j.ctid, j.id, j.dedupe_key FROM queue.dead j
          WHERE j.queue_id = $1 AND $2 = 'dead'
            AND ($3::text IS NULL OR j.group_key = $3) AND ($4::text IS NULL OR j.dedupe_key = $4)
            AND ($5::interval IS NULL OR j.finished_at < now() - $5)
            AND ($6::bigint IS NULL OR j.id >= $6) AND ($7::bigint IS NULL OR j.id <= $7)
            AND NOT EXISTS (SELECT FROM queue.dedupe l WHERE l.queue_id = $1 AND l.dedupe_key = j.dedupe_key)
          ORDER BY j.finished_at LIMIT $8)
        UNION ALL
        (SELECT false, j.ctid, j.id, j.dedupe_key FROM queue.done j
          WHERE j.queue_id = $1 AND $2 = 'cancelled' AND j.state = 'cancelled'
            AND ($3::text IS NULL OR j.group_key = $3) AND ($4::text IS NULL OR j.dedupe_key = $4)
            AND ($5::interval IS NULL OR j.finished_at < now() - $5)
            AND ($6::bigint IS NULL OR j.id >= $6) AND ($7::bigint IS NULL OR j.id <= $7)
            AND NOT EXISTS (SELECT FROM queue.dedupe l WHERE l.queue_id = $1 AND l.dedupe_key = j.dedupe_key)
          ORDER BY j.finished_at LIMIT $8)) AS x
), picked AS (
    SELECT dead, ctid FROM candidates WHERE dedupe_key IS NULL
    UNION ALL
    (SELECT DISTINCT ON (dedupe_key) dead, ctid FROM candidates WHERE dedupe_key IS NOT NULL ORDER BY dedupe_key, id DESC)
), d AS (
    -- By ctid (queue.done has no btree on id); the conditions are checked again on the row.
    DELETE FROM queue.dead j WHERE $2 = 'dead' AND j.ctid = ANY (ARRAY(SELECT ctid FROM picked WHERE dead))
    RETURNING j.id, j.queue_id, j.priority, j.attempts, j.max_attempts, j.run_at, j.enqueued_at, j.group_key, j.payload, j.dedupe_key, j.first_claimed_at, j.claimed_at, j.locked_by, j.last_error
), c AS (
    DELETE FROM queue.done j WHERE $2 = 'cancelled' AND j.state = 'cancelled'
       AND j.ctid = ANY (ARRAY(SELECT ctid FROM picked WHERE NOT dead))
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
    -- The first default-group job made ready (claim key order): claims must not start past it
    -- once this commits (src/shmem/head.rs).
    SELECT DISTINCT ON (queue_id) queue_id, -(priority::bigint) AS np, run_at, id
      FROM revived WHERE group_key = ''
     ORDER BY queue_id, -(priority::bigint), run_at, id
), keyed AS (
    INSERT INTO queue.dedupe (queue_id, dedupe_key, job_id)
    SELECT g.queue_id, g.dedupe_key, g.id FROM gone g WHERE g.dedupe_key IS NOT NULL
)
SELECT (SELECT count(*) FROM gone),
       (SELECT array_agg(queue_id ORDER BY queue_id) FROM heads) AS head_queues,
       (SELECT array_agg(np ORDER BY queue_id) FROM heads) AS head_np,
       (SELECT array_agg(run_at ORDER BY queue_id) FROM heads) AS head_run_at,
       (SELECT array_agg(id ORDER BY queue_id) FROM heads) AS head_id,
       (SELECT pg_notify('queue_' || q.name, q.name) FROM queue.queues q
         WHERE q.id = $1 AND q.notify AND EXISTS (SELECT FROM gone))::text
