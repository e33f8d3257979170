//! The version shims: every access to PostgreSQL's internals whose shape differs between the
//! server versions queue_ext builds for (15 to 18; docs/adr/007-postgres-versions.md). `cfg` on a
//! version feature appears nowhere else.

use pgrx::pg_sys;

/// Background workers running now, of every kind (parallel query's, logical replication's, other
/// extensions', ours): PGPROCs of background workers that are in the proc array. Workers
/// registered but not started yet are not counted (the caller adds its own).
pub fn background_workers_running() -> i32 {
    // SAFETY: ProcGlobal's array of PGPROCs lives in shared memory for good. A PGPROC's pid may
    // change while read: BackendPidGetProc (under ProcArrayLock) confirms that the pid belongs to
    // a live process using that very PGPROC.
    unsafe {
        let global = pg_sys::ProcGlobal;
        // A PGPROC belongs to the free list it is taken from and returned to for good: background
        // workers' is their own in every version (16 had an `isBackgroundWorker` flag, 17 dropped it).
        let workers_list = std::ptr::addr_of_mut!((*global).bgworkerFreeProcs);
        let procs = (*global).allProcs;
        (0..(*global).allProcCount as usize)
            .map(|i| procs.add(i))
            .filter(|&p| {
                let pid = std::ptr::read_volatile(&(*p).pid);
                (*p).procgloballist == workers_list && pid != 0 && pg_sys::BackendPidGetProc(pid) == p
            })
            .count() as i32
    }
}

/// This backend's local transaction id: tells one top-level transaction from the next, to key
/// what a backend gathers per transaction (commit reports, statement caches). PostgreSQL 17 moved
/// it from `PGPROC.lxid` into `PGPROC.vxid`.
#[inline]
pub fn local_xid() -> pg_sys::LocalTransactionId {
    // SAFETY: MyProc is this backend's own PGPROC, set up before any SQL runs.
    unsafe {
        #[cfg(any(feature = "pg15", feature = "pg16"))]
        return (*pg_sys::MyProc).lxid;
        #[cfg(not(any(feature = "pg15", feature = "pg16")))]
        return (*pg_sys::MyProc).vxid.lxid;
    }
}

/// Install `handler` for signal `signo` in this process. PostgreSQL 18 renamed the backend's
/// `pqsignal` (a macro now) to `pqsignal_be`.
///
/// # Safety
/// `handler` must be async-signal-safe.
pub unsafe fn set_signal_handler(signo: i32, handler: unsafe extern "C-unwind" fn(i32)) {
    #[cfg(not(feature = "pg18"))]
    pg_sys::pqsignal(signo, Some(handler));
    #[cfg(feature = "pg18")]
    pg_sys::pqsignal_be(signo, Some(handler));
}
