//! After a claim (claim.rs): complete / fail / heartbeat / release under a fenced lease.
//!
//! A claim moves jobs from pending to running and stamps them with a fresh lease token (one per
//! claimed batch). Every later call must present that token and finds the job only while it is
//! still running under it: once a lease was re-issued, the old holder can change nothing.

use crate::error::{QueueError, Result};
use crate::spi::{exec_column, exec_one};
use crate::validate::{non_negative_interval, positive_interval, required};
use pgrx::datum::{Interval, Uuid};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// Mark jobs done: `$done_where` selects the running jobs (as `j`, with extra FROM items in
/// `$from`) whose lease the caller holds. Queues with `retention = 0` keep no history: their jobs
/// are deleted instead, which spares a row version and its index entries. A completed job ends
/// its group's backoff. The uncorrelated EXISTS gates are one-time filters: without a retention-0
/// queue or a group in backoff, those branches do no work at all.
macro_rules! complete_jobs {
    ($from:literal, $done_where:literal) => {
        concat!(
            "WITH done AS (
                 UPDATE queue.jobs j SET state = 'done', finished_at = now(), lease_expires_at = NULL
                   FROM queue.queues q", $from, "
                  WHERE q.name = j.queue AND q.retention <> '0' AND j.state = 'running' AND ", $done_where, "
                 RETURNING j.id, j.queue, coalesce(j.group_key, '') AS g
             ), forgotten AS (
                 DELETE FROM queue.jobs j
                  USING queue.queues q", $from, "
                  WHERE q.name = j.queue AND q.retention = '0' AND j.state = 'running' AND ", $done_where, "
                    AND EXISTS (SELECT FROM queue.queues z WHERE z.retention = '0')
                 RETURNING j.id, j.queue, coalesce(j.group_key, '') AS g
             ), finished AS (
                 SELECT * FROM done UNION ALL SELECT * FROM forgotten
             ), recovered AS (
                 DELETE FROM queue.group_state b USING finished
                  WHERE b.queue = finished.queue AND b.group_key = finished.g AND EXISTS (SELECT FROM queue.group_state)
             )
             SELECT id FROM finished"
        )
    };
}

const COMPLETE_ONE: &str = complete_jobs!("", "j.id = $1 AND j.lease_token = $2");
const COMPLETE_BATCH_TOKEN: &str = complete_jobs!("", "j.id = ANY($1) AND j.lease_token = $2");
const COMPLETE_PER_JOB_TOKENS: &str =
    complete_jobs!(", unnest($1::bigint[], $2::uuid[]) AS c(id, token)", "j.id = c.id AND j.lease_token = c.token");

/// The state change of a failed attempt, shared by `fail` and lease expiry: back to pending after
/// the backoff (or the given delay $RETRY_IN), or dead once the attempts are used up.
/// Expects the job as `j` and its queue as `q`.
macro_rules! failed_attempt_set {
    ($retry_in:literal, $error:literal) => {
        concat!(
            "state = CASE WHEN j.attempts >= j.max_attempts THEN 'dead' ELSE 'pending' END::queue.job_state,
             run_at = CASE WHEN j.attempts >= j.max_attempts THEN j.run_at
                      ELSE now() + coalesce(",
            $retry_in,
            ", queue.retry_delay(j.attempts, q.backoff_base, q.backoff_max, j.id)) END,
             finished_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END,
             last_error = ",
            $error,
            ", lease_token = NULL, lease_expires_at = NULL"
        )
    };
}
pub(crate) use failed_attempt_set;

// A failure also pushes its group's next eligible time out (when the queue has group_backoff):
// consecutive failures double the delay, from backoff_base up to backoff_max. Jobs without a
// group_key share no upstream, so the breaker is for named groups only: one failing job must not
// pause an ungrouped queue.
const FAIL: &str = concat!(
    "WITH failed AS (
         UPDATE queue.jobs j SET ",
    failed_attempt_set!("$4", "$3"),
    "      FROM queue.queues q
          WHERE j.id = $1 AND j.lease_token = $2 AND j.state = 'running' AND q.name = j.queue
         RETURNING j.id, j.queue, coalesce(j.group_key, '') AS g, q.group_backoff, q.backoff_base, q.backoff_max
     ), backoff AS (
         INSERT INTO queue.group_state AS b (queue, group_key, consecutive_failures, eligible_at)
         SELECT f.queue, f.g, 1, now() + queue.retry_delay(1, f.backoff_base, f.backoff_max, hashtext(f.g))
           FROM failed f WHERE f.group_backoff AND f.g <> ''
         ON CONFLICT (queue, group_key) DO UPDATE
            SET consecutive_failures = b.consecutive_failures + 1,
                eligible_at = now() + (SELECT queue.retry_delay(b.consecutive_failures + 1, q.backoff_base, q.backoff_max, hashtext(b.group_key))
                                         FROM queue.queues q WHERE q.name = b.queue)
     )
     SELECT id FROM failed"
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

pub(crate) fn complete_jobs(
    client: &mut SpiClient<'_>,
    ids: Vec<Option<i64>>,
    tokens: Vec<Option<Uuid>>,
) -> Result<Vec<i64>> {
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
fn complete_many(
    ids: Option<Vec<Option<i64>>>,
    lease_tokens: Option<Vec<Option<Uuid>>>,
) -> Result<SetOfIterator<'static, i64>> {
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
    Spi::connect_mut(|client| {
        Ok(exec_one::<i64>(client, HEARTBEAT, &[id.into(), token.into(), extend.into()])?.is_some())
    })
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
