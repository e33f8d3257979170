//! The housekeeping statements the background worker runs each tick, each in its own short
//! transaction. `queue.release_expired_leases()` exposes the first for manual use.

use crate::api::consume::failed_attempt_set;
use crate::error::Result;
use crate::spi::{exec, exec_column};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::spi::SpiClient;

const RELEASE_EXPIRED: &str = concat!(
    "WITH expired AS (
        SELECT id FROM queue.jobs
         WHERE state = 'running' AND lease_expires_at < now()
         ORDER BY lease_expires_at
         LIMIT $1
         FOR UPDATE SKIP LOCKED
    )
    UPDATE queue.jobs j SET ",
    failed_attempt_set!("NULL::interval", "'lease expired'"),
    " FROM expired, queue.queues q
     WHERE j.id = expired.id AND q.name = j.queue
    RETURNING j.id"
);

// Scheduled jobs (run_at after enqueue: delays and retries) sit in jobs_scheduled_idx, so finding
// the ones that came due in (since, until] probes only that window.
const NOTIFY_DUE: &str = "
    SELECT q.name, pg_notify('queue_' || q.name, q.name)::text
      FROM queue.queues q
     WHERE q.notify
       AND EXISTS (SELECT FROM queue.jobs j
                    WHERE j.queue = q.name AND j.state = 'pending' AND j.run_at > j.enqueued_at
                      AND j.run_at > $1 AND j.run_at <= $2)";

// Dead jobs are kept whatever their age: they are the queue's dead letters, waiting for a retry or
// an operator's decision.
const PRUNE_FINISHED: &str = "
    WITH doomed AS (
        SELECT old.id
          FROM queue.queues q
         CROSS JOIN LATERAL (
                SELECT id FROM queue.jobs
                 WHERE queue = q.name AND state IN ('done', 'cancelled')
                   AND finished_at < now() - q.retention
                 ORDER BY finished_at
                 LIMIT $1) AS old
         LIMIT $1
    )
    DELETE FROM queue.jobs j USING doomed WHERE j.id = doomed.id
    RETURNING j.id";

/// Expired leases back to pending (or dead); returns how many, at most `limit`.
pub fn release_expired(client: &mut SpiClient<'_>, limit: i64) -> Result<i64> {
    Ok(exec_column::<i64>(client, RELEASE_EXPIRED, &[limit.into()])?.len() as i64)
}

/// NOTIFY each queue with a scheduled job that came due in (since, until]; returns how many queues.
pub fn notify_due(
    client: &mut SpiClient<'_>,
    since: TimestampWithTimeZone,
    until: TimestampWithTimeZone,
) -> Result<i64> {
    Ok(exec(client, NOTIFY_DUE, &[since.into(), until.into()])?.len() as i64)
}

/// Delete finished jobs past their queue's retention; returns how many, at most `limit`.
pub fn prune_finished(client: &mut SpiClient<'_>, limit: i64) -> Result<i64> {
    Ok(exec_column::<i64>(client, PRUNE_FINISHED, &[limit.into()])?.len() as i64)
}
