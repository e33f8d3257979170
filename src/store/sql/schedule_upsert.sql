-- Create or replace schedule $1 (queue.create_schedule): a replaced schedule keeps its counters, last
-- fire, paused state and creation time.
INSERT INTO queue.schedules AS s (name, cron, timezone, queue, payload, priority, group_key, max_attempts, dedupe_key,
                                  jitter, catch_up, next_fire_at, next_run_at, owner)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::oid::regrole)
ON CONFLICT (name) DO UPDATE
   SET cron = excluded.cron, timezone = excluded.timezone, queue = excluded.queue, payload = excluded.payload,
       priority = excluded.priority, group_key = excluded.group_key, max_attempts = excluded.max_attempts,
       dedupe_key = excluded.dedupe_key, jitter = excluded.jitter, catch_up = excluded.catch_up,
       next_fire_at = excluded.next_fire_at, next_run_at = excluded.next_run_at, owner = excluded.owner
