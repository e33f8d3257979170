-- Spread refresh $1, locked for one step (refresh.rs) if it still has slots before $2 (now plus
-- the worker's look-ahead) and is not paused; nothing when another step holds it.
SELECT r.name, r.queue, r.source::oid, r.key_column::text, r.period, r.payload, r.batch, r.priority, r.group_key,
       r.max_attempts, r.enqueued_until, r.owner::oid, c.reltuples::float8,
       format('%I.%I', n.nspname, c.relname), r.enqueued_this_period, r.enqueued_last_period
  FROM queue.refreshes r
  LEFT JOIN pg_catalog.pg_class c ON c.oid = r.source
  LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE r.name = $1 AND NOT r.paused AND r.enqueued_until < $2
   FOR UPDATE OF r SKIP LOCKED
