-- Record a step of backfill $1: the next range ends at $2 and is due at $3; $4 rows in $5 ranges
-- were enqueued; its state is now $6 (finished_at set when it is done).
UPDATE queue.backfill_runs
   SET next_end_id = $2, next_due = $3, rows_enqueued = rows_enqueued + $4, ranges_enqueued = ranges_enqueued + $5,
       state = $6, finished_at = CASE WHEN $6 = 'done' THEN now() ELSE finished_at END, last_step_at = now()
 WHERE name = $1
