-- Extend the lease of running job $1 (lease token $2) to now() + $3 (NULL: the queue's lease).
-- Not a HOT update: lease expiry reads running_expiry_idx (docs/adr/003-idle-cost.md). Returns
-- the id. $4 is the acting role when per-queue grants exist (else NULL): when it may not consume
-- from the job's queue, nothing is extended and the only row names the queue (its second column).
WITH refused AS MATERIALIZED (
    SELECT q.name FROM queue.running r JOIN queue.queues q ON q.id = r.queue_id
     WHERE $4::oid IS NOT NULL AND r.id = $1 AND r.lease_token = $2
       AND NOT queue_internal.may(r.queue_id, $4::oid, 'consume')
), extended AS (
    UPDATE queue.running r SET lease_expires_at = now() + coalesce($3, q.lease)
      FROM queue.queues q
     WHERE r.id = $1 AND r.lease_token = $2 AND q.id = r.queue_id AND NOT EXISTS (SELECT FROM refused)
    RETURNING r.id
)
SELECT id, NULL::text AS refused FROM extended
UNION ALL
SELECT NULL, name FROM refused
