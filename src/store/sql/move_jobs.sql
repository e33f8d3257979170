-- move_jobs: move at most $8 pending jobs of queue $1 to queue $2, each into the same table
-- (ready or scheduled) with its id, payload, timing and attempts, its dedupe key moving with it.
-- Filters, NULL meaning any: $3 group key, $4 dedupe key, $5 older than (by enqueued_at), $6 and
-- $7 the id range. A job whose dedupe key a live job of $2 holds is not picked: it stays (and a
-- later call does not pick it either). Returns the count, the queue notified, and the first
-- default-group key made ready in $2.
WITH picked AS (
    SELECT p.id FROM (
        (SELECT j.id FROM queue.ready j
          WHERE j.queue_id = $1
            AND ($3::text IS NULL OR j.group_key = $3) AND ($4::text IS NULL OR j.dedupe_key = $4)
            AND ($5::interval IS NULL OR j.enqueued_at < now() - $5)
            AND ($6::bigint IS NULL OR j.id >= $6) AND ($7::bigint IS NULL OR j.id <= $7)
            AND NOT EXISTS (SELECT FROM queue.dedupe t WHERE t.queue_id = $2 AND t.dedupe_key = j.dedupe_key)
          ORDER BY j.group_key, -(j.priority::bigint), j.run_at, j.id LIMIT $8)
        UNION ALL
        -- Ready jobs of paused groups, parked under the queue's id negated (src/api/groups.rs): they
        -- arrive in $2 as ready jobs (a claim there parks them again if the group is paused there).
        (SELECT j.id FROM queue.ready j
          WHERE j.queue_id = -$1
            AND ($3::text IS NULL OR j.group_key = $3) AND ($4::text IS NULL OR j.dedupe_key = $4)
            AND ($5::interval IS NULL OR j.enqueued_at < now() - $5)
            AND ($6::bigint IS NULL OR j.id >= $6) AND ($7::bigint IS NULL OR j.id <= $7)
            AND NOT EXISTS (SELECT FROM queue.dedupe t WHERE t.queue_id = $2 AND t.dedupe_key = j.dedupe_key)
          ORDER BY j.group_key, -(j.priority::bigint), j.run_at, j.id LIMIT $8)
        UNION ALL
        (SELECT j.id FROM queue.scheduled j
          WHERE j.queue_id = $1
            AND ($3::text IS NULL OR j.group_key = $3) AND ($4::text IS NULL OR j.dedupe_key = $4)
            AND ($5::interval IS NULL OR j.enqueued_at < now() - $5)
            AND ($6::bigint IS NULL OR j.id >= $6) AND ($7::bigint IS NULL OR j.id <= $7)
            AND NOT EXISTS (SELECT FROM queue.dedupe t WHERE t.queue_id = $2 AND t.dedupe_key = j.dedupe_key)
          ORDER BY j.run_at LIMIT $8)) AS p
     LIMIT $8
), r AS (
    DELETE FROM queue.ready j WHERE j.id = ANY (ARRAY(SELECT id FROM picked))
    RETURNING j.id, j.priority, j.attempts, j.max_attempts, j.run_at, j.enqueued_at, j.group_key, j.payload, j.dedupe_key, j.first_claimed_at, j.claimed_at, j.locked_by, j.last_error
), s AS (
    DELETE FROM queue.scheduled j WHERE j.id = ANY (ARRAY(SELECT id FROM picked))
    RETURNING j.id, j.priority, j.attempts, j.max_attempts, j.run_at, j.enqueued_at, j.group_key, j.payload, j.dedupe_key, j.first_claimed_at, j.claimed_at, j.locked_by, j.last_error
), now_ready AS (
    INSERT INTO queue.ready (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT r.id, $2, r.priority, r.attempts, r.max_attempts, r.run_at, r.enqueued_at, r.group_key, r.payload, r.dedupe_key, r.first_claimed_at, r.claimed_at, r.locked_by, r.last_error FROM r
    RETURNING group_key, priority, run_at, id
), later AS (
    INSERT INTO queue.scheduled (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT s.id, $2, s.priority, s.attempts, s.max_attempts, s.run_at, s.enqueued_at, s.group_key, s.payload, s.dedupe_key, s.first_claimed_at, s.claimed_at, s.locked_by, s.last_error FROM s
), freed AS (
    -- By primary key, one probe per key (a join here would read the source's every key).
    DELETE FROM queue.dedupe d
     WHERE d.queue_id = $1
       AND d.dedupe_key = ANY (ARRAY(SELECT dedupe_key FROM r WHERE dedupe_key IS NOT NULL
                                     UNION ALL SELECT dedupe_key FROM s WHERE dedupe_key IS NOT NULL))
       AND d.job_id = ANY (ARRAY(SELECT id FROM r UNION ALL SELECT id FROM s))
), keyed AS (
    -- A producer that takes the key in $2 after this statement's snapshot makes this fail (23505):
    -- the call then changes nothing.
    INSERT INTO queue.dedupe (queue_id, dedupe_key, job_id)
    SELECT $2, dedupe_key, id FROM r WHERE dedupe_key IS NOT NULL
    UNION ALL SELECT $2, dedupe_key, id FROM s WHERE dedupe_key IS NOT NULL
), head AS (
    -- The first default-group job made ready (claim key order): claims must not start past it
    -- once this commits (src/shmem/head.rs).
    SELECT -(priority::bigint) AS np, run_at, id FROM now_ready WHERE group_key = ''
     ORDER BY -(priority::bigint), run_at, id LIMIT 1
)
SELECT (SELECT count(*) FROM r) + (SELECT count(*) FROM s),
       (SELECT array_agg($2::integer) FROM head) AS head_queues,
       (SELECT array_agg(np) FROM head) AS head_np,
       (SELECT array_agg(run_at) FROM head) AS head_run_at,
       (SELECT array_agg(id) FROM head) AS head_id,
       (SELECT pg_notify('queue_' || q.name, q.name) FROM queue.queues q
         WHERE q.id = $2 AND q.notify AND EXISTS (SELECT FROM now_ready))::text
