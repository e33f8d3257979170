//! Producing jobs: enqueue and enqueue_many. Both are plain INSERTs in the caller's transaction, so
//! a job becomes visible to workers exactly when the producer commits, and vanishes on rollback.
//! A job due now goes to queue.ready (and notifies at commit); a job due later to queue.scheduled.
//! The queue's settings come from the backend's cache (catalog.rs), so an enqueue runs one
//! statement: the INSERT.

use crate::api::dedupe::OnDuplicate;
use crate::catalog::{self, QueueInfo};
use crate::clock;
use crate::datum::{Jsonb, JsonbArray};
use crate::error::{QueueError, Result};
use crate::security::{require_id, Privilege};
use crate::spi::{exec_column, exec_one};
use crate::store;
use crate::validate::{at_least, finite_timestamp, json_object, key, queue_name, required};
use pgrx::datum::{DatumWithOid, Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use std::rc::Rc;

/// The options every enqueue shares, validated.
pub(crate) struct JobOptions {
    /// When the job is due; None means now.
    pub(crate) run_at: Option<TimestampWithTimeZone>,
    pub(crate) priority: i32,
    pub(crate) group_key: Option<String>,
    pub(crate) max_attempts: Option<i32>,
}

impl JobOptions {
    pub(crate) fn new(
        run_at: Option<TimestampWithTimeZone>,
        priority: Option<i32>,
        group_key: Option<&str>,
        max_attempts: Option<i32>,
    ) -> std::result::Result<Self, QueueError> {
        if let Some(m) = max_attempts {
            at_least(m, 1, "max_attempts")?;
        }
        Ok(JobOptions {
            run_at: run_at.map(|t| finite_timestamp(t, "run_at")).transpose()?,
            priority: priority.unwrap_or(0),
            group_key: key(group_key, "group_key")?,
            max_attempts,
        })
    }

    /// Due now (at or before the transaction's start)? Then the job goes straight to ready.
    pub(crate) fn due_now(&self) -> bool {
        self.run_at.is_none_or(|t| t <= clock::transaction_now())
    }

    pub(crate) fn run_at(&self) -> TimestampWithTimeZone {
        self.run_at.unwrap_or_else(clock::transaction_now)
    }

    pub(crate) fn args<'a>(&'a self, queue: &QueueInfo, payload: DatumWithOid<'a>) -> Vec<DatumWithOid<'a>> {
        vec![
            queue.id.into(),
            payload,
            self.run_at().into(),
            self.priority.into(),
            self.group_key.as_deref().unwrap_or("").into(),
            self.max_attempts.unwrap_or(queue.max_attempts).into(),
        ]
    }
}

/// The queue to produce into: 42704 when it does not exist, 42501 when the caller may not.
pub(crate) fn producing_into(client: &mut SpiClient<'_>, queue: &str) -> Result<Rc<QueueInfo>> {
    let (info, grants_exist) = catalog::queue(client, queue)?;
    let info = info.ok_or_else(|| QueueError::UnknownQueue(queue.to_owned()))?;
    if grants_exist {
        require_id(client, &info, Privilege::Produce)?;
    }
    Ok(info)
}

/// Jobs became ready in `queue`: NOTIFY its listeners at commit (PostgreSQL folds the same
/// notification sent twice in a transaction into one, and sends none on rollback).
pub(crate) fn notify_ready(queue: &QueueInfo) {
    if queue.notify {
        crate::notify::send(&format!("queue_{}", queue.name), &queue.name);
    }
}

/// A job scheduled for later: the background worker promotes (and announces) it when it comes
/// due, told of it at commit.
pub(crate) fn wake_worker_at_commit(run_at: TimestampWithTimeZone) {
    if pg_sys::TimestampTz::from(run_at) > clock::wall_micros() {
        crate::pool_hints::due_at_commit_ts(run_at, Some(crate::shmem::pool::Work::Promote));
    }
}

/// Insert one job, or deal with the live job holding its dedupe key as `on_dup` says.
pub(crate) fn insert_one(
    client: &mut SpiClient<'_>,
    queue: &str,
    payload: Jsonb,
    opts: &JobOptions,
    dedupe_key: Option<&str>,
    on_dup: OnDuplicate,
) -> Result<i64> {
    let info = producing_into(client, queue)?;
    insert_into(client, &info, payload, opts, dedupe_key, on_dup)
}

/// Insert one job into a queue looked up (and permitted) already, or deal with the live job
/// holding its dedupe key as `on_dup` says (src/api/dedupe.rs).
pub(crate) fn insert_into(
    client: &mut SpiClient<'_>,
    info: &QueueInfo,
    payload: Jsonb,
    opts: &JobOptions,
    dedupe_key: Option<&str>,
    on_dup: OnDuplicate,
) -> Result<i64> {
    let due = opts.due_now();
    let statement = if due {
        store::INSERT_READY
    } else {
        wake_worker_at_commit(opts.run_at());
        store::INSERT_SCHEDULED
    };
    let insert = |client: &mut SpiClient<'_>, id: Option<i64>| -> Result<i64> {
        let mut args = opts.args(info, payload.into());
        args.extend([id.into(), dedupe_key.into()]);
        let id = exec_one::<i64>(client, statement, &args)?.expect("INSERT ... RETURNING returns the row");
        if due {
            if opts.group_key.is_none() {
                crate::heads::ready_from(info.id, crate::heads::key(opts.priority, opts.run_at(), id));
            }
            notify_ready(info);
        }
        Ok(id)
    };
    let Some(dedupe_key) = dedupe_key else { return insert(client, None) };
    crate::api::dedupe::enqueue_keyed(client, info, payload, opts, dedupe_key, on_dup, &insert)
}

/// With spread_key and spread_period the job is due at the key's slot in the period, at or after
/// run_at (default now): the same key always lands at the same phase of the period.
fn spread_run_at(
    run_at: Option<TimestampWithTimeZone>,
    spread_key: Option<&str>,
    spread_period: Option<Interval>,
) -> Result<Option<TimestampWithTimeZone>> {
    match (spread_key, spread_period) {
        (None, None) => Ok(run_at),
        (Some(key), Some(period)) => {
            let after = match run_at {
                Some(t) => finite_timestamp(t, "run_at")?,
                None => clock::transaction_now(),
            };
            Ok(Some(crate::spread::next_slot_at(key, period, after)?))
        }
        _ => Err(QueueError::invalid("spread_key and spread_period go together: give both or neither").into()),
    }
}

/// Add a job. Visible to workers when the calling transaction commits.
#[pg_extern(name = "enqueue", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn queue_enqueue(
    queue: Option<&str>,
    payload: Option<Jsonb>,
    run_at: default!(Option<TimestampWithTimeZone>, "now()"),
    priority: default!(Option<i32>, 0),
    group_key: default!(Option<&str>, NULL),
    dedupe_key: default!(Option<&str>, NULL),
    max_attempts: default!(Option<i32>, NULL),
    spread_key: default!(Option<&str>, NULL),
    spread_period: default!(Option<Interval>, NULL),
    on_duplicate: default!(Option<&str>, "'skip'"),
    debounce: default!(Option<Interval>, NULL),
) -> Result<i64> {
    let _acting = crate::security::enter()?;
    let queue = queue_name(queue)?;
    let payload = json_object(required(payload, "payload")?, "payload")?;
    let run_at = spread_run_at(run_at, key(spread_key, "spread_key")?.as_deref(), spread_period)?;
    let mut opts = JobOptions::new(run_at, priority, group_key, max_attempts)?;
    let dedupe_key = key(dedupe_key, "dedupe_key")?;
    let on_dup = OnDuplicate::parse(on_duplicate, debounce)?;
    Spi::connect_mut(|client| {
        on_dup.debounced(client, &mut opts)?;
        insert_one(client, queue, payload, &opts, dedupe_key.as_deref(), on_dup)
    })
}

/// Add many jobs in one statement; returns their ids in payload order. With `dedupe_keys` (one per
/// payload, NULL for none) each job is deduplicated as `enqueue` would.
#[pg_extern(name = "enqueue_many", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn queue_enqueue_many(
    queue: Option<&str>,
    payloads: Option<JsonbArray>,
    run_at: default!(Option<TimestampWithTimeZone>, "now()"),
    priority: default!(Option<i32>, 0),
    group_key: default!(Option<&str>, NULL),
    max_attempts: default!(Option<i32>, NULL),
    dedupe_keys: default!(Option<Vec<Option<String>>>, NULL),
    on_duplicate: default!(Option<&str>, "'skip'"),
    debounce: default!(Option<Interval>, NULL),
) -> Result<crate::srf::SetOfIterator<i64>> {
    let _acting = crate::security::enter()?;
    let queue = queue_name(queue)?;
    let (payloads, shape) = required(payloads, "payloads")?.detoasted_shape();
    if shape.dimensions > 1 {
        return Err(QueueError::invalid("payloads must be a one-dimensional array").into());
    }
    if shape.has_nulls {
        return Err(QueueError::NullValue("every element of payloads").into());
    }
    if let Some((i, t)) = payloads.first_non_object() {
        return Err(QueueError::invalid(format!("payloads[{i}] must be a JSON object, got {}", t.as_str())).into());
    }
    let mut opts = JobOptions::new(run_at, priority, group_key, max_attempts)?;
    let on_dup = OnDuplicate::parse(on_duplicate, debounce)?;
    if on_dup != OnDuplicate::Skip && dedupe_keys.is_none() {
        return Err(QueueError::invalid("on_duplicate other than 'skip' needs dedupe_keys").into());
    }
    let ids = match dedupe_keys {
        None => Spi::connect_mut(|client| {
            let info = producing_into(client, queue)?;
            let due = opts.due_now();
            let statement = if due {
                store::INSERT_MANY_READY
            } else {
                wake_worker_at_commit(opts.run_at());
                store::INSERT_MANY_SCHEDULED
            };
            let ids = exec_column::<i64>(client, statement, &opts.args(&info, payloads.into()))?;
            if due && !ids.is_empty() {
                if let (None, Some(first)) = (&opts.group_key, ids.iter().min()) {
                    crate::heads::ready_from(info.id, crate::heads::key(opts.priority, opts.run_at(), *first));
                }
                notify_ready(&info);
            }
            Ok::<_, pgrx::pg_sys::panic::ErrorReport>(ids)
        })?,
        Some(keys) => {
            if keys.len() != shape.len {
                return Err(QueueError::invalid(format!(
                    "dedupe_keys has {} elements but payloads has {}; give one key (or NULL) per payload",
                    keys.len(),
                    shape.len
                ))
                .into());
            }
            let keys = keys
                .iter()
                .map(|k| key(k.as_deref(), "dedupe_keys element"))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            // Deduplicated batches go row by row: each key needs the conflict handling of enqueue.
            Spi::connect_mut(|client| {
                producing_into(client, queue)?;
                on_dup.debounced(client, &mut opts)?;
                let elements = exec_column::<Jsonb>(client, UNNEST_PAYLOADS, &[payloads.into()])?;
                elements
                    .into_iter()
                    .zip(keys.iter())
                    .map(|(p, k)| insert_one(client, queue, p, &opts, k.as_deref(), on_dup))
                    .collect::<Result<Vec<i64>>>()
            })?
        }
    };
    Ok(crate::srf::SetOfIterator(ids))
}

// Payload datums read here stay valid until the SPI connection closes, after the inserts.
const UNNEST_PAYLOADS: &str = "SELECT p FROM unnest($1::jsonb[]) WITH ORDINALITY AS u(p, n) ORDER BY n";
