-- Give running job $1 (lease token $2) back without counting the attempt: to queue.ready (and
-- notify) when $3 is zero, else to queue.scheduled until now() + $3. Returns its id, and its claim
-- key when it went to ready in the default group. $4 is the acting role when per-queue grants
-- exist (else NULL): when it may not consume from the job's queue, nothing is released and the
-- only row names the queue (its last column).
WITH refused AS MATERIALIZED (
    SELECT q.name FROM queue.running r JOIN queue.queues q ON q.id = r.queue_id
     WHERE $4::oid IS NOT NULL AND r.id = $1 AND r.lease_token = $2
       AND NOT queue_internal.may(r.queue_id, $4::oid, 'consume')
), gone AS (
    DELETE FROM queue.running r WHERE r.id = $1 AND r.lease_token = $2 AND NOT EXISTS (SELECT FROM refused)
    RETURNING r.*
), to_ready AS (
    INSERT INTO queue.ready (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT g.id, g.queue_id, g.priority, greatest(g.attempts - 1, 0), g.max_attempts, now(), g.enqueued_at,
           g.group_key, g.payload, g.dedupe_key, g.first_claimed_at, g.claimed_at, g.locked_by, g.last_error
      FROM gone g WHERE $3 <= interval '0'
    RETURNING queue_id, group_key, priority, run_at, id
), heads AS (
    -- Per queue, the first default-group job made ready (claim key order): claims must not start
    -- past it once this commits (src/shmem/head.rs).
    SELECT DISTINCT ON (queue_id) queue_id, -(priority::bigint) AS np, run_at, id
      FROM to_ready WHERE group_key = ''
     ORDER BY queue_id, -(priority::bigint), run_at, id
), to_scheduled AS (
    INSERT INTO queue.scheduled (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT g.id, g.queue_id, g.priority, greatest(g.attempts - 1, 0), g.max_attempts, now() + $3, g.enqueued_at,
           g.group_key, g.payload, g.dedupe_key, g.first_claimed_at, g.claimed_at, g.locked_by, g.last_error
      FROM gone g WHERE $3 > interval '0'
)
SELECT g.id,
       (SELECT array_agg(queue_id ORDER BY queue_id) FROM heads) AS head_queues,
       (SELECT array_agg(np ORDER BY queue_id) FROM heads) AS head_np,
       (SELECT array_agg(run_at ORDER BY queue_id) FROM heads) AS head_run_at,
       (SELECT array_agg(id ORDER BY queue_id) FROM heads) AS head_id,
       (SELECT pg_notify('queue_' || q.name, q.name) FROM queue.queues q
         WHERE q.notify AND q.id IN (SELECT queue_id FROM to_ready))::text,
       NULL::text AS refused
  FROM gone g
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, name FROM refused
