//! Keeps the claim-start hints of src/shmem/head.rs right across transactions: what a
//! transaction did to queue.ready is reported when its outcome is known. A job made ready is
//! reported at commit (only then is it visible); jobs a claim or cancel held come back if it rolls
//! back (or rolls back to a savepoint), so those forget the hint then.

use crate::shmem::{self, ClaimKey};
use pgrx::pg_sys;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

#[derive(Default)]
struct Pending {
    /// The local transaction these belong to; 0 when none is registered.
    lxid: u32,
    lower: HashMap<i32, ClaimKey>,
    forget_at_commit: HashSet<i32>,
    forget_at_abort: HashSet<i32>,
}

thread_local! {
    static PENDING: RefCell<Pending> = RefCell::new(Pending::default());
}

fn database() -> u32 {
    // SAFETY: reads a backend global.
    unsafe { pg_sys::MyDatabaseId }.to_u32()
}

/// The pending reports of the current transaction, registering its end callbacks the first time.
fn with_pending(f: impl FnOnce(&mut Pending)) {
    if !shmem::available() {
        return;
    }
    let lxid = crate::compat::local_xid();
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if p.lxid != lxid {
            *p = Pending { lxid, ..Pending::default() };
            let db = database();
            pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, move || finish(db, true));
            pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Abort, move || finish(db, false));
            // ROLLBACK TO SAVEPOINT brings back what a claim or cancel inside it held, while the
            // transaction goes on: forget those hints at once (forgetting is always safe).
            pgrx::register_subxact_callback(pgrx::PgSubXactCallbackEvent::AbortSub, move |_, _| {
                PENDING.with(|p| {
                    for queue_id in p.borrow().forget_at_abort.iter() {
                        shmem::forget_head(db, *queue_id);
                    }
                })
            });
        }
        f(&mut p);
    });
}

fn finish(db: u32, committed: bool) {
    let p = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if committed {
        for (queue_id, key) in p.lower {
            shmem::lower_head(db, queue_id, key);
        }
        for queue_id in p.forget_at_commit {
            shmem::forget_head(db, queue_id);
        }
    } else {
        for queue_id in p.forget_at_abort {
            shmem::forget_head(db, queue_id);
        }
    }
}

/// The claim key of a job: (-priority, run_at, id).
pub fn key(priority: i32, run_at: pgrx::datum::TimestampWithTimeZone, id: i64) -> ClaimKey {
    (-(priority as i64), pg_sys::TimestampTz::from(run_at), id)
}

/// Default-group jobs of `queue_id` became ready from `key` on (reported at commit).
pub fn ready_from(queue_id: i32, key: ClaimKey) {
    with_pending(|p| {
        let k = p.lower.entry(queue_id).or_insert(key);
        *k = (*k).min(key);
    });
}

/// Jobs of `queue_id` became ready at unknown positions (reported at commit).
#[allow(dead_code)] // kept for statements that cannot say where
pub fn ready_anywhere(queue_id: i32) {
    with_pending(|p| {
        p.forget_at_commit.insert(queue_id);
    });
}

/// The first default-group keys a statement made ready, per queue, from its `heads` columns
/// (queue ids, -priority, run_at, id: four arrays starting at column `first`).
pub fn keys_in_row(row: &pgrx::spi::SpiHeapTupleData<'_>, first: usize) -> crate::error::Result<Vec<(i32, ClaimKey)>> {
    use crate::error::internal;
    let queues = row.get::<Vec<i32>>(first).map_err(internal)?.unwrap_or_default();
    let np = row.get::<Vec<i64>>(first + 1).map_err(internal)?.unwrap_or_default();
    let run_at = row.get::<Vec<pgrx::datum::TimestampWithTimeZone>>(first + 2).map_err(internal)?.unwrap_or_default();
    let id = row.get::<Vec<i64>>(first + 3).map_err(internal)?.unwrap_or_default();
    Ok(queues
        .into_iter()
        .zip(np)
        .zip(run_at)
        .zip(id)
        .map(|(((q, np), run_at), id)| (q, (np, pg_sys::TimestampTz::from(run_at), id)))
        .collect())
}

/// The first row of a statement's result (it has one).
pub fn first_row(rows: pgrx::spi::SpiTupleTable<'_>) -> crate::error::Result<pgrx::spi::SpiHeapTupleData<'_>> {
    Ok(rows.first().get_heap_tuple().map_err(crate::error::internal)?.expect("a row"))
}

/// Report the keys of [`keys_in_row`] at commit.
pub fn ready_at(keys: &[(i32, ClaimKey)]) {
    for (queue_id, key) in keys {
        ready_from(*queue_id, *key);
    }
}

/// This transaction holds jobs of `queue_id` that come back if it rolls back.
pub fn holding(queue_id: i32) {
    with_pending(|p| {
        p.forget_at_abort.insert(queue_id);
    });
}
