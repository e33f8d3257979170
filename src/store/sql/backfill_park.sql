-- Pause backfill $3 of queue $1 (group $2): its pending jobs move to queue.scheduled with run_at
-- 'infinity', where neither claims nor promotion reach them, until backfill_unpark.sql.
-- Jobs of a paused group (in ready under -$1, src/api/groups.rs) are parked the same way. Returns
-- how many were parked.
WITH gone AS (
    DELETE FROM queue.ready x
     WHERE x.queue_id IN ($1, -$1) AND x.group_key = $2 AND x.payload->>'backfill' = $3
    RETURNING x.*
), later AS (
    DELETE FROM queue.scheduled x
     WHERE x.queue_id = $1 AND x.group_key = $2 AND x.payload->>'backfill' = $3 AND x.run_at < 'infinity'
    RETURNING x.*
), parked AS (
    INSERT INTO queue.scheduled (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload,
                                 dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT id, $1, priority, attempts, max_attempts, 'infinity', enqueued_at, group_key, payload,
           dedupe_key, first_claimed_at, claimed_at, locked_by, last_error
      FROM (SELECT * FROM gone UNION ALL SELECT * FROM later) AS p
    RETURNING 1
)
SELECT count(*) FROM parked
