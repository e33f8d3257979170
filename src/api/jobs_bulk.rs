//! Managing jobs in bulk (issue 17): purge_jobs, cancel_jobs, retry_jobs, move_jobs.
//!
//! Each is one statement (src/store/sql/*_jobs.sql) that picks at most `max_jobs` jobs matching
//! its filters and moves or deletes them, so a call's work is bounded whatever the backlog; it
//! returns how many jobs it touched, and a caller repeats it until it returns fewer than
//! `max_jobs`. Filters are named arguments, NULL meaning "any". Each needs the privilege of its
//! single-job form: cancel_jobs 'produce' like cancel, the others 'admin' like retry.

use crate::error::{internal, QueueError, Result};
use crate::heads::first_row;
use crate::security::{caller, require, Privilege};
use crate::spi::{exec, exec_one};
use crate::store;
use crate::validate::{key, non_negative_interval, queue_name, required};
use pgrx::datum::{DatumWithOid, Interval};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// A call touches at most this many jobs: each is one statement, so one transaction.
pub const MAX_JOBS: i32 = 100_000;

/// The filters every bulk call shares, validated; None means any.
struct Filter {
    state: Option<String>,
    group_key: Option<String>,
    dedupe_key: Option<String>,
    older_than: Option<Interval>,
    min_id: Option<i64>,
    max_id: Option<i64>,
    max_jobs: i32,
}

impl Filter {
    #[allow(clippy::too_many_arguments)]
    fn new(
        state: Option<&str>,
        allowed: &[&str],
        group_key: Option<&str>,
        dedupe_key: Option<&str>,
        older_than: Option<Interval>,
        min_id: Option<i64>,
        max_id: Option<i64>,
        max_jobs: Option<i32>,
    ) -> std::result::Result<Self, QueueError> {
        if let Some(s) = state {
            if !allowed.contains(&s) {
                return Err(QueueError::invalid(format!(
                    "state must be {} here, got '{}'",
                    allowed.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" or "),
                    s.escape_default()
                )));
            }
        }
        let max_jobs = required(max_jobs, "max_jobs")?;
        if !(1..=MAX_JOBS).contains(&max_jobs) {
            return Err(QueueError::invalid(format!("max_jobs must be between 1 and {MAX_JOBS}, got {max_jobs}")));
        }
        Ok(Filter {
            state: state.map(str::to_owned),
            group_key: key(group_key, "group_key")?,
            dedupe_key: key(dedupe_key, "dedupe_key")?,
            older_than: older_than.map(|i| non_negative_interval(i, "older_than")).transpose()?,
            min_id,
            max_id,
            max_jobs,
        })
    }

    /// The statements' parameters $2 to $8, after the queue id.
    fn args(&self) -> Vec<DatumWithOid<'_>> {
        vec![
            self.state.as_deref().into(),
            self.group_key.as_deref().into(),
            self.dedupe_key.as_deref().into(),
            self.older_than.into(),
            self.min_id.into(),
            self.max_id.into(),
            (self.max_jobs as i64).into(),
        ]
    }
}

/// Bitmap scans off while a bulk statement is planned and run (restored when dropped, on error
/// too): a bitmap scan reads a queue's whole range of an index before the LIMIT applies, where an
/// index scan in the index's order stops after `max_jobs` rows. Each statement's plan is made
/// once per backend (spi.rs), so it must not depend on the table statistics of that moment.
struct IndexScans(bool);

impl IndexScans {
    fn enter() -> Self {
        // SAFETY: a backend-local planner variable without an assign hook, restored by Drop.
        unsafe {
            let saved = pgrx::pg_sys::enable_bitmapscan;
            pgrx::pg_sys::enable_bitmapscan = false;
            IndexScans(saved)
        }
    }
}

impl Drop for IndexScans {
    fn drop(&mut self) {
        // SAFETY: puts back what `enter` found.
        unsafe { pgrx::pg_sys::enable_bitmapscan = self.0 };
    }
}

/// The id of `queue` after checking that the caller may use `privilege` on it: 42704 for an
/// unknown queue, 42501 naming it without the grant.
pub(crate) fn queue_for(client: &mut SpiClient<'_>, queue: &str, privilege: Privilege) -> Result<i32> {
    let rows = exec(
        client,
        "SELECT id, queue_internal.may(id, $2, $3) FROM queue.queues WHERE name = $1",
        &[queue.into(), caller().into(), privilege.as_str().into()],
    )?;
    if rows.is_empty() {
        return Err(QueueError::UnknownQueue(queue.to_owned()).into());
    }
    let row = rows.first();
    require(row.get::<bool>(2).map_err(internal)?.unwrap_or(false), queue, privilege)?;
    Ok(row.get::<i32>(1).map_err(internal)?.expect("queue id"))
}

/// Delete finished jobs of `queue` that finished more than `older_than` ago (required: '0' for
/// any age), oldest first; `state` narrows to 'done', 'cancelled' or 'dead'. Needs 'admin'.
#[pg_extern(name = "purge_jobs", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn queue_purge_jobs(
    queue: Option<&str>,
    older_than: Option<Interval>,
    state: default!(Option<&str>, NULL),
    group_key: default!(Option<&str>, NULL),
    dedupe_key: default!(Option<&str>, NULL),
    min_id: default!(Option<i64>, NULL),
    max_id: default!(Option<i64>, NULL),
    max_jobs: default!(Option<i32>, 10000),
) -> Result<i64> {
    let _acting = crate::security::enter()?;
    let queue = queue_name(queue)?;
    let older_than = required(older_than, "older_than")?;
    let f = Filter::new(
        state,
        &["done", "cancelled", "dead"],
        group_key,
        dedupe_key,
        Some(older_than),
        min_id,
        max_id,
        max_jobs,
    )?;
    Spi::connect_mut(|client| {
        let id = queue_for(client, queue, Privilege::Admin)?;
        let mut args: Vec<DatumWithOid> = vec![id.into()];
        args.extend(f.args());
        let _scans = IndexScans::enter();
        Ok(exec_one::<i64>(client, store::PURGE_JOBS, &args)?.unwrap_or(0))
    })
}

/// Cancel the pending and running jobs of `queue` that match, as `cancel` does each: a worker
/// holding one gets false from complete and fail. Needs 'produce'.
#[pg_extern(name = "cancel_jobs", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn queue_cancel_jobs(
    queue: Option<&str>,
    state: default!(Option<&str>, NULL),
    group_key: default!(Option<&str>, NULL),
    dedupe_key: default!(Option<&str>, NULL),
    older_than: default!(Option<Interval>, NULL),
    min_id: default!(Option<i64>, NULL),
    max_id: default!(Option<i64>, NULL),
    max_jobs: default!(Option<i32>, 10000),
) -> Result<i64> {
    let _acting = crate::security::enter()?;
    let queue = queue_name(queue)?;
    let f = Filter::new(state, &["pending", "running"], group_key, dedupe_key, older_than, min_id, max_id, max_jobs)?;
    Spi::connect_mut(|client| {
        let id = queue_for(client, queue, Privilege::Produce)?;
        // A cancel that rolls back brings the jobs back to where claims may have moved past.
        crate::heads::holding(id);
        let _counted = crate::stats::because(crate::stats::Reason::Cancel);
        let mut args: Vec<DatumWithOid> = vec![id.into()];
        args.extend(f.args());
        let _scans = IndexScans::enter();
        Ok(exec_one::<i64>(client, store::CANCEL_JOBS, &args)?.unwrap_or(0))
    })
}

/// Send the dead (or, with state => 'cancelled', cancelled) jobs of `queue` that match back to
/// pending with their attempts reset, as `retry(queue, state)` does. Needs 'admin'.
#[pg_extern(name = "retry_jobs", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn queue_retry_jobs(
    queue: Option<&str>,
    state: default!(Option<&str>, "'dead'"),
    group_key: default!(Option<&str>, NULL),
    dedupe_key: default!(Option<&str>, NULL),
    older_than: default!(Option<Interval>, NULL),
    min_id: default!(Option<i64>, NULL),
    max_id: default!(Option<i64>, NULL),
    max_jobs: default!(Option<i32>, 10000),
) -> Result<i64> {
    // The background worker looks at what this changed once it commits.
    crate::pool_hints::due_now_at_commit(None);
    let _acting = crate::security::enter()?;
    let queue = queue_name(queue)?;
    let state = required(state, "state")?;
    let f =
        Filter::new(Some(state), &["dead", "cancelled"], group_key, dedupe_key, older_than, min_id, max_id, max_jobs)?;
    Spi::connect_mut(|client| {
        let id = queue_for(client, queue, Privilege::Admin)?;
        let mut args: Vec<DatumWithOid> = vec![id.into()];
        args.extend(f.args());
        let _scans = IndexScans::enter();
        let row = first_row(exec(client, store::RETRY_JOBS, &args)?)?;
        crate::heads::ready_at(&crate::heads::keys_in_row(&row, 2)?);
        Ok(row.get::<i64>(1).map_err(internal)?.unwrap_or(0))
    })
}

/// Move the pending jobs of `queue` that match to `to_queue`, keeping their ids, payloads,
/// timing and attempts. A job whose dedupe key a live job of `to_queue` holds stays. Needs
/// 'admin' on `queue` (jobs leave it, as with purge) and 'produce' on `to_queue` (as enqueue).
#[pg_extern(name = "move_jobs", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn queue_move_jobs(
    queue: Option<&str>,
    to_queue: Option<&str>,
    group_key: default!(Option<&str>, NULL),
    dedupe_key: default!(Option<&str>, NULL),
    older_than: default!(Option<Interval>, NULL),
    min_id: default!(Option<i64>, NULL),
    max_id: default!(Option<i64>, NULL),
    max_jobs: default!(Option<i32>, 10000),
) -> Result<i64> {
    // The background worker looks at what this changed once it commits.
    crate::pool_hints::due_now_at_commit(None);
    let _acting = crate::security::enter()?;
    let queue = queue_name(queue)?;
    let to_queue = queue_name(Some(required(to_queue, "to_queue")?))?;
    if queue == to_queue {
        return Err(QueueError::invalid(format!("to_queue must be another queue than \"{queue}\"")).into());
    }
    let f = Filter::new(None, &[], group_key, dedupe_key, older_than, min_id, max_id, max_jobs)?;
    Spi::connect_mut(|client| {
        let from = queue_for(client, queue, Privilege::Admin)?;
        let to = queue_for(client, to_queue, Privilege::Produce)?;
        // Jobs leaving the source come back there if this rolls back.
        crate::heads::holding(from);
        let mut args: Vec<DatumWithOid> = vec![from.into(), to.into()];
        args.extend(f.args().into_iter().skip(1));
        let _scans = IndexScans::enter();
        let row = first_row(exec(client, store::MOVE_JOBS, &args)?)?;
        crate::heads::ready_at(&crate::heads::keys_in_row(&row, 2)?);
        Ok(row.get::<i64>(1).map_err(internal)?.unwrap_or(0))
    })
}
