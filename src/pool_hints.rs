//! What a transaction makes due for the background worker (a delayed job, a lease, a schedule),
//! reported to the pool at commit (src/shmem/pool.rs): only then can a worker see it, and a report
//! made earlier could be overwritten by a worker that looked before the commit. One report per
//! transaction, of the earliest moment of each kind of work; the launcher then sends a worker to
//! the database in time, and sends none where nothing is due.

use crate::shmem::pool::{Work, KINDS, NEVER};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::pg_sys;
use std::cell::Cell;

/// The earliest moment of each kind of work, and of work of any kind (the last entry).
type Pending = [i64; KINDS + 1];

thread_local! {
    /// The local transaction whose report is pending (0: none) and its earliest moments. A
    /// transaction that aborts leaves its entry behind, for the next one to replace.
    static PENDING: Cell<(u32, Pending)> = const { Cell::new((0, [NEVER; KINDS + 1])) };
}

/// Work of kind `work` (None: of any kind, or of several) in this database comes due at `at_us`
/// (Postgres microseconds) once the transaction commits.
pub fn due_at_commit(at_us: i64, work: Option<Work>) {
    if !crate::shmem::available() {
        return;
    }
    let k = work.map_or(KINDS, |w| w as usize);
    let lxid = crate::compat::local_xid();
    let (pending_lxid, mut earliest) = PENDING.get();
    if pending_lxid == lxid {
        earliest[k] = earliest[k].min(at_us);
        PENDING.set((lxid, earliest));
        return;
    }
    let mut first = [NEVER; KINDS + 1];
    first[k] = at_us;
    PENDING.set((lxid, first));
    // SAFETY: reads a backend global.
    let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
    // At PREPARE TRANSACTION too (its COMMIT PREPARED may run in another session): a worker that
    // looks between the two misses the work until a later report or its safety visit.
    for event in [pgrx::PgXactCallbackEvent::Commit, pgrx::PgXactCallbackEvent::Prepare] {
        pgrx::register_xact_callback(event, move || {
            let (_, pending) = PENDING.replace((0, [NEVER; KINDS + 1]));
            for (k, at) in pending.into_iter().enumerate().filter(|(_, at)| *at != NEVER) {
                crate::shmem::pool::due_at(db, at, Work::ALL.get(k).copied());
            }
        });
    }
}

/// [`due_at_commit`] for a timestamp.
pub fn due_at_commit_ts(at: TimestampWithTimeZone, work: Option<Work>) {
    due_at_commit(pg_sys::TimestampTz::from(at), work);
}

/// The worker should look at this database as soon as the transaction commits: a schedule, refresh
/// or backfill was created or resumed (its kind), a queue altered or dropped, jobs moved, depths
/// forgotten (None: any kind).
pub fn due_now_at_commit(work: Option<Work>) {
    due_at_commit(crate::clock::wall_micros(), work);
}
