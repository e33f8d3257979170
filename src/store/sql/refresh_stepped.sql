-- Record a step of spread refresh $1: slots before $2 are enqueued; $3 jobs and $4 skipped keys
-- to add; the jobs of this period and of the last are now $5 and $6 (refresh.rs counts them).
UPDATE queue.refreshes
   SET enqueued_until = $2, last_step_at = now(),
       jobs_enqueued = jobs_enqueued + $3, keys_skipped = keys_skipped + $4,
       enqueued_this_period = $5, enqueued_last_period = $6
 WHERE name = $1
