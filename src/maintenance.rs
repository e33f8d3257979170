//! The housekeeping each background worker does for its database, each step in its own short
//! transaction (worker.rs), every statement in src/store/sql/. Lease expiry is also what a claim
//! does for its own queue when no worker is running, and what `queue.release_expired_leases()`
//! does by hand.

use crate::api::consume::fail_jobs;
use crate::error::{internal, Result};
use crate::shmem::ClaimKey;
use crate::spi::{exec, exec_column, exec_one};
use crate::store;
use pgrx::datum::{TimestampWithTimeZone, Uuid};
use pgrx::pg_sys;
use pgrx::spi::SpiClient;

/// Expired leases (of one queue, or of all) back to pending with backoff, or to dead when their
/// attempts are used up; returns how many, at most `limit`. Concurrent callers may pick the same
/// leases: the move itself rechecks each lease (token and expiry), so each is released once.
pub fn expire_leases(client: &mut SpiClient<'_>, queue_id: Option<i32>, limit: i64) -> Result<i64> {
    let rows = match queue_id {
        Some(id) => exec(client, store::EXPIRED_QUEUE, &[id.into(), limit.into()])?,
        None => exec(client, store::EXPIRED_ALL, &[limit.into(), Option::<TimestampWithTimeZone>::None.into()])?,
    };
    let (ids, tokens, _) = leases(rows)?;
    release_expired(client, ids, tokens)
}

/// The (id, lease_token, lease_expires_at) rows of an expired-leases statement: ids, tokens and
/// the last row's expiry.
type Leases = (Vec<i64>, Vec<Uuid>, Option<TimestampWithTimeZone>);
fn leases(rows: pgrx::spi::SpiTupleTable<'_>) -> Result<Leases> {
    let (mut ids, mut tokens, mut last) = (Vec::new(), Vec::new(), None);
    for row in rows {
        ids.push(row.get::<i64>(1).map_err(internal)?.expect("id"));
        tokens.push(row.get::<Uuid>(2).map_err(internal)?.expect("lease_token"));
        last = row.get::<TimestampWithTimeZone>(3).map_err(internal)?;
    }
    Ok((ids, tokens, last))
}

/// Release the leases `ids` (tokens `tokens`) that have expired; returns how many were.
fn release_expired(client: &mut SpiClient<'_>, ids: Vec<i64>, tokens: Vec<Uuid>) -> Result<i64> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(fail_jobs(client, ids, tokens, Some("lease expired"), None, true, false, None)?.len() as i64)
}

/// Where the worker's lease expiry got to: its next step reads leases that expired from there on
/// (expired_all.sql), and from the first once a minute, for leases committed late (a transaction
/// that claimed or extended a lease, and committed after the lease it gave had expired).
#[derive(Default)]
pub struct LeaseScan {
    pub from: Option<TimestampWithTimeZone>,
    pub full_at: Option<std::time::Instant>,
}

/// [`expire_leases`] of every queue, from `from` on (expired_all.sql): (leases found, released,
/// where the next batch or step may start). When fewer than `limit` were found, that is this
/// transaction's now(): every lease it saw expire before then was found. Otherwise it is the last
/// expiry found (the next batch re-reads only the leases that expired at that instant).
pub fn expire_leases_from(
    client: &mut SpiClient<'_>,
    limit: i64,
    from: Option<TimestampWithTimeZone>,
) -> Result<(i64, i64, Option<TimestampWithTimeZone>)> {
    let (ids, tokens, last) = leases(exec(client, store::EXPIRED_ALL, &[limit.into(), from.into()])?)?;
    let found = ids.len() as i64;
    let released = release_expired(client, ids, tokens)?;
    let reached = if found < limit {
        // SAFETY: reads the transaction's start, which is what now() returns in its statements.
        crate::clock::timestamp(unsafe { pg_sys::GetCurrentTransactionStartTimestamp() }).ok()
    } else {
        last.or(from)
    };
    Ok((found, released, reached))
}

/// What a promotion did: jobs moved, queues notified, and per queue the first default-group key
/// made ready.
pub type Promoted = (i64, i64, Vec<(i32, ClaimKey)>);

/// Scheduled jobs that came due move to ready, and their queues are notified; returns
/// (jobs moved, queues notified, per queue the first default-group key made ready), at most
/// `limit` jobs. The caller reports the keys to the claim hints once this has committed.
pub fn promote_due(client: &mut SpiClient<'_>, limit: i64) -> Result<Promoted> {
    let row = crate::heads::first_row(exec(client, store::PROMOTE_ALL, &[limit.into()])?)?;
    Ok((
        row.get::<i64>(1).map_err(internal)?.unwrap_or(0),
        row.get::<i64>(2).map_err(internal)?.unwrap_or(0),
        crate::heads::keys_in_row(&row, 3)?,
    ))
}

/// Where the retention of each queue got to: its scans start there (see prune.sql).
pub type PruneBounds = std::collections::HashMap<i32, TimestampWithTimeZone>;

/// Delete finished jobs past their queue's retention, starting where `bounds` say; returns how
/// many, at most `limit`, and moves the bounds on.
pub fn prune_finished(client: &mut SpiClient<'_>, limit: i64, bounds: &mut PruneBounds) -> Result<i64> {
    let (ids, from): (Vec<i32>, Vec<TimestampWithTimeZone>) = bounds.iter().map(|(q, t)| (*q, *t)).unzip();
    let row = crate::heads::first_row(exec(client, store::PRUNE, &[limit.into(), ids.into(), from.into()])?)?;
    let reached_ids = row.get::<Vec<i32>>(2).map_err(internal)?.unwrap_or_default();
    let reached_at = row.get::<Vec<TimestampWithTimeZone>>(3).map_err(internal)?.unwrap_or_default();
    bounds.extend(reached_ids.into_iter().zip(reached_at));
    Ok(row.get::<i64>(1).map_err(internal)?.unwrap_or(0))
}

/// Delete dead jobs past their queue's dead_retention (queues that set one); returns how many,
/// at most `limit`.
pub fn prune_dead(client: &mut SpiClient<'_>, limit: i64) -> Result<i64> {
    Ok(exec_one::<i64>(client, store::PRUNE_DEAD, &[limit.into()])?.unwrap_or(0))
}

/// Delete jobs of dropped queues, at most `limit` per table and queue, then the tombstones of
/// queues found empty long enough; returns the rows deleted.
pub fn purge_dropped(client: &mut SpiClient<'_>, limit: i64) -> Result<i64> {
    let mut deleted = 0;
    for queue_id in exec_column::<i32>(client, store::DROPPED_QUEUES, &[])? {
        deleted += exec_one::<i64>(client, store::PURGE, &[queue_id.into(), limit.into()])?.unwrap_or(0);
    }
    exec(client, store::PURGEABLE, &[])?;
    Ok(deleted)
}
