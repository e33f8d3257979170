-- Backfill $1, locked for one step (backfill.rs) if it is running (or draining) and its next range
-- is due before $2 (now plus its lookahead); nothing when another step holds it.
SELECT b.name, b.queue, b.key_column::text, b.batch_size, b.lookahead, b.max_outstanding, b.payload, b.priority,
       b.group_key, b.max_attempts, b.state, b.next_end_id, b.next_due, b.owner::oid,
       format('%I.%I', n.nspname, c.relname)
  FROM queue.backfill_runs b
  LEFT JOIN pg_catalog.pg_class c ON c.oid = b.source
  LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE b.name = $1 AND b.state IN ('running', 'draining')
   FOR UPDATE OF b SKIP LOCKED
