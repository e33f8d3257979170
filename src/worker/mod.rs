//! The background workers: a launcher that starts one worker per database to serve
//! (launcher.rs), and the per-database worker that keeps its queues moving (database.rs).
//!
//! Correctness never depends on them: a claim takes over expired leases and promotes due jobs of
//! its own queue itself. They make it cheap and prompt: leases expire, delayed jobs come due and
//! are announced, dropped queues are purged and history is pruned without anyone asking.

mod database;
mod launcher;

use crate::error::Result;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{PgSqlErrorCode, PgTryBuilder};

pub use database::start as start_database_worker;

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
/// starts this database's worker at once instead of at its next look.
#[pg_extern(name = "_wake_launcher", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn queue_wake_launcher() {
    if crate::shmem::available() {
        // SAFETY: reads a backend global.
        let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
        pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, move || {
            crate::shmem::clear_hold_off(db);
            crate::shmem::wake_launcher();
        });
    }
}

/// How many queues (of all databases) have a token bucket or rotation cursor in shared memory, and
/// how many fit: past three quarters, the least recently used is evicted. None without preload.
#[pg_extern(name = "shared_queue_slots", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn queue_shared_queue_slots() -> TableIterator<'static, (name!(used, Option<i64>), name!(capacity, i64))> {
    let used = crate::shmem::available().then(|| crate::shmem::queue_slots_used() as i64);
    TableIterator::once((used, crate::shmem::queue_slots() as i64))
}
