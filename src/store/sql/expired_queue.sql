-- Leases that have expired in queue $1, at most $2: a claim takes these over itself when the
-- background worker is not running, so that correctness never waits for it.
SELECT id, lease_token FROM queue.running WHERE queue_id = $1 AND lease_expires_at < now() LIMIT $2
