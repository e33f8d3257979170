//! Operating on jobs from outside a lease: cancel, retry (redrive), and lease expiry.

use crate::api::queues::require_queue;
use crate::error::{QueueError, Result};
use crate::spi::{exec_column, exec_one};
use crate::validate::{at_least, queue_name, required};
use pgrx::prelude::*;

const CANCEL: &str = "
    UPDATE queue.jobs SET state = 'cancelled', finished_at = now(), lease_token = NULL, lease_expires_at = NULL
     WHERE id = $1 AND state IN ('pending', 'running')
    RETURNING id";

const LIVE_DUPLICATE_OF: &str = "
    SELECT l.id FROM queue.jobs f JOIN queue.jobs l
        ON l.queue = f.queue AND l.dedupe_key = f.dedupe_key AND l.state IN ('pending', 'running')
     WHERE f.id = $1";

const RETRY_ONE: &str = "
    UPDATE queue.jobs SET state = 'pending', attempts = 0, run_at = now(), finished_at = NULL
     WHERE id = $1 AND state IN ('dead', 'cancelled')
    RETURNING id";

// Jobs whose dedupe key is live again stay finished, and of several finished jobs sharing a key
// only the newest comes back: redriving must not break the one-live-job-per-key rule.
const RETRY_QUEUE: &str = "
    WITH candidates AS (
        SELECT id, dedupe_key FROM queue.jobs f
         WHERE f.queue = $1 AND f.state = $2::queue.job_state
           AND NOT EXISTS (SELECT FROM queue.jobs l
                            WHERE l.queue = f.queue AND l.dedupe_key = f.dedupe_key
                              AND l.state IN ('pending', 'running'))
    ), picked AS (
        SELECT id FROM candidates WHERE dedupe_key IS NULL
        UNION ALL
        SELECT max(id) FROM candidates WHERE dedupe_key IS NOT NULL GROUP BY dedupe_key
    )
    UPDATE queue.jobs j SET state = 'pending', attempts = 0, run_at = now(), finished_at = NULL
      FROM picked WHERE j.id = picked.id
    RETURNING j.id";

/// Cancel a pending or running job. A worker holding it can no longer complete or fail it.
/// False when the job is already finished (or does not exist).
#[pg_extern(name = "cancel", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn cancel(id: Option<i64>) -> Result<bool> {
    let id = required(id, "id")?;
    Spi::connect_mut(|client| Ok(exec_one::<i64>(client, CANCEL, &[id.into()])?.is_some()))
}

/// Send a dead or cancelled job back to pending with its attempts reset.
/// False when the job is not dead or cancelled.
#[pg_extern(name = "retry", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn retry_job(id: Option<i64>) -> Result<bool> {
    let id = required(id, "id")?;
    Spi::connect_mut(|client| {
        if let Some(live) = exec_one::<i64>(client, LIVE_DUPLICATE_OF, &[id.into()])? {
            if live != id {
                return Err(QueueError::DedupeConflict(format!(
                    "job {id} cannot be retried: job {live} with the same dedupe_key is pending or running"
                ))
                .into());
            }
        }
        Ok(exec_one::<i64>(client, RETRY_ONE, &[id.into()])?.is_some())
    })
}

/// Send every job of `queue` in `state` ('dead' or 'cancelled') back to pending; returns how many.
#[pg_extern(name = "retry", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn retry_queue(queue: Option<&str>, state: default!(Option<&str>, "'dead'")) -> Result<i64> {
    let queue = queue_name(queue)?;
    let state = required(state, "state")?;
    if !matches!(state, "dead" | "cancelled") {
        return Err(QueueError::invalid(format!(
            "state must be 'dead' or 'cancelled' to retry, got '{}'",
            state.escape_default()
        ))
        .into());
    }
    Spi::connect_mut(|client| {
        require_queue(client, queue)?;
        Ok(exec_column::<i64>(client, RETRY_QUEUE, &[queue.into(), state.into()])?.len() as i64)
    })
}

/// Return jobs whose lease expired to pending (with backoff, last_error 'lease expired'), or to
/// dead when their attempts are used up; at most `max_jobs` per call. Returns how many.
/// The background worker calls this every tick; it is safe to call by hand or concurrently.
#[pg_extern(name = "release_expired_leases", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn release_expired_leases(max_jobs: default!(Option<i32>, 1000)) -> Result<i64> {
    let max_jobs = at_least(required(max_jobs, "max_jobs")?, 1, "max_jobs")?;
    Spi::connect_mut(|client| crate::maintenance::release_expired(client, max_jobs as i64))
}
