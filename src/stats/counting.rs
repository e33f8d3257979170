//! Counting what every statement does to the job tables, for src/shmem/stats.rs.
//!
//! Each job table has two statement-level AFTER triggers (INSERT and DELETE, with transition
//! tables: sql/stats.sql) calling `queue_internal.count_jobs()`, which reads the transition table's
//! queue ids straight from its tuplestore (no SQL, no copy) and adds the per-queue counts to this
//! transaction's delta. Every path that moves a job is counted that way, whatever statement or
//! role does it, so no path can be forgotten.
//!
//! The delta is kept per subtransaction (a ROLLBACK TO SAVEPOINT drops what the savepoint did) and
//! added to shared memory when the transaction commits, while it still holds its locks on the job
//! tables: the recount (recount.rs), which locks them in SHARE mode, sees either all of a
//! transaction's rows and none of its delta afterwards, or the other way round.
//!
//! Events need to know why a job left `running`: the functions that complete, fail, release or
//! cancel jobs say so with [`because`] around their statement.

use crate::shmem::stats::{self, Delta};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgTupleDesc;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// Why the jobs a statement deletes from `running` leave it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reason {
    /// Moves that are no event: promotion, retry of dead jobs, purge, claims.
    Move,
    Complete,
    /// A failed attempt (`fail`), or a lease that expired.
    Fail,
    Release,
    Cancel,
}

thread_local! {
    static REASON: Cell<Reason> = const { Cell::new(Reason::Move) };
    static PENDING: RefCell<Pending> = RefCell::new(Pending::default());
}

/// Restores the previous reason when dropped (also when the statement raises an error).
pub struct ReasonGuard(Reason);

impl Drop for ReasonGuard {
    fn drop(&mut self) {
        REASON.with(|r| r.set(self.0));
    }
}

/// The statements run while the guard lives move jobs out of `running` for `reason`.
#[must_use]
pub fn because(reason: Reason) -> ReasonGuard {
    ReasonGuard(REASON.with(|r| r.replace(reason)))
}

#[derive(Default)]
struct Pending {
    /// The local transaction these belong to; 0 when none is registered.
    lxid: u32,
    /// Per (subtransaction id, queue id).
    deltas: HashMap<(u32, i32), Delta>,
    /// A job table was truncated: every queue of the database is recounted after the commit.
    truncated: bool,
}

fn database() -> u32 {
    // SAFETY: reads a backend global.
    unsafe { pg_sys::MyDatabaseId }.to_u32()
}

/// Add to this (sub)transaction's delta for `queue_id`, registering the transaction's end
/// callbacks the first time.
fn record(f: impl FnOnce(&mut Pending, u32)) {
    if !crate::shmem::available() {
        return;
    }
    // SAFETY: reads the transaction state.
    let (lxid, subid) = (crate::compat::local_xid(), unsafe { pg_sys::GetCurrentSubTransactionId() });
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if p.lxid != lxid {
            *p = Pending { lxid, ..Pending::default() };
            let db = database();
            pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, move || finish(db, Outcome::Commit));
            pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Abort, move || finish(db, Outcome::Abort));
            pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Prepare, move || finish(db, Outcome::Prepare));
            // Subtransaction ids grow: while `my` is open, every id at or above it is `my` or one
            // of its children.
            pgrx::register_subxact_callback(pgrx::PgSubXactCallbackEvent::AbortSub, |my, _parent| {
                PENDING.with(|p| p.borrow_mut().deltas.retain(|(sub, _), _| *sub < my));
            });
            pgrx::register_subxact_callback(pgrx::PgSubXactCallbackEvent::CommitSub, |my, parent| {
                PENDING.with(|p| {
                    let mut p = p.borrow_mut();
                    let moved: Vec<_> = p.deltas.extract_if(|(sub, _), _| *sub >= my).collect();
                    for ((_, queue_id), d) in moved {
                        p.deltas.entry((parent, queue_id)).or_default().merge(&d);
                    }
                });
            });
        }
        f(&mut p, subid);
    });
}

enum Outcome {
    Commit,
    Abort,
    /// PREPARE TRANSACTION: the outcome is decided later, perhaps by another backend. The queues
    /// touched are recounted once it is (the recount waits for its locks).
    Prepare,
}

/// Runs at the end of the transaction that registered it. After PREPARE TRANSACTION pgrx keeps
/// the Commit and Abort callbacks registered until this backend's next transaction ends: they
/// then find the next transaction's delta (applied once, by whichever runs first) or nothing.
fn finish(db: u32, outcome: Outcome) {
    REASON.with(|r| r.set(Reason::Move));
    let p = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    let mut per_queue: HashMap<i32, Delta> = HashMap::new();
    for ((_, queue_id), d) in p.deltas {
        per_queue.entry(queue_id).or_default().merge(&d);
    }
    let now_us = crate::clock::wall_micros();
    if p.truncated && !matches!(outcome, Outcome::Abort) {
        stats::forget_depths_of_database(db);
    }
    for (queue_id, d) in per_queue {
        match outcome {
            Outcome::Commit if !d.is_empty() => stats::apply((db, queue_id), &d, now_us),
            Outcome::Prepare => stats::forget_depths((db, queue_id)),
            _ => {}
        }
    }
}

/// The job tables, and which depth each holds.
fn table_depth(name: &str) -> Option<usize> {
    match name {
        "ready" => Some(stats::READY),
        "scheduled" => Some(stats::SCHEDULED),
        "running" => Some(stats::RUNNING),
        "dead" => Some(stats::DEAD),
        _ => None,
    }
}

/// The columns a count reads, by number in the table's row (looked up by name: tables made by an
/// upgrade may number them differently).
struct Columns {
    queue_id: i32,
    run_at: i32,
    enqueued_at: i32,
    first_claimed_at: i32,
    claimed_at: i32,
}

fn columns(desc: pg_sys::TupleDesc) -> Columns {
    let mut c = Columns { queue_id: 0, run_at: 0, enqueued_at: 0, first_claimed_at: 0, claimed_at: 0 };
    // SAFETY: the trigger's relation descriptor, valid for the call; borrowed, not freed.
    let desc = unsafe { PgTupleDesc::from_pg_unchecked(desc) };
    for (i, att) in desc.iter().enumerate() {
        if att.attisdropped {
            continue;
        }
        // SAFETY: attname is a NUL-terminated NameData.
        let name = unsafe { std::ffi::CStr::from_ptr(att.attname.data.as_ptr()) }.to_bytes();
        let slot = match name {
            b"queue_id" => &mut c.queue_id,
            b"run_at" => &mut c.run_at,
            b"enqueued_at" => &mut c.enqueued_at,
            b"first_claimed_at" => &mut c.first_claimed_at,
            b"claimed_at" => &mut c.claimed_at,
            _ => continue,
        };
        *slot = i as i32 + 1;
    }
    c
}

/// Visit every row of a transition table: `f` gets the row's datums and null flags up to the
/// highest column in `upto` (1-based).
///
/// # Safety
/// `store` must be a transition table of a trigger call in progress, with descriptor `desc`.
unsafe fn scan_rows(
    store: *mut pg_sys::Tuplestorestate,
    desc: pg_sys::TupleDesc,
    upto: i32,
    mut f: impl FnMut(&[pg_sys::Datum], &[bool]),
) {
    unsafe {
        let slot = pg_sys::MakeSingleTupleTableSlot(desc, &raw const pg_sys::TTSOpsMinimalTuple);
        // A read pointer of our own, rewound to the start (as a scan of a named tuplestore does):
        // others reading the same table keep their position.
        let ptr = pg_sys::tuplestore_alloc_read_pointer(store, pg_sys::EXEC_FLAG_REWIND as i32);
        pg_sys::tuplestore_select_read_pointer(store, ptr);
        pg_sys::tuplestore_rescan(store);
        while pg_sys::tuplestore_gettupleslot(store, true, false, slot) {
            if ((*slot).tts_nvalid as i32) < upto {
                pg_sys::slot_getsomeattrs_int(slot, upto);
            }
            let values = std::slice::from_raw_parts((*slot).tts_values, upto as usize);
            let nulls = std::slice::from_raw_parts((*slot).tts_isnull, upto as usize);
            f(values, nulls);
        }
        pg_sys::tuplestore_select_read_pointer(store, 0);
        pg_sys::ExecDropSingleTupleTableSlot(slot);
    }
}

fn timestamp(values: &[pg_sys::Datum], nulls: &[bool], col: i32) -> Option<i64> {
    let i = (col - 1) as usize;
    (col > 0 && !nulls[i]).then(|| values[i].value() as i64)
}

/// Count the rows a statement inserted into or deleted from a job table, per queue.
#[pg_trigger(sql = r#"
CREATE FUNCTION queue_internal.count_jobs() RETURNS TRIGGER
LANGUAGE c AS 'MODULE_PATHNAME', 'queue_count_jobs_wrapper';
"#)]
pub(crate) fn queue_count_jobs<'a>(
    trigger: &'a PgTrigger<'a>,
) -> std::result::Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, pgrx::pg_sys::panic::ErrorReport> {
    let td = trigger.trigger_data();
    // SAFETY: the trigger's relation, open for the call.
    let (desc, relname, relnamespace) = unsafe {
        let rel = td.tg_relation;
        let name = std::ffi::CStr::from_ptr((*(*rel).rd_rel).relname.data.as_ptr()).to_string_lossy().into_owned();
        ((*rel).rd_att, name, (*(*rel).rd_rel).relnamespace)
    };
    let depth = table_depth(&relname).filter(|_| {
        // SAFETY: looks up a namespace name in the syscache.
        let ns = unsafe { pg_sys::get_namespace_name(relnamespace) };
        !ns.is_null() && unsafe { std::ffi::CStr::from_ptr(ns) }.to_bytes() == b"queue"
    });
    let Some(depth) = depth else {
        pgrx::error!("queue_internal.count_jobs() counts queue_ext's job tables only, not \"{relname}\"");
    };
    if !crate::shmem::available() {
        // Not preloaded: there is nowhere to count (queue.stats shows NULL depths).
        return Ok(None);
    }
    if matches!(trigger.op(), Ok(PgTriggerOperation::Truncate)) {
        record(|p, _| p.truncated = true);
        return Ok(None);
    }
    let inserted = !td.tg_newtable.is_null();
    let store = if inserted { td.tg_newtable } else { td.tg_oldtable };
    if store.is_null() {
        pgrx::error!("queue_internal.count_jobs() must be an AFTER INSERT or DELETE trigger with a transition table");
    }
    let cols = columns(desc);
    if cols.queue_id == 0 {
        pgrx::error!("queue_internal.count_jobs(): table \"{relname}\" has no queue_id column");
    }
    let reason = REASON.with(Cell::get);
    let now_us = crate::clock::wall_micros();
    // What to read beyond the queue: the wait of first claims (rows entering running), the run
    // time of completions (rows leaving it).
    let wants_wait = inserted && depth == stats::RUNNING;
    let wants_run = !inserted && depth == stats::RUNNING && reason == Reason::Complete;
    let upto = if wants_wait || wants_run {
        [cols.queue_id, cols.run_at, cols.enqueued_at, cols.first_claimed_at, cols.claimed_at]
            .into_iter()
            .max()
            .unwrap_or(0)
    } else {
        cols.queue_id
    };
    let mut per_queue: HashMap<i32, Delta> = HashMap::new();
    let sign = if inserted { 1 } else { -1 };
    // SAFETY: the transition table of this trigger call, with the relation's descriptor.
    unsafe {
        scan_rows(store, desc, upto, |values, nulls| {
            // A job of a paused group is parked in queue.ready under its queue's id negated
            // (src/api/groups.rs): it still counts for its queue.
            let queue_id = (values[(cols.queue_id - 1) as usize].value() as i32).abs();
            let d = per_queue.entry(queue_id).or_default();
            d.depth[depth] += sign;
            if wants_wait {
                let first = timestamp(values, nulls, cols.first_claimed_at);
                let claimed = timestamp(values, nulls, cols.claimed_at);
                if let (Some(first), Some(claimed)) = (first, claimed) {
                    if first == claimed {
                        let since = timestamp(values, nulls, cols.enqueued_at)
                            .max(timestamp(values, nulls, cols.run_at))
                            .unwrap_or(claimed);
                        d.waits.add((claimed - since) as f64 / 1e6);
                    }
                }
            }
            if wants_run {
                if let Some(claimed) = timestamp(values, nulls, cols.claimed_at) {
                    d.runs.add((now_us - claimed) as f64 / 1e6);
                }
            }
            match (inserted, depth, reason) {
                (false, stats::RUNNING, Reason::Complete) => d.completed += 1,
                (false, stats::RUNNING, Reason::Fail) => d.failed += 1,
                (false, _, Reason::Cancel) => d.cancelled += 1,
                (true, stats::DEAD, Reason::Fail) => d.died += 1,
                (true, stats::READY | stats::SCHEDULED, Reason::Fail) => d.retried += 1,
                _ => {}
            }
        });
    }
    record(|p, subid| {
        for (queue_id, d) in per_queue {
            p.deltas.entry((subid, queue_id)).or_default().merge(&d);
        }
    });
    Ok(None)
}
