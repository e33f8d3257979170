//! The database worker's stop requests and its bound on users' code (issue 16).
//!
//! A background worker gets no statement_timeout (PostgreSQL arms it when a client's statement
//! starts) and pgrx's SIGTERM handler only sets a flag, so a spread refresh's or backfill's source
//! whose code sleeps would hold the worker, and every tenant's schedules, leases and retention with
//! it, however long it liked, even through pg_terminate_backend. Around each read of a user's
//! objects ([`user_code`]) the worker therefore
//! - arms PostgreSQL's own STATEMENT_TIMEOUT for `queue_ext.source_timeout`: it cancels the read
//!   with "canceling statement due to statement timeout" (57014), an error like any other of the
//!   source, recorded on the refresh or backfill;
//! - arms a deadline a little later that ends the process (as SIGTERM does, below): code that
//!   catches the cancel (PL/pgSQL `EXCEPTION WHEN query_canceled`) cannot hold it longer;
//! - treats SIGTERM as PostgreSQL's `die` does: the next interrupt check in that code ends the
//!   process (FATAL, which no user code can catch), so the worker leaves within moments.
//!
//! Outside users' code a SIGTERM only sets the stop flag and the latch: the worker ends the step it
//! is in (its own short statements) and leaves between steps, as before.
//!
//! The flag is ours and never cleared (pgrx's is cleared whenever it is read), and
//! both sides check the other's flag after setting their own, so a SIGTERM arriving just as a read
//! starts is never lost.

use pgrx::pg_sys;
use std::cell::RefCell;
use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// PostgreSQL's timeout ids (utils/timeout.h, which pgrx does not bind; PG 15's values).
type TimeoutId = c_int;
const STATEMENT_TIMEOUT: TimeoutId = 3;
const USER_TIMEOUT: TimeoutId = 12;

unsafe extern "C-unwind" {
    fn RegisterTimeout(id: TimeoutId, handler: unsafe extern "C-unwind" fn()) -> TimeoutId;
    fn enable_timeout_after(id: TimeoutId, delay_ms: c_int);
    fn disable_timeout(id: TimeoutId, keep_indicator: bool);
    fn get_timeout_indicator(id: TimeoutId, reset_indicator: bool) -> bool;
}

/// A read that ignores its cancel this long after its timeout ends the worker.
const DEADLINE_GRACE_MS: c_int = 1000;

/// This process is a database worker (set once its signal handling is ours).
static IN_WORKER: AtomicBool = AtomicBool::new(false);
/// SIGTERM received; never cleared.
static STOP: AtomicBool = AtomicBool::new(false);
/// A user's code may be running (a read of a source is in progress).
static IN_USER_CODE: AtomicBool = AtomicBool::new(false);
/// The deadline past a source's timeout ended the process.
static DEADLINE_PASSED: AtomicBool = AtomicBool::new(false);
/// Our timeout id for that deadline (registered at start).
static DEADLINE: AtomicI32 = AtomicI32::new(-1);

thread_local! {
    /// What the read in progress reads, for the log when its deadline ends the process.
    static READING: RefCell<String> = const { RefCell::new(String::new()) };
}

/// End the process at the next interrupt check, as PostgreSQL's `die` does (a FATAL no code can
/// catch; FATAL runs the exit callbacks, aborting the transaction).
fn die_at_next_check() {
    // SAFETY: sig_atomic_t flags that ProcessInterrupts reads; safe in a signal handler.
    unsafe {
        (&raw mut pg_sys::ProcDiePending).write_volatile(1);
        (&raw mut pg_sys::InterruptPending).write_volatile(1);
    }
}

/// Run `f` keeping errno as it was: a signal handler must not change it under the code it interrupts.
fn keeping_errno(f: impl FnOnce()) {
    // SAFETY: errno is this thread's.
    let saved = unsafe { *libc::__errno_location() };
    f();
    unsafe { *libc::__errno_location() = saved };
}

unsafe extern "C-unwind" fn on_sigterm(_signal: c_int) {
    keeping_errno(|| {
        STOP.store(true, Ordering::SeqCst);
        if IN_USER_CODE.load(Ordering::SeqCst) {
            die_at_next_check();
        }
        // SAFETY: SetLatch is async-signal-safe; MyLatch is this process's.
        unsafe { pg_sys::SetLatch(pg_sys::MyLatch) };
    });
}

/// The deadline after a source's timeout: its code ignored the cancel.
unsafe extern "C-unwind" fn on_deadline() {
    // Called from PostgreSQL's SIGALRM handler, which keeps errno and sets the latch.
    if IN_USER_CODE.load(Ordering::SeqCst) {
        DEADLINE_PASSED.store(true, Ordering::SeqCst);
        die_at_next_check();
    }
}

/// At exit, however it comes (a FATAL skips the main loop's end): leave the database in the pool's
/// view, and say why
/// when a source's code made us go.
unsafe extern "C-unwind" fn on_exit(_code: c_int, db: pg_sys::Datum) {
    crate::shmem::pool::leave(db.value() as u32, crate::clock::wall_micros());
    if DEADLINE_PASSED.load(Ordering::SeqCst) {
        let what = READING.with(|r| r.borrow().clone());
        pgrx::log!(
            "queue_ext worker: {what} went on more than {DEADLINE_GRACE_MS} ms after its queue_ext.source_timeout cancelled it; the worker exits, and the launcher starts another"
        );
    }
}

/// Take over SIGTERM (before the signals are unblocked, so none is lost) and register the deadline.
/// Called once at the start of a database worker, before it connects.
pub(crate) fn install(db: u32) {
    // SAFETY: installs handlers in this process; signals are still blocked (the caller unblocks
    // them), and the timeout module is initialized by the background worker's startup.
    unsafe {
        crate::compat::set_signal_handler(pg_sys::SIGTERM as c_int, on_sigterm);
        DEADLINE.store(RegisterTimeout(USER_TIMEOUT, on_deadline), Ordering::SeqCst);
        // Registered before the connection: it runs after PostgreSQL's own exit callback has
        // aborted the transaction and released its locks.
        pg_sys::before_shmem_exit(Some(on_exit), pg_sys::Datum::from(db));
    }
    IN_WORKER.store(true, Ordering::SeqCst);
}

/// Has the worker been asked to stop (pg_terminate_backend, a shutdown)?
pub(crate) fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// A user's code may run until this is dropped: see the module's comment. Disarms on every path
/// (the drop runs when an error unwinds too).
pub(crate) struct UserCode {
    armed: bool,
}

/// Bound the read of a user's objects that follows (`what` names it for the log); outside the
/// database worker, nothing.
pub(crate) fn user_code(what: impl FnOnce() -> String) -> UserCode {
    if !IN_WORKER.load(Ordering::SeqCst) {
        return UserCode { armed: false };
    }
    READING.with(|r| *r.borrow_mut() = what());
    IN_USER_CODE.store(true, Ordering::SeqCst);
    if STOP.load(Ordering::SeqCst) {
        // Asked to stop just before: the read ends at its first interrupt check.
        die_at_next_check();
    }
    let timeout = crate::guc::source_timeout_ms();
    // SAFETY: the timeout module is initialized in every background worker; ids are registered
    // (STATEMENT_TIMEOUT by InitPostgres, the deadline by `install`).
    unsafe {
        enable_timeout_after(STATEMENT_TIMEOUT, timeout);
        enable_timeout_after(DEADLINE.load(Ordering::SeqCst), timeout.saturating_add(DEADLINE_GRACE_MS));
    }
    UserCode { armed: true }
}

impl Drop for UserCode {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // SAFETY: disarms what `user_code` armed.
        unsafe {
            disable_timeout(DEADLINE.load(Ordering::SeqCst), false);
            disable_timeout(STATEMENT_TIMEOUT, true);
            // A timeout that fired as the read finished left a cancel pending: it must not cancel
            // the worker's own next statement. (Raised already, it was cleared when raised.)
            if get_timeout_indicator(STATEMENT_TIMEOUT, true) {
                (&raw mut pg_sys::QueryCancelPending).write_volatile(0);
            }
        }
        IN_USER_CODE.store(false, Ordering::SeqCst);
    }
}
