-- Record what a firing step did to schedule $1: its next fire time $2 and instant $3 (NULL: it
-- never fires again), the fire time $4, instant $5 and job $6 of a fire (NULL: none), $7 fires
-- and $8 misses to add, and an error $9 (NULL: none).
UPDATE queue.schedules
   SET next_fire_at = $2, next_run_at = $3,
       last_fire_at = coalesce($4, last_fire_at), last_run_at = coalesce($5, last_run_at),
       last_job_id = coalesce($6, last_job_id),
       fires = fires + $7, misses = misses + $8,
       last_error = coalesce($9, last_error),
       last_error_at = CASE WHEN $9 IS NULL THEN last_error_at ELSE now() END
 WHERE name = $1
