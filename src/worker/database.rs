//! The worker of one database. Every `queue_ext.tick` at most (sooner when the earliest scheduled
//! job or cron schedule comes due), each step in its own short transactions (bounded batches, so
//! it never pins the xmin horizon): release expired leases, fire cron schedules, step spread
//! refreshes and backfills, move scheduled jobs that came due to ready and notify their queues, purge dropped
//! queues, prune finished jobs past retention, and record what it did in `queue.worker_status`.
//! An error in a step is recorded and the next step still runs.
//!
//! Security: it connects as the bootstrap superuser (a background worker must), pins its
//! search_path to `pg_catalog, pg_temp` for the whole process, and runs every maintenance statement
//! as the role queue_maintainer, which may touch queue_ext's tables and nothing else.

use super::{due, in_transaction, in_transaction_coded, report_activity, signals, Failure};
use crate::error::Result;
use crate::periodic::{backfill, refresh, schedules};
use crate::security::{as_role, maintainer};
use crate::shmem::pool::Work;
use crate::spi::exec;
use crate::stats::recount;
use crate::{guc, maintenance, shmem};
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, DynamicBackgroundWorker, SignalWakeFlags};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use std::time::Duration;

/// A batch step repeats until a batch comes back short or this share of the tick has gone: the
/// worker keeps up with any completion rate (retention) while each transaction stays small.
const STEP_BUDGET_OF_TICK: f64 = 0.4;
/// A database without queue_ext (or with another version of it) is looked at again after this long,
/// or at once after its CREATE EXTENSION (or ALTER EXTENSION ... UPDATE).
const ABSENT_RECHECK: Duration = Duration::from_secs(3600);
/// Retention starts from the heads of the indexes again this often (rows committed late, with an
/// older finished_at than where it got to, are pruned then).
const FULL_PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Leases are looked at this often at most.
const LEASE_CHECK_EVERY: Duration = Duration::from_secs(1);
/// Lease expiry starts from the first lease again this often (leases committed late, expired
/// before where it got to, are released then).
const FULL_LEASE_SCAN_EVERY: Duration = Duration::from_secs(60);
/// A schedule or refresh whose step failed is tried again after this long.
const FAILED_HOLD_OFF: Duration = Duration::from_secs(10);
/// The recount of queue depths (after a restart) asks for each job table's lock without waiting,
/// every tick. When it has not had them for this long, it waits for one, at most
/// RECOUNT_LOCK_WAIT (writers of that table wait behind it meanwhile), and when that fails too,
/// waits again after a pause that doubles up to RECOUNT_PATIENCE_MAX.
const RECOUNT_PATIENCE: Duration = Duration::from_secs(10);
const RECOUNT_PATIENCE_MAX: Duration = Duration::from_secs(60);
const RECOUNT_LOCK_WAIT: Duration = Duration::from_millis(50);
/// The recount tries for its locks this long per tick at most, leaving the tick to the other steps.
const RECOUNT_TRY_MAX: Duration = Duration::from_millis(100);
/// A worker that left for DROP DATABASE (or the like) stays away this long.
const MAKE_ROOM_FOR: Duration = Duration::from_secs(30);

/// Does someone need this database to itself? DROP DATABASE, ALTER DATABASE RENAME or SET
/// TABLESPACE, and CREATE DATABASE copying it as a template lock the database object, then wait a
/// few seconds for every other connection to go: a worker that sees such a lock leaves.
fn database_wanted(db: u32) -> bool {
    in_transaction(move || {
        let tag = pg_sys::LOCKTAG {
            locktag_field1: 0, // a shared object: no database
            locktag_field2: pg_sys::DatabaseRelationId.to_u32(),
            locktag_field3: db,
            locktag_field4: 0,
            locktag_type: pg_sys::LockTagType::LOCKTAG_OBJECT as u8,
            locktag_lockmethodid: pg_sys::DEFAULT_LOCKMETHOD as u8,
        };
        let mode = pg_sys::RowExclusiveLock as pg_sys::LOCKMODE;
        // SAFETY: a conditional lock in a transaction of our own, released at once (or at its end).
        let result = unsafe { pg_sys::LockAcquire(&tag, mode, false, true) };
        if result == pg_sys::LockAcquireResult::LOCKACQUIRE_NOT_AVAIL {
            return Ok(true);
        }
        unsafe { pg_sys::LockRelease(&tag, mode, false) };
        Ok(false)
    })
    .unwrap_or(false)
}

/// Start the worker of database `db` (called by the launcher); None when no worker slot is free.
pub fn start(db: pg_sys::Oid, name: &str) -> Option<DynamicBackgroundWorker> {
    BackgroundWorkerBuilder::new(&format!("queue_ext worker for database {name}"))
        .set_type("queue_ext worker")
        .set_library("queue_ext")
        .set_function("queue_ext_database_worker_main")
        .set_argument(Some(pg_sys::Datum::from(db)))
        .enable_spi_access()
        // The launcher restarts it (after a crash or pg_terminate_backend) within a second.
        .set_restart_time(None)
        // SAFETY: reads this process's pid.
        .set_notify_pid(unsafe { pg_sys::MyProcPid })
        .load_dynamic()
        .ok()
}

#[derive(Default)]
struct TickReport {
    leases_released: i64,
    jobs_promoted: i64,
    notifications_sent: i64,
    jobs_pruned: i64,
    jobs_purged: i64,
    schedules_fired: i64,
    refresh_jobs: i64,
    backfill_jobs: i64,
    error: Option<String>,
}

enum Installed {
    Yes,
    No,
    /// Installed at another version than this library's: waiting for ALTER EXTENSION ... UPDATE.
    OtherVersion(String),
}

struct Worker {
    db: u32,
    /// When leases were last looked at: at most once a second, whatever the tick (the running
    /// table is small but churns, and leases last seconds at the least).
    leases_checked: Option<std::time::Instant>,
    /// Where lease expiry got to, and when it last started from the first lease.
    lease_scan: maintenance::LeaseScan,
    /// Where retention got to per queue, and when it last started from the heads (prune.sql).
    prune_bounds: maintenance::PruneBounds,
    full_prune: Option<std::time::Instant>,
    /// Schedules and refreshes whose last step failed, and until when they are left alone.
    schedules_held: std::collections::HashMap<String, std::time::Instant>,
    refreshes_held: std::collections::HashMap<String, std::time::Instant>,
    backfills_held: std::collections::HashMap<String, std::time::Instant>,
    /// From when the recount may wait for a lock (it has not had them since RECOUNT_PATIENCE).
    recount_wait_at: Option<std::time::Instant>,
    recount_patience: Duration,
    started_at: Option<TimestampWithTimeZone>,
    skew_logged: bool,
    stopping: bool,
    /// When each kind of work here is due, as the pool knew at the round's start (and the round
    /// read again what it did: `found`).
    dues: shmem::pool::Dues,
    /// The moments this round read (pool_due.sql), published to the pool at its end; and when it
    /// began, if it read them all.
    found: [Option<i64>; shmem::pool::KINDS],
    full_look: Option<i64>,
    /// When leases were last looked at (Postgres microseconds).
    leases_checked_us: i64,
    /// When the worker last found work here (or arrived): it lingers queue_ext.worker_linger after.
    last_work: std::time::Instant,
    arrived_us: i64,
    /// When the current round began.
    round_started_us: i64,
}

fn installed() -> Installed {
    match in_transaction(|| Ok(installed_version())) {
        Ok(Some(v)) if v == env!("CARGO_PKG_VERSION") => Installed::Yes,
        Ok(Some(v)) => Installed::OtherVersion(v),
        Ok(None) => Installed::No,
        Err(e) => {
            // Not a reason to stay away for an hour: treated as a version being installed.
            log!("queue_ext worker: could not read pg_extension: {e}");
            Installed::OtherVersion(String::from("unknown"))
        }
    }
}

/// queue_ext's extversion in this database, read from pg_extension by its name index: a visit
/// asks every round, and a catalog scan costs no parse or plan (a cold plan is most of an SPI
/// query's cost in a process that lives for one visit). Needs a transaction.
fn installed_version() -> Option<String> {
    // SAFETY: a catalog scan in a transaction, as get_extension_oid() does it; the tuple is read
    // before the scan ends and its text copied out.
    unsafe {
        let rel = pg_sys::table_open(pg_sys::ExtensionRelationId, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let mut key: pg_sys::ScanKeyData = std::mem::zeroed();
        pg_sys::ScanKeyInit(
            &mut key,
            pg_sys::Anum_pg_extension_extname as pg_sys::AttrNumber,
            pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
            pg_sys::F_NAMEEQ.into(),
            pg_sys::Datum::from(c"queue_ext".as_ptr()),
        );
        let scan = pg_sys::systable_beginscan(
            rel,
            pg_sys::ExtensionNameIndexId.into(),
            true,
            std::ptr::null_mut(),
            1,
            &mut key,
        );
        let tuple = pg_sys::systable_getnext(scan);
        let version = (!tuple.is_null())
            .then(|| {
                let mut isnull = false;
                let datum = pg_sys::heap_getattr(
                    tuple,
                    pg_sys::Anum_pg_extension_extversion as i32,
                    (*rel).rd_att,
                    &mut isnull,
                );
                (!isnull).then(|| {
                    let text = pg_sys::text_to_cstring(datum.cast_mut_ptr());
                    std::ffi::CStr::from_ptr(text).to_string_lossy().into_owned()
                })
            })
            .flatten();
        pg_sys::systable_endscan(scan);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        version
    }
}

/// Run a maintenance step as queue_maintainer, in a transaction of its own.
fn as_maintainer<R>(
    f: impl FnOnce(&mut SpiClient<'_>) -> Result<R> + std::panic::UnwindSafe,
) -> std::result::Result<R, String> {
    as_maintainer_coded(f).map_err(|failure| failure.message)
}

/// [`as_maintainer`], keeping the error's SQLSTATE.
fn as_maintainer_coded<R>(
    f: impl FnOnce(&mut SpiClient<'_>) -> Result<R> + std::panic::UnwindSafe,
) -> std::result::Result<R, Failure> {
    in_transaction_coded(|| {
        Spi::connect_mut(|c| {
            let role = maintainer(c)?;
            let _role = as_role(role);
            f(c)
        })
    })
}

impl Worker {
    /// Has the worker been asked to stop (SIGTERM: pg_terminate_backend, a shutdown)? The flag is
    /// our own handler's and stays set (signals.rs); inside a user's code the signal ends the
    /// process instead.
    fn stop_requested(&mut self) -> bool {
        if signals::stop_requested() {
            self.stopping = true;
        }
        self.stopping
    }

    /// Repeat a batch step, each batch in its own transaction, until one comes back short or the
    /// step's time budget is spent; what is left waits for the next tick.
    fn batches(&mut self, report: &mut TickReport, step: fn(&mut SpiClient<'_>, i64) -> Result<i64>) -> i64 {
        let limit = guc::batch_size();
        let budget = guc::tick().mul_f64(STEP_BUDGET_OF_TICK);
        let started = std::time::Instant::now();
        let mut total = 0;
        loop {
            match as_maintainer(move |c| step(c, limit)) {
                Ok(n) => {
                    total += n;
                    if n < limit {
                        break;
                    }
                }
                Err(e) => {
                    report.error = Some(e);
                    break;
                }
            }
            if self.stop_requested() {
                break;
            }
            if started.elapsed() >= budget {
                break;
            }
        }
        total
    }

    fn promote(&mut self, report: &mut TickReport) {
        let limit = guc::batch_size();
        let budget = guc::tick().mul_f64(STEP_BUDGET_OF_TICK);
        let started = std::time::Instant::now();
        loop {
            match as_maintainer(move |c| maintenance::promote_due(c, limit)) {
                Ok((moved, notified, heads)) => {
                    // Committed: claims may no longer start past the jobs that became ready.
                    for (queue_id, key) in heads {
                        shmem::lower_head(self.db, queue_id, key);
                    }
                    report.jobs_promoted += moved;
                    report.notifications_sent += notified;
                    if moved < limit || started.elapsed() >= budget || self.stop_requested() {
                        break;
                    }
                }
                Err(e) => {
                    report.error = Some(e);
                    break;
                }
            }
        }
    }

    /// Count the queue depths shared memory does not know (after a restart), a job table at a
    /// time. Writers to a table wait while it is counted, so its lock is asked for without
    /// waiting, within the step's share of the tick; only when that has failed for
    /// RECOUNT_PATIENCE does the worker wait for it, briefly (src/stats/recount.rs).
    fn recount(&mut self, report: &mut TickReport, queues: Option<Vec<i32>>) {
        let uncounted = match queues {
            Some(ids) => Ok(recount::uncounted_of(ids)),
            None => as_maintainer(recount::uncounted),
        };
        let uncounted = match uncounted {
            Ok(uncounted) => uncounted,
            Err(e) => {
                report.error = Some(format!("recount: {e}"));
                return;
            }
        };
        if uncounted.is_empty() {
            self.recount_wait_at = None;
            self.recount_patience = RECOUNT_PATIENCE;
            return;
        }
        let now = std::time::Instant::now();
        let wait_at = *self.recount_wait_at.get_or_insert(now + self.recount_patience);
        let wait = (now >= wait_at).then_some(RECOUNT_LOCK_WAIT);
        let budget = guc::tick().mul_f64(STEP_BUDGET_OF_TICK).min(RECOUNT_TRY_MAX);
        let mut all_counted = true;
        'tables: for table in 0..recount::TABLES.len() {
            let ids: Vec<i32> =
                uncounted.iter().filter(|(_, missing)| missing & (1 << table) != 0).map(|(id, _)| *id).collect();
            for ids in ids.chunks(recount::QUEUES_PER_COUNT) {
                let (ids, try_for) = (ids.to_vec(), budget.saturating_sub(now.elapsed()));
                let counted = match as_maintainer_coded(move |c| recount::recount_table(c, table, ids, try_for, wait)) {
                    Ok(counted) => counted,
                    Err(Failure { code: Some(PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE), .. }) => false,
                    Err(Failure { message, .. }) => {
                        report.error = Some(format!("recount: {message}"));
                        false
                    }
                };
                if self.stop_requested() {
                    return;
                }
                if !counted {
                    all_counted = false;
                    continue 'tables;
                }
            }
        }
        if all_counted {
            self.recount_wait_at = None;
            self.recount_patience = RECOUNT_PATIENCE;
        } else if wait.is_some() {
            self.recount_patience = (self.recount_patience * 2).min(RECOUNT_PATIENCE_MAX);
            self.recount_wait_at = Some(std::time::Instant::now() + self.recount_patience);
        }
    }

    /// Fire the cron schedules that are due, a batch per transaction. When a batch fails, its
    /// schedules fire one per transaction; one that fails alone records its error and is held
    /// back for a while (it stays due), so it never holds the others back.
    fn fire_schedules(&mut self, report: &mut TickReport) {
        const BATCH: i64 = 100;
        let budget = guc::tick().mul_f64(STEP_BUDGET_OF_TICK);
        let started = std::time::Instant::now();
        self.schedules_held.retain(|_, until| *until > std::time::Instant::now());
        while started.elapsed() < budget && !self.stop_requested() {
            let held: Vec<String> = self.schedules_held.keys().cloned().collect();
            let batch_held = held.clone();
            // (Found and fired in one transaction: a visit for one schedule is one transaction.)
            if let Ok(fired) = as_maintainer(move |c| schedules::fire(c, None, &batch_held, BATCH)) {
                report.schedules_fired += fired.fired;
                if fired.handled < BATCH {
                    return;
                }
                continue;
            }
            let names = match as_maintainer(move |c| schedules::due(c, BATCH, held)) {
                Ok(names) if names.is_empty() => return,
                Ok(names) => names,
                Err(e) => {
                    report.error = Some(e);
                    return;
                }
            };
            for name in names {
                let one = vec![name.clone()];
                match as_maintainer(move |c| schedules::fire(c, Some(&one), &[], 1)) {
                    Ok(fired) => report.schedules_fired += fired.fired,
                    Err(e) => {
                        let (n, error) = (name.clone(), e.clone());
                        if let Err(e2) = as_maintainer(move |c| schedules::record_failure(c, &n, &error)) {
                            log!("queue_ext worker: could not record the failure of schedule \"{name}\": {e2}");
                        }
                        report.error = Some(format!("schedule \"{name}\": {e}"));
                        self.schedules_held.insert(name, std::time::Instant::now() + FAILED_HOLD_OFF);
                    }
                }
            }
        }
    }

    /// Step the spread refreshes that have slots up to a tick ahead, furthest behind first; a
    /// refresh whose step fails records its error and waits for the next tick.
    fn step_refreshes(&mut self, report: &mut TickReport) {
        let budget = guc::tick().mul_f64(STEP_BUDGET_OF_TICK);
        let started = std::time::Instant::now();
        let max_keys = guc::batch_size();
        let Ok(target) = crate::clock::timestamp(crate::clock::wall_micros() + guc::tick_micros()) else { return };
        self.refreshes_held.retain(|_, until| *until > std::time::Instant::now());
        let held: Vec<String> = self.refreshes_held.keys().cloned().collect();
        let names = match as_maintainer(move |c| refresh::behind(c, target, 1000, held)) {
            Ok(names) => names,
            Err(e) => {
                report.error = Some(e);
                return;
            }
        };
        for name in names {
            loop {
                if started.elapsed() >= budget || self.stop_requested() {
                    return;
                }
                let n = name.clone();
                match as_maintainer(move |c| refresh::step(c, &n, target, max_keys)) {
                    Ok(Some(stepped)) => {
                        report.refresh_jobs += stepped.jobs;
                        if !stepped.behind {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let (n, error) = (name.clone(), e.clone());
                        if let Err(e2) = as_maintainer(move |c| refresh::record_failure(c, &n, &error)) {
                            log!("queue_ext worker: could not record the failure of spread refresh \"{name}\": {e2}");
                        }
                        report.error = Some(format!("spread refresh \"{name}\": {e}"));
                        self.refreshes_held.insert(name.clone(), std::time::Instant::now() + FAILED_HOLD_OFF);
                        break;
                    }
                }
            }
        }
    }

    /// Step the backfills that are running: each enqueues the ranges due within its window. A
    /// backfill whose step fails records its error and is left alone for a while.
    fn step_backfills(&mut self, report: &mut TickReport) {
        let budget = guc::tick().mul_f64(STEP_BUDGET_OF_TICK);
        let started = std::time::Instant::now();
        self.backfills_held.retain(|_, until| *until > std::time::Instant::now());
        let held: Vec<String> = self.backfills_held.keys().cloned().collect();
        let names = match as_maintainer(move |c| backfill::active(c, held)) {
            Ok(names) => names,
            Err(e) => {
                report.error = Some(e);
                return;
            }
        };
        for name in names {
            loop {
                if started.elapsed() >= budget || self.stop_requested() {
                    return;
                }
                let n = name.clone();
                match as_maintainer(move |c| backfill::step(c, &n)) {
                    Ok(Some(stepped)) => {
                        report.backfill_jobs += stepped.jobs;
                        if !stepped.behind {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let (n, error) = (name.clone(), e.clone());
                        if let Err(e2) = as_maintainer(move |c| backfill::record_failure(c, &n, &error)) {
                            log!("queue_ext worker: could not record the failure of backfill \"{name}\": {e2}");
                        }
                        report.error = Some(format!("backfill \"{name}\": {e}"));
                        self.backfills_held.insert(name.clone(), std::time::Instant::now() + FAILED_HOLD_OFF);
                        break;
                    }
                }
            }
        }
    }

    /// Release expired leases, a batch per transaction, reading only the leases that expired since
    /// the last step (maintenance::LeaseScan), and all of them once in FULL_LEASE_SCAN_EVERY.
    fn expire_leases(&mut self, report: &mut TickReport) {
        let limit = guc::batch_size();
        let budget = guc::tick().mul_f64(STEP_BUDGET_OF_TICK);
        let started = std::time::Instant::now();
        loop {
            let from = self.lease_scan.from;
            match as_maintainer(move |c| maintenance::expire_leases_from(c, limit, from)) {
                Ok((found, released, reached)) => {
                    report.leases_released += released;
                    self.lease_scan.from = reached;
                    if found < limit || started.elapsed() >= budget || self.stop_requested() {
                        break;
                    }
                }
                Err(e) => {
                    report.error = Some(e);
                    break;
                }
            }
        }
    }

    fn prune(&mut self, report: &mut TickReport) {
        if self.full_prune.is_none_or(|t| t.elapsed() >= FULL_PRUNE_EVERY) {
            self.full_prune = Some(std::time::Instant::now());
            self.prune_bounds.clear();
        }
        let limit = guc::batch_size();
        let budget = guc::tick().mul_f64(STEP_BUDGET_OF_TICK);
        let started = std::time::Instant::now();
        loop {
            let mut bounds = self.prune_bounds.clone();
            match as_maintainer(move |c| maintenance::prune_finished(c, limit, &mut bounds).map(|n| (n, bounds))) {
                Ok((n, bounds)) => {
                    self.prune_bounds = bounds;
                    report.jobs_pruned += n;
                    if n < limit || started.elapsed() >= budget || self.stop_requested() {
                        break;
                    }
                }
                Err(e) => {
                    report.error = Some(e);
                    break;
                }
            }
        }
        // Dead letters past their queue's dead_retention, in the same budget: one probe of
        // dead_queue_idx per queue that sets one, and nothing for the others. One batch at least
        // per tick, so that a busy history never starves it.
        loop {
            match as_maintainer(move |c| maintenance::prune_dead(c, limit)) {
                Ok(n) => {
                    report.jobs_pruned += n;
                    if n < limit || started.elapsed() >= budget || self.stop_requested() {
                        break;
                    }
                }
                Err(e) => {
                    report.error = Some(e);
                    break;
                }
            }
        }
    }

    /// Record what the round did in queue.worker_report, and read again when the kinds of work in
    /// `kinds` are next due.
    fn record(&mut self, report: &TickReport, kinds: Vec<Work>) {
        let started_at = self.started_at;
        let counts = [
            report.leases_released,
            report.jobs_promoted,
            report.notifications_sent,
            report.jobs_pruned,
            report.jobs_purged,
            report.schedules_fired,
            report.refresh_jobs,
            report.backfill_jobs,
        ];
        let error = report.error.clone();
        let (prune_ids, prune_from): (Vec<i32>, Vec<TimestampWithTimeZone>) =
            self.prune_bounds.iter().map(|(q, t)| (*q, *t)).unzip();
        let positions = due::Positions {
            lease_from: self.lease_scan.from,
            refresh_ahead: pgrx::datum::Interval::from_micros(guc::tick_micros()),
            prune_ids,
            prune_from,
        };
        let result = as_maintainer(move |c| {
            let found = due::read_dues(c, &kinds, &positions)?;
            // SAFETY: reads this process's pid.
            let pid = unsafe { pg_sys::MyProcPid };
            let row = exec(
                c,
                "UPDATE queue.worker_report
                    SET pid = $1, started_at = coalesce($2, now()), last_tick_at = now(), ticks = ticks + 1,
                        leases_released = leases_released + $3, jobs_promoted = jobs_promoted + $4,
                        notifications_sent = notifications_sent + $5, jobs_pruned = jobs_pruned + $6,
                        jobs_purged = jobs_purged + $7, schedules_fired = schedules_fired + $8,
                        refresh_jobs = refresh_jobs + $9, backfill_jobs = backfill_jobs + $10,
                        last_error = coalesce($11, last_error),
                        last_error_at = CASE WHEN $11 IS NULL THEN last_error_at ELSE now() END
                RETURNING started_at",
                &[
                    pid.into(),
                    started_at.into(),
                    counts[0].into(),
                    counts[1].into(),
                    counts[2].into(),
                    counts[3].into(),
                    counts[4].into(),
                    counts[5].into(),
                    counts[6].into(),
                    counts[7].into(),
                    error.into(),
                ],
            )?;
            let started = if row.is_empty() {
                None
            } else {
                row.first().get_one::<TimestampWithTimeZone>().map_err(crate::error::internal)?
            };
            Ok((started, found))
        });
        match result {
            Ok((started, found)) => {
                self.started_at = self.started_at.or(started);
                self.found = found;
            }
            Err(e) => {
                log!("queue_ext worker: could not record its status: {e}");
                // Unknown: come back soon rather than never, and look at everything then.
                let soon = crate::clock::wall_micros() + guc::tick_micros();
                self.found = [Some(soon); shmem::pool::KINDS];
                self.full_look = None;
                shmem::pool::due_at(self.db, soon, None);
            }
        }
        // Leases are looked at once a second at most (LEASE_CHECK_EVERY).
        let leases = &mut self.found[Work::Leases as usize];
        let checked = self.leases_checked_us + LEASE_CHECK_EVERY.as_micros() as i64;
        *leases = leases.map(|t| t.max(checked));
        for (k, found) in self.found.iter().enumerate() {
            if let Some(at) = found {
                self.dues[k] = *at;
            }
        }
        if let Some(e) = &report.error {
            log!("queue_ext worker: {e}");
        }
    }

    /// One round of maintenance. False when the worker should leave (no queue_ext here).
    fn tick(&mut self) -> bool {
        // Before any snapshot of this round: what commits from now on is reported for its end.
        let round_started = crate::clock::wall_micros();
        self.round_started_us = round_started;
        let round = shmem::pool::round_begins(self.db, round_started);
        self.dues = round.dues;
        self.found = [None; shmem::pool::KINDS];
        self.full_look = round.full.then_some(round_started);
        // A lease reported to expire before where lease expiry got to (its claim committed late):
        // look from there.
        if let (Some(from), Ok(reported)) = (self.lease_scan.from, crate::clock::timestamp(round.leases_reported)) {
            if reported < from {
                self.lease_scan.from = Some(reported);
                self.leases_checked = None;
            }
        }
        match installed() {
            Installed::No => return false,
            Installed::OtherVersion(v) => {
                if !self.skew_logged {
                    log!(
                        "queue_ext worker: database has queue_ext {v} but the library is {}; waiting for ALTER EXTENSION queue_ext UPDATE",
                        env!("CARGO_PKG_VERSION")
                    );
                    self.skew_logged = true;
                }
                // ALTER EXTENSION ... UPDATE sends a worker at once; look again now and then (soon
                // when pg_extension could not be read).
                let again = if v == "unknown" { FAILED_HOLD_OFF } else { ABSENT_RECHECK };
                self.found = [Some(crate::clock::wall_micros() + again.as_micros() as i64); shmem::pool::KINDS];
                self.full_look = None;
                return true;
            }
            Installed::Yes => self.skew_logged = false,
        }
        let mut report = TickReport::default();
        // Each step runs only when the probe found work for it: an idle tick is this one
        // transaction (and prune's, and the report's).
        let check_leases = self.leases_checked.is_none_or(|t| t.elapsed() >= LEASE_CHECK_EVERY);
        if check_leases && self.lease_scan.full_at.is_none_or(|t| t.elapsed() >= FULL_LEASE_SCAN_EVERY) {
            self.lease_scan = maintenance::LeaseScan { from: None, full_at: Some(std::time::Instant::now()) };
        }
        let mut due = if self.full_look.is_some() {
            let lease_from = self.lease_scan.from;
            let refresh_until = crate::clock::timestamp(crate::clock::wall_micros() + guc::tick_micros());
            match refresh_until.map(|until| as_maintainer(move |c| due::probe(c, lease_from, until))) {
                Ok(Ok(due)) => due,
                Ok(Err(e)) => {
                    report.error = Some(e);
                    due::Due::everything()
                }
                Err(_) => due::Due::everything(),
            }
        } else {
            due::Due::from_dues(&self.dues, round_started)
        };
        // Retention only when it has rows due (as the last round here found, in this process or
        // the one before it).
        due.retention = self.dues[Work::Retention as usize] <= round_started;
        if due.recount {
            self.recount(&mut report, due.queues.take());
        }
        if !self.stop_requested() && check_leases {
            self.leases_checked = Some(std::time::Instant::now());
            self.leases_checked_us = crate::clock::wall_micros();
            if due.leases {
                self.expire_leases(&mut report);
            } else if due.now.is_some() {
                self.lease_scan.from = due.now;
            }
        }
        if !self.stop_requested() && due.schedules {
            self.fire_schedules(&mut report);
        }
        if !self.stop_requested() && due.refreshes {
            self.step_refreshes(&mut report);
        }
        if !self.stop_requested() && due.backfills {
            self.step_backfills(&mut report);
        }
        // After the periodic steps: what they scheduled that is due now is promoted at once.
        if !self.stop_requested() && due.promote {
            self.promote(&mut report);
        }
        if !self.stop_requested() && due.purge {
            report.jobs_purged = self.batches(&mut report, maintenance::purge_dropped);
        }
        if !self.stop_requested() && due.retention {
            self.prune(&mut report);
        }
        let kinds = if self.full_look.is_some() { Work::ALL.to_vec() } else { due.reads() };
        self.record(&report, kinds);
        let worked = [
            report.leases_released,
            report.jobs_promoted,
            report.jobs_pruned,
            report.jobs_purged,
            report.schedules_fired,
            report.refresh_jobs,
            report.backfill_jobs,
        ]
        .iter()
        .any(|n| *n > 0);
        if worked {
            self.last_work = std::time::Instant::now();
        } else {
            // Due, yet nothing could be done (what is due failed a moment ago and is held back,
            // or another transaction holds it): not again before the hold is over, or the pool
            // would send worker after worker for nothing.
            // (Only for what was due before the round began: what came due during it is done next.)
            let floor = crate::clock::wall_micros() + FAILED_HOLD_OFF.as_micros() as i64;
            for at in self.found.iter_mut().flatten().filter(|at| **at < self.round_started_us) {
                *at = floor;
            }
        }
        // Let autovacuum see our deletes: a background worker's statistics are flushed only when
        // it asks (at most once a second; this call waits for nothing).
        // SAFETY: flushes this backend's pending statistics.
        unsafe { pg_sys::pgstat_report_stat(false) };
        true
    }

    /// Publish when this database next has work and decide whether to stay for it: while no other
    /// database waits for a worker, a worker stays queue_ext.worker_linger after it last found
    /// work, and for as long as something is due within that; else it leaves, and the launcher
    /// sends one back when the published moment comes.
    fn stays(&mut self, sleep: Duration) -> bool {
        let now = crate::clock::wall_micros();
        let (dues, others_wait) =
            shmem::pool::round_done(self.db, self.found, self.full_look, now + sleep.as_micros() as i64);
        self.dues = dues;
        if self.stop_requested() || others_wait {
            return false;
        }
        let due = dues.iter().copied().min().unwrap_or(shmem::pool::NEVER);
        let linger = guc::worker_linger();
        self.last_work.elapsed() < linger || due.saturating_sub(now) <= linger.as_micros() as i64
    }

    /// How long to sleep: a tick at most, less when the earliest scheduled job or cron schedule
    /// comes due sooner.
    fn sleep(&self) -> Duration {
        let tick = guc::tick();
        let due = self.dues[Work::Promote as usize].min(self.dues[Work::Cron as usize]);
        if due == shmem::pool::NEVER {
            return tick;
        }
        let until = due - crate::clock::wall_micros();
        tick.min(Duration::from_micros(until.max(0) as u64 + 1_000))
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn queue_ext_database_worker_main(arg: pg_sys::Datum) {
    // SAFETY: the launcher passes the database's OID as the argument.
    let db = unsafe { pg_sys::Oid::from_datum(arg, false) }.expect("database oid");
    // SIGTERM is ours (signals.rs), installed while signals are still blocked: none is lost.
    signals::install(db.to_u32());
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP);
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(db), None);
    // Nothing this process runs may resolve a name through a schema a user can create objects in.
    // PGC_S_OVERRIDE wins over ALTER DATABASE / ALTER ROLE settings.
    // SAFETY: sets a GUC for this process.
    // Its statements are short, and look up what they need by index: JIT would cost more than it
    // saves, and a sequential scan planned while a table was empty would stay (see finalize.sql).
    unsafe {
        // Its counts and caps read fresh snapshots (src/stats/recount.rs, claim.rs), whatever ALTER
        // DATABASE or ALTER ROLE set as the default isolation.
        for (name, value) in [
            (c"search_path", c"pg_catalog, pg_temp"),
            (c"jit", c"off"),
            (c"enable_seqscan", c"off"),
            (c"default_transaction_isolation", c"read committed"),
            // Its commits need not wait for the WAL flush: each of its transactions is redone by
            // a later tick if a crash loses it, and a client's commit that depends on one flushes
            // it first. An idle tick then costs no fsync (docs/adr/003-idle-cost.md).
            (c"synchronous_commit", c"off"),
        ] {
            pg_sys::SetConfigOption(
                name.as_ptr(),
                value.as_ptr(),
                pg_sys::GucContext::PGC_SUSET,
                pg_sys::GucSource::PGC_S_OVERRIDE,
            );
        }
    }
    let db = db.to_u32();
    if !shmem::pool::arrive(db) {
        // Another worker is in this database already (e.g. the launcher restarted meanwhile).
        // SAFETY: a clean exit.
        unsafe { pg_sys::proc_exit(0) };
    }
    // SAFETY: a catalog lookup, in a transaction; the name is copied before it ends.
    let name = in_transaction(|| {
        let name = unsafe { pg_sys::get_database_name(pg_sys::Oid::from(db)) };
        Ok(if name.is_null() {
            String::new()
        } else {
            unsafe { std::ffi::CStr::from_ptr(name) }.to_string_lossy().into_owned()
        })
    })
    .unwrap_or_default();
    // Every visit of the pool starts a process: said at DEBUG1 only.
    debug1!("queue_ext worker started for database \"{name}\"");

    let mut worker = Worker {
        db,
        leases_checked: None,
        lease_scan: Default::default(),
        prune_bounds: Default::default(),
        full_prune: None,
        schedules_held: Default::default(),
        refreshes_held: Default::default(),
        backfills_held: Default::default(),
        recount_wait_at: None,
        recount_patience: RECOUNT_PATIENCE,
        started_at: None,
        skew_logged: false,
        stopping: false,
        dues: [0; shmem::pool::KINDS],
        found: [None; shmem::pool::KINDS],
        full_look: None,
        leases_checked_us: 0,
        last_work: std::time::Instant::now(),
        arrived_us: crate::clock::wall_micros(),
        round_started_us: 0,
    };
    let mut sleep = Duration::ZERO;
    while !worker.stop_requested() && BackgroundWorker::wait_latch(Some(sleep)) {
        if worker.stop_requested() {
            break;
        }
        if BackgroundWorker::sighup_received() {
            // SAFETY: reloading the configuration file is what a SIGHUP asks of any process.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        if guc::databases().is_some_and(|names| !names.contains(&name)) {
            log!("queue_ext worker: database \"{name}\" is no longer in queue_ext.databases; stopping");
            break;
        }
        // A standby has nothing to do: the launcher sends no worker while in recovery.
        // SAFETY: reads shared state.
        if unsafe { pg_sys::RecoveryInProgress() } {
            break;
        }
        if database_wanted(db) {
            log!("queue_ext worker: database \"{name}\" is being dropped, renamed, moved or copied; leaving it for a while");
            shmem::pool::hold_off(db, crate::clock::wall_micros() + MAKE_ROOM_FOR.as_micros() as i64);
            break;
        }
        report_activity(pg_sys::BackendState::STATE_RUNNING, c"queue_ext tick");
        let installs = shmem::pool::installs(db);
        let installed = worker.tick();
        report_activity(pg_sys::BackendState::STATE_IDLE, c"queue_ext tick");
        if !installed {
            log!("queue_ext worker: extension queue_ext is not installed in database \"{name}\"; leaving it until CREATE EXTENSION");
            shmem::forget_database(db);
            shmem::pool::hold_off_unless_installed(
                db,
                crate::clock::wall_micros() + ABSENT_RECHECK.as_micros() as i64,
                installs,
            );
            break;
        }
        sleep = worker.sleep();
        if !worker.stays(sleep) {
            break;
        }
    }
    let left_at = crate::clock::wall_micros();
    shmem::pool::leave(db, left_at);
    // SAFETY: reads a backend global (when the process started).
    let started_us = unsafe { pg_sys::MyStartTimestamp };
    debug1!(
        "queue_ext worker leaves database \"{name}\" after {} ms ({} ms to connect), next due in {} ms",
        (left_at - started_us) / 1000,
        (worker.arrived_us - started_us) / 1000,
        worker.dues.iter().min().unwrap_or(&shmem::pool::NEVER).saturating_sub(left_at) / 1000
    );
    // SAFETY: flushes statistics and exits; the launcher sends a worker again when work is due.
    unsafe {
        pg_sys::pgstat_report_stat(true);
        pg_sys::proc_exit(0)
    }
}
