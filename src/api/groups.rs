//! pause_group / resume_group: stop and restart handing out one group's jobs (one tenant) without
//! pausing the queue.
//!
//! Claims enumerate a queue's groups by skip scan over queue.ready's claim index, so a paused group
//! must not be in that index under the queue's id, or every claim would pass over it. Pausing
//! records the group in queue.group_pauses (it survives restarts) and parks its ready jobs in
//! place under the queue's id negated: no claim of the queue reaches them, they stay pending in
//! queue.jobs and in the statistics (counting.rs counts them for their queue), and cancel and
//! dedupe find them by id. Jobs reaching ready later (enqueued, promoted, retried, released) are
//! parked by the first claim that meets the group (claim.sql), once each. Resuming brings them
//! back. Scheduled jobs of a paused group wait in queue.scheduled as usual.

use crate::catalog;
use crate::error::{QueueError, Result};
use crate::security::{require_id, Privilege};
use crate::spi::exec_one;
use crate::store;
use crate::validate::{key, queue_name, required};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use std::rc::Rc;

/// The queue to administer: 42704 when it does not exist, 42501 without admin on it.
fn administered(client: &mut SpiClient<'_>, queue: &str) -> Result<Rc<catalog::QueueInfo>> {
    let (info, grants_exist) = catalog::queue(client, queue)?;
    let info = info.ok_or_else(|| QueueError::UnknownQueue(queue.to_owned()))?;
    if grants_exist {
        require_id(client, &info, Privilege::Admin)?;
    }
    Ok(info)
}

/// The group key argument: required (the default group cannot be paused: pause the queue).
fn group(group_key: Option<&str>) -> Result<String> {
    let group = key(Some(required(group_key, "group_key")?), "group_key")?;
    Ok(group.expect("a non-NULL key stays"))
}

/// Stop handing out the jobs of group `group_key` of `queue`; other groups flow, producers may
/// still enqueue into it. Takes effect for claims that start after the calling transaction
/// commits. Pausing a paused group does nothing.
#[pg_extern(name = "pause_group", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_pause_group(group_key: Option<&str>, queue: Option<&str>) -> Result<()> {
    let _acting = crate::security::enter()?;
    let group = group(group_key)?;
    let queue = queue_name(queue)?;
    Spi::connect_mut(|client| {
        let info = administered(client, queue)?;
        exec_one::<i64>(client, store::PAUSE_GROUP, &[info.id.into(), group.as_str().into()])?;
        Ok(())
    })
}

/// Hand out the jobs of paused group `group_key` of `queue` again. Resuming a group that is not
/// paused does nothing.
#[pg_extern(name = "resume_group", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_resume_group(group_key: Option<&str>, queue: Option<&str>) -> Result<()> {
    let _acting = crate::security::enter()?;
    let group = group(group_key)?;
    let queue = queue_name(queue)?;
    // The unparking statement must see what claims parked until the first statement had its lock:
    // a transaction snapshot would hide it, and the jobs would stay parked.
    // SAFETY: reads a backend global.
    if unsafe { pg_sys::XactIsoLevel } >= pg_sys::XACT_REPEATABLE_READ as i32 {
        return Err(QueueError::NotSupported(format!(
            "resume_group on queue \"{queue}\" needs READ COMMITTED isolation"
        ))
        .into());
    }
    Spi::connect_mut(|client| {
        let info = administered(client, queue)?;
        // Waits for claims parking jobs of the group (they hold its row) and stops new ones.
        exec_one::<i32>(client, store::UNPAUSE_GROUP, &[info.id.into(), group.as_str().into()])?;
        let back = exec_one::<i64>(client, store::UNPARK_GROUP, &[info.id.into(), group.as_str().into()])?;
        if back.unwrap_or(0) > 0 {
            crate::api::produce::notify_ready(&info);
        }
        Ok(())
    })
}
