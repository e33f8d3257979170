-- When this database next has work of each kind for the background worker, published to the pool
-- (src/shmem/pool.rs): the launcher sends a worker again then, and not before. One statement per
-- kind of work (pool::Work), each an index probe or a read of a small table of settings: a round
-- reads again only the kinds it worked on (src/worker/due.rs splits this file at the `-- due:`
-- lines). Each returns one timestamptz, NULL when nothing of the kind is pending.

-- due: promote
-- The earliest scheduled job (scheduled_run_at_idx).
SELECT min(run_at) FROM queue.scheduled WHERE queue_id > 0

-- due: cron
SELECT min(next_run_at) FROM queue.schedules WHERE NOT paused

-- due: leases
-- The first lease to expire from $1, where lease expiry got to (NULL: the first lease)
-- (running_expiry_idx).
SELECT min(lease_expires_at) FROM queue.running
 WHERE lease_expires_at >= coalesce($1::timestamptz, '-infinity')

-- due: refresh
-- A spread refresh enqueues $2 (a tick) ahead of its slots.
SELECT min(enqueued_until) - $2::interval FROM queue.refreshes WHERE NOT paused

-- due: backfill
SELECT min(next_due - lookahead) FROM queue.backfill_runs WHERE state IN ('running', 'draining')

-- due: purge
SELECT (SELECT now() FROM queue.dropped_queues LIMIT 1)

-- due: retention
-- $3, $4 where retention of each queue got to (prune.sql's bounds). Retention is not to the
-- second: a database whose jobs finish now and then is visited once per hundredth of its
-- retention (10 s at least), not at every job's.
WITH bounds AS (
    SELECT * FROM unnest($3::integer[], $4::timestamptz[]) AS b(queue_id, from_at)
)
SELECT least((SELECT min(CASE WHEN first.at + q.retention <= now() THEN now()
                              ELSE greatest(first.at + q.retention, now() + greatest(q.retention / 100, interval '10 seconds'))
                         END)
                FROM queue.queues q
                LEFT JOIN bounds b ON b.queue_id = q.id
               CROSS JOIN LATERAL (
                     SELECT d.finished_at AS at FROM queue.done d
                      WHERE d.queue_id = q.id AND d.finished_at >= coalesce(b.from_at, '-infinity')
                      ORDER BY d.finished_at LIMIT 1) AS first),
             (SELECT min(CASE WHEN first.at + q.dead_retention <= now() THEN now()
                              ELSE greatest(first.at + q.dead_retention,
                                            now() + greatest(q.dead_retention / 100, interval '10 seconds'))
                         END)
                FROM queue.queues q
               CROSS JOIN LATERAL (
                     SELECT d.finished_at AS at FROM queue.dead d           -- dead_queue_idx
                      WHERE d.queue_id = q.id ORDER BY d.finished_at LIMIT 1) AS first
               WHERE q.dead_retention IS NOT NULL))
