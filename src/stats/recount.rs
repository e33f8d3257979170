//! Counting a queue's depths from its tables, when shared memory does not know them (after a
//! server restart, when a queue's slot was evicted, after a prepared transaction, or when an
//! administrator asked with `queue.recount()`). The background worker does it.
//!
//! Each job table is counted on its own, in a transaction of its own, while it is locked in SHARE
//! mode: no transaction that changes it is in progress then, and each one that did has added its
//! delta at its commit, before it released its locks (counting.rs). So the count is exact, and
//! later deltas go on from it; the depths of the four tables are independent, so counting them
//! one at a time is as exact as counting them together, and a transaction holding one lock only
//! can never be part of a deadlock.
//!
//! The lock is asked for without waiting, again and again for a short while: a waiting request
//! would queue every writer behind it. Only when that has failed for a while (writers always hold
//! the table: long transactions that enqueue among their own writes, say) does the worker wait for
//! it, and then for at most `wait` (docs/adr/002-constant-time-stats.md). The count statement
//! names no other job table (it must lock nothing else while it holds the SHARE lock), every lock
//! it takes meanwhile is bounded by lock_timeout, and a transaction counts at most
//! [`QUEUES_PER_COUNT`] queues, so writers of the table wait for that many counts at most.

use crate::error::{QueueError, Result};
use crate::shmem::stats;
use crate::spi::{exec, exec_column, exec_one};
use crate::store;
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::spi::SpiClient;
use std::time::{Duration, Instant};

/// The job tables, in the order of the depths (stats::READY ..= stats::DEAD), and the statement
/// that counts each.
pub const TABLES: [&str; 4] = ["queue.ready", "queue.scheduled", "queue.running", "queue.dead"];
const COUNTS: [&str; 4] = [store::RECOUNT_READY, store::RECOUNT_SCHEDULED, store::RECOUNT_RUNNING, store::RECOUNT_DEAD];
/// Queues counted per transaction (each one holds the table's writers back while it counts).
pub const QUEUES_PER_COUNT: usize = 50;
/// What the count may wait for any other lock (a DDL statement queued on queue.queues, say):
/// writers of the table wait behind the SHARE lock meanwhile.
const COUNT_LOCK_TIMEOUT: &str = "100ms";
/// Between two conditional requests for the lock. Each request for a SHARE lock moves every
/// backend's fast-path locks on the table to the shared lock table: not every millisecond.
const POLL: Duration = Duration::from_millis(10);

fn database() -> u32 {
    // SAFETY: reads a backend global.
    unsafe { pg_sys::MyDatabaseId }.to_u32()
}

/// The queues of this database whose depths shared memory does not know and has room for, with
/// the tables still to count for each (a bit per table).
pub fn uncounted(client: &mut SpiClient<'_>) -> Result<Vec<(i32, u8)>> {
    if !crate::shmem::available() {
        return Ok(Vec::new());
    }
    Ok(uncounted_of(exec_column::<i32>(client, "SELECT id FROM queue.queues", &[])?))
}

/// [`uncounted`] among queues `ids`.
pub fn uncounted_of(ids: Vec<i32>) -> Vec<(i32, u8)> {
    if !crate::shmem::available() {
        return Vec::new();
    }
    let db = database();
    ids.into_iter()
        .filter(|id| stats::has_room((db, *id)))
        .map(|id| (id, stats::missing_tables((db, id))))
        .filter(|(_, missing)| *missing != 0)
        .collect()
}

/// Count the rows of `ids` (at most [`QUEUES_PER_COUNT`]) in job table `table` (an index into
/// [`TABLES`]) and make them the queues' depths there. The table's SHARE lock is tried without
/// waiting for `try_for`; then, with `wait`, waited for that long at most (a lock timeout, 55P03,
/// ends the transaction). False when the lock was not had.
pub fn recount_table(
    client: &mut SpiClient<'_>,
    table: usize,
    ids: Vec<i32>,
    try_for: Duration,
    wait: Option<Duration>,
) -> Result<bool> {
    if ids.is_empty() || !crate::shmem::available() {
        return Ok(true);
    }
    // Under REPEATABLE READ or SERIALIZABLE the count would read the transaction's snapshot, taken
    // before the lock was had, and miss what committed in between.
    // SAFETY: reads a backend global.
    if unsafe { pg_sys::XactIsoLevel } != pg_sys::XACT_READ_COMMITTED as i32 {
        return Err(QueueError::NotSupported("a recount of queue depths needs READ COMMITTED isolation".into()).into());
    }
    let relation = exec_one::<pg_sys::Oid>(
        client,
        "SELECT pg_catalog.to_regclass($1)::oid",
        &[DatumWithOid::from(TABLES[table])],
    )?
    .ok_or_else(|| QueueError::NotInPrerequisiteState(format!("{} does not exist", TABLES[table])))?;
    if !share_lock(relation, try_for, wait, client)? {
        return Ok(false);
    }
    exec(client, "SELECT pg_catalog.set_config('lock_timeout', $1, true)", &[DatumWithOid::from(COUNT_LOCK_TIMEOUT)])?;
    let db = database();
    // `exec` runs the statement as a writer would (read_only false): under READ COMMITTED, SPI
    // takes a new snapshot for it, after the lock was had. A snapshot from before the lock would
    // miss what committed in between.
    for row in exec(client, COUNTS[table], &[ids.into()])? {
        let id = row.get::<i32>(1).map_err(crate::error::internal)?.unwrap_or_default();
        let depth = row.get::<i64>(2).map_err(crate::error::internal)?.unwrap_or_default();
        stats::set_depth((db, id), table, depth);
    }
    Ok(true)
}

/// Take `relation`'s SHARE lock for the rest of the transaction: conditionally, every [`POLL`]
/// for `try_for`, then (with `wait`) waiting at most that long.
fn share_lock(
    relation: pg_sys::Oid,
    try_for: Duration,
    wait: Option<Duration>,
    client: &mut SpiClient<'_>,
) -> Result<bool> {
    let mode = pg_sys::ShareLock as pg_sys::LOCKMODE;
    let started = Instant::now();
    loop {
        // SAFETY: a lock request in the current transaction; it is released at its end.
        if unsafe { pg_sys::ConditionalLockRelationOid(relation, mode) } {
            return Ok(true);
        }
        if started.elapsed() >= try_for {
            break;
        }
        // SAFETY: a short sleep; interrupts (a SIGTERM) are served right after it.
        unsafe { pg_sys::pg_usleep(POLL.as_micros() as std::ffi::c_long) };
        pgrx::check_for_interrupts!();
    }
    let Some(wait) = wait else { return Ok(false) };
    exec(
        client,
        "SELECT pg_catalog.set_config('lock_timeout', $1, true)",
        &[DatumWithOid::from(format!("{}ms", wait.as_millis().max(1)))],
    )?;
    // SAFETY: as above; when lock_timeout passes first, Postgres raises 55P03.
    unsafe { pg_sys::LockRelationOid(relation, mode) };
    Ok(true)
}
