//! Per-queue state in shared memory: the claim rate limiter's token bucket and the fairness
//! cursor. One LWLock guards a small open-addressing table; it is held for a few arithmetic
//! operations, never across a statement or transaction, so claimers never queue on a row lock.
//! The state is soft: after a server restart buckets start full and rotation restarts.

use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgLwLock};
use std::sync::atomic::{AtomicBool, Ordering};

const SLOTS: usize = 1024;
const KEY_LEN: usize = 64; // "<database oid>:<queue name>", queue names being at most 48 bytes
const CURSOR_LEN: usize = 128;

#[derive(Clone, Copy)]
struct Slot {
    used: bool,
    key_len: u8,
    key: [u8; KEY_LEN],
    tokens: f64,
    refilled_at_us: i64,
    cursor_len: u8,
    cursor: [u8; CURSOR_LEN],
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            used: false,
            key_len: 0,
            key: [0; KEY_LEN],
            tokens: 0.0,
            refilled_at_us: 0,
            cursor_len: 0,
            cursor: [0; CURSOR_LEN],
        }
    }
}

pub struct QueueTable {
    slots: [Slot; SLOTS],
}

impl Default for QueueTable {
    fn default() -> Self {
        QueueTable { slots: [Slot::default(); SLOTS] }
    }
}

// SAFETY: plain data without pointers.
unsafe impl PGRXSharedMemory for QueueTable {}

static TABLE: PgLwLock<QueueTable> = unsafe { PgLwLock::new(c"queue_ext_queue_state") };
static AVAILABLE: AtomicBool = AtomicBool::new(false);

/// Called from _PG_init while shared_preload_libraries is being processed.
pub fn init() {
    pg_shmem_init!(TABLE);
    AVAILABLE.store(true, Ordering::Relaxed);
}

/// Shared memory exists only when queue_ext is preloaded.
pub fn available() -> bool {
    AVAILABLE.load(Ordering::Relaxed)
}

/// Queues are per database: the same name in two databases is two queues.
fn slot_key(queue: &str) -> String {
    format!("{}:{queue}", unsafe { pg_sys::MyDatabaseId }.to_u32())
}

impl QueueTable {
    /// The slot of `queue` in the current database, claimed if new; None when the table is full.
    fn slot(&mut self, queue: &str, now_us: i64, capacity: f64) -> Option<&mut Slot> {
        let key = slot_key(queue);
        let start = (crate::spread::key_hash(&key) % SLOTS as u64) as usize;
        let key = key.as_bytes();
        for probe in 0..SLOTS {
            let i = (start + probe) % SLOTS;
            let s = &self.slots[i];
            if s.used && &s.key[..s.key_len as usize] == key {
                return Some(&mut self.slots[i]);
            }
            if !s.used {
                let s = &mut self.slots[i];
                *s = Slot {
                    used: true,
                    key_len: key.len() as u8,
                    tokens: capacity,
                    refilled_at_us: now_us,
                    ..Slot::default()
                };
                s.key[..key.len()].copy_from_slice(key);
                return Some(s);
            }
        }
        None
    }
}

pub enum Grant {
    /// Tokens granted, and the bucket's clock (Postgres microseconds) when they were.
    Tokens(i64, i64),
    TableFull,
}

/// Take up to `want` tokens from `queue`'s bucket (refilled at `rate` per second up to `capacity`).
/// The clock is read under the lock, so grant times are in the order tokens left the bucket.
pub fn take_tokens(queue: &str, rate: f64, capacity: f64, want: i64) -> Grant {
    let mut table = TABLE.exclusive();
    let now_us = crate::clock::wall_micros();
    let Some(s) = table.slot(queue, now_us, capacity) else { return Grant::TableFull };
    let elapsed = (now_us - s.refilled_at_us).max(0) as f64 / 1e6;
    s.tokens = (s.tokens + elapsed * rate).min(capacity);
    s.refilled_at_us = now_us;
    let granted = (s.tokens.floor() as i64).clamp(0, want);
    s.tokens -= granted as f64;
    Grant::Tokens(granted, now_us)
}

/// Give back tokens a claim took but did not use.
pub fn refund_tokens(queue: &str, n: i64, capacity: f64) {
    if n <= 0 {
        return;
    }
    let now_us = crate::clock::wall_micros();
    let mut table = TABLE.exclusive();
    if let Some(s) = table.slot(queue, now_us, capacity) {
        s.tokens = (s.tokens + n as f64).min(capacity);
    }
}

/// The group the last claim of `queue` served last (for round-robin across calls).
pub fn cursor(queue: &str) -> Option<String> {
    let now_us = crate::clock::wall_micros();
    let mut table = TABLE.exclusive();
    let s = table.slot(queue, now_us, 0.0)?;
    Some(String::from_utf8_lossy(&s.cursor[..s.cursor_len as usize]).into_owned())
}

/// Remember the group served last. Keys longer than the buffer keep a prefix (a char boundary):
/// rotation then resumes at the first group after that prefix, which is still fair.
pub fn set_cursor(queue: &str, group: &str) {
    let mut end = group.len().min(CURSOR_LEN);
    while !group.is_char_boundary(end) {
        end -= 1;
    }
    let now_us = crate::clock::wall_micros();
    let mut table = TABLE.exclusive();
    if let Some(s) = table.slot(queue, now_us, 0.0) {
        s.cursor[..end].copy_from_slice(&group.as_bytes()[..end]);
        s.cursor_len = end as u8;
    }
}
