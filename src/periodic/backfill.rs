//! Paced backfills: touch every row of a big table through the queue, at a rate the database can
//! bear, stoppable at once.
//!
//! A backfill walks the source's integer key from the top down. Each range covers `batch_size`
//! existing rows (found by keyset on the key's index, so gaps in the key do not make near-empty
//! ranges) and becomes one job, `{"backfill": name, "begin_id": a, "end_id": b}`, due one every
//! 1/rate seconds (the rate follows the backfill's on-peak / off-peak schedule). The worker
//! enqueues only the jobs due within `lookahead` from now, and none while `max_outstanding` of its jobs
//! are pending or running. `next_end_id` and `next_due` move in the transaction that enqueues the
//! ranges, so a crash can neither skip nor repeat one.
//!
//! Its jobs carry the group key `backfill:<name>` (or the one given) and their payload names the
//! backfill: pausing parks its pending jobs where claims cannot see them (run_at 'infinity' in
//! queue.scheduled), resuming brings them back at the backfill's pace, cancelling deletes them.
//! The source is read as the role that started the backfill.

use super::object_name;
use super::schedules::check_existing;
use crate::api::produce::{notify_ready, JobOptions};
use crate::api::rates::{parse_days, parse_hours};
use crate::catalog;
use crate::clock;
use crate::datum::{Jsonb, RegClass};
use crate::error::{internal, with_hint, QueueError, Result};
use crate::security::{caller, check_queue, Privilege};
use crate::spi::{exec, exec_one};
use crate::store;
use crate::validate::{at_least, json_object, no_null_elements, positive_interval, queue_name, required};
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::PgSqlErrorCode;

/// Ranges a step enqueues at most (more wait for the next step of the same tick).
pub(super) const MAX_RANGES_PER_STEP: i64 = 500;
/// The source may hold locks: a step waits this long for them (ms); its code is bounded by
/// queue_ext.source_timeout (worker/signals.rs).
pub(super) const SOURCE_LOCK_TIMEOUT_MS: &str = "2000";
const LOCK: &str = "SELECT queue FROM queue.backfill_runs WHERE name = $1 FOR UPDATE";

pub(super) fn unknown(name: &str) -> QueueError {
    QueueError::UndefinedObject(format!("backfill \"{}\" does not exist", name.escape_default()))
}

fn check_rate(rate: Option<f64>, what: &str) -> std::result::Result<(), QueueError> {
    match rate {
        Some(r) if !(r.is_finite() && r > 0.0) => {
            Err(QueueError::invalid(format!("{what} must be a positive number of jobs per second, got {r}")))
        }
        _ => Ok(()),
    }
}

/// The key column to walk: `key_column`, or the table's one-column primary key. It must be an
/// integer (42804) with a btree index leading with it (55000, with the CREATE INDEX to run), and
/// the caller must be allowed to read it (42501).
fn check_source(client: &mut SpiClient<'_>, source: pg_sys::Oid, key_column: Option<&str>) -> Result<String> {
    let rows = exec(client, store::BACKFILL_SOURCE, &[source.into(), key_column.into(), caller().into()])?;
    if rows.is_empty() {
        return Err(QueueError::UndefinedObject(format!("relation with OID {} does not exist", source.to_u32())).into());
    }
    let row = rows.first();
    let table: String = row.get(1).map_err(internal)?.expect("table");
    let kind: String = row.get(2).map_err(internal)?.expect("relkind");
    let column: Option<String> = row.get(3).map_err(internal)?;
    let type_name: Option<String> = row.get(4).map_err(internal)?;
    if !matches!(kind.as_str(), "r" | "p" | "m") {
        return Err(QueueError::invalid(format!("source {table} must be a table or materialized view")).into());
    }
    let Some(column) = column else {
        return Err(match key_column {
            Some(k) => QueueError::UndefinedColumn(format!(
                "column \"{}\" of relation {table} does not exist",
                k.escape_default()
            )),
            None => QueueError::invalid(format!(
                "{table} has no one-column primary key: name the integer key to walk with key_column"
            )),
        }
        .into());
    };
    if !matches!(type_name.as_deref(), Some("smallint" | "integer" | "bigint")) {
        return Err(ErrorReport::new(
            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            format!(
                "column \"{}\" of {table} is of type {}: a backfill walks an integer key (smallint, integer or bigint)",
                column.escape_default(),
                type_name.unwrap_or_default()
            ),
            "queue_ext",
        ));
    }
    if !row.get::<bool>(5).map_err(internal)?.unwrap_or(false) {
        return Err(ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("permission denied to read column \"{}\" of {table}", column.escape_default()),
            "queue_ext",
        ));
    }
    if !row.get::<bool>(6).map_err(internal)?.unwrap_or(false) {
        return Err(with_hint(
            QueueError::NotInPrerequisiteState(format!(
                "{table} has no index leading with \"{}\": a backfill finds each range through it",
                column.escape_default()
            )),
            format!("CREATE INDEX ON {table} ({});", pgrx::spi::quote_identifier(&column)),
        ));
    }
    Ok(column)
}

/// The on-peak / off-peak part of a backfill's pacing, validated.
struct PeakSchedule {
    peak: Option<f64>,
    off_peak: Option<f64>,
    timezone: String,
    days: Option<Vec<i32>>,
    start: Option<i32>,
    end: Option<i32>,
}

impl PeakSchedule {
    fn new(
        peak: Option<f64>,
        off_peak: Option<f64>,
        timezone: Option<&str>,
        days: Option<&str>,
        hours: Option<&str>,
    ) -> std::result::Result<Self, QueueError> {
        check_rate(peak, "peak_per_second")?;
        check_rate(off_peak, "off_peak_per_second")?;
        let timezone = required(timezone, "timezone")?.to_owned();
        let scheduled = peak.is_some() || off_peak.is_some() || days.is_some() || hours.is_some();
        if !scheduled {
            return Ok(PeakSchedule { peak, off_peak, timezone, days: None, start: None, end: None });
        }
        let days = parse_days(days.unwrap_or("mon-fri"))?;
        let (start, end) = parse_hours(hours.unwrap_or("9-17"))?;
        Ok(PeakSchedule { peak, off_peak, timezone, days: Some(days), start: Some(start), end: Some(end) })
    }
}

/// Start backfill `name`: jobs over `source`'s integer key (its primary key, or `key_column`),
/// newest first, `batch_size` rows each, `per_second` jobs a second (or the peak and off-peak
/// rates during and outside `peak_hours` on `peak_days` in `timezone`), enqueued `lookahead` ahead.
/// 42710 while a backfill of that name is not finished.
#[allow(clippy::too_many_arguments)]
pub(crate) fn define_backfill(
    name: Option<&str>,
    queue: Option<&str>,
    source: Option<RegClass>,
    batch_size: Option<i32>,
    per_second: Option<f64>,
    key_column: Option<&str>,
    lookahead: Option<Interval>,
    max_outstanding: Option<i32>,
    payload: Option<Jsonb>,
    priority: Option<i32>,
    group_key: Option<&str>,
    max_attempts: Option<i32>,
    peak_per_second: Option<f64>,
    off_peak_per_second: Option<f64>,
    timezone: Option<&str>,
    peak_days: Option<&str>,
    peak_hours: Option<&str>,
) -> Result<()> {
    // The background worker looks at what this changed once it commits.
    crate::pool_hints::due_now_at_commit(Some(crate::shmem::pool::Work::Backfill));
    let name = object_name(name, "backfill name")?;
    let queue = queue_name(queue)?;
    let source = required(source, "source")?.oid();
    let batch_size = crate::validate::batch_size(required(batch_size, "batch_size")?)?;
    let per_second = required(per_second, "per_second")?;
    check_rate(Some(per_second), "per_second")?;
    let lookahead = positive_interval(required(lookahead, "lookahead")?, "lookahead")?;
    if let Some(m) = max_outstanding {
        at_least(m, 1, "max_outstanding")?;
    }
    let payload = json_object(required(payload, "payload")?, "payload")?;
    let opts = JobOptions::new(None, priority, group_key, max_attempts)?;
    let group_key = opts.group_key.clone().unwrap_or_else(|| format!("backfill:{name}"));
    let peaks = PeakSchedule::new(peak_per_second, off_peak_per_second, timezone, peak_days, peak_hours)?;
    Spi::connect_mut(|client| {
        check_queue(client, queue, Privilege::Admin)?;
        // Postgres itself judges the time zone (22023 when it does not know it).
        exec(client, "SELECT now() AT TIME ZONE $1", &[peaks.timezone.as_str().into()])?;
        let key_column = check_source(client, source, key_column)?;
        check_existing(client, LOCK, name)?;
        let started = exec_one::<bool>(
            client,
            store::BACKFILL_START,
            &[
                name.into(),
                queue.into(),
                source.into(),
                key_column.as_str().into(),
                batch_size.into(),
                per_second.into(),
                peaks.peak.into(),
                peaks.off_peak.into(),
                peaks.timezone.as_str().into(),
                peaks.days.clone().into(),
                peaks.start.into(),
                peaks.end.into(),
                lookahead.into(),
                max_outstanding.into(),
                payload.into(),
                opts.priority.into(),
                group_key.as_str().into(),
                opts.max_attempts.into(),
                caller().into(),
            ],
        )?;
        if started.is_none() {
            return Err(QueueError::DuplicateObject(format!(
                "backfill \"{}\" is still running; pause, cancel or wait for it, or choose another name",
                name.escape_default()
            ))
            .into());
        }
        crate::worker::warn_if_not_served(&format!("backfill \"{}\"", name.escape_default()));
        Ok(())
    })
}

/// The backfill's queue id, group key and state, after checking the caller administers its queue.
fn lookup(client: &mut SpiClient<'_>, name: &str) -> Result<(i32, String, String)> {
    check_existing(client, LOCK, name)?.ok_or_else(|| unknown(name))?;
    details(client, name)
}

/// The queue id, group key and state of backfill `name`, which the caller has locked and checked.
fn details(client: &mut SpiClient<'_>, name: &str) -> Result<(i32, String, String)> {
    let rows = exec(
        client,
        "SELECT q.id, b.group_key, b.state FROM queue.backfill_runs b JOIN queue.queues q ON q.name = b.queue
          WHERE b.name = $1",
        &[name.into()],
    )?;
    if rows.is_empty() {
        return Err(QueueError::NotInPrerequisiteState(format!(
            "the queue of backfill \"{}\" was dropped",
            name.escape_default()
        ))
        .into());
    }
    let row = rows.first();
    Ok((
        row.get(1).map_err(internal)?.expect("queue id"),
        row.get(2).map_err(internal)?.expect("group key"),
        row.get(3).map_err(internal)?.expect("state"),
    ))
}

/// Stop backfill `name` at once: nothing more is enqueued, and its pending jobs cannot be claimed
/// until resume_backfill (running ones finish). False when it was not running.
pub(crate) fn park_backfill(name: Option<&str>) -> Result<bool> {
    let name = object_name(name, "backfill name")?;
    Spi::connect_mut(|client| {
        let (queue_id, group_key, state) = lookup(client, name)?;
        if !matches!(state.as_str(), "running" | "draining") {
            return Ok(false);
        }
        exec(client, store::BACKFILL_PARK, &[queue_id.into(), group_key.as_str().into(), name.into()])?;
        // A paused backfill that had enqueued everything resumes as draining, which the worker
        // finds out again: it needs no state of its own.
        exec(client, "UPDATE queue.backfill_runs SET state = 'paused' WHERE name = $1", &[name.into()])?;
        Ok(true)
    })
}

/// Continue backfill `name` exactly where it stopped: its parked jobs come back first, at its pace
/// from now, then the ranges after them. False when it was not paused.
pub(crate) fn unpark_backfill(name: Option<&str>) -> Result<bool> {
    // The background worker looks at what this changed once it commits.
    crate::pool_hints::due_now_at_commit(Some(crate::shmem::pool::Work::Backfill));
    let name = object_name(name, "backfill name")?;
    Spi::connect_mut(|client| {
        let (queue_id, group_key, state) = lookup(client, name)?;
        if state != "paused" {
            return Ok(false);
        }
        let now = clock::transaction_now();
        let rate = rates_at(client, name, &[now])?[0];
        let spacing = Interval::from_micros((1e6 / rate).round() as i64);
        let rows = exec(
            client,
            store::BACKFILL_UNPARK,
            &[queue_id.into(), group_key.as_str().into(), name.into(), now.into(), spacing.into()],
        )?;
        let row = rows.first();
        let last: Option<TimestampWithTimeZone> = row.get(2).map_err(internal)?;
        let next_due = match last {
            Some(t) => crate::spread::from_unix_micros(crate::spread::to_unix_micros(t)? + spacing.as_micros() as i64)?,
            None => now,
        };
        exec(
            client,
            "UPDATE queue.backfill_runs SET state = 'running', next_due = greatest(next_due, $2) WHERE name = $1",
            &[name.into(), next_due.into()],
        )?;
        notify_queue(client, queue_id)?;
        Ok(true)
    })
}

/// Notify a queue's listeners (at commit) that jobs may be ready.
fn notify_queue(client: &mut SpiClient<'_>, queue_id: i32) -> Result<()> {
    if let Some(queue) = exec_one::<String>(client, "SELECT name FROM queue.queues WHERE id = $1", &[queue_id.into()])?
    {
        if let (Some(info), _) = catalog::queue(client, &queue)? {
            notify_ready(&info);
        }
    }
    Ok(())
}

/// End backfill `name`: nothing more is enqueued, and its pending jobs are deleted (running ones
/// finish). Returns how many jobs were deleted; None when there is no such backfill and
/// `if_exists` (42704 without it). The lock that finds it is the one the cancel holds.
pub(crate) fn end_backfill(name: Option<&str>, if_exists: bool) -> Result<Option<i64>> {
    let name = object_name(name, "backfill name")?;
    Spi::connect_mut(|client| {
        if check_existing(client, LOCK, name)?.is_none() {
            return if if_exists { Ok(None) } else { Err(unknown(name).into()) };
        }
        let (queue_id, group_key, state) = details(client, name)?;
        // Twice: a promotion committing while the first pass ran moved jobs from scheduled (where
        // the pass waited for it, then found them gone) to ready (where its snapshot did not see
        // them yet); the second pass's snapshot does.
        let mut removed = 0;
        for _ in 0..2 {
            removed += exec_one::<i64>(
                client,
                store::BACKFILL_CANCEL,
                &[queue_id.into(), group_key.as_str().into(), name.into()],
            )?
            .unwrap_or(0);
        }
        if state != "done" {
            exec(
                client,
                "UPDATE queue.backfill_runs SET state = 'cancelled', finished_at = now() WHERE name = $1",
                &[name.into()],
            )?;
        }
        Ok(Some(removed))
    })
}

/// Retune backfill `name` while it runs: NULL keeps a setting, `reset` lists peak settings to drop
/// (peak_per_second, off_peak_per_second, peak_schedule, max_outstanding). Jobs already enqueued
/// keep their due times: the change shows within one lookahead.
#[allow(clippy::too_many_arguments)]
pub(crate) fn retune_backfill(
    name: Option<&str>,
    batch_size: Option<i32>,
    per_second: Option<f64>,
    lookahead: Option<Interval>,
    max_outstanding: Option<i32>,
    peak_per_second: Option<f64>,
    off_peak_per_second: Option<f64>,
    timezone: Option<&str>,
    peak_days: Option<&str>,
    peak_hours: Option<&str>,
    reset: Option<Vec<Option<String>>>,
) -> Result<()> {
    // The background worker looks at what this changed once it commits.
    crate::pool_hints::due_now_at_commit(Some(crate::shmem::pool::Work::Backfill));
    let name = object_name(name, "backfill name")?;
    if let Some(b) = batch_size {
        crate::validate::batch_size(b)?;
    }
    check_rate(per_second, "per_second")?;
    check_rate(peak_per_second, "peak_per_second")?;
    check_rate(off_peak_per_second, "off_peak_per_second")?;
    let lookahead = lookahead.map(|w| positive_interval(w, "lookahead")).transpose()?;
    if let Some(m) = max_outstanding {
        at_least(m, 1, "max_outstanding")?;
    }
    let days = peak_days.map(parse_days).transpose()?;
    let hours = peak_hours.map(parse_hours).transpose()?;
    let reset = no_null_elements(reset.unwrap_or_default(), "every element of reset")?;
    for r in &reset {
        if !matches!(r.as_str(), "peak_per_second" | "off_peak_per_second" | "peak_schedule" | "max_outstanding") {
            return Err(QueueError::invalid(format!(
                "reset: unknown setting \"{}\"; use peak_per_second, off_peak_per_second, peak_schedule or max_outstanding",
                r.escape_default()
            ))
            .into());
        }
    }
    let reset_has = |s: &str| reset.iter().any(|r| r == s);
    Spi::connect_mut(|client| {
        lookup(client, name)?;
        if let Some(tz) = timezone {
            exec(client, "SELECT now() AT TIME ZONE $1", &[tz.into()])?;
        }
        // A peak rate, days or hours given to a backfill without a schedule starts one with the
        // defaults (mon-fri, 9-17), as start_backfill does.
        let starts_schedule =
            peak_per_second.is_some() || off_peak_per_second.is_some() || days.is_some() || hours.is_some();
        exec(
            client,
            store::BACKFILL_ALTER,
            &[
                name.into(),
                batch_size.into(),
                per_second.into(),
                lookahead.into(),
                max_outstanding.into(),
                reset_has("max_outstanding").into(),
                peak_per_second.into(),
                reset_has("peak_per_second").into(),
                off_peak_per_second.into(),
                reset_has("off_peak_per_second").into(),
                timezone.into(),
                days.into(),
                hours.map(|h| h.0).into(),
                hours.map(|h| h.1).into(),
                starts_schedule.into(),
                reset_has("peak_schedule").into(),
            ],
        )?;
        Ok(())
    })
}

/// Start backfill `name` (see define_backfill).
#[pg_extern(name = "start_backfill", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn queue_start_backfill(
    name: Option<&str>,
    queue: Option<&str>,
    source: Option<RegClass>,
    batch_size: default!(Option<i32>, 100),
    per_second: default!(Option<f64>, 1.0),
    key_column: default!(Option<&str>, NULL),
    lookahead: default!(Option<Interval>, "'10 seconds'"),
    max_outstanding: default!(Option<i32>, NULL),
    payload: default!(Option<Jsonb>, "'{}'"),
    priority: default!(Option<i32>, 0),
    group_key: default!(Option<&str>, NULL),
    max_attempts: default!(Option<i32>, NULL),
    peak_per_second: default!(Option<f64>, NULL),
    off_peak_per_second: default!(Option<f64>, NULL),
    timezone: default!(Option<&str>, "'UTC'"),
    peak_days: default!(Option<&str>, NULL),
    peak_hours: default!(Option<&str>, NULL),
) -> Result<()> {
    let _acting = crate::security::enter()?;
    define_backfill(
        name,
        queue,
        source,
        batch_size,
        per_second,
        key_column,
        lookahead,
        max_outstanding,
        payload,
        priority,
        group_key,
        max_attempts,
        peak_per_second,
        off_peak_per_second,
        timezone,
        peak_days,
        peak_hours,
    )
}
/// Retune backfill `name` while it runs (see retune_backfill).
#[pg_extern(name = "alter_backfill", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn queue_alter_backfill(
    name: Option<&str>,
    batch_size: default!(Option<i32>, NULL),
    per_second: default!(Option<f64>, NULL),
    lookahead: default!(Option<Interval>, NULL),
    max_outstanding: default!(Option<i32>, NULL),
    peak_per_second: default!(Option<f64>, NULL),
    off_peak_per_second: default!(Option<f64>, NULL),
    timezone: default!(Option<&str>, NULL),
    peak_days: default!(Option<&str>, NULL),
    peak_hours: default!(Option<&str>, NULL),
    reset: default!(Option<Vec<Option<String>>>, NULL),
) -> Result<()> {
    let _acting = crate::security::enter()?;
    retune_backfill(
        name,
        batch_size,
        per_second,
        lookahead,
        max_outstanding,
        peak_per_second,
        off_peak_per_second,
        timezone,
        peak_days,
        peak_hours,
        reset,
    )
}
/// Stop backfill `name` at once (see park_backfill); one that is not running is left as it is.
#[pg_extern(name = "pause_backfill", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_pause_backfill(name: Option<&str>) -> Result<()> {
    let _acting = crate::security::enter()?;
    park_backfill(name).map(|_| ())
}

/// Continue backfill `name` where it stopped (see unpark_backfill); one that is not paused is left
/// as it is.
#[pg_extern(name = "resume_backfill", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_resume_backfill(name: Option<&str>) -> Result<()> {
    let _acting = crate::security::enter()?;
    unpark_backfill(name).map(|_| ())
}

/// End backfill `name` and delete its pending jobs (see end_backfill); 42704 when there is no
/// backfill of that name, unless `if_exists`.
#[pg_extern(name = "cancel_backfill", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_cancel_backfill(name: Option<&str>, if_exists: default!(Option<bool>, false)) -> Result<()> {
    let _acting = crate::security::enter()?;
    let if_exists = required(if_exists, "if_exists")?;
    end_backfill(name, if_exists).map(|_| ())
}

/// The rate (jobs per second) backfill `name` runs at at instant `at`: a dry run of its peak
/// schedule.
#[pg_extern(name = "backfill_rate", stable)]
#[search_path(pg_catalog, pg_temp)]
fn queue_backfill_rate(name: Option<&str>, at: default!(Option<TimestampWithTimeZone>, "now()")) -> Result<f64> {
    let _acting = crate::security::enter()?;
    let name = object_name(name, "backfill name")?;
    let at = crate::validate::finite_timestamp(required(at, "at")?, "at")?;
    Spi::connect_mut(|client| {
        check_existing(client, "SELECT queue FROM queue.backfill_runs WHERE name = $1", name)?
            .ok_or_else(|| unknown(name))?;
        Ok(rates_at(client, name, &[at])?[0])
    })
}

/// The rates of backfill `name` at instants `at`.
pub(super) fn rates_at(client: &mut SpiClient<'_>, name: &str, at: &[TimestampWithTimeZone]) -> Result<Vec<f64>> {
    let rates = crate::spi::exec_column::<f64>(client, store::BACKFILL_RATE, &[name.into(), at.to_vec().into()])?;
    if rates.len() != at.len() {
        return Err(unknown(name).into());
    }
    Ok(rates)
}

pub use super::backfill_step::{active, record_failure, step};
