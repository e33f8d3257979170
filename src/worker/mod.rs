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
            crate::shmem::clear_hold_off(db);
            crate::shmem::wake_launcher();
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
}

/// Whether a background worker serves this database (None) or why not. Needs a transaction.
pub(crate) fn not_served() -> Option<NotServed> {
    if !crate::shmem::available() {
        return Some(NotServed::NotPreloaded);
    }
    let names = crate::guc::databases()?;
    let database = current_database()?;
    (!names.contains(&database)).then(|| NotServed::NotListed {
        setting: crate::guc::databases_setting(),
        names,
        database,
    })
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
        }
    }

    fn database(&self) -> String {
        match self {
            NotServed::NotListed { database, .. } => database.clone(),
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

/// queue.worker_status.state: running, not running (the launcher starts one within a second), or
/// not served and why.
#[pg_extern(name = "worker_state", schema = "queue_internal", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_worker_state(pid: Option<i32>) -> String {
    if let Some(why) = not_served() {
        return why.state();
    }
    // SAFETY: BackendPidGetProc takes ProcArrayLock; a PGPROC lives in shared memory for good, so
    // reading two fields after it is released can at worst see a process that just left.
    let alive = pid.is_some_and(|pid| unsafe {
        let proc = pg_sys::BackendPidGetProc(pid);
        !proc.is_null() && (*proc).isBackgroundWorker && (*proc).databaseId == pg_sys::MyDatabaseId
    });
    if alive { "running" } else { "not running" }.to_owned()
}

/// How many queues (of all databases) have a token bucket or rotation cursor in shared memory, and
/// how many fit: past three quarters, the least recently used is evicted. None without preload.
#[pg_extern(name = "shared_queue_slots", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_shared_queue_slots() -> TableIterator<'static, (name!(used, Option<i64>), name!(capacity, i64))> {
    let used = crate::shmem::available().then(|| crate::shmem::queue_slots_used() as i64);
    TableIterator::once((used, crate::shmem::queue_slots() as i64))
}
