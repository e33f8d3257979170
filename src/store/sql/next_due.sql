-- When the worker has something to do next: the earliest scheduled job comes due, or the earliest
-- cron schedule fires (NULL when neither): it sleeps until then rather than a whole tick.
SELECT least((SELECT min(run_at) FROM queue.scheduled WHERE queue_id > 0), -- scheduled_run_at_idx
             (SELECT min(next_run_at) FROM queue.schedules WHERE NOT paused))
