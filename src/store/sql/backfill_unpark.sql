-- Resume backfill $3 of queue $1 (group $2): its parked jobs come back, in their order, due from
-- $4 one every $5 (the backfill's pacing). Returns how many, and when the last is due.
WITH parked AS (
    SELECT x.id, row_number() OVER (ORDER BY x.id) AS n
      FROM queue.scheduled x
     WHERE x.queue_id = $1 AND x.group_key = $2 AND x.payload->>'backfill' = $3 AND x.run_at = 'infinity'
), gone AS (
    DELETE FROM queue.scheduled x USING parked p
     WHERE x.id = p.id
    RETURNING x.*, $4::timestamptz + (p.n - 1) * $5::interval AS due
), ready AS (
    INSERT INTO queue.ready (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload,
                             dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT id, queue_id, priority, attempts, max_attempts, due, enqueued_at, group_key, payload,
           dedupe_key, first_claimed_at, claimed_at, locked_by, last_error
      FROM gone WHERE due <= now()
    RETURNING 1
), later AS (
    INSERT INTO queue.scheduled (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload,
                                 dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT id, queue_id, priority, attempts, max_attempts, due, enqueued_at, group_key, payload,
           dedupe_key, first_claimed_at, claimed_at, locked_by, last_error
      FROM gone WHERE due > now()
    RETURNING 1
)
SELECT (SELECT count(*) FROM ready) + (SELECT count(*) FROM later), (SELECT max(due) FROM gone)
