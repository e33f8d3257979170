-- Leases that have expired in queue $1, at most $2: a claim takes these over itself when the
-- background worker is not running, so that correctness never waits for it. By running_expiry_idx
-- (queue_id is in the index: other queues' expired leases cost no heap read).
SELECT id, lease_token, lease_expires_at FROM queue.running
 WHERE lease_expires_at < now() AND queue_id = $1
 ORDER BY lease_expires_at
 LIMIT $2
