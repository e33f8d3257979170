-- Leases that have expired, in any queue, at most $1 (the background worker's step). The running
-- set is bounded by the workers' concurrency, so a scan of it is cheap.
SELECT id, lease_token FROM queue.running WHERE lease_expires_at < now() LIMIT $1
