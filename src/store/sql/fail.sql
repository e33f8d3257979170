-- A failed attempt of the running jobs $1 with lease tokens $2: each leaves queue.running for
-- queue.dead once its attempts are used up (freeing its dedupe key), or else waits out its backoff
-- (or $4) in queue.scheduled, or goes straight back to queue.ready (and notifies) when there is
-- none. With $6, the failure also pushes the job's group's next eligible time out (group
-- backoff: consecutive failures double the delay, from backoff_base up to backoff_max; jobs
-- without a group share no upstream and are never held back together).
-- $1 ids, $2 lease tokens, $3 error, $4 retry_in (NULL: the backoff), $5 only leases that have
-- expired (lease expiry: a heartbeat that came first wins), $6 counts against the group, $7 the
-- acting role when per-queue grants exist (else NULL).
-- Returns the ids that failed, per queue the first default-group key made ready (the count
-- of notifications is only there to make them run), and when the first retry comes due. When a job is in a queue role $7 may not
-- consume from, nothing fails and the only row names that queue (its last column).
WITH held AS MATERIALIZED (
    SELECT DISTINCT r.queue_id FROM queue.running r JOIN unnest($1::bigint[], $2::uuid[]) AS c(id, token)
        ON r.id = c.id AND r.lease_token = c.token
     WHERE $7::oid IS NOT NULL
), refused AS MATERIALIZED (
    SELECT q.name FROM held h JOIN queue.queues q ON q.id = h.queue_id
     WHERE NOT queue_internal.may(h.queue_id, $7::oid, 'consume')
     LIMIT 1
), gone AS (
    DELETE FROM queue.running r USING unnest($1::bigint[], $2::uuid[]) AS c(id, token)
     WHERE r.id = c.id AND r.lease_token = c.token AND (NOT $5::boolean OR r.lease_expires_at < now())
       AND NOT EXISTS (SELECT FROM refused)
    RETURNING r.*
), f AS (
    SELECT g.*, q.name AS queue_name, q.notify, q.group_backoff, q.backoff_base, q.backoff_max,
           g.attempts >= g.max_attempts AS dies,
           now() + coalesce($4::interval, queue.retry_delay(g.attempts, q.backoff_base, q.backoff_max, g.id)) AS next_run
      FROM gone g JOIN queue.queues q ON q.id = g.queue_id
), to_dead AS (
    INSERT INTO queue.dead (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error, finished_at)
    SELECT f.id, f.queue_id, f.priority, f.attempts, f.max_attempts, f.run_at, f.enqueued_at, f.group_key,
           f.payload, f.dedupe_key, f.first_claimed_at, f.claimed_at, f.locked_by, $3, now()
      FROM f WHERE f.dies
), to_ready AS (
    INSERT INTO queue.ready (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT f.id, f.queue_id, f.priority, f.attempts, f.max_attempts, f.next_run, f.enqueued_at, f.group_key,
           f.payload, f.dedupe_key, f.first_claimed_at, f.claimed_at, f.locked_by, $3
      FROM f WHERE NOT f.dies AND f.next_run <= now()
    RETURNING queue_id, group_key, priority, run_at, id
), heads AS (
    -- Per queue, the first default-group job made ready (claim key order): claims must not start
    -- past it once this commits (src/shmem/head.rs).
    SELECT DISTINCT ON (queue_id) queue_id, -(priority::bigint) AS np, run_at, id
      FROM to_ready WHERE group_key = ''
     ORDER BY queue_id, -(priority::bigint), run_at, id
), to_scheduled AS (
    INSERT INTO queue.scheduled (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT f.id, f.queue_id, f.priority, f.attempts, f.max_attempts, f.next_run, f.enqueued_at, f.group_key,
           f.payload, f.dedupe_key, f.first_claimed_at, f.claimed_at, f.locked_by, $3
      FROM f WHERE NOT f.dies AND f.next_run > now()
), freed AS (
    DELETE FROM queue.dedupe d USING f
     WHERE f.dies AND f.dedupe_key IS NOT NULL
       AND d.queue_id = f.queue_id AND d.dedupe_key = f.dedupe_key AND d.job_id = f.id
), backoff AS (
    INSERT INTO queue.group_state AS b (queue_id, group_key, consecutive_failures, eligible_at)
    SELECT f.queue_id, f.group_key, 1, now() + queue.retry_delay(1, f.backoff_base, f.backoff_max, hashtext(f.group_key))
      FROM f WHERE $6::boolean AND f.group_backoff AND f.group_key <> ''
    ON CONFLICT (queue_id, group_key) DO UPDATE
       SET consecutive_failures = b.consecutive_failures + 1,
           eligible_at = now() + (SELECT queue.retry_delay(b.consecutive_failures + 1, q.backoff_base, q.backoff_max,
                                                           hashtext(b.group_key))
                                    FROM queue.queues q WHERE q.id = b.queue_id)
)
SELECT f.id,
       (SELECT array_agg(queue_id ORDER BY queue_id) FROM heads) AS head_queues,
       (SELECT array_agg(np ORDER BY queue_id) FROM heads) AS head_np,
       (SELECT array_agg(run_at ORDER BY queue_id) FROM heads) AS head_run_at,
       (SELECT array_agg(id ORDER BY queue_id) FROM heads) AS head_id,
       (SELECT count(pg_notify('queue_' || q.name, q.name)) FROM queue.queues q
         WHERE q.notify AND q.id IN (SELECT queue_id FROM to_ready))::text,
       NULL::text AS refused,
       -- When the first retry comes due: the background worker is told at commit.
       (SELECT min(next_run) FROM f WHERE NOT f.dies AND f.next_run > now()) AS first_retry
  FROM f
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, name, NULL FROM refused
