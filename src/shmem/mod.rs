//! State shared by every backend, in shared memory: per-queue token buckets, rotation cursors and
//! claim-start hints here; the pool's view of every database (pool.rs); queue depths (stats.rs). One LWLock guards it; it is held for a few arithmetic operations, never across a
//! statement or transaction, so claimers never queue on a row lock. All of it is soft state: after
//! a server restart buckets start full, rotation restarts and the workers register again.

mod head;
pub mod pool;
pub mod stats;
mod table;

use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgAtomic, PgLwLock};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use table::{Entry, Table};

use head::HeadHint;
pub use head::{ClaimKey, HintRead};

const QUEUE_SLOTS: usize = 1024;
const CURSOR_LEN: usize = 128;

/// Queues are per database: the same queue id in two databases is two queues.
type QueueKey = (u32, i32);

#[derive(Clone, Copy)]
struct QueueSlot {
    key: QueueKey,
    /// Whether the token bucket is in use yet (it starts full at its first claim).
    bucket_started: bool,
    tokens: f64,
    refilled_at_us: i64,
    last_used_us: i64,
    cursor_len: u8,
    cursor: [u8; CURSOR_LEN],
    head: HeadHint,
}

impl Entry for QueueSlot {
    type Key = QueueKey;
    fn key(&self) -> QueueKey {
        self.key
    }
    fn hash(key: &QueueKey) -> u64 {
        let h = (key.0 as u64) << 32 | key.1 as u32 as u64;
        h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16
    }
    fn last_used(&self) -> i64 {
        self.last_used_us
    }
}

pub struct State {
    queues: Table<QueueSlot, QUEUE_SLOTS>,
    /// Numbers queue slots as they are made (see head.rs: a hint made again is a new one).
    incarnations: u64,
}

impl State {
    /// The slot of `key`, made (with a full bucket of `capacity`) when missing.
    fn queue_slot(&mut self, key: QueueKey, now_us: i64, capacity: f64) -> &mut QueueSlot {
        self.incarnations += 1;
        let incarnation = self.incarnations;
        self.queues.get_or_insert(key, || new_slot(key, now_us, capacity, incarnation))
    }
}

// SAFETY: plain data, no pointers.
unsafe impl PGRXSharedMemory for State {}

// The initial value is built on the postmaster's stack (pg_shmem_init! moves it into shared
// memory): a few copies of a state much larger than this would overflow it.
const _: () = assert!(std::mem::size_of::<State>() < 1 << 20, "shared state too large to build on the stack");

static STATE: PgLwLock<State> = unsafe { PgLwLock::new(c"queue_ext_state") };
/// Bumped whenever queues, grants or rate schedules change (catalog.rs).
static QUEUES_GENERATION: PgAtomic<AtomicU64> = unsafe { PgAtomic::new(c"queue_ext_queues_generation") };
static AVAILABLE: AtomicBool = AtomicBool::new(false);

/// Called from _PG_init while shared_preload_libraries is being processed.
pub fn init() {
    pg_shmem_init!(STATE = State { queues: Table::new(), incarnations: 0 });
    pool::init();
    pg_shmem_init!(QUEUES_GENERATION = AtomicU64::new(0));
    stats::init();
    AVAILABLE.store(true, Ordering::Relaxed);
}

pub fn queues_generation() -> u64 {
    QUEUES_GENERATION.get().load(Ordering::Acquire)
}

pub fn bump_queues_generation() {
    QUEUES_GENERATION.get().fetch_add(1, Ordering::AcqRel);
}

/// Shared memory exists only when queue_ext is preloaded.
pub fn available() -> bool {
    AVAILABLE.load(Ordering::Relaxed)
}

fn this_database() -> u32 {
    // SAFETY: reads a backend global.
    unsafe { pg_sys::MyDatabaseId }.to_u32()
}

fn queue_key(queue_id: i32) -> QueueKey {
    (this_database(), queue_id)
}

fn new_slot(key: QueueKey, now_us: i64, capacity: f64, incarnation: u64) -> QueueSlot {
    QueueSlot {
        key,
        bucket_started: false,
        tokens: capacity,
        refilled_at_us: now_us,
        last_used_us: now_us,
        cursor_len: 0,
        cursor: [0; CURSOR_LEN],
        head: HeadHint::new(incarnation),
    }
}

/// Take up to `want` tokens from the queue's bucket (refilled at `rate` per second up to
/// `capacity`). Returns the tokens granted and the bucket's clock (Postgres microseconds) when they
/// were: the clock is read under the lock, so grant times are in the order tokens left the bucket.
pub fn take_tokens(queue_id: i32, rate: f64, capacity: f64, want: i64) -> (i64, i64) {
    let key = queue_key(queue_id);
    let mut state = STATE.exclusive();
    let now_us = crate::clock::wall_micros();
    let s = state.queue_slot(key, now_us, capacity);
    if !s.bucket_started {
        s.bucket_started = true;
        s.tokens = capacity;
        s.refilled_at_us = now_us;
    }
    let elapsed = (now_us - s.refilled_at_us).max(0) as f64 / 1e6;
    s.tokens = (s.tokens + elapsed * rate).min(capacity);
    s.refilled_at_us = now_us;
    s.last_used_us = now_us;
    let granted = (s.tokens.floor() as i64).clamp(0, want);
    s.tokens -= granted as f64;
    (granted, now_us)
}

/// Give back tokens a claim took but did not use.
pub fn refund_tokens(queue_id: i32, n: i64, capacity: f64) {
    if n <= 0 {
        return;
    }
    let mut state = STATE.exclusive();
    if let Some(s) = state.queues.get_mut(&queue_key(queue_id)) {
        s.tokens = (s.tokens + n as f64).min(capacity);
    }
}

/// The group the last claim of the queue served last (for round-robin across calls).
pub fn cursor(queue_id: i32) -> Option<String> {
    let mut state = STATE.exclusive();
    let s = state.queues.get_mut(&queue_key(queue_id))?;
    Some(String::from_utf8_lossy(&s.cursor[..s.cursor_len as usize]).into_owned())
}

/// Remember the group served last. Keys longer than the buffer keep a prefix (a char boundary):
/// rotation then resumes at the first group after that prefix, which is still fair.
pub fn set_cursor(queue_id: i32, group: &str) {
    let mut end = group.len().min(CURSOR_LEN);
    while !group.is_char_boundary(end) {
        end -= 1;
    }
    let key = queue_key(queue_id);
    let now_us = crate::clock::wall_micros();
    let mut state = STATE.exclusive();
    let s = state.queue_slot(key, now_us, 0.0);
    s.cursor[..end].copy_from_slice(&group.as_bytes()[..end]);
    s.cursor_len = end as u8;
    s.last_used_us = now_us;
}

/// Forget a dropped queue's bucket and cursor (called when its drop commits).
pub fn forget_queue(db: u32, queue_id: i32) {
    STATE.exclusive().queues.remove(&(db, queue_id));
    stats::forget((db, queue_id));
}

/// Forget every queue of a database (the extension or the database was dropped).
pub fn forget_database(db: u32) -> usize {
    stats::forget_database(db);
    STATE.exclusive().queues.remove_where(|s| s.key.0 == db)
}

/// Forget the queues of every database not in `existing` (dropped ones): the launcher's sweep.
pub fn forget_databases_except(existing: &[u32]) {
    stats::forget_databases_except(existing);
    STATE.exclusive().queues.remove_where(|s| !existing.contains(&s.key.0));
}

/// How many queues have state in shared memory (for tests and monitoring).
pub fn queue_slots_used() -> usize {
    STATE.share().queues.len()
}

/// Slots the table of queues has: past three quarters of it, the least recently used is evicted.
pub const fn queue_slots() -> usize {
    QUEUE_SLOTS
}

// ---- where claims of a queue's default group may start (head.rs) ----

/// The default group's claim position and the counter to present when moving it; None without
/// preload or when the queue has none.
pub fn read_head(queue_id: i32) -> HintRead {
    let key = queue_key(queue_id);
    let now_us = crate::clock::wall_micros();
    // Made when missing: reports from now on must be recorded for this claim's advance.
    STATE.exclusive().queue_slot(key, now_us, 0.0).head.read()
}

/// A claim picked up to `last` (read as `read`): later claims may start there.
pub fn advance_head(queue_id: i32, read: HintRead, last: ClaimKey) {
    let key = queue_key(queue_id);
    let now_us = crate::clock::wall_micros();
    let mut state = STATE.exclusive();
    let s = state.queue_slot(key, now_us, 0.0);
    s.head.advance(read, last);
    s.last_used_us = now_us;
}

/// Jobs of the default group became ready with keys from `low` on (an enqueue committed).
pub fn lower_head(db: u32, queue_id: i32, low: ClaimKey) {
    if let Some(s) = STATE.exclusive().queues.get_mut(&(db, queue_id)) {
        s.head.lower(low);
    }
}

/// Jobs may have become ready anywhere (or a claim or cancel rolled back): claims start from the
/// beginning again until one has found the head.
pub fn forget_head(db: u32, queue_id: i32) {
    if let Some(s) = STATE.exclusive().queues.get_mut(&(db, queue_id)) {
        s.head.forget();
    }
}
