//! The background workers: a launcher that starts one worker per database to serve
//! (launcher.rs), and the per-database worker that keeps its queues moving (database.rs).
//!
//! Correctness never depends on them: a claim takes over expired leases and promotes due jobs of
//! its own queue itself. They make it cheap and prompt: leases expire, delayed jobs come due and
//! are announced, dropped queues are purged and history is pruned without anyone asking.

mod database;
mod due;
mod launcher;
mod signals;

use crate::error::Result;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{PgSqlErrorCode, PgTryBuilder};

pub use database::start as start_database_worker;
pub(crate) use signals::user_code;

/// Register the launcher (called from _PG_init while shared_preload_libraries is processed).
pub fn register() {
    launcher::register();
}

/// Why a transaction of the worker's failed: the message, and the SQLSTATE of the errors the
/// worker tells apart (a lock not available, 55P03).
pub(crate) struct Failure {
    pub code: Option<PgSqlErrorCode>,
    pub message: String,
}

/// Run `f` in a transaction of its own. An error aborts that transaction only and comes back as
/// text; the worker records it and carries on with its next step.
fn in_transaction<R>(f: impl FnOnce() -> Result<R> + std::panic::UnwindSafe) -> std::result::Result<R, String> {
    in_transaction_coded(f).map_err(|failure| failure.message)
}

/// [`in_transaction`], keeping the error's SQLSTATE.
fn in_transaction_coded<R>(f: impl FnOnce() -> Result<R> + std::panic::UnwindSafe) -> std::result::Result<R, Failure> {
    // SAFETY: the worker is between transactions here; the catch handler aborts what was begun.
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    PgTryBuilder::new(move || match f() {
        Ok(value) => {
            unsafe {
                pg_sys::PopActiveSnapshot();
                pg_sys::CommitTransactionCommand();
            }
            Ok(value)
        }
        Err(report) => {
            unsafe { pg_sys::AbortCurrentTransaction() };
            Err(Failure { code: None, message: report.message().to_owned() })
        }
    })
    .catch_when(PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE, |caught| {
        unsafe { pg_sys::AbortCurrentTransaction() };
        Err(Failure {
            code: Some(PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE),
            message: crate::error::caught_message(caught),
        })
    })
    .catch_others(|caught| {
        unsafe { pg_sys::AbortCurrentTransaction() };
        Err(Failure { code: None, message: crate::error::caught_message(caught) })
    })
    .execute()
}

/// Report what the process is doing in pg_stat_activity (query and state columns).
fn report_activity(state: pg_sys::BackendState::Type, what: &std::ffi::CStr) {
    // SAFETY: the string is static; pgstat copies it.
    unsafe { pg_sys::pgstat_report_activity(state, what.as_ptr()) };
}

/// Wake the launcher at the end of this transaction (a CREATE EXTENSION in this database): it
/// starts this database's worker at once instead of at its next look. When no worker will serve
/// the database, CREATE EXTENSION says so, with the setting to change.
#[pg_extern(name = "wake_launcher", schema = "queue_internal", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_wake_launcher() {
    if let Some(why) = not_served() {
        why.warn(None);
    }
    if crate::shmem::available() {
        // SAFETY: reads a backend global.
        let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
        pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, move || {
            crate::shmem::pool::installed(db);
        });
    }
}

/// Why no background worker serves this database, when none will: cron schedules, spread
/// refreshes and backfills then never run, and nobody counts queue.stats' depths. Said at CREATE
/// EXTENSION, in queue.worker_status and by the functions that need the worker, instead of
/// failing silently.
pub(crate) enum NotServed {
    /// Not preloaded: no launcher, no worker, no shared memory.
    NotPreloaded,
    /// queue_ext.databases (or the deprecated queue_ext.database) does not name this database.
    NotListed { setting: &'static str, names: Vec<String>, database: String },
    /// Work here has waited for a worker longer than STARVED_AFTER: the pool is saturated (or
    /// max_worker_processes has no slot to spare).
    Starved { since_us: i64, database: String },
}

/// Work due this long without a worker makes a database "not served" (the pool is saturated).
const STARVED_AFTER_US: i64 = 10_000_000;

/// Whether a background worker serves this database (None) or why not. Needs a transaction.
pub(crate) fn not_served() -> Option<NotServed> {
    if !crate::shmem::available() {
        return Some(NotServed::NotPreloaded);
    }
    if let Some(names) = crate::guc::databases() {
        let database = current_database()?;
        if !names.contains(&database) {
            return Some(NotServed::NotListed { setting: crate::guc::databases_setting(), names, database });
        }
    }
    let slot = crate::shmem::pool::database(this_database())?;
    let overdue = slot.pid == 0 && slot.next_due_us < crate::clock::wall_micros() - STARVED_AFTER_US;
    overdue.then(|| NotServed::Starved { since_us: slot.next_due_us, database: current_database().unwrap_or_default() })
}

/// This database's name (a catalog read: in a transaction).
fn current_database() -> Option<String> {
    // SAFETY: in a transaction; the name is palloc'd in the current memory context.
    unsafe {
        let name = pg_sys::get_database_name(pg_sys::MyDatabaseId);
        (!name.is_null()).then(|| std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned())
    }
}

impl NotServed {
    /// queue.worker_status.state.
    fn state(&self) -> String {
        match self {
            NotServed::NotPreloaded => "not served: queue_ext not in shared_preload_libraries".into(),
            NotServed::NotListed { setting, .. } => format!("not served: database not in {setting}"),
            NotServed::Starved { .. } => "not served: every queue_ext worker is busy".into(),
        }
    }

    fn database(&self) -> String {
        match self {
            NotServed::NotListed { database, .. } | NotServed::Starved { database, .. } => database.clone(),
            NotServed::NotPreloaded => current_database().unwrap_or_default(),
        }
    }

    /// Why (the DETAIL) and what to change (the HINT).
    fn detail_and_hint(&self) -> (String, String) {
        const EFFECTS: &str = "cron schedules, spread refreshes and backfills do not run, expired leases wait for a claim to take them over, and queue.stats shows no depths";
        match self {
            NotServed::NotPreloaded => (
                format!("queue_ext is not in shared_preload_libraries: {EFFECTS}, and rate limits do not apply."),
                "Add queue_ext to shared_preload_libraries and restart the server.".to_owned(),
            ),
            NotServed::NotListed { setting, names, database } => (
                format!("{setting} is '{}', which does not name it: {EFFECTS}.", names.join(",")),
                format!(
                    "ALTER SYSTEM SET queue_ext.databases = '{},{database}'; SELECT pg_reload_conf(); (or empty the setting: every database with the extension is then served)",
                    names.join(",")
                ),
            ),
            NotServed::Starved { since_us, .. } => (
                format!(
                    "Work here has been due since {} and no worker could come: all {} of queue_ext.max_workers are busy elsewhere, or max_worker_processes has no slot to spare beyond queue_ext.reserved_worker_slots ({}). Meanwhile cron schedules, spread refreshes, backfills, the announcement of delayed jobs and retention wait, and expired leases wait for a claim to take them over.",
                    crate::clock::timestamp(*since_us).map(|t| t.to_iso_string()).unwrap_or_default(),
                    crate::guc::max_workers(),
                    crate::guc::reserved_worker_slots()
                ),
                "Raise queue_ext.max_workers (and max_worker_processes if it has no room), or look for a database whose worker never finishes (queue.worker_status, the server log).".to_owned(),
            ),
        }
    }

    fn report(&self, code: PgSqlErrorCode, what: Option<&str>) -> pgrx::pg_sys::panic::ErrorReport {
        let database = self.database();
        let message = match what {
            Some(what) => format!("no queue_ext background worker serves database \"{database}\": {what}"),
            None => format!("no queue_ext background worker serves database \"{database}\""),
        };
        let (detail, hint) = self.detail_and_hint();
        pgrx::pg_sys::panic::ErrorReport::new(code, message, "queue_ext").set_detail(detail).set_hint(hint)
    }

    /// A WARNING: that no worker serves the database, and (with `what`, e.g. `schedule "x"`) that
    /// this will not run; the DETAIL says why, the HINT what to change.
    pub(crate) fn warn(&self, what: Option<&str>) {
        let what = what.map(|w| format!("{w} will not run"));
        self.report(PgSqlErrorCode::ERRCODE_WARNING, what.as_deref()).report(PgLogLevel::WARNING);
    }

    /// The error (55000) of a call that cannot work without the worker: `what` says what fails.
    pub(crate) fn refusal(&self, what: &str) -> pgrx::pg_sys::panic::ErrorReport {
        self.report(PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, Some(what))
    }
}

/// Warn (see [`NotServed::warn`]) when no background worker will run `what` in this database.
pub(crate) fn warn_if_not_served(what: &str) {
    if let Some(why) = not_served() {
        why.warn(Some(what));
    }
}

/// queue.worker_status.state: running (a worker is in this database now), idle (nothing is due:
/// the pool comes when something is), waiting (work is due, a worker is on its way), or not
/// served and why.
#[pg_extern(name = "worker_state", schema = "queue_internal", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_worker_state() -> String {
    if let Some(why) = not_served() {
        return why.state();
    }
    match crate::shmem::pool::database(this_database()) {
        Some(s) if s.pid != 0 => "running",
        Some(s) if s.next_due_us > crate::clock::wall_micros() => "idle",
        _ => "waiting",
    }
    .to_owned()
}

/// queue.worker_status.next_due_at: when something in this database is next due for the worker,
/// as the pool knows it (NULL: nothing known; a worker in the database now keeps it current).
#[pg_extern(name = "worker_next_due", schema = "queue_internal", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_worker_next_due() -> Option<pgrx::datum::TimestampWithTimeZone> {
    if !crate::shmem::available() {
        return None;
    }
    let s = crate::shmem::pool::database(this_database())?;
    (s.next_due_us != crate::shmem::pool::NEVER).then(|| crate::clock::timestamp(s.next_due_us).ok()).flatten()
}

fn this_database() -> u32 {
    // SAFETY: reads a backend global.
    unsafe { pg_sys::MyDatabaseId }.to_u32()
}

/// How many queues (of all databases) have a token bucket or rotation cursor in shared memory, and
/// how many fit: past three quarters, the least recently used is evicted. None without preload.
#[pg_extern(name = "shared_queue_slots", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_shared_queue_slots() -> TableIterator<'static, (name!(used, Option<i64>), name!(capacity, i64))> {
    let used = crate::shmem::available().then(|| crate::shmem::queue_slots_used() as i64);
    TableIterator::once((used, crate::shmem::queue_slots() as i64))
}
