//! Producing jobs: enqueue and enqueue_many. Both are plain INSERTs in the caller's transaction, so
//! a job becomes visible to workers exactly when the producer commits, and vanishes on rollback.

use crate::api::queues::require_queue;
use crate::datum::{Jsonb, JsonbArray};
use crate::error::{QueueError, Result};
use crate::spi::{exec_column, exec_one};
use crate::validate::{at_least, key, queue_name, required};
use pgrx::datum::{DatumWithOid, Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

// Every insert names its queue through the CTE `q` (an unknown queue inserts nothing) and sends the
// queue's NOTIFY from the same statement: once, as an InitPlan, and only when a job that is due now
// was inserted (the background worker notifies delayed jobs when they come due). Postgres folds
// identical notifications of one transaction, so a transaction that enqueues many jobs into a
// queue sends exactly one notification for it, at commit, and none on rollback.
macro_rules! insert_jobs {
    ($select:literal, $conflict:literal) => {
        concat!(
            "WITH q AS MATERIALIZED (SELECT name, max_attempts, notify FROM queue.queues WHERE name = $1),
             ins AS (
                 INSERT INTO queue.jobs (queue, payload, run_at, priority, group_key, max_attempts, dedupe_key) ",
            $select,
            " ",
            $conflict,
            "
                 RETURNING id, run_at
             )
             SELECT ins.id,
                    (SELECT pg_notify('queue_' || q.name, q.name) FROM q
                      WHERE q.notify AND EXISTS (SELECT FROM ins WHERE ins.run_at <= now()))::text
               FROM ins"
        )
    };
}

const INSERT_ONE: &str =
    insert_jobs!("SELECT q.name, $2, coalesce($3, now()), $4, $5, coalesce($6, q.max_attempts), NULL FROM q", "");

// The ON CONFLICT target names the partial unique index jobs_dedupe_idx. Producers racing on one
// key wait for each other here: exactly one insert wins, the others find it afterwards.
const INSERT_ONE_DEDUPED: &str = insert_jobs!(
    "SELECT q.name, $2, coalesce($3, now()), $4, $5, coalesce($6, q.max_attempts), $7 FROM q",
    "ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL AND state IN ('pending', 'running') DO NOTHING"
);

const FIND_LIVE_DUPLICATE: &str = "
    SELECT id FROM queue.jobs
     WHERE queue = $1 AND dedupe_key = $2 AND state IN ('pending', 'running')";

// Rows come back in payload order: RETURNING follows the insert order of the ordered SELECT.
const INSERT_MANY: &str = insert_jobs!(
    "SELECT q.name, p.payload, coalesce($3, now()), $4, $5, coalesce($6, q.max_attempts), NULL
       FROM q, unnest($2::jsonb[]) WITH ORDINALITY AS p(payload, n)
      ORDER BY p.n",
    ""
);

// Payload datums read here stay valid until the SPI connection closes, after the inserts.
const UNNEST_PAYLOADS: &str = "SELECT p FROM unnest($1::jsonb[]) WITH ORDINALITY AS u(p, n) ORDER BY n";

/// The options every enqueue shares, validated.
pub(crate) struct JobOptions {
    pub(crate) run_at: Option<TimestampWithTimeZone>,
    pub(crate) priority: i32,
    pub(crate) group_key: Option<String>,
    pub(crate) max_attempts: Option<i32>,
}

impl JobOptions {
    fn new(
        run_at: Option<TimestampWithTimeZone>,
        priority: Option<i32>,
        group_key: Option<&str>,
        max_attempts: Option<i32>,
    ) -> std::result::Result<Self, QueueError> {
        if let Some(m) = max_attempts {
            at_least(m, 1, "max_attempts")?;
        }
        if run_at.is_some_and(|t| t.is_infinity() || t.is_neg_infinity()) {
            return Err(QueueError::invalid("run_at must be a finite timestamp"));
        }
        Ok(JobOptions {
            run_at,
            priority: priority.unwrap_or(0),
            group_key: key(group_key, "group_key")?,
            max_attempts,
        })
    }

    fn args<'a>(&self, queue: &'a str, payload: DatumWithOid<'a>) -> Vec<DatumWithOid<'a>> {
        vec![
            queue.into(),
            payload,
            self.run_at.into(),
            self.priority.into(),
            self.group_key.clone().into(),
            self.max_attempts.into(),
        ]
    }
}

/// Insert one job, or return the live job holding its dedupe key.
pub(crate) fn insert_one(
    client: &mut SpiClient<'_>,
    queue: &str,
    payload: Jsonb,
    opts: &JobOptions,
    dedupe_key: Option<&str>,
) -> Result<i64> {
    let Some(dedupe_key) = dedupe_key else {
        return match exec_one::<i64>(client, INSERT_ONE, &opts.args(queue, payload.into()))? {
            Some(id) => Ok(id),
            None => Err(QueueError::UnknownQueue(queue.to_owned()).into()),
        };
    };
    let mut args = opts.args(queue, payload.into());
    args.push(dedupe_key.into());
    // A conflicting job may finish between our insert and our lookup; then the key is free again
    // and the next round inserts. Three rounds only fail under a pathological churn of that key.
    for _ in 0..3 {
        if let Some(id) = exec_one::<i64>(client, INSERT_ONE_DEDUPED, &args)? {
            return Ok(id);
        }
        if let Some(id) = exec_one::<i64>(client, FIND_LIVE_DUPLICATE, &[queue.into(), dedupe_key.into()])? {
            return Ok(id);
        }
        require_queue(client, queue)?;
    }
    Err(QueueError::DedupeConflict(format!(
        "could not enqueue with dedupe_key \"{}\": jobs holding that key kept finishing and reappearing",
        dedupe_key.escape_default()
    ))
    .into())
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
                Some(t) => t,
                None => crate::clock::transaction_now(),
            };
            Ok(Some(crate::spread::next_slot_at(key, period, after)?))
        }
        _ => Err(QueueError::invalid("spread_key and spread_period go together: give both or neither").into()),
    }
}

/// Add a job. Visible to workers when the calling transaction commits.
#[pg_extern(name = "enqueue", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn enqueue(
    queue: Option<&str>,
    payload: Option<Jsonb>,
    run_at: default!(Option<TimestampWithTimeZone>, "now()"),
    priority: default!(Option<i32>, 0),
    group_key: default!(Option<&str>, NULL),
    dedupe_key: default!(Option<&str>, NULL),
    max_attempts: default!(Option<i32>, NULL),
    spread_key: default!(Option<&str>, NULL),
    spread_period: default!(Option<Interval>, NULL),
) -> Result<i64> {
    let queue = queue_name(queue)?;
    let payload = required(payload, "payload")?;
    let run_at = spread_run_at(run_at, spread_key, spread_period)?;
    let opts = JobOptions::new(run_at, priority, group_key, max_attempts)?;
    let dedupe_key = key(dedupe_key, "dedupe_key")?;
    Spi::connect_mut(|client| insert_one(client, queue, payload, &opts, dedupe_key.as_deref()))
}

/// Add many jobs in one statement; returns their ids in payload order. With `dedupe_keys` (one per
/// payload, NULL for none) each job is deduplicated as `enqueue` would.
#[pg_extern(name = "enqueue_many", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn enqueue_many(
    queue: Option<&str>,
    payloads: Option<JsonbArray>,
    run_at: default!(Option<TimestampWithTimeZone>, "now()"),
    priority: default!(Option<i32>, 0),
    group_key: default!(Option<&str>, NULL),
    max_attempts: default!(Option<i32>, NULL),
    dedupe_keys: default!(Option<Vec<Option<String>>>, NULL),
) -> Result<SetOfIterator<'static, i64>> {
    let queue = queue_name(queue)?;
    let (payloads, shape) = required(payloads, "payloads")?.detoasted_shape();
    if shape.dimensions > 1 {
        return Err(QueueError::invalid("payloads must be a one-dimensional array").into());
    }
    if shape.has_nulls {
        return Err(QueueError::NullValue("every element of payloads").into());
    }
    let opts = JobOptions::new(run_at, priority, group_key, max_attempts)?;
    let ids = match dedupe_keys {
        None => Spi::connect_mut(|client| {
            let ids = exec_column::<i64>(client, INSERT_MANY, &opts.args(queue, payloads.into()))?;
            if ids.is_empty() {
                require_queue(client, queue)?;
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
                require_queue(client, queue)?;
                let elements = exec_column::<Jsonb>(client, UNNEST_PAYLOADS, &[payloads.into()])?;
                elements
                    .into_iter()
                    .zip(keys.iter())
                    .map(|(p, k)| insert_one(client, queue, p, &opts, k.as_deref()))
                    .collect::<Result<Vec<i64>>>()
            })?
        }
    };
    Ok(SetOfIterator::new(ids))
}
