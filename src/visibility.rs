//! Read isolation: a role restricted to some queues sees only those, in every view and table.
//!
//! A role sees a queue when it may use one of its queue_* roles' privileges there: produce as a
//! queue_producer, consume as a queue_worker, admin as a queue_admin (grants.rs' allow-lists,
//! `queue_internal.may`). pg_monitor members also see every queue's figures (queue.stats, queue.workers,
//! queue.metrics()), never its jobs. With no grant at all, every role sees every queue.
//!
//! The views filter with `queue_internal.sees(queue_id, payloads)`, and the tables the queue roles may
//! read carry row-level security policies calling it (the extension owner and queue_maintainer
//! bypass them). It answers for the acting role (security.rs) from a set computed once per
//! statement, so a view over many rows pays one lookup, not one per row.

use crate::error::{internal, Result};
use crate::spi::exec;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::RefCell;
use std::collections::HashSet;

const VISIBLE: &str = include_str!("store/sql/visible_queues.sql");

/// The queues one role sees, as of one statement.
struct Visible {
    key: (pg_sys::Oid, u32, i64),
    /// No grant exists: every queue is visible.
    all: bool,
    monitor: bool,
    queues: HashSet<i32>,
}

thread_local! {
    static VISIBLE_NOW: RefCell<Option<Visible>> = const { RefCell::new(None) };
}

/// The statement a visibility set is good for: the acting role, the local transaction and the
/// client statement's start (grants read at one statement's start hold for all its rows).
fn statement_key(role: pg_sys::Oid) -> (pg_sys::Oid, u32, i64) {
    // SAFETY: reads the transaction state.
    (role, crate::compat::local_xid(), unsafe { pg_sys::GetCurrentStatementStartTimestamp() })
}

/// Whether the acting role sees queue `queue_id`: its jobs and settings (`payloads`), or only its
/// figures.
pub fn sees(queue_id: i32, payloads: bool) -> Result<bool> {
    let _acting = crate::security::enter_read()?;
    let key = statement_key(crate::security::caller());
    let fresh = VISIBLE_NOW.with(|v| v.borrow().as_ref().is_some_and(|v| v.key == key));
    if !fresh {
        let computed = Spi::connect_mut(|client| -> Result<Visible> {
            let mut visible = Visible { key, all: false, monitor: false, queues: HashSet::new() };
            for row in exec(client, VISIBLE, &[key.0.into()])? {
                visible.all = row.get::<bool>(2).map_err(internal)?.unwrap_or(false);
                visible.monitor = row.get::<bool>(3).map_err(internal)?.unwrap_or(false);
                if let Some(id) = row.get::<i32>(1).map_err(internal)? {
                    visible.queues.insert(id);
                }
            }
            Ok(visible)
        })?;
        VISIBLE_NOW.with(|v| *v.borrow_mut() = Some(computed));
    }
    Ok(VISIBLE_NOW.with(|v| {
        let v = v.borrow();
        let v = v.as_ref().expect("computed above");
        v.all || (!payloads && v.monitor) || v.queues.contains(&queue_id)
    }))
}

/// Whether the calling role sees queue `queue_id`: its jobs and settings (payloads => true) or
/// only its figures (payloads => false; pg_monitor members see every queue's). Used by queue_ext's
/// views and row-level security policies.
#[pg_extern(name = "sees", schema = "queue_internal", stable, strict)]
#[search_path(pg_catalog, pg_temp)]
fn queue_sees(queue_id: i32, payloads: bool) -> Result<bool> {
    sees(queue_id, payloads)
}
