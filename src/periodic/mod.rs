//! Periodic work the background worker drives: cron schedules (schedules.rs, timing in cron.rs),
//! spread refreshes (refresh.rs) and paced backfills (backfill.rs). Both are defined by queue_admin through SQL functions, kept
//! in tables (sql/periodic.sql), and fired by the worker in short transactions that enqueue the
//! jobs and record how far they got together, so that nothing fires twice or is skipped.
//!
//! Jobs are enqueued with the rights of the role that defined the schedule, refresh or backfill
//! (its `owner`): it must still be a queue_admin allowed to produce into the queue when they fire,
//! and refreshes and backfills read their source tables as that role, never as the worker's
//! superuser.

pub mod backfill;
mod backfill_step;
pub mod cron;
pub mod refresh;
pub mod schedules;

use crate::error::{QueueError, Result};
use crate::spi::exec_one;
use chrono::{DateTime, Utc};
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::pg_sys;
use pgrx::spi::SpiClient;

/// Names of schedules and refreshes: they appear in payloads, dedupe keys and log lines.
pub const MAX_NAME_LEN: usize = 64;

pub fn object_name<'a>(name: Option<&'a str>, what: &'static str) -> std::result::Result<&'a str, QueueError> {
    let name = crate::validate::required(name, what)?;
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(QueueError::invalid(format!(
            "invalid {what} \"{}\": it must be 1 to {MAX_NAME_LEN} bytes without control characters",
            name.escape_default()
        )));
    }
    Ok(name)
}

pub fn to_utc(t: TimestampWithTimeZone) -> std::result::Result<DateTime<Utc>, QueueError> {
    let us = crate::spread::to_unix_micros(t)?;
    DateTime::from_timestamp_micros(us).ok_or_else(|| QueueError::invalid("timestamp out of range"))
}

pub fn from_utc(t: DateTime<Utc>) -> Result<TimestampWithTimeZone> {
    crate::spread::from_unix_micros(t.timestamp_micros())
}

/// A non-negative interval of fixed length, in microseconds (0 for none).
pub fn fixed_micros(value: Interval, what: &str) -> std::result::Result<i64, QueueError> {
    let value = crate::validate::non_negative_interval(value, what)?;
    if value.as_micros() == 0 && value.months() == 0 {
        return Ok(0);
    }
    crate::spread::period_micros(value, what)
}

/// Whether `owner` may still enqueue into `queue`: the role exists, is a queue_admin, and the
/// queue's grants let it produce. None when the queue does not exist.
pub fn owner_may_produce(client: &mut SpiClient<'_>, owner: pg_sys::Oid, queue: &str) -> Result<Option<bool>> {
    // queue_internal.may plans its subqueries at its first call: only when a grant exists.
    let grants_allow = exec_one::<bool>(
        client,
        "SELECT NOT EXISTS (SELECT FROM queue.queue_grants) OR queue_internal.may(q.id, $2, 'produce')
           FROM queue.queues q WHERE q.name = $1",
        &[queue.into(), owner.into()],
    )?;
    Ok(grants_allow.map(|allow| allow && owner_is_admin(owner)))
}

/// Whether role `owner` still exists and is a queue_admin, from the syscache: pg_roles is a view
/// whose plan, made afresh in every process, was a fifth of a pool worker's visit
/// (docs/adr/006-worker-pool.md). Needs a transaction.
pub fn owner_is_admin(owner: pg_sys::Oid) -> bool {
    // SAFETY: syscache lookups, in a transaction.
    unsafe {
        let exists = pg_sys::SearchSysCacheExists(
            pg_sys::SysCacheIdentifier::AUTHOID as i32,
            pg_sys::Datum::from(owner),
            pg_sys::Datum::from(0),
            pg_sys::Datum::from(0),
            pg_sys::Datum::from(0),
        );
        let queue_admin = pg_sys::get_role_oid(c"queue_admin".as_ptr(), true);
        exists && queue_admin != pg_sys::InvalidOid && pg_sys::has_privs_of_role(owner, queue_admin)
    }
}

/// The error a definition records when its owner may no longer produce into its queue.
pub fn owner_refused(queue: &str, found: Option<bool>) -> Option<String> {
    match found {
        None => Some(format!("queue \"{queue}\" does not exist")),
        Some(false) => Some(format!(
            "the owner may no longer enqueue into queue \"{queue}\" (it must be a queue_admin allowed to produce into it)"
        )),
        Some(true) => None,
    }
}
