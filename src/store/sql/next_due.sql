-- When the earliest scheduled job of any queue comes due (NULL when none is scheduled): the
-- background worker sleeps until then rather than a whole tick.
SELECT min(run_at) FROM queue.scheduled
