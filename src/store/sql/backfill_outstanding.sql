-- How many jobs of backfill $3 (queue $1, group $2) are pending or running (in ready under -$1
-- while their group is paused, too).
SELECT (SELECT count(*) FROM queue.ready x
         WHERE x.queue_id IN ($1, -$1) AND x.group_key = $2 AND x.payload->>'backfill' = $3)
     + (SELECT count(*) FROM queue.scheduled x
         WHERE x.queue_id = $1 AND x.group_key = $2 AND x.payload->>'backfill' = $3)
     + (SELECT count(*) FROM queue.running x
         WHERE x.queue_id = $1 AND x.group_key = $2 AND x.payload->>'backfill' = $3)
