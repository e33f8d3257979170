//! The pool's view of every database, in shared memory: when each next has work (kept by the
//! backends at commit and by the workers when they leave), which worker is in it, and how to wake
//! that worker or the launcher. The launcher reads it without connecting to any database and sends
//! a worker only where something is due (docs/adr/006-worker-pool.md).
//!
//! Soft state, like the rest of shared memory: a database without an entry (a restart, or one
//! evicted from a full table) is due at once, so that a worker visits it and finds out.

use super::table::{Entry, Table};
use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgLwLock};

/// Databases the table keeps; past three quarters the least recently visited is evicted (and, due
/// at once when it is seen again, visited).
const DB_SLOTS: usize = 4096;
/// Nothing known to be due.
pub const NEVER: i64 = i64::MAX;

/// The kinds of work a database has for the worker, each with its own due moment: a worker's round
/// runs the steps whose moment has come and reads again only the moments of what it did, so that a
/// visit for one schedule costs that schedule's statements, not a look at every table.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Work {
    /// Scheduled jobs to promote (queue.scheduled).
    Promote,
    /// Cron schedules to fire.
    Cron,
    /// Leases to expire.
    Leases,
    /// Spread-refresh slots to enqueue.
    Refresh,
    /// Backfill steps to take.
    Backfill,
    /// Jobs of dropped queues to purge.
    Purge,
    /// Done and dead jobs past their retention.
    Retention,
}

impl Work {
    pub const ALL: [Work; KINDS] =
        [Work::Promote, Work::Cron, Work::Leases, Work::Refresh, Work::Backfill, Work::Purge, Work::Retention];
}

/// How many kinds of [`Work`] there are.
pub const KINDS: usize = 7;

/// Due moments by kind of [`Work`] (NEVER: nothing known).
pub type Dues = [i64; KINDS];

/// A worker reads every kind's moment afresh (and looks for uncounted queues) at least this often
/// while it visits a database: a bound on what a path that reports nothing leaves waiting. Jobs
/// that finish report nothing (a report per completion would tax the hot path), so this is also
/// how soon retention hears of them, within its "10 s at least" (pool_due.sql).
pub const FULL_LOOK_EVERY_US: i64 = 10_000_000;

/// One database, as the pool sees it.
#[derive(Clone, Copy)]
pub struct DbSlot {
    pub db: u32,
    /// The earliest moment something is known to be due here (Postgres microseconds; NEVER): the
    /// earliest of `dues`, or the start of a round in progress.
    pub next_due_us: i64,
    /// When each kind of work is next due, as the last round found it or a backend reported since.
    dues: Dues,
    /// The earliest moment of each kind a backend reported since the worker in the database began
    /// its round (NEVER): merged into what the round publishes, so that no report committed while
    /// it looked is lost.
    lowered: Dues,
    /// The next round must read every kind's moment (and look for uncounted queues): a report that
    /// named no kind, a new entry, a worker that vanished mid-round.
    look_asked: bool,
    /// When a round last read every kind's moment (0: never).
    looked_us: i64,
    /// The worker in the database now (0: none), its latch, and when it next wakes by itself.
    pub pid: i32,
    latch: usize,
    wakes_at_us: i64,
    pub last_tick_us: i64,
    /// When a worker last left the database (0: never since the server started).
    pub left_at_us: i64,
    /// No worker is sent before this instant: DROP DATABASE or the like wants the database to
    /// itself, or the extension is not installed there.
    pub hold_off_until_us: i64,
    /// CREATE EXTENSIONs committed in this database (see [`hold_off_unless_installed`]).
    installs: u32,
}

impl DbSlot {
    /// A database no worker has visited since the server started: due at once.
    fn new(db: u32) -> Self {
        let now_us = crate::clock::wall_micros();
        DbSlot {
            db,
            next_due_us: now_us,
            dues: [now_us; KINDS],
            lowered: [NEVER; KINDS],
            look_asked: true,
            looked_us: 0,
            pid: 0,
            latch: 0,
            wakes_at_us: NEVER,
            last_tick_us: 0,
            left_at_us: 0,
            hold_off_until_us: 0,
            installs: 0,
        }
    }
}

impl Entry for DbSlot {
    type Key = u32;
    fn key(&self) -> u32 {
        self.db
    }
    fn hash(key: &u32) -> u64 {
        (*key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16
    }
    fn last_used(&self) -> i64 {
        self.left_at_us.max(self.last_tick_us)
    }
}

pub struct Pool {
    dbs: Table<DbSlot, DB_SLOTS>,
    launcher_latch: usize,
    /// When the launcher next looks by itself: a report due sooner wakes it.
    launcher_wakes_at_us: i64,
    /// Databases with work due that the launcher could not send a worker to at its last look:
    /// while there are any, a worker leaves its database after each round.
    pub waiting: u32,
    /// A CREATE EXTENSION committed: the launcher reads pg_database again at once.
    rescan: bool,
}

// SAFETY: plain data; the latch addresses point into shared memory, mapped at the same address in
// every backend.
unsafe impl PGRXSharedMemory for Pool {}

const _: () = assert!(std::mem::size_of::<Pool>() < 1 << 20, "the pool's table is too large to build on the stack");

static POOL: PgLwLock<Pool> = unsafe { PgLwLock::new(c"queue_ext_pool") };

pub(super) fn init() {
    pg_shmem_init!(
        POOL = Pool { dbs: Table::new(), launcher_latch: 0, launcher_wakes_at_us: 0, waiting: 0, rescan: false }
    );
}

/// The entry of `db`, made when missing. A full table evicts the least recently visited database
/// no worker is in (never one a worker is in: its reports and pid must stay).
fn entry(pool: &mut Pool, db: u32) -> &mut DbSlot {
    if pool.dbs.get(&db).is_none() && pool.dbs.is_full() {
        pool.dbs.evict_least_recent_where(|s| s.pid == 0);
    }
    pool.dbs.get_or_insert(db, || DbSlot::new(db))
}

fn set_latch(latch: usize) {
    if latch != 0 {
        // SAFETY: the latch is a PGPROC's, in shared memory; setting a latch is always safe.
        unsafe { pg_sys::SetLatch(latch as *mut pg_sys::Latch) };
    }
}

fn my_pid_and_latch() -> (i32, usize) {
    // SAFETY: this process's own pid and shared latch.
    unsafe { (pg_sys::MyProcPid, pg_sys::MyLatch as usize) }
}

// ---- backends: work comes due ----

/// Work of kind `work` in `db` is due at `at_us` (a commit made it so; None: of any kind, the next
/// round looks at everything): wake the worker in the database when it would otherwise sleep past
/// it, or the launcher when it would look too late.
pub fn due_at(db: u32, at_us: i64, work: Option<Work>) {
    if let Some(k) = work.map(|w| w as usize) {
        // Most reports change nothing (a lease that expires after one already known): a shared lock.
        let pool = POOL.share();
        // (While a worker looks, what it publishes next must hear of it too.)
        // (next_due_us too: a database held off for want of the extension has it at NEVER.)
        let known = |s: &DbSlot| s.dues[k] <= at_us && s.next_due_us <= at_us;
        if pool.dbs.get(&db).is_some_and(|s| known(s) && (s.pid == 0 || s.lowered[k] <= at_us)) {
            return;
        }
    }
    let mut pool = POOL.exclusive();
    let launcher = (pool.launcher_latch, pool.launcher_wakes_at_us);
    let s = entry(&mut pool, db);
    s.next_due_us = s.next_due_us.min(at_us);
    match work {
        Some(w) => {
            s.dues[w as usize] = s.dues[w as usize].min(at_us);
            s.lowered[w as usize] = s.lowered[w as usize].min(at_us);
        }
        None => {
            for k in 0..KINDS {
                s.dues[k] = s.dues[k].min(at_us);
                s.lowered[k] = s.lowered[k].min(at_us);
            }
            s.look_asked = true;
        }
    }
    if s.pid != 0 {
        // Not the worker's own reports (the jobs its steps schedule): its round's end reads them
        // and it sleeps accordingly; waking itself would only start rounds with nothing to do.
        // SAFETY: reads this process's pid.
        if at_us < s.wakes_at_us && s.pid != unsafe { pg_sys::MyProcPid } {
            set_latch(s.latch);
        }
    } else if at_us < launcher.1 {
        set_latch(launcher.0);
    }
}

// ---- the workers ----

/// A worker arrives in `db`: false when another live worker is there already.
pub fn arrive(db: u32) -> bool {
    let (pid, latch) = my_pid_and_latch();
    let mut pool = POOL.exclusive();
    let s = entry(&mut pool, db);
    // SAFETY: BackendPidGetProc reads the proc array.
    if s.pid != 0 && s.pid != pid && !unsafe { pg_sys::BackendPidGetProc(s.pid) }.is_null() {
        return false;
    }
    if s.pid != 0 {
        // Its predecessor vanished without leaving, perhaps mid-round: what it read is unknown.
        s.look_asked = true;
    }
    s.pid = pid;
    s.latch = latch;
    s.wakes_at_us = 0;
    true
}

/// What a round starts from.
pub struct Round {
    /// When each kind of work is due, as the pool knows it.
    pub dues: Dues,
    /// Not known well enough: probe every step and read every moment.
    pub full: bool,
    /// The earliest lease expiry reported since the last round began (NEVER: none), so that the
    /// round looks back that far (a lease committed after it had expired).
    pub leases_reported: i64,
}

/// The worker in `db` begins a round: reports from now on are kept for [`leave`] and [`round_done`].
pub fn round_begins(db: u32, now_us: i64) -> Round {
    let (pid, latch) = my_pid_and_latch();
    let mut pool = POOL.exclusive();
    let s = entry(&mut pool, db);
    s.pid = pid;
    s.latch = latch;
    s.last_tick_us = now_us;
    let lowered = std::mem::replace(&mut s.lowered, [NEVER; KINDS]);
    s.wakes_at_us = NEVER;
    // Until the round ends, what it is doing is due: a worker that dies in it is replaced at once.
    s.next_due_us = s.next_due_us.min(now_us);
    let full = std::mem::take(&mut s.look_asked) || now_us - s.looked_us >= FULL_LOOK_EVERY_US;
    Round { dues: s.dues, full, leases_reported: lowered[Work::Leases as usize] }
}

/// The worker's round read `found` (None: a kind it did not read; from snapshots taken after
/// [`round_begins`]), having read them all when `full` (the round began at `started_us`); it sleeps
/// until `wakes_at_us` unless woken. Returns every kind's due moment, with what backends reported
/// meanwhile, and whether other databases wait for a worker.
pub fn round_done(db: u32, found: [Option<i64>; KINDS], full: Option<i64>, wakes_at_us: i64) -> (Dues, bool) {
    let mut pool = POOL.exclusive();
    let waiting = pool.waiting > 0;
    let s = entry(&mut pool, db);
    for (k, found) in found.iter().enumerate() {
        if let Some(at) = found {
            s.dues[k] = at.min(&s.lowered[k]).to_owned();
        }
    }
    if let Some(started_us) = full {
        s.looked_us = started_us;
    }
    s.next_due_us = s.dues.iter().copied().min().unwrap_or(NEVER);
    s.wakes_at_us = wakes_at_us;
    (s.dues, waiting)
}

/// The worker leaves `db` (its work there is done for now, or it was asked to stop).
pub fn leave(db: u32, now_us: i64) {
    let (pid, _) = my_pid_and_latch();
    let mut pool = POOL.exclusive();
    let launcher = pool.launcher_latch;
    if let Some(s) = pool.dbs.get_mut(&db) {
        if s.pid == pid {
            s.pid = 0;
            s.latch = 0;
            s.wakes_at_us = NEVER;
            s.left_at_us = now_us;
        }
    }
    // Its slot is free: the launcher may send it elsewhere (the postmaster tells it too, but only
    // once the process is gone).
    set_latch(launcher);
}

/// Ask the worker in `db` to leave and send none before `until_us` (DROP DATABASE wants it).
pub fn hold_off(db: u32, until_us: i64) {
    let mut pool = POOL.exclusive();
    let s = entry(&mut pool, db);
    s.hold_off_until_us = until_us;
}

/// CREATE EXTENSION committed in `db`: send a worker at once, and have the launcher read
/// pg_database again.
pub fn installed(db: u32) {
    let mut pool = POOL.exclusive();
    pool.rescan = true;
    let launcher = pool.launcher_latch;
    let s = entry(&mut pool, db);
    let now_us = crate::clock::wall_micros();
    s.hold_off_until_us = 0;
    s.next_due_us = s.next_due_us.min(now_us);
    s.dues = [now_us; KINDS];
    s.lowered = [now_us; KINDS];
    s.look_asked = true;
    s.installs = s.installs.wrapping_add(1);
    set_latch(if s.pid != 0 { s.latch } else { launcher });
}

/// How many CREATE EXTENSIONs have committed in `db` (as counted by [`installed`]).
pub fn installs(db: u32) -> u32 {
    POOL.share().dbs.get(&db).map_or(0, |s| s.installs)
}

/// A worker that found no extension keeps the pool away from `db` until `until_us`, unless a
/// CREATE EXTENSION committed since it read `seen_installs` (its look may have missed that one).
pub fn hold_off_unless_installed(db: u32, until_us: i64, seen_installs: u32) {
    let mut pool = POOL.exclusive();
    let s = pool.dbs.get_or_insert(db, || DbSlot { installs: seen_installs, ..DbSlot::new(db) });
    if s.installs == seen_installs {
        s.hold_off_until_us = until_us;
        s.next_due_us = NEVER;
    }
}

// ---- the launcher ----

/// The launcher announces itself.
pub fn launcher_started() {
    let (_, latch) = my_pid_and_latch();
    let mut pool = POOL.exclusive();
    pool.launcher_latch = latch;
    pool.launcher_wakes_at_us = 0;
}

/// Was a rescan of pg_database asked for since the last call?
pub fn take_rescan() -> bool {
    std::mem::take(&mut POOL.exclusive().rescan)
}

/// The launcher begins a look: the entries of the databases in `dbs` (made, due at once, when
/// missing); after a read of pg_database, entries of databases not in `all` (dropped) go. Until [`launcher_sleeps`], every
/// report of earlier work wakes it again.
pub fn launcher_looks(dbs: &[u32], all: Option<&std::collections::HashSet<u32>>) -> Vec<DbSlot> {
    let mut pool = POOL.exclusive();
    pool.launcher_wakes_at_us = NEVER;
    // (An empty list is a failed read of pg_database, not a server without databases.)
    if let Some(all) = all.filter(|all| !all.is_empty()) {
        pool.dbs.remove_where(|s| !all.contains(&s.db));
    }
    // A worker that vanished without leaving (it always leaves, even on FATAL: this is a safety net).
    for s in pool.dbs.iter_mut().filter(|s| s.pid != 0) {
        // SAFETY: BackendPidGetProc reads the proc array.
        if unsafe { pg_sys::BackendPidGetProc(s.pid) }.is_null() {
            s.pid = 0;
            s.latch = 0;
            s.next_due_us = s.next_due_us.min(crate::clock::wall_micros());
            s.look_asked = true;
        }
    }
    dbs.iter().map(|db| *entry(&mut pool, *db)).collect()
}

/// How many workers are in a database now (whoever started them: a launcher restarted meanwhile
/// did not).
pub fn workers_present() -> usize {
    POOL.share().dbs.iter().filter(|s| s.pid != 0).count()
}

/// The launcher's look ended: `waiting` databases have work due that no worker could be sent to,
/// and it looks again at `wakes_at_us` unless woken. Workers that linger in idle databases are
/// woken, to leave when others wait.
pub fn launcher_sleeps(waiting: u32, wakes_at_us: i64) {
    let mut pool = POOL.exclusive();
    pool.waiting = waiting;
    pool.launcher_wakes_at_us = wakes_at_us;
    if waiting > 0 {
        for s in pool.dbs.iter().filter(|s| s.pid != 0) {
            set_latch(s.latch);
        }
    }
}

// ---- what users and claims see ----

/// The entry of `db`, if it has one.
pub fn database(db: u32) -> Option<DbSlot> {
    POOL.share().dbs.get(&db).copied()
}

/// Does the pool keep up with `db`? A worker is in it and ticked within `within_us`, or none is
/// and nothing has been due there longer than that. Claims take over expired leases when not.
pub fn keeps_up(db: u32, within_us: i64) -> bool {
    let now_us = crate::clock::wall_micros();
    database(db).is_some_and(|s| {
        if s.pid != 0 {
            now_us - s.last_tick_us <= within_us
        } else {
            s.next_due_us == NEVER || now_us - s.next_due_us <= within_us
        }
    })
}
