//! After a claim (claim.rs): complete / fail / heartbeat / release under a fenced lease.
//!
//! A claim moves jobs from ready to running and stamps them with a fresh lease token (one per
//! claimed batch). Every later call must present that token and finds the job only while it is
//! still running under it: once a lease was re-issued, the old holder can change nothing. The
//! token is the capability: it is shown only to the role that claimed the job. It is not enough
//! alone: when per-queue grants exist, the caller must also hold `consume` on the job's queue
//! (checked in the same statement, which then changes nothing: 42501 naming the queue).

use crate::error::{internal, QueueError, Result};
use crate::heads::first_row;
use crate::spi::exec;
use crate::store;
use crate::validate::{error_text, non_negative_interval, positive_interval, required};
use pgrx::datum::{Interval, TimestampWithTimeZone, Uuid};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// The role whose `consume` grant on the job's queue a call presenting a token must have: the
/// caller, when any per-queue grant exists (the statements skip the check for None).
pub(crate) fn consumer(client: &mut SpiClient<'_>) -> Result<Option<pg_sys::Oid>> {
    Ok(crate::catalog::grants_exist(client)?.then(crate::security::caller))
}

/// 42501 when a statement's refusal column (`column`) names the queue it refused.
fn check_refused(row: &pgrx::spi::SpiHeapTupleData<'_>, column: usize) -> Result<()> {
    match row.get::<String>(column).map_err(internal)? {
        Some(queue) => Err(QueueError::Denied { queue, privilege: "consume" }.into()),
        None => Ok(()),
    }
}

/// Complete `ids` under `tokens` (one token per id, or one for a batch claimed together).
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
    let mut tokens: Vec<Uuid> = tokens.into_iter().flatten().collect();
    match tokens.len() {
        _ if ids.is_empty() => return Ok(Vec::new()),
        1 => tokens.resize(ids.len(), tokens[0]),
        n if n == ids.len() => {}
        n => {
            return Err(QueueError::invalid(format!(
                "lease_tokens has {n} elements for {} ids; give one token per id, or a single token for a whole claimed batch",
                ids.len()
            ))
            .into())
        }
    }
    let consumer = consumer(client)?;
    let mut done = Vec::with_capacity(ids.len());
    {
        let _counted = crate::stats::because(crate::stats::Reason::Complete);
        for row in exec(client, store::COMPLETE, &[ids.clone().into(), tokens.clone().into(), consumer.into()])? {
            check_refused(&row, 2)?;
            done.push(row.get::<i64>(1).map_err(internal)?.expect("id"));
        }
    }
    if done.len() < ids.len() {
        // A complete repeated under the same token (its first reply was lost) is not a stale
        // token: the job is done, and the caller is told so again.
        let completed: std::collections::HashSet<i64> = done.iter().copied().collect();
        let (missing, missing_tokens): (Vec<i64>, Vec<Uuid>) =
            ids.iter().zip(&tokens).filter(|(id, _)| !completed.contains(id)).map(|(id, t)| (*id, *t)).unzip();
        for row in exec(client, store::COMPLETED_BEFORE, &[missing.into(), missing_tokens.into(), consumer.into()])? {
            done.push(row.get::<i64>(1).map_err(internal)?.expect("id"));
        }
    }
    Ok(done)
}

/// Mark a claimed job done. True also when an earlier call completed it under this token (a
/// retried complete); false only when the token does not hold the job (its lease expired and it
/// went back, to pending or to another worker, or it was cancelled).
#[pg_extern(name = "complete", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_complete(id: Option<i64>, lease_token: Option<Uuid>) -> Result<bool> {
    let _acting = crate::security::enter()?;
    let id = required(id, "id")?;
    let token = required(lease_token, "lease_token")?;
    Spi::connect_mut(|client| Ok(!complete_jobs(client, vec![Some(id)], vec![Some(token)])?.is_empty()))
}

/// Mark many claimed jobs done; returns the ids that were. `lease_tokens` holds one token per id,
/// or a single token for a batch claimed together.
#[pg_extern(name = "complete_many", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_complete_many(
    ids: Option<Vec<Option<i64>>>,
    lease_tokens: Option<Vec<Option<Uuid>>>,
) -> Result<SetOfIterator<'static, i64>> {
    let _acting = crate::security::enter()?;
    let ids = required(ids, "ids")?;
    let tokens = required(lease_tokens, "lease_tokens")?;
    let done = Spi::connect_mut(|client| complete_jobs(client, ids, tokens))?;
    Ok(SetOfIterator::new(done))
}

/// Record a failed attempt of `ids` under `tokens` (see src/store/sql/fail.sql); returns the ids
/// that failed. `only_expired` is lease expiry's recheck; `group_backoff` lets the failure count
/// against the job's group; `consumer` must have `consume` on the jobs' queues (see [`consumer`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn fail_jobs(
    client: &mut SpiClient<'_>,
    ids: Vec<i64>,
    tokens: Vec<Uuid>,
    error: Option<&str>,
    retry_in: Option<Interval>,
    only_expired: bool,
    group_backoff: bool,
    consumer: Option<pg_sys::Oid>,
) -> Result<Vec<i64>> {
    let _counted = crate::stats::because(crate::stats::Reason::Fail);
    let rows = exec(
        client,
        store::FAIL,
        &[
            ids.into(),
            tokens.into(),
            error.into(),
            retry_in.into(),
            only_expired.into(),
            group_backoff.into(),
            consumer.into(),
        ],
    )?;
    let mut failed = Vec::new();
    for row in rows {
        check_refused(&row, 7)?;
        failed.push(row.get::<i64>(1).map_err(internal)?.expect("id"));
        crate::heads::ready_at(&crate::heads::keys_in_row(&row, 2)?);
        if let Some(first_retry) = row.get::<TimestampWithTimeZone>(8).map_err(internal)? {
            crate::pool_hints::due_at_commit_ts(first_retry, Some(crate::shmem::pool::Work::Promote));
        }
    }
    Ok(failed)
}

/// Record a failed attempt: retry after exponential backoff with jitter (or after `retry_in`),
/// or mark the job dead once its attempts are used up. False when the token is stale.
#[pg_extern(name = "fail", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_fail(
    id: Option<i64>,
    lease_token: Option<Uuid>,
    error: default!(Option<&str>, NULL),
    retry_in: default!(Option<Interval>, NULL),
) -> Result<bool> {
    let _acting = crate::security::enter()?;
    let id = required(id, "id")?;
    let token = required(lease_token, "lease_token")?;
    let retry_in = retry_in.map(|r| non_negative_interval(r, "retry_in")).transpose()?;
    let error = error.map(error_text);
    Spi::connect_mut(|client| {
        let consumer = consumer(client)?;
        Ok(!fail_jobs(client, vec![id], vec![token], error.as_deref(), retry_in, false, true, consumer)?.is_empty())
    })
}

/// Extend a claimed job's lease by `extend` (default: the queue's lease) from now.
#[pg_extern(name = "heartbeat", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_heartbeat(
    id: Option<i64>,
    lease_token: Option<Uuid>,
    extend: default!(Option<Interval>, NULL),
) -> Result<bool> {
    let _acting = crate::security::enter()?;
    let id = required(id, "id")?;
    let token = required(lease_token, "lease_token")?;
    let extend = extend.map(|e| positive_interval(e, "extend")).transpose()?;
    Spi::connect_mut(|client| {
        let consumer = consumer(client)?;
        let mut extended = false;
        for row in exec(client, store::HEARTBEAT, &[id.into(), token.into(), extend.into(), consumer.into()])? {
            check_refused(&row, 2)?;
            extended = true;
        }
        Ok(extended)
    })
}

/// Give a claimed job back without counting a failure; it is claimable again after `delay`.
#[pg_extern(name = "release", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_release(id: Option<i64>, lease_token: Option<Uuid>, delay: default!(Option<Interval>, "'0'")) -> Result<bool> {
    let _acting = crate::security::enter()?;
    let id = required(id, "id")?;
    let token = required(lease_token, "lease_token")?;
    let delay = non_negative_interval(delay.unwrap_or(Interval::from_micros(0)), "delay")?;
    Spi::connect_mut(|client| {
        let consumer = consumer(client)?;
        let rows = {
            let _counted = crate::stats::because(crate::stats::Reason::Release);
            exec(client, store::RELEASE, &[id.into(), token.into(), delay.into(), consumer.into()])?
        };
        if rows.is_empty() {
            return Ok(false);
        }
        let row = first_row(rows)?;
        check_refused(&row, 7)?;
        crate::heads::ready_at(&crate::heads::keys_in_row(&row, 2)?);
        if delay.as_micros() > 0 {
            let delay = delay.as_micros().clamp(0, i64::MAX as i128) as i64;
            crate::pool_hints::due_at_commit(
                crate::clock::wall_micros().saturating_add(delay),
                Some(crate::shmem::pool::Work::Promote),
            );
        }
        Ok(true)
    })
}
