//! Spread refresh: every row of a source table gets a job once per period, at its key's slot
//! (`queue.next_slot(key, period)`), for as long as the refresh exists.
//!
//! Slots are positions in the period: a key's is `queue.slot_fraction(key)`. The worker keeps
//! `enqueued_until`, the instant before which every slot has been enqueued, and each step takes the
//! next window [enqueued_until, b) with b at most a tick ahead of now. The window is a range of
//! fractions (two when it wraps at a period boundary), read from the source by its expression
//! index on `queue.slot_fraction((key)::text)`: a step costs what is due in it, not the table's
//! size. Adjacent windows share their boundary fraction, so each key falls in exactly one of them
//! per period; a window longer than the period (the worker was away) is cut to the last period, so
//! catching up enqueues each key once. A key's job carries the dedupe key
//! 'refresh:<name>:<key>': while the previous one is pending or running, none is added.
//!
//! The source is read with the rights of the refresh's owner (security.rs' as_role), under
//! a lock timeout and queue_ext.source_timeout, so that neither its code nor its locks hold the worker.

use super::schedules::check_existing;
use super::{object_name, owner_may_produce, owner_refused};
use crate::api::produce::{notify_ready, JobOptions};
use crate::catalog;
use crate::datum::{Jsonb, RegClass};
use crate::error::{internal, with_hint, QueueError, Result};
use crate::security::{as_role, caller, check_queue, Privilege};
use crate::spi::exec;
use crate::spread::{from_unix_micros, period_micros, to_unix_micros};
use crate::store;
use crate::validate::{json_object, queue_name, required};
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::PgSqlErrorCode;

/// The shortest period a refresh may have.
const MIN_PERIOD_US: i64 = 1_000_000;
/// Dedupe keys are indexed: a key longer than this cannot have one, and is skipped.
const MAX_REFRESH_KEY_LEN: usize = 2000;
/// The source may hold locks: a step waits this long for them (milliseconds). Its code is bounded by
/// queue_ext.source_timeout (worker/signals.rs): statement_timeout is never armed in a worker.
const SOURCE_LOCK_TIMEOUT_MS: &str = "2000";

const LOCK: &str = "SELECT queue FROM queue.refreshes WHERE name = $1 FOR UPDATE";

fn unknown(name: &str) -> QueueError {
    QueueError::UndefinedObject(format!("spread refresh \"{}\" does not exist", name.escape_default()))
}

/// The expression a refresh's source must have an index on (`column` quoted).
fn index_expression(column: &str) -> String {
    format!("queue.slot_fraction(({})::text)", pgrx::spi::quote_identifier(column))
}

/// Check the source and key column, and that the caller may read them: 42703 for an unknown
/// column, 42501 without SELECT, 55000 (with the CREATE INDEX to run) without the index.
fn check_source(client: &mut SpiClient<'_>, source: pg_sys::Oid, column: &str) -> Result<()> {
    let rows = exec(
        client,
        "SELECT format('%I.%I', n.nspname, c.relname), c.relkind::text,
                EXISTS (SELECT FROM pg_catalog.pg_attribute a
                         WHERE a.attrelid = c.oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped),
                pg_catalog.has_table_privilege($3, c.oid, 'SELECT')
                    OR (EXISTS (SELECT FROM pg_catalog.pg_attribute a
                                 WHERE a.attrelid = c.oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped)
                        AND pg_catalog.has_column_privilege($3, c.oid, $2, 'SELECT')),
                EXISTS (SELECT FROM pg_catalog.pg_index i
                         WHERE i.indrelid = c.oid AND i.indisvalid AND i.indisready AND i.indpred IS NULL
                           AND i.indkey[0] = 0
                           AND pg_catalog.pg_get_indexdef(i.indexrelid, 1, false)
                               IN (format('queue.slot_fraction(%I)', $2), format('queue.slot_fraction((%I)::text)', $2)))
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.oid = $1",
        &[source.into(), column.into(), caller().into()],
    )?;
    if rows.is_empty() {
        return Err(QueueError::UndefinedObject(format!("relation with OID {} does not exist", source.to_u32())).into());
    }
    let row = rows.first();
    let table: String = row.get(1).map_err(internal)?.expect("name");
    let kind: String = row.get(2).map_err(internal)?.expect("relkind");
    if !matches!(kind.as_str(), "r" | "p" | "m") {
        return Err(QueueError::invalid(format!(
            "source {table} must be a table or materialized view: its key's slot needs an index"
        ))
        .into());
    }
    if !row.get::<bool>(3).map_err(internal)?.unwrap_or(false) {
        return Err(QueueError::UndefinedColumn(format!(
            "column \"{}\" of relation {table} does not exist",
            column.escape_default()
        ))
        .into());
    }
    if !row.get::<bool>(4).map_err(internal)?.unwrap_or(false) {
        return Err(ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("permission denied to read column \"{}\" of {table}", column.escape_default()),
            "queue_ext",
        ));
    }
    if !row.get::<bool>(5).map_err(internal)?.unwrap_or(false) {
        return Err(with_hint(
            QueueError::NotInPrerequisiteState(format!(
                "{table} has no index on the slot fraction of \"{}\": a spread refresh reads the keys due in each tick through it",
                column.escape_default()
            )),
            format!("CREATE INDEX ON {table} ({});", index_expression(column)),
        ));
    }
    Ok(())
}

/// Create or replace spread refresh `name`: every row of `source` gets a job in `queue` once per
/// `period` at queue.next_slot(key, period), where key is `key_column` as text. Each job's payload
/// is `payload` with "refresh" (the name) and "key" added, or with `batch`, "keys": up to `batch`
/// keys due in the same tick. Replacing keeps where the refresh got to (a new period keeps every
/// key's phase) unless the source or key changes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn define_spread_refresh(
    name: Option<&str>,
    queue: Option<&str>,
    source: Option<RegClass>,
    key_column: Option<&str>,
    period: Option<Interval>,
    payload: Option<Jsonb>,
    batch: Option<i32>,
    priority: Option<i32>,
    group_key: Option<&str>,
    max_attempts: Option<i32>,
) -> Result<()> {
    // The background worker looks at what this changed once it commits.
    crate::pool_hints::due_now_at_commit(Some(crate::shmem::pool::Work::Refresh));
    let name = object_name(name, "spread refresh name")?;
    let queue = queue_name(queue)?;
    let source = required(source, "source")?.oid();
    let key_column = required(key_column, "key_column")?;
    let period = required(period, "period")?;
    if period_micros(period, "period")? < MIN_PERIOD_US {
        return Err(QueueError::invalid(format!("period must be at least 1 second, got {period}")).into());
    }
    let payload = json_object(required(payload, "payload")?, "payload")?;
    if let Some(b) = batch {
        crate::validate::batch_size(b)?;
    }
    let opts = JobOptions::new(None, priority, group_key, max_attempts)?;
    Spi::connect_mut(|client| {
        check_queue(client, queue, Privilege::Admin)?;
        check_source(client, source, key_column)?;
        check_existing(client, LOCK, name)?;
        exec(
            client,
            store::REFRESH_UPSERT,
            &[
                name.into(),
                queue.into(),
                source.into(),
                key_column.into(),
                period.into(),
                payload.into(),
                batch.into(),
                opts.priority.into(),
                opts.group_key.as_deref().into(),
                opts.max_attempts.into(),
                caller().into(),
            ],
        )?;
        crate::worker::warn_if_not_served(&format!("spread refresh \"{}\"", name.escape_default()));
        Ok(())
    })
}

/// Create or replace spread refresh `name` (see define_spread_refresh).
#[pg_extern(name = "create_spread_refresh", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn queue_create_spread_refresh(
    name: Option<&str>,
    queue: Option<&str>,
    source: Option<RegClass>,
    key_column: Option<&str>,
    period: Option<Interval>,
    payload: default!(Option<Jsonb>, "'{}'"),
    batch: default!(Option<i32>, NULL),
    priority: default!(Option<i32>, 0),
    group_key: default!(Option<&str>, NULL),
    max_attempts: default!(Option<i32>, NULL),
) -> Result<()> {
    let _acting = crate::security::enter()?;
    define_spread_refresh(name, queue, source, key_column, period, payload, batch, priority, group_key, max_attempts)
}
/// Remove spread refresh `name` (42704 when there is none, unless `if_exists`). Jobs it enqueued
/// stay.
#[pg_extern(name = "drop_spread_refresh", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_drop_spread_refresh(name: Option<&str>, if_exists: default!(Option<bool>, false)) -> Result<()> {
    let _acting = crate::security::enter()?;
    let name = object_name(name, "spread refresh name")?;
    let if_exists = required(if_exists, "if_exists")?;
    Spi::connect_mut(|client| {
        if check_existing(client, LOCK, name)?.is_none() {
            return if if_exists { Ok(()) } else { Err(unknown(name).into()) };
        }
        exec(client, "DELETE FROM queue.refreshes WHERE name = $1", &[name.into()])?;
        Ok(())
    })
}

/// Stop spread refresh `name` until resume_spread_refresh (a paused one stays paused).
#[pg_extern(name = "pause_spread_refresh", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_pause_spread_refresh(name: Option<&str>) -> Result<()> {
    let _acting = crate::security::enter()?;
    let name = object_name(name, "spread refresh name")?;
    Spi::connect_mut(|client| {
        check_existing(client, LOCK, name)?.ok_or_else(|| unknown(name))?;
        exec(client, "UPDATE queue.refreshes SET paused = true WHERE name = $1 AND NOT paused", &[name.into()])?;
        Ok(())
    })
}

/// Resume spread refresh `name` from now: keys whose slots passed while it was paused wait for
/// their next slot (a resume never enqueues the whole table at once). One that is not paused is
/// left as it is.
#[pg_extern(name = "resume_spread_refresh", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_resume_spread_refresh(name: Option<&str>) -> Result<()> {
    // The background worker looks at what this changed once it commits.
    crate::pool_hints::due_now_at_commit(Some(crate::shmem::pool::Work::Refresh));
    let _acting = crate::security::enter()?;
    let name = object_name(name, "spread refresh name")?;
    Spi::connect_mut(|client| {
        check_existing(client, LOCK, name)?.ok_or_else(|| unknown(name))?;
        exec(
            client,
            "UPDATE queue.refreshes SET paused = false, enqueued_until = greatest(enqueued_until, now())
              WHERE name = $1 AND paused",
            &[name.into()],
        )?;
        Ok(())
    })
}

/// A refresh as a step reads it (refresh_due.sql).
struct Refresh {
    name: String,
    queue: String,
    key_column: String,
    period_us: i64,
    payload: Jsonb,
    batch: Option<i32>,
    priority: i32,
    group_key: Option<String>,
    max_attempts: Option<i32>,
    enqueued_until_us: i64,
    owner: pg_sys::Oid,
    /// The planner's row count of the source (negative when never analyzed).
    rows: f64,
    /// The source's qualified, quoted name; None when it was dropped.
    table: Option<String>,
    this_period: i64,
    last_period: Option<i64>,
}

/// What a step did.
#[derive(Default, Debug)]
pub struct Stepped {
    pub jobs: i64,
    /// Whether the refresh has slots left before the step's target (the step's window was cut).
    pub behind: bool,
}

/// The refreshes that have slots before `target`, furthest behind first, at most `limit`,
/// leaving out `held` (those whose last step failed a moment ago).
pub fn behind(
    client: &mut SpiClient<'_>,
    target: TimestampWithTimeZone,
    limit: i64,
    held: Vec<String>,
) -> Result<Vec<String>> {
    crate::spi::exec_column::<String>(
        client,
        "SELECT name FROM queue.refreshes
          WHERE NOT paused AND enqueued_until < $1 AND name <> ALL ($3::text[])
            AND coalesce(last_error_at, '-infinity') < now() - interval '10 seconds'
          ORDER BY enqueued_until LIMIT $2",
        &[target.into(), limit.into(), held.into()],
    )
}

fn read(client: &mut SpiClient<'_>, name: &str, target: TimestampWithTimeZone) -> Result<Option<Refresh>> {
    let rows = exec(client, store::REFRESH_DUE, &[name.into(), target.into()])?;
    if rows.is_empty() {
        return Ok(None);
    }
    let row = rows.first();
    let period: Interval = row.get(5).map_err(internal)?.expect("period");
    let until: TimestampWithTimeZone = row.get(11).map_err(internal)?.expect("enqueued_until");
    Ok(Some(Refresh {
        name: row.get(1).map_err(internal)?.expect("name"),
        queue: row.get(2).map_err(internal)?.expect("queue"),
        key_column: row.get(4).map_err(internal)?.expect("key_column"),
        period_us: period_micros(period, "period")?,
        payload: row.get(6).map_err(internal)?.expect("payload"),
        batch: row.get(7).map_err(internal)?,
        priority: row.get(8).map_err(internal)?.expect("priority"),
        group_key: row.get(9).map_err(internal)?,
        max_attempts: row.get(10).map_err(internal)?,
        enqueued_until_us: to_unix_micros(until)?,
        owner: row.get(12).map_err(internal)?.expect("owner"),
        rows: row.get::<f64>(13).map_err(internal)?.unwrap_or(-1.0),
        table: row.get(14).map_err(internal)?,
        this_period: row.get(15).map_err(internal)?.unwrap_or(0),
        last_period: row.get(16).map_err(internal)?,
    }))
}

/// The fraction of the period at which instant `t` (Unix microseconds) sits: computed from the
/// integer instant alone, so a window's end and the next one's start are the same fraction.
fn fraction_at(t: i64, period_us: i64) -> f64 {
    t.rem_euclid(period_us) as f64 / period_us as f64
}

/// A key due in a window, and its slot.
struct DueKey {
    key: String,
    slot_us: i64,
}

/// The keys of `r.table` whose fraction is in [from, to), at most `limit`, read as the owner.
/// Their slots are counted from `base_us`, the start of the period the range lies in.
fn read_keys(
    client: &mut SpiClient<'_>,
    r: &Refresh,
    table: &str,
    (from, to): (f64, f64),
    base_us: i64,
    limit: i64,
) -> Result<Vec<DueKey>> {
    let expression = index_expression(&r.key_column);
    let column = pgrx::spi::quote_identifier(&r.key_column);
    // Identifiers are quoted; values are bound. The comparison operators are pg_catalog's.
    let sql = format!(
        "SELECT ({column})::text, {expression} FROM {table}
          WHERE {expression} OPERATOR(pg_catalog.>=) $1 AND {expression} OPERATOR(pg_catalog.<) $2
          LIMIT $3"
    );
    // Its code runs: bounded by queue_ext.source_timeout, and SIGTERM ends it (worker/signals.rs).
    let _bounded = crate::worker::user_code(|| format!("the source of spread refresh \"{}\"", r.name));
    let _owner = as_role(r.owner);
    let mut keys = Vec::new();
    for row in client.update(&sql, None, &[from.into(), to.into(), limit.into()]).map_err(internal)? {
        let Some(key) = row.get::<String>(1).map_err(internal)? else { continue };
        let fraction = row.get::<f64>(2).map_err(internal)?.unwrap_or(0.0);
        let offset = ((fraction * r.period_us as f64) as i64).min(r.period_us - 1);
        keys.push(DueKey { key, slot_us: base_us + offset });
    }
    Ok(keys)
}

/// One step of refresh `name`, in the caller's transaction: enqueue the keys of its next window,
/// at most about `max_keys` of them, and move it on. None when it has nothing before `target`
/// (or another step holds it).
pub fn step(
    client: &mut SpiClient<'_>,
    name: &str,
    target: TimestampWithTimeZone,
    max_keys: i64,
) -> Result<Option<Stepped>> {
    let Some(r) = read(client, name, target)? else { return Ok(None) };
    let record_error = |client: &mut SpiClient<'_>, error: String| -> Result<Option<Stepped>> {
        record_failure(client, &r.name, &error)?;
        Ok(Some(Stepped::default()))
    };
    let Some(table) = r.table.clone() else {
        return record_error(client, "its source table was dropped".into());
    };
    if let Some(refused) = owner_refused(&r.queue, owner_may_produce(client, r.owner, &r.queue)?) {
        return record_error(client, refused);
    }
    let (info, _) = catalog::queue(client, &r.queue)?;
    let Some(info) = info else { return record_error(client, format!("queue \"{}\" does not exist", r.queue)) };

    let period = r.period_us;
    let target_us = to_unix_micros(target)?;
    // A window longer than a period (the worker was away): every key once, in the last period.
    let start = r.enqueued_until_us.max(target_us - period);
    // About max_keys per step by the planner's row count; a tick's worth when it has none.
    let mut span = if r.rows > 0.0 {
        ((period as f64 * max_keys as f64 / r.rows) as i64).clamp(1, period)
    } else {
        crate::guc::tick_micros().clamp(1, period)
    };
    exec(client, "SELECT pg_catalog.set_config('lock_timeout', $1, true)", &[SOURCE_LOCK_TIMEOUT_MS.into()])?;
    // Read the window's keys; a window holding far more than the estimate is cut and read again.
    let (end, crossed, old_keys, new_keys) = loop {
        let end = (start + span).min(target_us);
        let period_start = start.div_euclid(period) * period;
        let period_end = period_start + period;
        let limit = max_keys * 4;
        let from = fraction_at(start, period);
        let (old, new) = if end <= period_end {
            let to = if end == period_end { 2.0 } else { fraction_at(end, period) };
            (read_keys(client, &r, &table, (from, to), period_start, limit)?, Vec::new())
        } else {
            let old = read_keys(client, &r, &table, (from, 2.0), period_start, limit)?;
            let new = read_keys(client, &r, &table, (0.0, fraction_at(end, period)), period_end, limit)?;
            (old, new)
        };
        if (old.len() as i64) < limit && (new.len() as i64) < limit || span == 1 {
            break (end, end >= period_end, old, new);
        }
        span = (span / 4).max(1);
    };

    let enqueue = |client: &mut SpiClient<'_>, keys: Vec<DueKey>| -> Result<(i64, i64)> {
        if keys.is_empty() {
            return Ok((0, 0));
        }
        let mut keys = keys;
        keys.sort_by(|a, b| a.slot_us.cmp(&b.slot_us).then_with(|| a.key.cmp(&b.key)));
        keys.dedup_by(|a, b| a.key == b.key);
        let mut too_long = 0;
        if r.batch.is_none() {
            let before = keys.len();
            keys.retain(|k| k.key.len() <= MAX_REFRESH_KEY_LEN);
            too_long = (before - keys.len()) as i64;
        }
        let batches: Option<Vec<i32>> = r.batch.map(|b| (0..keys.len()).map(|i| (i / b as usize) as i32).collect());
        let slots = keys.iter().map(|k| from_unix_micros(k.slot_us)).collect::<Result<Vec<_>>>()?;
        let names: Vec<String> = keys.into_iter().map(|k| k.key).collect();
        let rows = exec(
            client,
            store::REFRESH_ENQUEUE,
            &[
                info.id.into(),
                r.name.as_str().into(),
                r.payload.into(),
                names.into(),
                slots.into(),
                batches.into(),
                r.priority.into(),
                r.group_key.as_deref().unwrap_or("").into(),
                r.max_attempts.unwrap_or(info.max_attempts).into(),
            ],
        )?;
        let row = crate::heads::first_row(rows)?;
        let ready = row.get::<i64>(1).map_err(internal)?.unwrap_or(0);
        let scheduled = row.get::<i64>(2).map_err(internal)?.unwrap_or(0);
        let skipped = row.get::<i64>(3).map_err(internal)?.unwrap_or(0);
        if ready > 0 {
            if r.group_key.is_none() {
                let run_at = row.get::<TimestampWithTimeZone>(4).map_err(internal)?.expect("first run_at");
                let id = row.get::<i64>(5).map_err(internal)?.expect("first id");
                crate::heads::ready_from(info.id, crate::heads::key(r.priority, run_at, id));
            }
            notify_ready(&info);
        }
        Ok((ready + scheduled, skipped + too_long))
    };
    let (old_jobs, old_skipped) = enqueue(client, old_keys)?;
    let (new_jobs, new_skipped) = enqueue(client, new_keys)?;
    // Count jobs per period: a step that starts in a later period than the last one ended in
    // (the worker was away) or that crosses a boundary begins a new count.
    let (mut this, mut last) = (r.this_period, r.last_period);
    if start.div_euclid(period) > r.enqueued_until_us.div_euclid(period) {
        (last, this) = (Some(this), 0);
    }
    this += old_jobs;
    if crossed {
        (last, this) = (Some(this), new_jobs);
    }
    exec(
        client,
        store::REFRESH_STEPPED,
        &[
            r.name.as_str().into(),
            from_unix_micros(end)?.into(),
            (old_jobs + new_jobs).into(),
            (old_skipped + new_skipped).into(),
            this.into(),
            last.into(),
        ],
    )?;
    Ok(Some(Stepped { jobs: old_jobs + new_jobs, behind: end < target_us }))
}

/// A step of refresh `name` failed (`error`): record it, leaving where the refresh got to as it
/// was (the next tick tries again).
pub fn record_failure(client: &mut SpiClient<'_>, name: &str, error: &str) -> Result<()> {
    exec(
        client,
        "UPDATE queue.refreshes SET last_error = $2, last_error_at = now(), last_step_at = now() WHERE name = $1",
        &[name.into(), crate::validate::error_text(error).into()],
    )?;
    Ok(())
}
