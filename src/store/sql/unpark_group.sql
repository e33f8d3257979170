-- Unpark the jobs of group $2 of queue $1 (resume_group's second statement: the first deleted the
-- group's queue.group_pauses row, so this one's snapshot sees every job a claim parked before
-- that). Returns how many jobs became claimable.
WITH back AS (
    UPDATE queue.ready j SET queue_id = $1
     WHERE j.queue_id = -$1 AND j.group_key = $2
    RETURNING 1
)
SELECT count(*) FROM back
