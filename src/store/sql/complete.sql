-- Complete the running jobs $1 whose lease tokens are $2 (arrays of one length): each leaves
-- queue.running; it is kept in queue.done when its queue has a retention, frees its dedupe key,
-- and ends its group's backoff (with the token, so that a repeated complete is recognised:
-- completed_before.sql). A job whose token no longer holds the lease is left alone.
-- Returns the ids completed. $3 is the acting role when per-queue grants exist (else NULL): when
-- a job it holds a token of is in a queue it may not consume from, nothing is completed and the
-- only row names that queue (its second column).
WITH held AS MATERIALIZED (
    SELECT DISTINCT r.queue_id FROM queue.running r JOIN unnest($1::bigint[], $2::uuid[]) AS c(id, token)
        ON r.id = c.id AND r.lease_token = c.token
     WHERE $3::oid IS NOT NULL
), refused AS MATERIALIZED (
    SELECT q.name FROM held h JOIN queue.queues q ON q.id = h.queue_id
     WHERE NOT queue_internal.may(h.queue_id, $3::oid, 'consume')
     LIMIT 1
), gone AS (
    DELETE FROM queue.running r USING unnest($1::bigint[], $2::uuid[]) AS c(id, token)
     WHERE r.id = c.id AND r.lease_token = c.token AND NOT EXISTS (SELECT FROM refused)
    RETURNING r.*
), kept AS (
    INSERT INTO queue.done (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error, state, finished_at, lease_token)
    SELECT g.id, g.queue_id, g.priority, g.attempts, g.max_attempts, g.run_at, g.enqueued_at, g.group_key,
           g.payload, g.dedupe_key, g.first_claimed_at, g.claimed_at, g.locked_by, g.last_error, 'done', now(),
           g.lease_token
      FROM gone g JOIN queue.queues q ON q.id = g.queue_id
     WHERE q.retention <> '0'
), freed AS (
    DELETE FROM queue.dedupe d USING gone g
     WHERE g.dedupe_key IS NOT NULL AND d.queue_id = g.queue_id AND d.dedupe_key = g.dedupe_key AND d.job_id = g.id
), recovered AS (
    DELETE FROM queue.group_state b USING gone g
     WHERE g.group_key <> '' AND b.queue_id = g.queue_id AND b.group_key = g.group_key
)
SELECT id, NULL::text AS refused FROM gone
UNION ALL
SELECT NULL, name FROM refused
