-- The schedules due now (next_run_at passed), earliest first, at most $1, leaving out $2 (text[]:
-- those whose last attempt failed a moment ago in this worker) and those whose last attempt failed
-- in the last ten seconds in any (the pool's workers come and go). Through schedules_due_idx, a
-- tick reads only what is due, however many schedules there are.
SELECT name FROM queue.schedules
 WHERE NOT paused AND next_run_at <= now() AND name <> ALL ($2::text[])
   AND coalesce(last_error_at, '-infinity') < now() - interval '10 seconds'
 ORDER BY next_run_at, name
 LIMIT $1
