-- Cancel backfill $3 of queue $1 (group $2): its pending jobs (parked ones too, and those parked
-- in ready under -$1 while their group is paused) are deleted.
-- Running ones finish or fail as usual. Returns how many were removed.
WITH ready AS (
    DELETE FROM queue.ready x
     WHERE x.queue_id IN ($1, -$1) AND x.group_key = $2 AND x.payload->>'backfill' = $3
    RETURNING 1
), later AS (
    DELETE FROM queue.scheduled x
     WHERE x.queue_id = $1 AND x.group_key = $2 AND x.payload->>'backfill' = $3
    RETURNING 1
)
SELECT (SELECT count(*) FROM ready) + (SELECT count(*) FROM later)
