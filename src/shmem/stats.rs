//! Per-queue statistics in shared memory, so that `queue.stats` and `queue.metrics()` answer in
//! constant time whatever the backlog and the history (docs/adr/002-constant-time-stats.md).
//!
//! - Depths (ready, scheduled, running, dead) are exact: every statement that inserts into or
//!   deletes from a job table reports its per-queue row counts (src/stats/counting.rs), and they
//!   are added here when its transaction commits. A queue whose depths are not known (after a
//!   restart, or when its slot was evicted) is recounted by the background worker while no job
//!   table can change (src/stats/recount.rs).
//! - Events (completed, failed, retried, dead, cancelled, first claims, wait and run times) are
//!   Prometheus counters and histograms since the server started, plus a ring of one-minute
//!   buckets for the last hour.
//!
//! The table is split in shards, each under its own lock, so that a commit locks one shard for a
//! few additions and the whole stays small enough to be built on the postmaster's stack.

use super::table::{Entry, Table};
use super::QueueKey;
use pgrx::prelude::*;

const SHARDS: usize = 16;
const SLOTS_PER_SHARD: usize = 96;
/// One-second buckets of completions: the last minute, exactly.
const SECONDS: usize = 61;
/// One-minute buckets kept: the last hour and the minute in progress.
const MINUTES: usize = 61;
/// Upper bounds (seconds) of the wait and run time histograms' buckets; the last is +Inf.
pub const BUCKETS: [f64; 15] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0];
const NBUCKETS: usize = BUCKETS.len() + 1;

/// The depth of each job table.
pub const READY: usize = 0;
pub const SCHEDULED: usize = 1;
pub const RUNNING: usize = 2;
pub const DEAD: usize = 3;

/// What one transaction did to one queue, added at its commit.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Delta {
    pub depth: [i64; 4],
    pub completed: u64,
    pub failed: u64,
    pub retried: u64,
    pub died: u64,
    pub cancelled: u64,
    /// First claims and the wait (enqueue, or due time, to first claim) of each, in seconds.
    pub waits: Samples,
    /// Completions and their run time (claim to completion), in seconds.
    pub runs: Samples,
}

#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct Samples {
    pub count: u64,
    pub sum: f64,
    pub buckets: [u64; NBUCKETS],
}

impl Samples {
    pub fn add(&mut self, seconds: f64) {
        let seconds = seconds.max(0.0);
        self.count += 1;
        self.sum += seconds;
        let i = BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(BUCKETS.len());
        self.buckets[i] += 1;
    }

    fn merge(&mut self, o: &Samples) {
        self.count += o.count;
        self.sum += o.sum;
        for (a, b) in self.buckets.iter_mut().zip(o.buckets.iter()) {
            *a += b;
        }
    }
}

impl Delta {
    pub fn merge(&mut self, o: &Delta) {
        for (a, b) in self.depth.iter_mut().zip(o.depth.iter()) {
            *a += b;
        }
        self.completed += o.completed;
        self.failed += o.failed;
        self.retried += o.retried;
        self.died += o.died;
        self.cancelled += o.cancelled;
        self.waits.merge(&o.waits);
        self.runs.merge(&o.runs);
    }

    pub fn is_empty(&self) -> bool {
        *self == Delta::default()
    }
}

#[derive(Clone, Copy, Default)]
struct Minute {
    /// Minutes since the Unix epoch this bucket counts (0: unused).
    minute: i64,
    completed: u64,
    failed: u64,
    retried: u64,
    claims: u64,
    wait_sum: f64,
    run_sum: f64,
}

#[derive(Clone, Copy)]
struct StatsSlot {
    key: QueueKey,
    last_used_us: i64,
    /// Which depths are known (a bit per job table: counted once, then kept by deltas).
    counted: u8,
    /// Depths, and events since the server started.
    totals: Delta,
    minutes: [Minute; MINUTES],
    /// (second since the Unix epoch, completions in it).
    seconds: [(i64, u64); SECONDS],
}

impl Entry for StatsSlot {
    type Key = QueueKey;
    fn key(&self) -> QueueKey {
        self.key
    }
    fn hash(key: &QueueKey) -> u64 {
        // Shards take the high bits, slots the low ones.
        let h = (key.0 as u64) << 32 | key.1 as u32 as u64;
        h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 8
    }
    fn last_used(&self) -> i64 {
        self.last_used_us
    }
}

fn new_slot(key: QueueKey, now_us: i64) -> StatsSlot {
    StatsSlot {
        key,
        last_used_us: now_us,
        counted: 0,
        totals: Delta::default(),
        minutes: [Minute::default(); MINUTES],
        seconds: [(0, 0); SECONDS],
    }
}

pub struct Shard {
    slots: Table<StatsSlot, SLOTS_PER_SHARD>,
}

/// All shards, in one shared-memory area made in place: built as values, they would need several
/// megabytes of the postmaster's stack (`pg_shmem_init!` builds each value inside its hook, and the
/// hooks nest).
struct Area {
    shards: [Shard; SHARDS],
}

const AREA_NAME: &std::ffi::CStr = c"queue_ext_stats";
static mut AREA: *mut Area = std::ptr::null_mut();
static mut LOCKS: *mut pg_sys::LWLockPadded = std::ptr::null_mut();
static mut PREV_REQUEST_HOOK: Option<unsafe extern "C-unwind" fn()> = None;
static mut PREV_STARTUP_HOOK: Option<unsafe extern "C-unwind" fn()> = None;

/// Called from _PG_init while shared_preload_libraries is being processed.
pub(super) fn init() {
    // SAFETY: the postmaster installs its hooks once, before any backend exists.
    unsafe {
        PREV_REQUEST_HOOK = pg_sys::shmem_request_hook;
        pg_sys::shmem_request_hook = Some(request_area);
        PREV_STARTUP_HOOK = pg_sys::shmem_startup_hook;
        pg_sys::shmem_startup_hook = Some(attach_area);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn request_area() {
    unsafe {
        if let Some(prev) = PREV_REQUEST_HOOK {
            prev();
        }
        pg_sys::RequestAddinShmemSpace(std::mem::size_of::<Area>());
        pg_sys::RequestNamedLWLockTranche(AREA_NAME.as_ptr(), SHARDS as i32);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn attach_area() {
    unsafe {
        if let Some(prev) = PREV_STARTUP_HOOK {
            prev();
        }
        let init_lock = &raw mut (*pg_sys::MainLWLockArray.add(21)).lock; // AddinShmemInitLock
        pg_sys::LWLockAcquire(init_lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        let mut found = false;
        let area = pg_sys::ShmemInitStruct(AREA_NAME.as_ptr(), std::mem::size_of::<Area>(), &mut found).cast::<Area>();
        assert!(area.is_aligned(), "shared memory is not aligned");
        if !found {
            for i in 0..SHARDS {
                Table::init_at(&raw mut (*area).shards[i].slots);
            }
        }
        AREA = area;
        LOCKS = pg_sys::GetNamedLWLockTranche(AREA_NAME.as_ptr());
        pg_sys::LWLockRelease(init_lock);
    }
}

/// A shard, locked; unlocked when dropped. Nothing done under it can raise an error.
struct Locked {
    shard: *mut Shard,
    lock: *mut pg_sys::LWLock,
}

impl Drop for Locked {
    fn drop(&mut self) {
        // SAFETY: acquired in lock().
        unsafe { pg_sys::LWLockRelease(self.lock) };
    }
}

impl std::ops::Deref for Locked {
    type Target = Shard;
    fn deref(&self) -> &Shard {
        // SAFETY: the shard lives in shared memory for the server's life; the lock is held.
        unsafe { &*self.shard }
    }
}

impl std::ops::DerefMut for Locked {
    fn deref_mut(&mut self) -> &mut Shard {
        // SAFETY: as above; only exclusive() hands out a Locked that is written through.
        unsafe { &mut *self.shard }
    }
}

fn lock(i: usize, mode: pg_sys::LWLockMode::Type) -> Locked {
    // SAFETY: AREA and LOCKS are set by the startup hook before any backend runs (callers check
    // crate::shmem::available()); i < SHARDS.
    unsafe {
        assert!(!AREA.is_null(), "queue_ext statistics need shared_preload_libraries");
        let lock = &raw mut (*LOCKS.add(i)).lock;
        pg_sys::LWLockAcquire(lock, mode);
        Locked { shard: &raw mut (*AREA).shards[i], lock }
    }
}

struct ShardLock(usize);

impl ShardLock {
    fn exclusive(&self) -> Locked {
        lock(self.0, pg_sys::LWLockMode::LW_EXCLUSIVE)
    }
    /// Read only: the returned guard must not be written through.
    fn share(&self) -> Locked {
        lock(self.0, pg_sys::LWLockMode::LW_SHARED)
    }
}

const SHARD_LOCKS: [ShardLock; SHARDS] = {
    let mut locks = [const { ShardLock(0) }; SHARDS];
    let mut i = 0;
    while i < SHARDS {
        locks[i] = ShardLock(i);
        i += 1;
    }
    locks
};

fn shard(key: &QueueKey) -> ShardLock {
    ShardLock((StatsSlot::hash(key) >> 48) as usize % SHARDS)
}

fn unix_second(now_us: i64) -> i64 {
    // Postgres microseconds count from 2000-01-01, 946 684 800 s after the Unix epoch.
    now_us.div_euclid(1_000_000) + 946_684_800
}

fn unix_minute(now_us: i64) -> i64 {
    unix_second(now_us).div_euclid(60)
}

/// Add a committed transaction's delta to the queue's statistics.
pub fn apply(key: QueueKey, d: &Delta, now_us: i64) {
    let mut shard = shard(&key).exclusive();
    let only_depths = Delta { depth: [0; 4], ..*d }.is_empty();
    if only_depths && shard.slots.get(&key).is_none() {
        // Depths of a queue not known anyway (or dropped: its purge deletes its jobs).
        return;
    }
    if shard.slots.get(&key).is_none()
        && shard.slots.is_full()
        && !shard.slots.evict_least_recent_where(|s| s.counted != ALL_COUNTED)
    {
        // Events must not push out a queue whose depths are known: with more queues than slots,
        // it could not be counted again, and counts would chase each other. They go uncounted.
        return;
    }
    let s = shard.slots.get_or_insert(key, || new_slot(key, now_us));
    s.last_used_us = now_us;
    s.totals.merge(d);
    let minute = unix_minute(now_us);
    let m = &mut s.minutes[minute.rem_euclid(MINUTES as i64) as usize];
    if m.minute != minute {
        *m = Minute { minute, ..Minute::default() };
    }
    m.completed += d.completed;
    m.failed += d.failed;
    m.retried += d.retried;
    m.claims += d.waits.count;
    m.wait_sum += d.waits.sum;
    m.run_sum += d.runs.sum;
    if d.completed > 0 {
        let second = unix_second(now_us);
        let b = &mut s.seconds[second.rem_euclid(SECONDS as i64) as usize];
        if b.0 != second {
            *b = (second, 0);
        }
        b.1 += d.completed;
    }
}

/// Every job table's bit in `StatsSlot::counted`.
const ALL_COUNTED: u8 = (1 << 4) - 1;

/// A new queue's depths: no job names it yet. It takes the place of the least recently used
/// queue when the shard is full.
pub fn new_queue(key: QueueKey, now_us: i64) {
    let mut shard = shard(&key).exclusive();
    let s = shard.slots.get_or_insert(key, || new_slot(key, now_us));
    s.last_used_us = now_us;
    s.totals.depth = [0; 4];
    s.counted = ALL_COUNTED;
}

/// The queue's depth in job table `table` is `depth` (counted while that table could not change).
/// A queue without a slot gets one only where that evicts no other queue: a recount must never
/// make room by forgetting what another count found, or counts would chase each other when there
/// are more queues than slots. False when there was no room.
pub fn set_depth(key: QueueKey, table: usize, depth: i64) -> bool {
    let mut shard = shard(&key).exclusive();
    if shard.slots.get(&key).is_none() && shard.slots.is_full() {
        return false;
    }
    // A slot a count made is not a use: it is the first to go when room is needed.
    let s = shard.slots.get_or_insert(key, || new_slot(key, 0));
    s.totals.depth[table] = depth;
    s.counted |= 1 << table;
    true
}

/// Could the queue's depths be counted: has it a slot, or is there room for one?
pub fn has_room(key: QueueKey) -> bool {
    let shard = shard(&key).share();
    shard.slots.get(&key).is_some() || !shard.slots.is_full()
}

/// The queue's depths are no longer known (a prepared transaction changed them, or an
/// administrator asked for a recount): the worker recounts them.
pub fn forget_depths(key: QueueKey) {
    if let Some(s) = shard(&key).exclusive().slots.get_mut(&key) {
        s.counted = 0;
    }
}

/// Forget a dropped queue.
pub fn forget(key: QueueKey) {
    shard(&key).exclusive().slots.remove(&key);
}

/// Forget the depths of every queue of a database (a job table was truncated): the worker
/// recounts them.
pub fn forget_depths_of_database(db: u32) {
    for lock in &SHARD_LOCKS {
        for s in lock.exclusive().slots.iter_mut().filter(|s| s.key.0 == db) {
            s.counted = 0;
        }
    }
}

/// Forget every queue of the databases not in `existing`.
pub fn forget_databases_except(existing: &[u32]) {
    for lock in &SHARD_LOCKS {
        lock.exclusive().slots.remove_where(|s| !existing.contains(&s.key.0));
    }
}

/// Forget every queue of a database.
pub fn forget_database(db: u32) {
    for lock in &SHARD_LOCKS {
        lock.exclusive().slots.remove_where(|s| s.key.0 == db);
    }
}

/// The job tables whose depth of the queue is not known (a bit per table).
pub fn missing_tables(key: QueueKey) -> u8 {
    ALL_COUNTED & !shard(&key).share().slots.get(&key).map_or(0, |s| s.counted)
}

/// What `queue.stats` and `queue.metrics()` show of one queue.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// None until the depths are counted.
    pub depth: Option<[i64; 4]>,
    /// Events since the server started (its depths are those of `depth`).
    pub totals: Delta,
    /// Over the last 60 seconds (to the second).
    pub completed_last_minute: u64,
    /// Over the last hour (the sixty one-minute buckets before the minute in progress, and it).
    pub completed_last_hour: u64,
    pub failed_last_hour: u64,
    pub retried_last_hour: u64,
    pub claims_last_hour: u64,
    pub wait_sum_last_hour: f64,
    pub run_sum_last_hour: f64,
}

pub fn snapshot(key: QueueKey, now_us: i64) -> Snapshot {
    let shard = shard(&key).share();
    let Some(s) = shard.slots.get(&key) else { return Snapshot::default() };
    let minute = unix_minute(now_us);
    let second = unix_second(now_us);
    let mut snap = Snapshot {
        depth: (s.counted == ALL_COUNTED).then_some(s.totals.depth),
        totals: s.totals,
        ..Snapshot::default()
    };
    snap.completed_last_minute =
        s.seconds.iter().filter(|(at, _)| *at > second - 60 && *at <= second).map(|(_, n)| n).sum();
    for m in s.minutes.iter().filter(|m| m.minute > minute - MINUTES as i64 && m.minute <= minute) {
        snap.completed_last_hour += m.completed;
        snap.failed_last_hour += m.failed;
        snap.retried_last_hour += m.retried;
        snap.claims_last_hour += m.claims;
        snap.wait_sum_last_hour += m.wait_sum;
        snap.run_sum_last_hour += m.run_sum;
    }
    snap
}

/// Completions and failures per minute over the last hour, oldest first: (the minute's start in
/// Postgres microseconds, completed, failed).
pub fn minutes(key: QueueKey, now_us: i64) -> Vec<(i64, u64, u64)> {
    let current = unix_minute(now_us);
    let shard = shard(&key).share();
    let slot = shard.slots.get(&key);
    (current - 59..=current)
        .map(|minute| {
            let m = slot.map(|s| s.minutes[minute.rem_euclid(MINUTES as i64) as usize]).filter(|m| m.minute == minute);
            let start_us = (minute * 60 - 946_684_800) * 1_000_000;
            (start_us, m.map_or(0, |m| m.completed), m.map_or(0, |m| m.failed))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_fall_in_the_first_bucket_that_holds_them() {
        let mut s = Samples::default();
        for x in [0.0, 0.005, 0.006, 1.0, 3600.0, 3600.5, -1.0] {
            s.add(x);
        }
        assert_eq!(s.count, 7);
        assert_eq!(s.buckets[0], 3); // 0, 0.005 and -1 (clamped to 0)
        assert_eq!(s.buckets[1], 1); // 0.006
        assert_eq!(s.buckets[7], 1); // 1.0
        assert_eq!(s.buckets[BUCKETS.len() - 1], 1); // 3600
        assert_eq!(s.buckets[BUCKETS.len()], 1); // +Inf
    }

    #[test]
    fn minutes_count_from_the_unix_epoch() {
        // 2000-01-01 00:00:00 UTC is Postgres microsecond 0.
        assert_eq!(unix_minute(0), 946_684_800 / 60);
        assert_eq!(unix_minute(59_999_999), 946_684_800 / 60);
        assert_eq!(unix_minute(60_000_000), 946_684_800 / 60 + 1);
        assert_eq!(unix_minute(-1), 946_684_800 / 60 - 1);
    }
}
