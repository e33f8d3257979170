//! The 0.2.0 names of functions that 0.3.0 renamed, kept as thin aliases through 0.3.x so that
//! code written against 0.2.0 keeps working after `ALTER EXTENSION queue_ext UPDATE`. Each keeps
//! its 0.2.0 signature and answer (a boolean or a count where the new name returns nothing) and
//! calls what the new name calls. New code uses the names in the README; 0.4.0 drops these.
//! Each Rust function keeps its 0.2.0 name, which is the C symbol 0.2.0's install script binds
//! (the upgrade test installs 0.2.0 with this library first: see legacy.rs).

use crate::datum::{Jsonb, RegClass};
use crate::error::Result;
use crate::periodic::{backfill, refresh, schedules};
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;

/// Deprecated alias of queue.pause_queue.
#[pg_extern(name = "pause", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_pause(name: Option<&str>) -> Result<()> {
    let _acting = crate::security::enter()?;
    crate::api::queues::set_paused(name, true)
}

/// Deprecated alias of queue.resume_queue.
#[pg_extern(name = "resume", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_resume(name: Option<&str>) -> Result<()> {
    let _acting = crate::security::enter()?;
    crate::api::queues::set_paused(name, false)
}

/// Deprecated alias of queue.create_schedule; returns when the schedule fires next.
#[pg_extern(name = "schedule", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn queue_schedule(
    name: Option<&str>,
    cron: Option<&str>,
    queue: Option<&str>,
    payload: default!(Option<Jsonb>, "'{}'"),
    jitter: default!(Option<Interval>, "'0'"),
    timezone: default!(Option<&str>, "'UTC'"),
    priority: default!(Option<i32>, 0),
    group_key: default!(Option<&str>, NULL),
    max_attempts: default!(Option<i32>, NULL),
    dedupe_key: default!(Option<&str>, NULL),
    catch_up: default!(Option<bool>, true),
) -> Result<TimestampWithTimeZone> {
    let _acting = crate::security::enter()?;
    schedules::define_schedule(
        name,
        cron,
        queue,
        payload,
        jitter,
        timezone,
        priority,
        group_key,
        max_attempts,
        dedupe_key,
        catch_up,
    )
}

/// Deprecated alias of queue.drop_schedule(name, if_exists => true); false when there was none.
#[pg_extern(name = "unschedule", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_unschedule(name: Option<&str>) -> Result<bool> {
    let _acting = crate::security::enter()?;
    schedules::remove_schedule(name)
}

/// Deprecated alias of queue.create_spread_refresh.
#[pg_extern(name = "spread_refresh", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn queue_spread_refresh(
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
    refresh::define_spread_refresh(
        name,
        queue,
        source,
        key_column,
        period,
        payload,
        batch,
        priority,
        group_key,
        max_attempts,
    )
}

/// Deprecated alias of queue.start_backfill.
#[pg_extern(name = "backfill_start", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn queue_backfill_start(
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
    backfill::define_backfill(
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

/// Deprecated alias of queue.alter_backfill.
#[pg_extern(name = "backfill_alter", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn queue_backfill_alter(
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
    backfill::retune_backfill(
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

/// Deprecated alias of queue.pause_backfill; false when the backfill was not running.
#[pg_extern(name = "backfill_pause", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_backfill_pause(name: Option<&str>) -> Result<bool> {
    let _acting = crate::security::enter()?;
    backfill::park_backfill(name)
}

/// Deprecated alias of queue.resume_backfill; false when the backfill was not paused.
#[pg_extern(name = "backfill_resume", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_backfill_resume(name: Option<&str>) -> Result<bool> {
    let _acting = crate::security::enter()?;
    backfill::unpark_backfill(name)
}

/// Deprecated alias of queue.cancel_backfill; returns how many pending jobs it deleted.
#[pg_extern(name = "backfill_cancel", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_backfill_cancel(name: Option<&str>) -> Result<i64> {
    let _acting = crate::security::enter()?;
    backfill::end_backfill(name, false).map(|removed| removed.unwrap_or(0))
}
