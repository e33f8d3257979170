//! Reads of PostgreSQL's internals whose shape differs between server versions, kept in one place.

use pgrx::pg_sys;

/// Background workers running now, of every kind (parallel query's, logical replication's, other
/// extensions', ours): PGPROCs of background workers that are in the proc array. Workers
/// registered but not started yet are not counted (the caller adds its own).
pub fn background_workers_running() -> i32 {
    // SAFETY: ProcGlobal's array of PGPROCs lives in shared memory for good. A PGPROC's pid and
    // flag may change while read: BackendPidGetProc (under ProcArrayLock) confirms that the pid
    // belongs to a live process using that very PGPROC.
    unsafe {
        let global = pg_sys::ProcGlobal;
        let procs = (*global).allProcs;
        (0..(*global).allProcCount as usize)
            .map(|i| procs.add(i))
            .filter(|&p| {
                let pid = std::ptr::read_volatile(&(*p).pid);
                (*p).isBackgroundWorker && pid != 0 && pg_sys::BackendPidGetProc(pid) == p
            })
            .count() as i32
    }
}
