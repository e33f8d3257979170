-- Give running job $1 (lease token $2) back without counting the attempt: to queue.ready (and
-- notify) when $3 is zero, else to queue.scheduled until now() + $3. Returns its id, and its queue
-- when it went to ready.
WITH gone AS (
    DELETE FROM queue.running r WHERE r.id = $1 AND r.lease_token = $2
    RETURNING r.*
), to_ready AS (
    INSERT INTO queue.ready (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT g.id, g.queue_id, g.priority, greatest(g.attempts - 1, 0), g.max_attempts, now(), g.enqueued_at,
           g.group_key, g.payload, g.dedupe_key, g.first_claimed_at, g.claimed_at, g.locked_by, g.last_error
      FROM gone g WHERE $3 <= interval '0'
    RETURNING queue_id
), to_scheduled AS (
    INSERT INTO queue.scheduled (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT g.id, g.queue_id, g.priority, greatest(g.attempts - 1, 0), g.max_attempts, now() + $3, g.enqueued_at,
           g.group_key, g.payload, g.dedupe_key, g.first_claimed_at, g.claimed_at, g.locked_by, g.last_error
      FROM gone g WHERE $3 > interval '0'
)
SELECT g.id,
       (SELECT array_agg(DISTINCT queue_id) FROM to_ready) AS ready_queues,
       (SELECT pg_notify('queue_' || q.name, q.name) FROM queue.queues q
         WHERE q.notify AND q.id IN (SELECT queue_id FROM to_ready))::text
  FROM gone g
