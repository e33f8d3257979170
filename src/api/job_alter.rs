//! alter_job (issue 17): reschedule, reprioritise or change the payload of one job.
//!
//! Like the other calls on one job (cancel, retry), false means one thing only: the job is not
//! in a state the call can act on, an unknown id included. A pending job takes every change; a
//! finished one (done, cancelled, dead) only a new payload, for a retry to run with; a running
//! job none, since its worker has read the payload and holds the lease.

use crate::datum::Jsonb;
use crate::error::{internal, QueueError, Result};
use crate::heads::first_row;
use crate::security::{caller, require, Privilege};
use crate::spi::{exec, exec_one};
use crate::store;
use crate::validate::{finite_timestamp, json_object};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;

/// Change a job: `run_at` and `priority` while it is pending (a new run_at moves it between ready
/// and scheduled), `payload` (a JSON object) while it is not running; NULL leaves each as it is.
/// True when the job was changed; false when it is not in a state that takes the change (running,
/// or finished for run_at and priority), or does not exist. Needs 'produce' on its queue.
#[pg_extern(name = "alter_job", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_alter_job(
    id: Option<i64>,
    run_at: default!(Option<TimestampWithTimeZone>, NULL),
    priority: default!(Option<i32>, NULL),
    payload: default!(Option<Jsonb>, NULL),
) -> Result<bool> {
    let _acting = crate::security::enter()?;
    let id = id.ok_or(QueueError::NullValue("id"))?;
    let run_at = run_at.map(|t| finite_timestamp(t, "run_at")).transpose()?;
    let payload = payload.map(|p| json_object(p, "payload")).transpose()?;
    if run_at.is_none() && priority.is_none() && payload.is_none() {
        return Err(QueueError::invalid("alter_job needs at least one of run_at, priority and payload").into());
    }
    Spi::connect_mut(|client| {
        let rows = exec(client, store::JOB_QUEUE, &[id.into(), caller().into(), Privilege::Produce.as_str().into()])?;
        if rows.is_empty() {
            return Ok(false);
        }
        let row = first_row(rows)?;
        // A job of a queue the caller does not see is answered as unknown: its queue is not named.
        if !row.get::<bool>(4).map_err(internal)?.unwrap_or(false) {
            return Ok(false);
        }
        let queue: String = row.get(1).map_err(internal)?.expect("queue name");
        require(row.get::<bool>(2).map_err(internal)?.unwrap_or(false), &queue, Privilege::Produce)?;
        let queue_id = row.get::<i32>(3).map_err(internal)?.expect("queue id");
        // The job leaves its place in queue.ready: if this rolls back it is back where claims
        // may have moved past.
        crate::heads::holding(queue_id);
        let rows = exec(
            client,
            store::ALTER_PENDING,
            &[id.into(), run_at.into(), priority.into(), payload.into(), queue_id.into()],
        )?;
        if !rows.is_empty() {
            let row = first_row(rows)?;
            let ready = row.get::<bool>(2).map_err(internal)?.expect("ready");
            let group_key = row.get::<String>(3).map_err(internal)?.expect("group_key");
            let priority = row.get::<i32>(4).map_err(internal)?.expect("priority");
            let at = row.get::<TimestampWithTimeZone>(5).map_err(internal)?.expect("run_at");
            if !ready {
                crate::api::produce::wake_worker_at_commit(at);
            } else if group_key.is_empty() {
                crate::heads::ready_from(queue_id, crate::heads::key(priority, at, id));
            }
            return Ok(true);
        }
        if run_at.is_some() || priority.is_some() {
            return Ok(false);
        }
        Ok(exec_one::<i64>(client, store::ALTER_FINISHED, &[id.into(), payload.into(), queue_id.into()])?.is_some())
    })
}
