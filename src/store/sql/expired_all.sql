-- Leases that have expired, in any queue, at most $1, earliest first (the background worker's
-- step), leaving out those that expired before $2 (NULL: none left out). By running_expiry_idx,
-- so a step reads the expired range only, never the table, whatever its bloat. $2 is where the
-- worker's previous step (or batch) got to: under a held xmin horizon the range before it holds
-- the entries of every lease completed or released since, which a step would otherwise re-read
-- (maintenance.rs). Returns each lease's expiry too.
SELECT id, lease_token, lease_expires_at FROM queue.running
 WHERE lease_expires_at >= coalesce($2::timestamptz, '-infinity') AND lease_expires_at < now()
 ORDER BY lease_expires_at
 LIMIT $1
