//! Consuming jobs: claim, then complete / fail / heartbeat / release under a fenced lease.
//!
//! A claim moves jobs from pending to running and stamps them with a fresh lease token (one per
//! claimed batch). Every later call must present that token and finds the job only while it is
//! still running under it: once a lease was re-issued, the old holder can change nothing.

use crate::datum::Jsonb;
use crate::error::{internal, QueueError, Result};
use crate::spi::{exec, exec_column, exec_one};
use crate::validate::{batch_size, non_negative_interval, positive_interval, queue_name, required, worker_name};
use pgrx::datum::{DatumWithOid, Interval, TimestampWithTimeZone, Uuid};
use pgrx::heap_tuple::PgHeapTuple;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::AllocatedByRust;

const QUEUE_FOR_CLAIM: &str = "SELECT lease, paused FROM queue.queues WHERE name = $1";

// SKIP LOCKED lets concurrent claimers pass each other's picks; the partial index jobs_claim_idx
// serves the ORDER BY, so the scan touches pending rows of this queue only.
const CLAIM: &str = "
    WITH picked AS (
        SELECT id FROM queue.jobs
         WHERE queue = $1 AND state = 'pending' AND run_at <= now()
         ORDER BY priority DESC, run_at, id
         LIMIT $3
         FOR UPDATE SKIP LOCKED
    ), lease AS MATERIALIZED (
        SELECT gen_random_uuid() AS token
    )
    UPDATE queue.jobs j
       SET state = 'running', attempts = j.attempts + 1, lease_token = lease.token,
           lease_expires_at = now() + $4, locked_by = $2, claimed_at = now(),
           first_claimed_at = coalesce(j.first_claimed_at, now())
      FROM picked, lease
     WHERE j.id = picked.id
    RETURNING j.id, j.queue, j.payload, j.attempts, j.priority, j.group_key, j.run_at,
              j.enqueued_at, j.lease_token, j.lease_expires_at";

const COMPLETE_ONE: &str = "
    UPDATE queue.jobs SET state = 'done', finished_at = now(), lease_expires_at = NULL
     WHERE id = $1 AND lease_token = $2 AND state = 'running'
    RETURNING id";

const COMPLETE_BATCH_TOKEN: &str = "
    UPDATE queue.jobs SET state = 'done', finished_at = now(), lease_expires_at = NULL
     WHERE id = ANY($1) AND lease_token = $2 AND state = 'running'
    RETURNING id";

const COMPLETE_PER_JOB_TOKENS: &str = "
    UPDATE queue.jobs j SET state = 'done', finished_at = now(), lease_expires_at = NULL
      FROM unnest($1::bigint[], $2::uuid[]) AS c(id, token)
     WHERE j.id = c.id AND j.lease_token = c.token AND j.state = 'running'
    RETURNING j.id";

/// The state change of a failed attempt, shared by `fail` and lease expiry: back to pending after
/// the backoff (or the given delay $RETRY_IN), or dead once the attempts are used up.
/// Expects the job as `j` and its queue as `q`.
macro_rules! failed_attempt_set {
    ($retry_in:literal, $error:literal) => {
        concat!(
            "state = CASE WHEN j.attempts >= j.max_attempts THEN 'dead' ELSE 'pending' END::queue.job_state,
             run_at = CASE WHEN j.attempts >= j.max_attempts THEN j.run_at
                      ELSE now() + coalesce(", $retry_in, ", queue.retry_delay(j.attempts, q.backoff_base, q.backoff_max, j.id)) END,
             finished_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END,
             last_error = ", $error, ", lease_token = NULL, lease_expires_at = NULL"
        )
    };
}
pub(crate) use failed_attempt_set;

const FAIL: &str = concat!(
    "UPDATE queue.jobs j SET ",
    failed_attempt_set!("$4", "$3"),
    " FROM queue.queues q
     WHERE j.id = $1 AND j.lease_token = $2 AND j.state = 'running' AND q.name = j.queue
    RETURNING j.id"
);

const HEARTBEAT: &str = "
    UPDATE queue.jobs j SET lease_expires_at = now() + coalesce($3, q.lease)
      FROM queue.queues q
     WHERE j.id = $1 AND j.lease_token = $2 AND j.state = 'running' AND q.name = j.queue
    RETURNING j.id";

const RELEASE: &str = "
    UPDATE queue.jobs
       SET state = 'pending', attempts = greatest(attempts - 1, 0), run_at = now() + $3,
           lease_token = NULL, lease_expires_at = NULL
     WHERE id = $1 AND lease_token = $2 AND state = 'running'
    RETURNING id";

struct ClaimedJob {
    id: i64,
    queue: String,
    payload: Jsonb,
    attempt: i32,
    priority: i32,
    group_key: Option<String>,
    run_at: TimestampWithTimeZone,
    enqueued_at: TimestampWithTimeZone,
    lease_token: Uuid,
    lease_expires_at: TimestampWithTimeZone,
}

impl ClaimedJob {
    fn into_tuple(self) -> Result<PgHeapTuple<'static, AllocatedByRust>> {
        let err = |e: pgrx::heap_tuple::PgHeapTupleError| QueueError::invalid(format!("queue.claimed_job: {e}"));
        let mut t = PgHeapTuple::new_composite_type("queue.claimed_job").map_err(err)?;
        t.set_by_name("id", self.id).map_err(|e| QueueError::invalid(e.to_string()))?;
        t.set_by_name("queue", self.queue).map_err(|e| QueueError::invalid(e.to_string()))?;
        t.set_by_name("payload", self.payload).map_err(|e| QueueError::invalid(e.to_string()))?;
        t.set_by_name("attempt", self.attempt).map_err(|e| QueueError::invalid(e.to_string()))?;
        t.set_by_name("priority", self.priority).map_err(|e| QueueError::invalid(e.to_string()))?;
        t.set_by_name("group_key", self.group_key).map_err(|e| QueueError::invalid(e.to_string()))?;
        t.set_by_name("run_at", self.run_at).map_err(|e| QueueError::invalid(e.to_string()))?;
        t.set_by_name("enqueued_at", self.enqueued_at).map_err(|e| QueueError::invalid(e.to_string()))?;
        t.set_by_name("lease_token", self.lease_token).map_err(|e| QueueError::invalid(e.to_string()))?;
        t.set_by_name("lease_expires_at", self.lease_expires_at).map_err(|e| QueueError::invalid(e.to_string()))?;
        Ok(t)
    }
}

fn not_null<T>(v: Option<T>) -> T {
    v.expect("claim returns NOT NULL columns")
}

fn claim_jobs(client: &mut SpiClient<'_>, queue: &str, worker: Option<&str>, batch: i32, lease: Option<Interval>) -> Result<Vec<ClaimedJob>> {
    let settings = exec(client, QUEUE_FOR_CLAIM, &[queue.into()])?;
    if settings.is_empty() {
        return Err(QueueError::UnknownQueue(queue.to_owned()).into());
    }
    let settings = settings.first();
    if settings.get::<bool>(2).map_err(internal)?.unwrap_or(false) {
        return Ok(Vec::new());
    }
    let lease = match lease {
        Some(l) => l,
        None => not_null(settings.get::<Interval>(1).map_err(internal)?),
    };
    let args: [DatumWithOid; 4] = [queue.into(), worker.into(), (batch as i64).into(), lease.into()];
    let mut jobs = Vec::with_capacity(batch as usize);
    for row in exec(client, CLAIM, &args)? {
        jobs.push(ClaimedJob {
            id: not_null(row.get(1).map_err(internal)?),
            queue: not_null(row.get(2).map_err(internal)?),
            payload: not_null(row.get::<Jsonb>(3).map_err(internal)?).transfer_out_of_spi(),
            attempt: not_null(row.get(4).map_err(internal)?),
            priority: not_null(row.get(5).map_err(internal)?),
            group_key: row.get(6).map_err(internal)?,
            run_at: not_null(row.get(7).map_err(internal)?),
            enqueued_at: not_null(row.get(8).map_err(internal)?),
            lease_token: not_null(row.get(9).map_err(internal)?),
            lease_expires_at: not_null(row.get(10).map_err(internal)?),
        });
    }
    // UPDATE ... RETURNING does not keep the picking order; hand jobs out in claim order.
    jobs.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then_with(|| a.run_at.partial_cmp(&b.run_at).unwrap_or(std::cmp::Ordering::Equal))
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(jobs)
}

fn complete_jobs(client: &mut SpiClient<'_>, ids: Vec<Option<i64>>, tokens: Vec<Option<Uuid>>) -> Result<Vec<i64>> {
    if ids.iter().any(Option::is_none) {
        return Err(QueueError::NullValue("every element of ids").into());
    }
    if tokens.iter().any(Option::is_none) {
        return Err(QueueError::NullValue("every element of lease_tokens").into());
    }
    let ids: Vec<i64> = ids.into_iter().flatten().collect();
    let tokens: Vec<Uuid> = tokens.into_iter().flatten().collect();
    match tokens.len() {
        _ if ids.is_empty() => Ok(Vec::new()),
        1 => exec_column(client, COMPLETE_BATCH_TOKEN, &[ids.into(), tokens[0].into()]),
        n if n == ids.len() => exec_column(client, COMPLETE_PER_JOB_TOKENS, &[ids.into(), tokens.into()]),
        n => Err(QueueError::invalid(format!(
            "lease_tokens has {n} elements for {} ids; give one token per id, or a single token for a whole claimed batch",
            ids.len()
        ))
        .into()),
    }
}

/// Lease up to `batch` ready jobs of `queue`. With `complete` (ids) and `complete_token`, first
/// completes the caller's previous batch in the same transaction: one round trip per batch.
#[pg_extern(name = "claim", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn claim(
    queue: Option<&str>,
    worker: default!(Option<&str>, NULL),
    batch: default!(Option<i32>, 1),
    lease: default!(Option<Interval>, NULL),
    complete: default!(Option<Vec<Option<i64>>>, NULL),
    complete_token: default!(Option<Uuid>, NULL),
) -> Result<SetOfIterator<'static, pgrx::composite_type!('static, "queue.claimed_job")>> {
    let queue = queue_name(queue)?;
    let worker = worker_name(worker)?;
    let batch = batch_size(required(batch, "batch")?)?;
    let lease = lease.map(|l| positive_interval(l, "lease")).transpose()?;
    if complete.is_some() && complete_token.is_none() {
        return Err(QueueError::NullValue("complete_token (required with complete)").into());
    }
    let jobs = Spi::connect_mut(|client| {
        if let (Some(ids), Some(token)) = (complete, complete_token) {
            complete_jobs(client, ids, vec![Some(token)])?;
        }
        claim_jobs(client, queue, worker, batch, lease)
    })?;
    let tuples = jobs.into_iter().map(ClaimedJob::into_tuple).collect::<Result<Vec<_>>>()?;
    Ok(SetOfIterator::new(tuples))
}

/// Mark a claimed job done. False when the token no longer holds the job's lease.
#[pg_extern(name = "complete", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn complete(id: Option<i64>, lease_token: Option<Uuid>) -> Result<bool> {
    let id = required(id, "id")?;
    let token = required(lease_token, "lease_token")?;
    Spi::connect_mut(|client| Ok(exec_one::<i64>(client, COMPLETE_ONE, &[id.into(), token.into()])?.is_some()))
}

/// Mark many claimed jobs done; returns the ids that were. `lease_tokens` holds one token per id,
/// or a single token for a batch claimed together.
#[pg_extern(name = "complete_many", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn complete_many(ids: Option<Vec<Option<i64>>>, lease_tokens: Option<Vec<Option<Uuid>>>) -> Result<SetOfIterator<'static, i64>> {
    let ids = required(ids, "ids")?;
    let tokens = required(lease_tokens, "lease_tokens")?;
    let done = Spi::connect_mut(|client| complete_jobs(client, ids, tokens))?;
    Ok(SetOfIterator::new(done))
}

/// Record a failed attempt: retry after exponential backoff with jitter (or after `retry_in`),
/// or mark the job dead once its attempts are used up. False when the token is stale.
#[pg_extern(name = "fail", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn fail(
    id: Option<i64>,
    lease_token: Option<Uuid>,
    error: default!(Option<&str>, NULL),
    retry_in: default!(Option<Interval>, NULL),
) -> Result<bool> {
    let id = required(id, "id")?;
    let token = required(lease_token, "lease_token")?;
    let retry_in = retry_in.map(|r| non_negative_interval(r, "retry_in")).transpose()?;
    Spi::connect_mut(|client| {
        Ok(exec_one::<i64>(client, FAIL, &[id.into(), token.into(), error.into(), retry_in.into()])?.is_some())
    })
}

/// Extend a claimed job's lease by `extend` (default: the queue's lease) from now.
#[pg_extern(name = "heartbeat", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn heartbeat(id: Option<i64>, lease_token: Option<Uuid>, extend: default!(Option<Interval>, NULL)) -> Result<bool> {
    let id = required(id, "id")?;
    let token = required(lease_token, "lease_token")?;
    let extend = extend.map(|e| positive_interval(e, "extend")).transpose()?;
    Spi::connect_mut(|client| Ok(exec_one::<i64>(client, HEARTBEAT, &[id.into(), token.into(), extend.into()])?.is_some()))
}

/// Give a claimed job back without counting a failure; it is claimable again after `delay`.
#[pg_extern(name = "release", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn release(id: Option<i64>, lease_token: Option<Uuid>, delay: default!(Option<Interval>, "'0'")) -> Result<bool> {
    let id = required(id, "id")?;
    let token = required(lease_token, "lease_token")?;
    let delay = non_negative_interval(delay.unwrap_or(Interval::from_micros(0)), "delay")?;
    Spi::connect_mut(|client| Ok(exec_one::<i64>(client, RELEASE, &[id.into(), token.into(), delay.into()])?.is_some()))
}

/// The plan of the claim statement for `queue`, exactly as `claim` runs it (EXPLAIN, not executed).
/// For DBAs checking that claims stay on the partial index whatever the history size.
#[pg_extern(name = "explain_claim", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn explain_claim(queue: Option<&str>, batch: default!(Option<i32>, 1)) -> Result<SetOfIterator<'static, String>> {
    let queue = queue_name(queue)?;
    let batch = batch_size(required(batch, "batch")?)?;
    let lines = Spi::connect_mut(|client| {
        let explain = format!("EXPLAIN {CLAIM}");
        let args: [DatumWithOid; 4] = [queue.into(), None::<&str>.into(), (batch as i64).into(), Interval::from_seconds(30.0).into()];
        let mut lines = Vec::new();
        for row in client.update(explain.as_str(), None, &args).map_err(internal)? {
            lines.extend(row.get::<String>(1).map_err(internal)?);
        }
        Ok::<_, pgrx::pg_sys::panic::ErrorReport>(lines)
    })?;
    Ok(SetOfIterator::new(lines))
}
