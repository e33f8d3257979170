-- What the background worker's tick has to do, read in one statement, so that an idle tick is one
-- short transaction (docs/adr/003-idle-cost.md). Each column is an index probe or a read of a
-- table of settings, with the condition of the step it stands for (expired_all.sql,
-- schedules_due.sql, refresh.rs's behind, backfill.rs's active, promote_all.sql, dropped_queues.sql).
-- $1 where lease expiry got to (NULL: the first lease), $2 how far ahead spread refreshes enqueue.
-- Also the queues to look up in shared memory for a recount, and now(): no lease had expired
-- before it, when leases shows false.
SELECT EXISTS (SELECT FROM queue.running
                WHERE lease_expires_at >= coalesce($1::timestamptz, '-infinity') AND lease_expires_at < now()),
       EXISTS (SELECT FROM queue.schedules WHERE NOT paused AND next_run_at <= now()),
       EXISTS (SELECT FROM queue.refreshes WHERE NOT paused AND enqueued_until < $2),
       EXISTS (SELECT FROM queue.backfill_runs WHERE state IN ('running', 'draining') AND next_due <= now() + lookahead),
       EXISTS (SELECT FROM queue.scheduled WHERE queue_id > 0 AND run_at <= now()), -- scheduled_run_at_idx
       EXISTS (SELECT FROM queue.dropped_queues),
       ARRAY(SELECT id FROM queue.queues),
       now()
