-- Extend the lease of running job $1 (lease token $2) to now() + $3 (NULL: the queue's lease).
-- lease_expires_at is in no index, so this is a HOT update. Returns the id.
UPDATE queue.running r SET lease_expires_at = now() + coalesce($3, q.lease)
  FROM queue.queues q
 WHERE r.id = $1 AND r.lease_token = $2 AND q.id = r.queue_id
RETURNING r.id
