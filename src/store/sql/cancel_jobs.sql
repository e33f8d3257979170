-- cancel_jobs: cancel at most $8 live jobs of queue $1 that match the filters, as cancel.sql does
-- one: each moves to queue.done as 'cancelled' (a worker holding it can no longer complete or fail
-- it) and frees its dedupe key. Filters, NULL meaning any: $2 state ('pending' or 'running'),
-- $3 group key, $4 dedupe key, $5 older than (by enqueued_at), $6 and $7 the id range.
-- Each table is read in the order of its index on queue_id (so a scan stops after $8 rows), and
-- rows are deleted by primary key. Returns the count.
WITH picked AS (
    SELECT p.id FROM (
        (SELECT j.id FROM queue.ready j
          WHERE j.queue_id = $1 AND coalesce($2::text, 'pending') = 'pending'
            AND ($3::text IS NULL OR j.group_key = $3) AND ($4::text IS NULL OR j.dedupe_key = $4)
            AND ($5::interval IS NULL OR j.enqueued_at < now() - $5)
            AND ($6::bigint IS NULL OR j.id >= $6) AND ($7::bigint IS NULL OR j.id <= $7)
          ORDER BY j.group_key, -(j.priority::bigint), j.run_at, j.id LIMIT $8)
        UNION ALL
        -- Ready jobs of paused groups, parked under the queue's id negated (src/api/groups.rs).
        (SELECT j.id FROM queue.ready j
          WHERE j.queue_id = -$1 AND coalesce($2::text, 'pending') = 'pending'
            AND ($3::text IS NULL OR j.group_key = $3) AND ($4::text IS NULL OR j.dedupe_key = $4)
            AND ($5::interval IS NULL OR j.enqueued_at < now() - $5)
            AND ($6::bigint IS NULL OR j.id >= $6) AND ($7::bigint IS NULL OR j.id <= $7)
          ORDER BY j.group_key, -(j.priority::bigint), j.run_at, j.id LIMIT $8)
        UNION ALL
        (SELECT j.id FROM queue.scheduled j
          WHERE j.queue_id = $1 AND coalesce($2::text, 'pending') = 'pending'
            AND ($3::text IS NULL OR j.group_key = $3) AND ($4::text IS NULL OR j.dedupe_key = $4)
            AND ($5::interval IS NULL OR j.enqueued_at < now() - $5)
            AND ($6::bigint IS NULL OR j.id >= $6) AND ($7::bigint IS NULL OR j.id <= $7)
          ORDER BY j.run_at LIMIT $8)
        UNION ALL
        (SELECT j.id FROM queue.running j
          WHERE j.queue_id = $1 AND coalesce($2::text, 'running') = 'running'
            AND ($3::text IS NULL OR j.group_key = $3) AND ($4::text IS NULL OR j.dedupe_key = $4)
            AND ($5::interval IS NULL OR j.enqueued_at < now() - $5)
            AND ($6::bigint IS NULL OR j.id >= $6) AND ($7::bigint IS NULL OR j.id <= $7)
          ORDER BY j.group_key LIMIT $8)) AS p
     LIMIT $8
), r AS (
    DELETE FROM queue.ready j WHERE j.id = ANY (ARRAY(SELECT id FROM picked))
    RETURNING j.id, j.queue_id, j.priority, j.attempts, j.max_attempts, j.run_at, j.enqueued_at, j.group_key, j.payload, j.dedupe_key, j.first_claimed_at, j.claimed_at, j.locked_by, j.last_error
), s AS (
    DELETE FROM queue.scheduled j WHERE j.id = ANY (ARRAY(SELECT id FROM picked))
    RETURNING j.id, j.queue_id, j.priority, j.attempts, j.max_attempts, j.run_at, j.enqueued_at, j.group_key, j.payload, j.dedupe_key, j.first_claimed_at, j.claimed_at, j.locked_by, j.last_error
), l AS (
    DELETE FROM queue.running j WHERE j.id = ANY (ARRAY(SELECT id FROM picked))
    RETURNING j.id, j.queue_id, j.priority, j.attempts, j.max_attempts, j.run_at, j.enqueued_at, j.group_key, j.payload, j.dedupe_key, j.first_claimed_at, j.claimed_at, j.locked_by, j.last_error
), gone AS (
    SELECT * FROM r UNION ALL SELECT * FROM s UNION ALL SELECT * FROM l
), kept AS (
    INSERT INTO queue.done (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error, state, finished_at)
    SELECT g.id, abs(g.queue_id), g.priority, g.attempts, g.max_attempts, g.run_at, g.enqueued_at, g.group_key, g.payload, g.dedupe_key, g.first_claimed_at, g.claimed_at, g.locked_by, g.last_error, 'cancelled', now() FROM gone g
), freed AS (
    DELETE FROM queue.dedupe d USING gone g
     WHERE g.dedupe_key IS NOT NULL AND d.queue_id = abs(g.queue_id) AND d.dedupe_key = g.dedupe_key AND d.job_id = g.id
)
SELECT count(*) FROM gone
