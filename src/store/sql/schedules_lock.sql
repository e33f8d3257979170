-- Schedules $1 (text[]) that are still due (next_run_at passed), locked: a second worker skips
-- them, and a fire is recorded in the same transaction as its job (schedules.rs).
SELECT s.name, s.cron, s.timezone, s.queue, s.payload, s.priority, s.group_key, s.max_attempts, s.dedupe_key,
       s.jitter, s.catch_up, s.next_fire_at, s.owner::oid
  FROM queue.schedules s
 WHERE s.name = ANY ($1::text[]) AND NOT s.paused AND s.next_run_at <= now()
 ORDER BY s.next_run_at, s.name
   FOR UPDATE SKIP LOCKED
