//! What a transaction makes due for the background worker (a delayed job, a lease, a schedule),
//! reported to the pool at commit (src/shmem/pool.rs): only then can a worker see it, and a report
//! made earlier could be overwritten by a worker that looked before the commit. One report per
//! transaction, of the earliest moment; the launcher then sends a worker to the database in time,
//! and sends none where nothing is due.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::pg_sys;
use std::cell::Cell;

thread_local! {
    /// The local transaction whose report is pending (0: none) and its earliest moment. A
    /// transaction that aborts leaves its entry behind, for the next one to replace.
    static PENDING: Cell<(u32, i64)> = const { Cell::new((0, crate::shmem::pool::NEVER)) };
}

/// Work in this database comes due at `at_us` (Postgres microseconds) once the transaction commits.
pub fn due_at_commit(at_us: i64) {
    if !crate::shmem::available() {
        return;
    }
    // SAFETY: reads this backend's PGPROC.
    let lxid = unsafe { (*pg_sys::MyProc).lxid };
    let (pending_lxid, earliest) = PENDING.get();
    if pending_lxid == lxid {
        PENDING.set((lxid, earliest.min(at_us)));
        return;
    }
    PENDING.set((lxid, at_us));
    // SAFETY: reads a backend global.
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    // At PREPARE TRANSACTION too (its COMMIT PREPARED may run in another session): a worker that
    // looks between the two misses the work until a later report or its safety visit.
    for event in [pgrx::PgXactCallbackEvent::Commit, pgrx::PgXactCallbackEvent::Prepare] {
        pgrx::register_xact_callback(event, move || {
            let (_, at) = PENDING.replace((0, crate::shmem::pool::NEVER));
            if at != crate::shmem::pool::NEVER {
                crate::shmem::pool::due_at(db, at);
            }
        });
    }
}

/// [`due_at_commit`] for a timestamp.
pub fn due_at_commit_ts(at: TimestampWithTimeZone) {
    due_at_commit(pg_sys::TimestampTz::from(at));
}

/// The worker should look at this database as soon as the transaction commits (a schedule, refresh
/// or backfill was created or resumed, a queue dropped, depths forgotten).
pub fn due_now_at_commit() {
    due_at_commit(crate::clock::wall_micros());
}
