//! What an enqueue does when a live job already holds its dedupe key (`on_duplicate`).
//!
//! - `skip` (the default, 0.2.0's behaviour): return the live job's id, change nothing.
//! - `raise`: fail with 23505 naming the queue, the key and the live job.
//! - `replace`: a *pending* holder gets the new payload (with `debounce`, it also becomes due at
//!   now() + debounce, moving from ready to scheduled) and its id is returned. A *running* holder
//!   is never touched: a new pending job is enqueued behind it and takes over the key, so that the
//!   latest payload runs after the current run, and a key has at most one pending job (plus the
//!   one running). Should that running job fail and be retried, it retries with its own payload.
//!
//! Concurrency: replacing producers serialise on the holder's row (UPDATE / DELETE by id), so the
//! one that commits last wins, and on the dedupe row when a key passes to a new job (the transfer
//! matches the holder's id, so only one producer can make the successor). A claim that took the
//! holder first makes the statement find it in neither ready nor scheduled; the next round sees
//! it running and enqueues behind it, so a replacement is never lost.

use crate::api::produce::{notify_ready, wake_worker_at_commit, JobOptions};
use crate::catalog::QueueInfo;
use crate::datum::Jsonb;
use crate::error::{internal, QueueError, Result};
use crate::spi::{exec, exec_one};
use crate::store;
use crate::validate::positive_interval;
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::spi::SpiClient;

/// Rounds before giving up: a round repeats only when the holder moved (claimed, promoted,
/// finished) while it was being looked at.
const ROUNDS: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum OnDuplicate {
    Skip,
    Raise,
    /// With a debounce, the replaced (or new) job is due at now() + debounce at the earliest.
    Replace(Option<Interval>),
}

impl OnDuplicate {
    /// `on_duplicate` and `debounce` as enqueue takes them.
    pub(crate) fn parse(on_duplicate: Option<&str>, debounce: Option<Interval>) -> Result<Self> {
        let mode = match crate::validate::required(on_duplicate, "on_duplicate")? {
            "skip" => OnDuplicate::Skip,
            "raise" => OnDuplicate::Raise,
            "replace" => OnDuplicate::Replace(debounce.map(|d| positive_interval(d, "debounce")).transpose()?),
            other => {
                return Err(QueueError::invalid(format!(
                    "on_duplicate must be 'skip', 'replace' or 'raise', got '{}'",
                    other.escape_default()
                ))
                .into())
            }
        };
        if debounce.is_some() && !matches!(mode, OnDuplicate::Replace(_)) {
            return Err(QueueError::invalid("debounce needs on_duplicate => 'replace'").into());
        }
        Ok(mode)
    }

    /// With a debounce, the job is due no earlier than now() + debounce.
    pub(crate) fn debounced(&self, client: &mut SpiClient<'_>, opts: &mut JobOptions) -> Result<()> {
        if let OnDuplicate::Replace(Some(d)) = self {
            let at = exec_one::<TimestampWithTimeZone>(
                client,
                "SELECT greatest(now() + $1, $2)",
                &[(*d).into(), opts.run_at.into()],
            )?;
            opts.run_at = at;
        }
        Ok(())
    }
}

/// Enqueue with dedupe key `key`: `insert(client, Some(id))` adds the job under the id the key was
/// taken with. Returns the id of the job that holds the key afterwards.
pub(crate) fn enqueue_keyed(
    client: &mut SpiClient<'_>,
    info: &QueueInfo,
    payload: Jsonb,
    opts: &JobOptions,
    key: &str,
    mode: OnDuplicate,
    insert: &dyn Fn(&mut SpiClient<'_>, Option<i64>) -> Result<i64>,
) -> Result<i64> {
    let rounds = if matches!(mode, OnDuplicate::Replace(_)) { ROUNDS } else { 3 };
    for _ in 0..rounds {
        if let Some(id) = exec_one::<i64>(client, store::TAKE_DEDUPE_KEY, &[info.id.into(), key.into()])? {
            return insert(client, Some(id));
        }
        // The key was freed between the two statements: take it in the next round.
        let Some(holder) = exec_one::<i64>(client, store::DEDUPE_HOLDER, &[info.id.into(), key.into()])? else {
            continue;
        };
        match mode {
            OnDuplicate::Skip => return Ok(holder),
            OnDuplicate::Raise => {
                return Err(QueueError::DedupeConflict(format!(
                    "queue \"{}\" already has live job {holder} with dedupe_key \"{}\"",
                    info.name,
                    key.escape_default()
                ))
                .into())
            }
            OnDuplicate::Replace(debounce) => {
                if let Some(id) = replace(client, info, holder, payload, opts, key, debounce.is_some())? {
                    return Ok(id);
                }
            }
        }
    }
    Err(QueueError::DedupeConflict(format!(
        "could not enqueue with dedupe_key \"{}\": jobs holding that key kept finishing and reappearing",
        key.escape_default()
    ))
    .into())
}

/// Replace pending job `holder`, or enqueue behind it when it is running. None when it was found
/// in neither state (it moved meanwhile): the caller tries again.
fn replace(
    client: &mut SpiClient<'_>,
    info: &QueueInfo,
    holder: i64,
    payload: Jsonb,
    opts: &JobOptions,
    key: &str,
    debounced: bool,
) -> Result<Option<i64>> {
    let run_at = debounced.then(|| opts.run_at.expect("debounced jobs have a run_at"));
    let rows = exec(client, store::DEDUPE_REPLACE, &[holder.into(), info.id.into(), payload.into(), run_at.into()])?;
    let row = crate::heads::first_row(rows)?;
    let found: Option<String> = row.get(1).map_err(internal)?;
    match found.as_deref() {
        Some("ready") => {
            // Claims skipped the row while this held it, and may have moved their start past it:
            // it is there again at commit, and again at abort.
            if let (Some(priority), Some(run_at)) =
                (row.get::<i32>(2).map_err(internal)?, row.get(3).map_err(internal)?)
            {
                crate::heads::ready_from(info.id, crate::heads::key(priority, run_at, holder));
            }
            crate::heads::holding(info.id);
            Ok(Some(holder))
        }
        Some("scheduled") => {
            if let Some(at) = run_at {
                // It may have left ready: a rollback brings it back where claims moved past.
                crate::heads::holding(info.id);
                wake_worker_at_commit(at);
            }
            Ok(Some(holder))
        }
        Some("running") => succeed(client, info, holder, payload, opts, key),
        _ => Ok(None),
    }
}

/// A new pending job takes key `key` over from running job `holder`. None when `holder` no longer
/// holds it (it finished, or another producer got there first).
fn succeed(
    client: &mut SpiClient<'_>,
    info: &QueueInfo,
    holder: i64,
    payload: Jsonb,
    opts: &JobOptions,
    key: &str,
) -> Result<Option<i64>> {
    let due = opts.due_now();
    let mut args = opts.args(info, payload.into());
    args.extend([holder.into(), key.into()]);
    let Some(id) = exec_one::<i64>(client, store::DEDUPE_SUCCEED, &args)? else { return Ok(None) };
    if due {
        if opts.group_key.is_none() {
            crate::heads::ready_from(info.id, crate::heads::key(opts.priority, opts.run_at(), id));
        }
        notify_ready(info);
    } else {
        wake_worker_at_commit(opts.run_at());
    }
    Ok(Some(id))
}
