//! Operating on jobs from outside a lease: cancel, retry (redrive), and lease expiry.

use crate::error::{internal, QueueError, Result};
use crate::heads::first_row;
use crate::security::{caller, check_queue, require, Privilege};
use crate::spi::{exec, exec_one};
use crate::store;
use crate::validate::{at_least, queue_name, required};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// The queue (id) of job `id` after checking that the caller may use `privilege` on it; None for
/// an unknown job (or one of a dropped queue).
fn job_queue(client: &mut SpiClient<'_>, id: i64, privilege: Privilege) -> Result<Option<i32>> {
    let rows = exec(client, store::JOB_QUEUE, &[id.into(), caller().into(), privilege.as_str().into()])?;
    if rows.is_empty() {
        return Ok(None);
    }
    let row = crate::heads::first_row(rows)?;
    // A job of a queue the caller does not see is answered as unknown: its queue is not named.
    if !row.get::<bool>(4).map_err(internal)?.unwrap_or(false) {
        return Ok(None);
    }
    let queue: String = row.get(1).map_err(internal)?.expect("queue name");
    require(row.get::<bool>(2).map_err(internal)?.unwrap_or(false), &queue, privilege)?;
    Ok(Some(row.get::<i32>(3).map_err(internal)?.expect("queue id")))
}

/// Cancel a pending or running job. A worker holding it can no longer complete or fail it.
/// False when the job is already finished (or does not exist). Needs 'produce' on its queue.
#[pg_extern(name = "cancel", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_cancel(id: Option<i64>) -> Result<bool> {
    let _acting = crate::security::enter()?;
    let id = required(id, "id")?;
    Spi::connect_mut(|client| {
        let Some(queue_id) = job_queue(client, id, Privilege::Produce)? else { return Ok(false) };
        // A cancel that rolls back brings the job back to where claims may have moved past.
        crate::heads::holding(queue_id);
        let _counted = crate::stats::because(crate::stats::Reason::Cancel);
        Ok(exec_one::<i64>(client, store::CANCEL, &[id.into(), queue_id.into()])?.is_some())
    })
}

/// Send a dead or cancelled job back to pending with its attempts reset.
/// False when the job is not dead or cancelled.
#[pg_extern(name = "retry", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_retry_job(id: Option<i64>) -> Result<bool> {
    // The background worker looks at what this changed once it commits.
    crate::pool_hints::due_now_at_commit(None);
    let _acting = crate::security::enter()?;
    let id = required(id, "id")?;
    Spi::connect_mut(|client| {
        let Some(queue_id) = job_queue(client, id, Privilege::Admin)? else { return Ok(false) };
        if let Some(live) = exec_one::<i64>(client, store::LIVE_DUPLICATE_OF, &[id.into()])? {
            return Err(QueueError::DedupeConflict(format!(
                "job {id} cannot be retried: job {live} with the same dedupe_key is pending or running"
            ))
            .into());
        }
        let rows = exec(client, store::RETRY_ONE, &[id.into()])?;
        if rows.is_empty() {
            return Ok(false);
        }
        crate::heads::ready_at(&crate::heads::keys_in_row(&first_row(rows)?, 3)?);
        let _ = queue_id;
        Ok(true)
    })
}

/// Send every job of `queue` in `state` ('dead' or 'cancelled') back to pending; returns how many.
#[pg_extern(name = "retry", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_retry_queue(queue: Option<&str>, state: default!(Option<&str>, "'dead'")) -> Result<i64> {
    // The background worker looks at what this changed once it commits.
    crate::pool_hints::due_now_at_commit(None);
    let _acting = crate::security::enter()?;
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
        check_queue(client, queue, Privilege::Admin)?;
        let id = exec_one::<i32>(client, "SELECT id FROM queue.queues WHERE name = $1", &[queue.into()])?
            .ok_or_else(|| QueueError::UnknownQueue(queue.to_owned()))?;
        let rows = exec(client, store::RETRY_QUEUE, &[id.into(), state.into()])?;
        let revived = rows.len() as i64;
        if revived > 0 {
            crate::heads::ready_at(&crate::heads::keys_in_row(&first_row(rows)?, 3)?);
        }
        Ok(revived)
    })
}

/// Return jobs whose lease expired to pending (with backoff, last_error 'lease expired'), or to
/// dead when their attempts are used up; at most `max_jobs` per call. Returns how many.
/// The background worker does this every tick, and a claim for its own queue when the worker is
/// not running; it is safe to call by hand or concurrently. An admin restricted by queue.grant
/// releases the leases of its own queues only.
#[pg_extern(name = "release_expired_leases", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_release_expired_leases(max_jobs: default!(Option<i32>, 1000)) -> Result<i64> {
    let _acting = crate::security::enter()?;
    let max_jobs = at_least(required(max_jobs, "max_jobs")?, 1, "max_jobs")? as i64;
    Spi::connect_mut(|client| {
        if !crate::catalog::grants_exist(client)? {
            return crate::maintenance::expire_leases(client, None, max_jobs);
        }
        let row = first_row(exec(
            client,
            "SELECT array_agg(id ORDER BY id) FILTER (WHERE queue_internal.may(id, $1, 'admin')), count(*) FROM queue.queues",
            &[caller().into()],
        )?)?;
        let mine: Vec<i32> = row.get::<Vec<i32>>(1).map_err(internal)?.unwrap_or_default();
        let all: i64 = row.get::<i64>(2).map_err(internal)?.unwrap_or(0);
        if mine.len() as i64 == all {
            return crate::maintenance::expire_leases(client, None, max_jobs);
        }
        let mut released = 0;
        for id in mine {
            if released >= max_jobs {
                break;
            }
            released += crate::maintenance::expire_leases(client, Some(id), max_jobs - released)?;
        }
        Ok(released)
    })
}
