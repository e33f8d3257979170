-- alter_job of a pending job $1: it leaves queue.ready or queue.scheduled and comes back, into
-- ready when its run_at has come and into scheduled otherwise, with $2 run_at, $3 priority and
-- $4 payload (each NULL: unchanged). A new row rather than an UPDATE: the claim key changes, and a
-- claim that skipped the locked row must find it again at its new key (src/heads.rs). Notifies
-- when a scheduled job became ready. Returns the job's queue, whether it is ready now, and its
-- claim key (group key '' for the default group). No row when the job is not pending (running,
-- finished, unknown) or no longer in queue $5, the queue the caller's rights were checked on
-- (move_jobs may have moved it since).
WITH r AS (
    DELETE FROM queue.ready WHERE id = $1 AND queue_id IN ($5, -$5)
    RETURNING id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error, false AS was_scheduled
), s AS (
    DELETE FROM queue.scheduled WHERE id = $1 AND queue_id = $5
    RETURNING id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error, true AS was_scheduled
), g AS (
    SELECT id, abs(queue_id) AS queue_id, coalesce($3, priority) AS priority, attempts, max_attempts, coalesce($2, run_at) AS run_at,
           enqueued_at, group_key, coalesce($4, payload) AS payload, dedupe_key, first_claimed_at, claimed_at,
           locked_by, last_error, was_scheduled
      FROM (SELECT * FROM r UNION ALL SELECT * FROM s) AS x
), now_ready AS (
    INSERT INTO queue.ready (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error
      FROM g WHERE run_at <= now()
    RETURNING id
), later AS (
    INSERT INTO queue.scheduled (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error
      FROM g WHERE run_at > now()
)
SELECT g.queue_id, g.run_at <= now() AS ready, g.group_key, g.priority, g.run_at,
       (SELECT pg_notify('queue_' || q.name, q.name) FROM queue.queues q
         WHERE q.id = g.queue_id AND q.notify AND g.was_scheduled AND g.run_at <= now())::text
  FROM g
