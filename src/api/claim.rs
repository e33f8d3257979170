//! claim: lease ready jobs under the queue's rules.
//!
//! In order: a paused queue hands out nothing; when the background worker is not running, the
//! claim takes over its duties for this queue (expired leases), so correctness never waits for it;
//! scheduled jobs that came due move to ready; `max_running` and `max_running_per_group` cap what
//! runs (checked under a lock on the queue's row, taken only when a cap is set, so that concurrent
//! claimers cannot both take the last slot); the rate limiter (a token bucket in shared memory)
//! grants at most its tokens; then groups are served round-robin (src/store/sql/claim.sql).

use crate::catalog;
use crate::clock;
use crate::datum::Jsonb;
use crate::error::{internal, QueueError, Result};
use crate::heads::first_row;
use crate::security::{caller, require_id, Privilege};
use crate::shmem::{ClaimKey, HintRead};
use crate::spi::{exec, exec_one};
use crate::store;
use crate::validate::{batch_size, positive_interval, queue_name, required, worker_name};
use crate::{guc, heads, shmem};
use pgrx::datum::{DatumWithOid, Interval, TimestampWithTimeZone, Uuid};
use pgrx::heap_tuple::PgHeapTuple;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::{AllocatedByRust, PgSqlErrorCode, PgTryBuilder, PgTupleDesc};
use std::cell::RefCell;

// Both caps are checked under a lock on the queue's row; claimers of uncapped queues never take
// it. No outsider can hold it: a row lock needs UPDATE on queue.queues, which only the extension's
// owner and queue_maintainer have (an advisory lock key, as in 0.2.0, anybody could take).
const LOCK_QUEUE_CAPS: &str = "SELECT id FROM queue.queues WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED";
const WAIT_QUEUE_CAPS: &str = "SELECT id FROM queue.queues WHERE id = $1 FOR NO KEY UPDATE";
/// The longest a claim waits for the caps lock (held by another claim's transaction, or by an
/// alter_queue of the queue) before it hands out nothing; below deadlock_timeout's default, so
/// that the timeout comes first.
const CAPS_WAIT_MS: i32 = 500;

thread_local! {
    /// Rotation cursors of this backend, for servers without queue_ext preloaded.
    static LOCAL_CURSORS: RefCell<std::collections::HashMap<i32, String>> = RefCell::new(Default::default());
}

fn cursor(queue_id: i32) -> String {
    let shared = if shmem::available() { shmem::cursor(queue_id) } else { None };
    shared.unwrap_or_else(|| LOCAL_CURSORS.with(|c| c.borrow().get(&queue_id).cloned().unwrap_or_default()))
}

fn set_cursor(queue_id: i32, group: &str) {
    if shmem::available() {
        shmem::set_cursor(queue_id, group);
    } else {
        LOCAL_CURSORS.with(|c| c.borrow_mut().insert(queue_id, group.to_owned()));
    }
}

pub(crate) struct ClaimedJob {
    id: i64,
    queue: String,
    payload: Jsonb,
    attempts: i32,
    priority: i32,
    group_key: Option<String>,
    run_at: TimestampWithTimeZone,
    enqueued_at: TimestampWithTimeZone,
    lease_token: Uuid,
    lease_expires_at: TimestampWithTimeZone,
    /// Hand-out order: round, lap of the ring, group.
    order: (i64, i32, String),
}

impl ClaimedJob {
    /// A `queue.claimed_job` row, formed in one go (setting attributes one by one would re-form
    /// the tuple for each of them).
    pub(crate) fn into_tuple(self, desc: &PgTupleDesc<'static>) -> Result<PgHeapTuple<'static, AllocatedByRust>> {
        let datums = [
            self.id.into_datum(),
            self.queue.into_datum(),
            self.payload.into_datum(),
            self.attempts.into_datum(),
            self.priority.into_datum(),
            self.group_key.into_datum(),
            self.run_at.into_datum(),
            self.enqueued_at.into_datum(),
            self.lease_token.into_datum(),
            self.lease_expires_at.into_datum(),
        ];
        // SAFETY: the datums follow queue.claimed_job's attributes in order and type (sql/bootstrap.sql).
        unsafe { PgHeapTuple::from_datums(desc.clone(), datums) }
            .map_err(|e| QueueError::invalid(format!("queue.claimed_job: {e}")).into())
    }
}

/// The row type claim returns, looked up once per call (its OID changes if the extension is re-created).
fn claimed_job_desc() -> Result<PgTupleDesc<'static>> {
    PgTupleDesc::for_composite_type("queue.claimed_job")
        .ok_or_else(|| QueueError::invalid("type queue.claimed_job does not exist").into())
}

fn not_null<T>(v: Option<T>) -> T {
    v.expect("claim returns NOT NULL columns")
}

struct ClaimSettings {
    id: i32,
    lease: Interval,
    max_running: Option<i32>,
    max_running_per_group: Option<i32>,
    rate: Option<f64>,
    burst: Option<i32>,
}

/// The queue's settings (from the backend's cache), or None when it is paused; 42704 / 42501 when
/// it is unknown / not the caller's to consume from.
fn settings(client: &mut SpiClient<'_>, queue: &str, lease: Option<Interval>) -> Result<Option<ClaimSettings>> {
    let (info, grants_exist) = catalog::queue(client, queue)?;
    let info = info.ok_or_else(|| QueueError::UnknownQueue(queue.to_owned()))?;
    if grants_exist {
        require_id(client, &info, Privilege::Consume)?;
    }
    if info.paused {
        return Ok(None);
    }
    // A rate schedule's rate depends on the time: ask it (the clock is the wall clock, as for
    // the token bucket).
    let (rate, burst) = if info.scheduled_rate {
        let now = clock::timestamp(clock::wall_micros())?;
        let rows = exec(client, store::EFFECTIVE_RATE, &[queue.into(), now.into()])?;
        if rows.is_empty() {
            return Err(QueueError::UnknownQueue(queue.to_owned()).into());
        }
        let row = rows.first();
        (row.get::<f64>(1).map_err(internal)?, row.get::<i32>(2).map_err(internal)?)
    } else {
        (info.rate, info.burst)
    };
    Ok(Some(ClaimSettings {
        id: info.id,
        lease: lease.unwrap_or(info.lease),
        max_running: info.max_running,
        max_running_per_group: info.max_running_per_group,
        rate,
        burst,
    }))
}

/// The bucket's size: `burst` claims may arrive at once after an idle period (at least one).
fn capacity(rate: f64, burst: Option<i32>) -> f64 {
    (burst.map(f64::from).unwrap_or(rate.ceil())).max(1.0)
}

/// Caps count running jobs: under REPEATABLE READ or SERIALIZABLE the count would come from the
/// transaction's old snapshot, and two claimers could both take the last slot.
fn refuse_transaction_snapshot(queue: &str) -> Result<()> {
    // SAFETY: reads a backend global; XACT_REPEATABLE_READ and above use one snapshot per transaction.
    if unsafe { pg_sys::XactIsoLevel } >= pg_sys::XACT_REPEATABLE_READ as i32 {
        return Err(crate::error::with_hint(
            QueueError::NotSupported(format!(
                "claim on queue \"{queue}\", which has max_running or max_running_per_group, needs READ COMMITTED isolation"
            )),
            "under REPEATABLE READ or SERIALIZABLE a claim counts running jobs in the transaction's old snapshot; claim in a READ COMMITTED transaction",
        ));
    }
    Ok(())
}

/// Take queue `queue_id`'s caps lock for the rest of the transaction: at once when it is free,
/// else waiting [`CAPS_WAIT_MS`] at most (or the session's lock_timeout, when shorter). False when
/// it was not had in time, or the queue is gone: the claim then hands out nothing, as a claim
/// does when the caps are reached (it never raises, so a `complete` in the same call stands).
fn lock_caps(client: &mut SpiClient<'_>, queue_id: i32) -> Result<bool> {
    if exec_one::<i32>(client, LOCK_QUEUE_CAPS, &[queue_id.into()])?.is_some() {
        return Ok(true);
    }
    // SAFETY: reads a backend global.
    let session = unsafe { pg_sys::LockTimeout };
    let bound = if session > 0 { session.min(CAPS_WAIT_MS) } else { CAPS_WAIT_MS };
    let waited = in_subtransaction(
        &[PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE, PgSqlErrorCode::ERRCODE_T_R_DEADLOCK_DETECTED],
        || {
            let _bound = LockTimeout::set(bound);
            Ok(exec_one::<i32>(client, WAIT_QUEUE_CAPS, &[queue_id.into()])?.is_some())
        },
    )?;
    Ok(waited.unwrap_or(false))
}

/// `lock_timeout` for the statements run while the value lives (restored when it is dropped, on
/// error too). A plain variable without an assign hook, set directly like spi::PlannerSettings:
/// set_config would last until the end of the transaction.
struct LockTimeout(i32);

impl LockTimeout {
    fn set(ms: i32) -> Self {
        // SAFETY: a backend-local global, restored by Drop.
        unsafe {
            let saved = pg_sys::LockTimeout;
            pg_sys::LockTimeout = ms;
            LockTimeout(saved)
        }
    }
}

impl Drop for LockTimeout {
    fn drop(&mut self) {
        // SAFETY: puts back what set() found.
        unsafe { pg_sys::LockTimeout = self.0 };
    }
}

/// Run `f` in a subtransaction of its own. An error with one of the `expected` SQLSTATEs rolls
/// back what `f` did, and only that, and gives None; any other error rolls it back and is raised.
fn in_subtransaction<T>(expected: &[PgSqlErrorCode], f: impl FnOnce() -> Result<T>) -> Result<Option<T>> {
    // SAFETY: the sequence PL/Python uses around a statement whose error it catches: the caller's
    // memory context and resource owner are put back once the subtransaction has ended.
    let (context, owner) = unsafe { (pg_sys::CurrentMemoryContext, pg_sys::CurrentResourceOwner) };
    unsafe {
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
    }
    let outcome = PgTryBuilder::new(std::panic::AssertUnwindSafe(|| Ok(f()))).catch_others(Err).execute();
    let commit = matches!(outcome, Ok(Ok(_)));
    // SAFETY: ends the subtransaction begun above, which is the current one: `f` left none open.
    unsafe {
        if commit {
            pg_sys::ReleaseCurrentSubTransaction();
        } else {
            pg_sys::RollbackAndReleaseCurrentSubTransaction();
        }
        pg_sys::MemoryContextSwitchTo(context);
        pg_sys::CurrentResourceOwner = owner;
    }
    match outcome {
        Ok(result) => result.map(Some),
        Err(caught) => {
            let code = match &caught {
                pgrx::pg_sys::panic::CaughtError::PostgresError(r)
                | pgrx::pg_sys::panic::CaughtError::ErrorReport(r)
                | pgrx::pg_sys::panic::CaughtError::RustPanic { ereport: r, .. } => r.sql_error_code(),
            };
            if expected.contains(&code) {
                Ok(None)
            } else {
                caught.rethrow()
            }
        }
    }
}

/// When the worker pool does not keep up with this database (not preloaded, not serving it, or
/// saturated: work due here has waited too long), a claim returns its queue's expired leases to
/// pending itself.
fn take_over_expired_leases(client: &mut SpiClient<'_>, queue_id: i32, limit: i64) -> Result<()> {
    let within = guc::tick_micros().saturating_mul(3) + 1_000_000;
    // SAFETY: reads a backend global.
    let healthy = shmem::available() && shmem::pool::keeps_up(unsafe { pg_sys::MyDatabaseId }.to_u32(), within);
    if !healthy {
        crate::maintenance::expire_leases(client, Some(queue_id), limit)?;
    }
    Ok(())
}

pub(crate) fn claim_jobs(
    client: &mut SpiClient<'_>,
    queue: &str,
    worker: Option<&str>,
    batch: i32,
    lease: Option<Interval>,
) -> Result<Vec<ClaimedJob>> {
    let Some(s) = settings(client, queue, lease)? else { return Ok(Vec::new()) };
    take_over_expired_leases(client, s.id, batch as i64)?;
    let rows = exec(client, store::PROMOTE, &[s.id.into(), (batch as i64).max(100).into()])?;
    let promoted = heads::keys_in_row(&first_row(rows)?, 2)?;
    heads::ready_at(&promoted);
    let promoted = promoted.first().map(|(_, key)| *key);
    let mut want = batch as i64;
    let mut claimed_at = clock::wall_micros();
    if s.max_running.is_some() || s.max_running_per_group.is_some() {
        refuse_transaction_snapshot(queue)?;
        if !lock_caps(client, s.id)? {
            return Ok(Vec::new());
        }
        if let Some(max) = s.max_running {
            let running = exec_one::<i64>(client, store::COUNT_RUNNING, &[s.id.into()])?.unwrap_or(0);
            want = want.min(max as i64 - running);
        }
        // Stamped after the lock was granted, so that no claim appears to start before the
        // completions it saw.
        claimed_at = clock::wall_micros();
    }
    if want <= 0 {
        return Ok(Vec::new());
    }
    let bucket = match s.rate {
        Some(rate) => {
            if !shmem::available() {
                return Err(QueueError::NotInPrerequisiteState(format!(
                    "queue \"{queue}\" has a rate limit, which needs queue_ext in shared_preload_libraries"
                ))
                .into());
            }
            let cap = capacity(rate, s.burst);
            let (granted, at) = shmem::take_tokens(s.id, rate, cap, want);
            want = granted;
            claimed_at = at;
            Some(cap)
        }
        None => None,
    };
    if want <= 0 {
        return Ok(Vec::new());
    }
    let claimed_at = clock::timestamp(claimed_at)?;
    let mut jobs = match s.max_running_per_group {
        None => claim_default_group(client, queue, &s, worker, want, claimed_at, promoted)?,
        Some(_) => None,
    };
    if jobs.is_none() {
        jobs = Some(claim_round_robin(client, queue, &s, worker, want, claimed_at)?);
    }
    let mut jobs = jobs.expect("claimed");
    // The background worker must come when the first of these leases expires.
    if let Some(first) = jobs.iter().map(|j| pg_sys::TimestampTz::from(j.lease_expires_at)).min() {
        crate::pool_hints::due_at_commit(first, Some(crate::shmem::pool::Work::Leases));
    }
    if let Some(cap) = bucket {
        shmem::refund_tokens(s.id, want - jobs.len() as i64, cap);
    }
    // DELETE ... RETURNING does not keep the picking order: hand jobs out in claim order.
    jobs.sort_by(|a, b| a.order.cmp(&b.order));
    // The next claim starts after the last group this one served in its first round.
    if let Some(last) = jobs.iter().filter(|j| j.order.0 == 1).map(|j| (j.order.1, &j.order.2)).max() {
        set_cursor(s.id, last.1);
    }
    Ok(jobs)
}

/// The claim of a queue without jobs in named groups (claim_default.sql), from where the last claim
/// stopped. None when the queue has named groups: the caller rotates across them.
fn claim_default_group(
    client: &mut SpiClient<'_>,
    queue: &str,
    s: &ClaimSettings,
    worker: Option<&str>,
    want: i64,
    claimed_at: TimestampWithTimeZone,
    promoted: Option<ClaimKey>,
) -> Result<Option<Vec<ClaimedJob>>> {
    let read = if shmem::available() { shmem::read_head(s.id) } else { HintRead::none() };
    // Jobs this claim just promoted may lie before the start: it scans from the first of them.
    let (np, run_at, id) = promoted.map_or(read.start, |key| key.min(read.start));
    let args: [DatumWithOid; 9] = [
        s.id.into(),
        worker.into(),
        want.into(),
        s.lease.into(),
        claimed_at.into(),
        caller().into(),
        np.into(),
        clock::timestamp(run_at)?.into(),
        id.into(),
    ];
    let mut jobs = Vec::with_capacity(want as usize);
    let mut last = None;
    for row in exec(client, store::CLAIM_DEFAULT, &args)? {
        if not_null(row.get::<bool>(1).map_err(internal)?) {
            return Ok(None);
        }
        let Some(id) = row.get::<i64>(2).map_err(internal)? else { continue };
        let priority: i32 = not_null(row.get(5).map_err(internal)?);
        let run_at: TimestampWithTimeZone = not_null(row.get(6).map_err(internal)?);
        let key = heads::key(priority, run_at, id);
        last = last.max(Some(key));
        jobs.push(ClaimedJob {
            id,
            queue: queue.to_owned(),
            payload: not_null(row.get::<Jsonb>(3).map_err(internal)?).transfer_out_of_spi(),
            attempts: not_null(row.get(4).map_err(internal)?),
            priority,
            group_key: None,
            run_at,
            enqueued_at: not_null(row.get(7).map_err(internal)?),
            lease_token: not_null(row.get(8).map_err(internal)?),
            lease_expires_at: not_null(row.get(9).map_err(internal)?),
            order: (0, 0, String::new()),
        });
    }
    // Claim order is the claim key (the caller's sort by `order` keeps it).
    jobs.sort_by_key(|j| heads::key(j.priority, j.run_at, j.id));
    if let Some(last) = last {
        heads::holding(s.id);
        if shmem::available() {
            shmem::advance_head(s.id, read, last);
        }
    }
    Ok(Some(jobs))
}

/// The claim with rotation across groups (claim.sql).
fn claim_round_robin(
    client: &mut SpiClient<'_>,
    queue: &str,
    s: &ClaimSettings,
    worker: Option<&str>,
    want: i64,
    claimed_at: TimestampWithTimeZone,
) -> Result<Vec<ClaimedJob>> {
    let cursor = cursor(s.id);
    let args: [DatumWithOid; 8] = [
        s.id.into(),
        worker.into(),
        want.into(),
        s.lease.into(),
        cursor.as_str().into(),
        s.max_running_per_group.into(),
        claimed_at.into(),
        caller().into(),
    ];
    let mut jobs = Vec::with_capacity(want as usize);
    for row in exec(client, store::CLAIM, &args)? {
        jobs.push(ClaimedJob {
            id: not_null(row.get(1).map_err(internal)?),
            queue: queue.to_owned(),
            payload: not_null(row.get::<Jsonb>(2).map_err(internal)?).transfer_out_of_spi(),
            attempts: not_null(row.get(3).map_err(internal)?),
            priority: not_null(row.get(4).map_err(internal)?),
            group_key: row.get(5).map_err(internal)?,
            run_at: not_null(row.get(6).map_err(internal)?),
            enqueued_at: not_null(row.get(7).map_err(internal)?),
            lease_token: not_null(row.get(8).map_err(internal)?),
            lease_expires_at: not_null(row.get(9).map_err(internal)?),
            order: (
                not_null(row.get(10).map_err(internal)?),
                not_null(row.get(11).map_err(internal)?),
                not_null(row.get(12).map_err(internal)?),
            ),
        });
    }
    if jobs.iter().any(|j| j.group_key.is_none()) {
        // Jobs of the default group taken here come back if this claim rolls back.
        heads::holding(s.id);
    }
    Ok(jobs)
}

/// Lease up to `batch` ready jobs of `queue`. With `complete` (ids) and `complete_token`, first
/// completes the caller's previous batch in the same transaction: one round trip per batch.
#[pg_extern(name = "claim", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_claim(
    queue: Option<&str>,
    worker: default!(Option<&str>, NULL),
    batch: default!(Option<i32>, 1),
    lease: default!(Option<Interval>, NULL),
    complete: default!(Option<Vec<Option<i64>>>, NULL),
    complete_token: default!(Option<Uuid>, NULL),
) -> Result<crate::srf::SetOfIterator<pgrx::composite_type!('static, "queue.claimed_job")>> {
    let _acting = crate::security::enter()?;
    let queue = queue_name(queue)?;
    let worker = worker_name(worker)?;
    let batch = batch_size(required(batch, "batch")?)?;
    let lease = lease.map(|l| positive_interval(l, "lease")).transpose()?;
    if complete.is_some() && complete_token.is_none() {
        return Err(QueueError::NullValue("complete_token (required with complete)").into());
    }
    if complete.as_ref().is_some_and(|ids| ids.iter().any(Option::is_none)) {
        return Err(QueueError::NullValue("every element of complete").into());
    }
    let jobs = Spi::connect_mut(|client| {
        if let (Some(ids), Some(token)) = (complete, complete_token) {
            crate::api::consume::complete_jobs(client, ids, vec![Some(token)])?;
        }
        claim_jobs(client, queue, worker, batch, lease)
    })?;
    let desc = claimed_job_desc()?;
    let tuples = jobs.into_iter().map(|j| j.into_tuple(&desc)).collect::<Result<Vec<_>>>()?;
    Ok(crate::srf::SetOfIterator(tuples))
}

/// The plans `claim` runs for `queue`: the generic plans of its two claim statements (claims
/// always run generic plans, see spi::PlannerSettings), not executed: first the one for queues
/// without named groups (starting where the last claim stopped), then the round-robin one.
#[pg_extern(name = "explain_claim", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_explain_claim(queue: Option<&str>, batch: default!(Option<i32>, 1)) -> Result<SetOfIterator<'static, String>> {
    let _acting = crate::security::enter()?;
    let queue = queue_name(queue)?;
    let batch = batch_size(required(batch, "batch")?)? as i64;
    let lines = Spi::connect_mut(|client| {
        crate::security::check_queue(client, queue, Privilege::Admin)?;
        let id = exec_one::<i32>(client, "SELECT id FROM queue.queues WHERE name = $1", &[queue.into()])?
            .ok_or_else(|| QueueError::UnknownQueue(queue.to_owned()))?;
        let now = clock::transaction_now().to_string();
        let role = caller().to_u32().to_string();
        let mut lines = vec!["-- promote.sql: the queue's own jobs that came due, first".to_owned()];
        lines.extend(crate::spi::explain_generic(
            client,
            store::PROMOTE,
            "integer, bigint",
            &[Some(id.to_string()), Some(batch.max(100).to_string())],
        )?);
        lines.push("-- claim_default.sql: queues without jobs in named groups".to_owned());
        lines.extend(crate::spi::explain_generic(
            client,
            store::CLAIM_DEFAULT,
            "integer, text, bigint, interval, timestamptz, oid, bigint, timestamptz, bigint",
            &[
                Some(id.to_string()),
                None,
                Some(batch.to_string()),
                Some("30 seconds".into()),
                Some(now.clone()),
                Some(role.clone()),
                Some(i64::MIN.to_string()),
                Some("-infinity".into()),
                Some(i64::MIN.to_string()),
            ],
        )?);
        lines.push("-- claim.sql: rotation across groups".to_owned());
        lines.extend(crate::spi::explain_generic(
            client,
            store::CLAIM,
            "integer, text, bigint, interval, text, integer, timestamptz, oid",
            &[
                Some(id.to_string()),
                None,
                Some(batch.to_string()),
                Some("30 seconds".into()),
                Some(String::new()),
                None,
                Some(now),
                Some(role),
            ],
        )?);
        Ok::<_, pgrx::pg_sys::panic::ErrorReport>(lines)
    })?;
    Ok(SetOfIterator::new(lines))
}
