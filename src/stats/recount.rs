//! Counting a queue's depths from its tables, when shared memory does not know them (after a
//! server restart, when a queue's slot was evicted, after a prepared transaction).
//!
//! The count runs while the job tables are locked in SHARE mode: no transaction that changes
//! them is in progress then, and each one that did has added its delta at its commit, before it
//! released its locks (counting.rs). So the count is exact, and later deltas go on from it. Writers
//! wait for the count (a primary-key or index-only scan per queue and table); the lock is asked
//! for with a short lock_timeout, and the worker backs off when it cannot get it.

use crate::error::Result;
use crate::shmem::stats;
use crate::spi::{exec, exec_column};
use crate::store;
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::spi::SpiClient;

fn database() -> u32 {
    // SAFETY: reads a backend global.
    unsafe { pg_sys::MyDatabaseId }.to_u32()
}

/// The queues of this database whose depths shared memory does not know.
pub fn uncounted(client: &mut SpiClient<'_>) -> Result<Vec<i32>> {
    if !crate::shmem::available() {
        return Ok(Vec::new());
    }
    let db = database();
    let ids = exec_column::<i32>(client, "SELECT id FROM queue.queues", &[])?;
    Ok(ids.into_iter().filter(|id| !stats::counted((db, *id))).collect())
}

/// Count the depths of `ids`, waiting at most `lock_timeout_ms` for the lock; returns how many
/// queues were counted. A lock timeout is an error (55P03) that ends the caller's transaction.
pub fn recount(client: &mut SpiClient<'_>, ids: Vec<i32>, lock_timeout_ms: i64) -> Result<usize> {
    if ids.is_empty() || !crate::shmem::available() {
        return Ok(0);
    }
    exec(
        client,
        "SELECT pg_catalog.set_config('lock_timeout', $1, true)",
        &[DatumWithOid::from(format!("{lock_timeout_ms}ms"))],
    )?;
    exec(client, "LOCK TABLE queue.ready, queue.scheduled, queue.running, queue.dead IN SHARE MODE", &[])?;
    let db = database();
    let now_us = crate::clock::wall_micros();
    let mut counted = 0;
    for row in exec(client, store::RECOUNT, &[ids.into()])? {
        let get = |i| row.get::<i64>(i).map_err(crate::error::internal).map(Option::unwrap_or_default);
        let id = row.get::<i32>(1).map_err(crate::error::internal)?.unwrap_or_default();
        stats::set_depths((db, id), [get(2)?, get(3)?, get(4)?, get(5)?], now_us);
        counted += 1;
    }
    Ok(counted)
}

/// Was this error the lock timeout of [`recount`] (try again later)?
pub fn is_lock_timeout(error: &str) -> bool {
    error.contains("lock timeout")
}
