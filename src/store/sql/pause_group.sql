-- Pause group $2 of queue $1: record it, and park its ready jobs under the queue's id negated,
-- where no claim of the queue looks (src/api/groups.rs). Jobs a claim holds at this moment are
-- waited for (they are running once it commits). Returns how many jobs were parked.
WITH paused AS (
    INSERT INTO queue.group_pauses (queue_id, group_key) VALUES ($1, $2)
    ON CONFLICT DO NOTHING
), parked AS (
    UPDATE queue.ready j SET queue_id = -$1
     WHERE j.queue_id = $1 AND j.group_key = $2
    RETURNING 1
)
SELECT count(*) FROM parked
