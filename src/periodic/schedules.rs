//! Cron schedules: `queue.create_schedule` and friends, and the worker's step that fires them.
//!
//! A schedule waits for `next_fire_at`, its next nominal fire time, and fires at `next_run_at`,
//! that time plus its jitter offset `queue.slot_offset(name, jitter)`. Firing locks the row, enqueues
//! the job and moves `next_fire_at` past now in one transaction: a crash before the commit loses
//! both (the fire happens again after the restart), a commit keeps both, and a second worker
//! skips the locked row, so each fire time is enqueued once. Fire times that passed while nothing
//! fired (the server was down) fire once (catch_up) or are skipped, and are counted as misses.

use super::cron::Timing;
use super::{fixed_micros, from_utc, object_name, owner_is_admin, owner_refused, to_utc};
use crate::api::produce::{insert_into, JobOptions};
use crate::catalog;
use crate::clock;
use crate::datum::Jsonb;
use crate::error::{internal, QueueError, Result};
use crate::security::{caller, check_queue, Privilege};
use crate::spi::{exec, exec_one};
use crate::store;
use crate::validate::{json_object, key, queue_name, required};
use chrono::Duration;
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// Without catch_up, a fire time more than this late is skipped (counted as a miss).
pub const GRACE_SECONDS: i64 = 60;

fn unknown(name: &str) -> QueueError {
    QueueError::UndefinedObject(format!("schedule \"{}\" does not exist", name.escape_default()))
}

/// The jitter offset of schedule `name`: queue.slot_offset(name, jitter).
fn offset(name: &str, jitter: Interval) -> std::result::Result<Duration, QueueError> {
    let jitter_us = fixed_micros(jitter, "jitter")?;
    Ok(Duration::microseconds(if jitter_us == 0 { 0 } else { crate::spread::offset_micros(name, jitter_us) }))
}

/// Lock the definition called `name` (`lock` selects its queue FOR UPDATE) and check that the
/// caller may administer the queue it writes to: 42501 otherwise. None when there is none.
pub(super) fn check_existing(client: &mut SpiClient<'_>, lock: &'static str, name: &str) -> Result<Option<String>> {
    let queue = exec_one::<String>(client, lock, &[name.into()])?;
    if let Some(queue) = &queue {
        if crate::security::may(client, queue, Privilege::Admin)? == Some(false) {
            return Err(QueueError::Denied { queue: queue.clone(), privilege: Privilege::Admin.as_str() }.into());
        }
    }
    Ok(queue)
}

const LOCK: &str = "SELECT queue FROM queue.schedules WHERE name = $1 FOR UPDATE";

/// Create or replace schedule `name`: a job with `payload` into `queue` at every fire time of
/// `cron` in `timezone`, offset by queue.slot_offset(name, jitter). Returns when it fires next.
/// Replacing keeps the schedule's counters, its paused state, and its next fire time if the
/// pattern and time zone are unchanged.
#[allow(clippy::too_many_arguments)]
pub(crate) fn define_schedule(
    name: Option<&str>,
    cron: Option<&str>,
    queue: Option<&str>,
    payload: Option<Jsonb>,
    jitter: Option<Interval>,
    timezone: Option<&str>,
    priority: Option<i32>,
    group_key: Option<&str>,
    max_attempts: Option<i32>,
    dedupe_key: Option<&str>,
    catch_up: Option<bool>,
) -> Result<TimestampWithTimeZone> {
    // The background worker looks at what this changed once it commits.
    crate::pool_hints::due_now_at_commit(Some(crate::shmem::pool::Work::Cron));
    let name = object_name(name, "schedule name")?;
    let cron = required(cron, "cron")?;
    let timezone = required(timezone, "timezone")?;
    let timing = Timing::parse(cron, timezone)?;
    let queue = queue_name(queue)?;
    let payload = json_object(required(payload, "payload")?, "payload")?;
    let jitter = required(jitter, "jitter")?;
    let offset = offset(name, jitter)?;
    let opts = JobOptions::new(None, priority, group_key, max_attempts)?;
    let dedupe_key = key(dedupe_key, "dedupe_key")?;
    let catch_up = required(catch_up, "catch_up")?;
    Spi::connect_mut(|client| {
        check_queue(client, queue, Privilege::Admin)?;
        check_existing(client, LOCK, name)?;
        let kept = exec_one::<TimestampWithTimeZone>(
            client,
            "SELECT next_fire_at FROM queue.schedules WHERE name = $1 AND cron = $2 AND timezone = $3",
            &[name.into(), cron.into(), timezone.into()],
        )?;
        let next_fire = match kept {
            Some(t) => t,
            None => {
                let now = to_utc(clock::transaction_now())?;
                from_utc(timing.next_after(now).ok_or_else(|| QueueError::invalid("the schedule never fires again"))?)?
            }
        };
        let next_run = from_utc(to_utc(next_fire)? + offset)?;
        exec(
            client,
            store::SCHEDULE_UPSERT,
            &[
                name.into(),
                cron.into(),
                timezone.into(),
                queue.into(),
                payload.into(),
                opts.priority.into(),
                opts.group_key.as_deref().into(),
                opts.max_attempts.into(),
                dedupe_key.as_deref().into(),
                jitter.into(),
                catch_up.into(),
                next_fire.into(),
                next_run.into(),
                caller().into(),
            ],
        )?;
        crate::worker::warn_if_not_served(&format!("schedule \"{}\"", name.escape_default()));
        Ok(next_run)
    })
}

/// Create or replace schedule `name`; queue.schedules shows when it fires next.
#[pg_extern(name = "create_schedule", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn queue_create_schedule(
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
) -> Result<()> {
    let _acting = crate::security::enter()?;
    define_schedule(
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
    .map(|_| ())
}
/// Remove schedule `name`; false when there is none (the 0.2.0 `unschedule`'s answer). Jobs it
/// enqueued stay.
pub(crate) fn remove_schedule(name: Option<&str>) -> Result<bool> {
    let name = object_name(name, "schedule name")?;
    Spi::connect_mut(|client| {
        if check_existing(client, LOCK, name)?.is_none() {
            return Ok(false);
        }
        exec(client, "DELETE FROM queue.schedules WHERE name = $1", &[name.into()])?;
        Ok(true)
    })
}

/// Remove schedule `name` (42704 when there is none, unless `if_exists`). Jobs it enqueued stay.
#[pg_extern(name = "drop_schedule", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_drop_schedule(name: Option<&str>, if_exists: default!(Option<bool>, false)) -> Result<()> {
    let _acting = crate::security::enter()?;
    let if_exists = required(if_exists, "if_exists")?;
    if !remove_schedule(name)? && !if_exists {
        return Err(unknown(name.unwrap_or_default()).into());
    }
    Ok(())
}

/// Stop firing schedule `name` until resume_schedule (a paused schedule stays paused).
#[pg_extern(name = "pause_schedule", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_pause_schedule(name: Option<&str>) -> Result<()> {
    let _acting = crate::security::enter()?;
    let name = object_name(name, "schedule name")?;
    Spi::connect_mut(|client| {
        check_existing(client, LOCK, name)?.ok_or_else(|| unknown(name))?;
        exec(client, "UPDATE queue.schedules SET paused = true WHERE name = $1 AND NOT paused", &[name.into()])?;
        Ok(())
    })
}

/// Fire schedule `name` again from its next fire time after now (the fire times it missed while
/// paused are not caught up); a schedule that is not paused is left as it is.
#[pg_extern(name = "resume_schedule", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_resume_schedule(name: Option<&str>) -> Result<()> {
    // The background worker looks at what this changed once it commits.
    crate::pool_hints::due_now_at_commit(Some(crate::shmem::pool::Work::Cron));
    let _acting = crate::security::enter()?;
    let name = object_name(name, "schedule name")?;
    Spi::connect_mut(|client| {
        check_existing(client, LOCK, name)?.ok_or_else(|| unknown(name))?;
        let rows = exec(
            client,
            "SELECT cron, timezone, jitter FROM queue.schedules WHERE name = $1 AND paused",
            &[name.into()],
        )?;
        if rows.is_empty() {
            return Ok(());
        }
        let row = rows.first();
        let cron: String = row.get(1).map_err(internal)?.expect("cron");
        let timezone: String = row.get(2).map_err(internal)?.expect("timezone");
        let jitter: Interval = row.get(3).map_err(internal)?.expect("jitter");
        let now = to_utc(clock::transaction_now())?;
        let next_fire = Timing::parse(&cron, &timezone)?.next_after(now);
        let next_run = next_fire.map(|t| t + offset(name, jitter).unwrap_or_default());
        exec(
            client,
            "UPDATE queue.schedules SET paused = false, next_fire_at = $2, next_run_at = $3 WHERE name = $1",
            &[name.into(), next_fire.map(from_utc).transpose()?.into(), next_run.map(from_utc).transpose()?.into()],
        )?;
        Ok(())
    })
}

/// The next `count` fire times of `cron` in `timezone` after `after`, as queue.create_schedule's
/// schedules fire them (before jitter): a dry run of a pattern, and of daylight saving days.
#[pg_extern(name = "schedule_fires", stable, parallel_safe)]
fn queue_schedule_fires(
    cron: Option<&str>,
    timezone: default!(Option<&str>, "'UTC'"),
    after: default!(Option<TimestampWithTimeZone>, "now()"),
    count: default!(Option<i32>, 10),
) -> Result<SetOfIterator<'static, TimestampWithTimeZone>> {
    let timing = Timing::parse(required(cron, "cron")?, required(timezone, "timezone")?)?;
    let after = crate::validate::finite_timestamp(required(after, "after")?, "after")?;
    let count = required(count, "count")?;
    if !(1..=10_000).contains(&count) {
        return Err(QueueError::invalid(format!("count must be between 1 and 10000, got {count}")).into());
    }
    let mut t = to_utc(after)?;
    let mut fires = Vec::new();
    for _ in 0..count {
        let Some(next) = timing.next_after(t) else { break };
        fires.push(from_utc(next)?);
        t = next;
    }
    Ok(SetOfIterator::new(fires))
}

/// What one firing step did.
#[derive(Default)]
pub struct Fired {
    pub fired: i64,
    pub missed: i64,
    /// Schedules looked at (locked and moved on).
    pub handled: i64,
}

/// A schedule that is due, as schedules_lock.sql reads it.
struct Due {
    name: String,
    cron: String,
    timezone: String,
    queue: String,
    payload: Jsonb,
    priority: i32,
    group_key: Option<String>,
    max_attempts: Option<i32>,
    dedupe_key: Option<String>,
    jitter: Interval,
    catch_up: bool,
    next_fire_at: TimestampWithTimeZone,
    owner: pg_sys::Oid,
    /// Whether the queue's grants let the owner produce (None: no such queue).
    grants_allow: Option<bool>,
}

/// Where a schedule goes after a step.
struct Outcome {
    next_fire: Option<TimestampWithTimeZone>,
    next_run: Option<TimestampWithTimeZone>,
    fired_at: Option<(TimestampWithTimeZone, TimestampWithTimeZone, i64)>,
    fires: i64,
    misses: i64,
    error: Option<String>,
}

/// The schedules due now, locked: among `names` (None: all), leaving out `held`, at most `limit`.
fn read_due(client: &mut SpiClient<'_>, names: Option<&[String]>, held: &[String], limit: i64) -> Result<Vec<Due>> {
    let mut due = Vec::new();
    let args = [names.map(|n| n.to_vec()).into(), held.to_vec().into(), limit.into()];
    for row in exec(client, store::SCHEDULES_LOCK, &args)? {
        due.push(Due {
            name: row.get(1).map_err(internal)?.expect("name"),
            cron: row.get(2).map_err(internal)?.expect("cron"),
            timezone: row.get(3).map_err(internal)?.expect("timezone"),
            queue: row.get(4).map_err(internal)?.expect("queue"),
            payload: row.get(5).map_err(internal)?.expect("payload"),
            priority: row.get(6).map_err(internal)?.expect("priority"),
            group_key: row.get(7).map_err(internal)?,
            max_attempts: row.get(8).map_err(internal)?,
            dedupe_key: row.get(9).map_err(internal)?,
            jitter: row.get(10).map_err(internal)?.expect("jitter"),
            catch_up: row.get(11).map_err(internal)?.expect("catch_up"),
            next_fire_at: row.get(12).map_err(internal)?.expect("next_fire_at"),
            owner: row.get(13).map_err(internal)?.expect("owner"),
            grants_allow: row.get(14).map_err(internal)?,
        });
    }
    Ok(due)
}

/// Decide, and enqueue when it fires.
fn fire_one(client: &mut SpiClient<'_>, s: &Due) -> Result<Outcome> {
    let stop = |error: String| Outcome {
        next_fire: None,
        next_run: None,
        fired_at: None,
        fires: 0,
        misses: 0,
        error: Some(error),
    };
    let timing = match Timing::parse(&s.cron, &s.timezone) {
        Ok(t) => t,
        Err(e) => return Ok(stop(e.to_string())),
    };
    let offset = offset(&s.name, s.jitter)?;
    let now = to_utc(clock::transaction_now())?;
    let first = to_utc(s.next_fire_at)?;
    let Some((count, last)) = timing.due_since(first, now - offset) else {
        // Not due after all (its jitter changed): wait for the right instant.
        let run = from_utc(first + offset)?;
        return Ok(Outcome {
            next_fire: Some(s.next_fire_at),
            next_run: Some(run),
            fired_at: None,
            fires: 0,
            misses: 0,
            error: None,
        });
    };
    let next = timing.next_after(last);
    let mut outcome = Outcome {
        next_fire: next.map(from_utc).transpose()?,
        next_run: next.map(|t| from_utc(t + offset)).transpose()?,
        fired_at: None,
        fires: 0,
        misses: count,
        error: None,
    };
    let late = (now - offset - last).num_seconds() > GRACE_SECONDS;
    if late && !s.catch_up {
        return Ok(outcome);
    }
    if let Some(refused) = owner_refused(&s.queue, s.grants_allow.map(|allow| allow && owner_is_admin(s.owner))) {
        outcome.error = Some(refused);
        return Ok(outcome);
    }
    let (info, _) = catalog::queue(client, &s.queue)?;
    let Some(info) = info else {
        outcome.error = owner_refused(&s.queue, None);
        return Ok(outcome);
    };
    let run_at = from_utc(last + offset)?;
    let opts = JobOptions::new(Some(run_at), Some(s.priority), s.group_key.as_deref(), s.max_attempts)?;
    let job =
        insert_into(client, &info, s.payload, &opts, s.dedupe_key.as_deref(), crate::api::dedupe::OnDuplicate::Skip)?;
    outcome.fired_at = Some((from_utc(last)?, run_at, job));
    outcome.fires = 1;
    outcome.misses = count - 1;
    Ok(outcome)
}

fn record(client: &mut SpiClient<'_>, name: &str, o: &Outcome) -> Result<()> {
    let (fire, run, job) = match o.fired_at {
        Some((f, r, j)) => (Some(f), Some(r), Some(j)),
        None => (None, None, None),
    };
    exec(
        client,
        store::SCHEDULE_FIRED,
        &[
            name.into(),
            o.next_fire.into(),
            o.next_run.into(),
            fire.into(),
            run.into(),
            job.into(),
            o.fires.into(),
            o.misses.into(),
            o.error.as_deref().into(),
        ],
    )?;
    Ok(())
}

/// The schedules due now, earliest first, at most `limit`, leaving out `held` (those whose last
/// attempt failed a moment ago).
pub fn due(client: &mut SpiClient<'_>, limit: i64, held: Vec<String>) -> Result<Vec<String>> {
    crate::spi::exec_column::<String>(client, store::SCHEDULES_DUE, &[limit.into(), held.into()])
}

/// Fire the schedules due now (None: any, at most `limit`, leaving out `held`; or those of `names`
/// that are still due), in the caller's transaction.
pub fn fire(client: &mut SpiClient<'_>, names: Option<&[String]>, held: &[String], limit: i64) -> Result<Fired> {
    let mut report = Fired::default();
    for s in read_due(client, names, held, limit)? {
        let outcome = fire_one(client, &s)?;
        record(client, &s.name, &outcome)?;
        report.fired += outcome.fires;
        report.missed += outcome.misses;
        report.handled += 1;
    }
    Ok(report)
}

/// Schedule `name` failed to fire (`error`, its transaction rolled back): record why. It stays
/// due, and fires when the cause is gone.
pub fn record_failure(client: &mut SpiClient<'_>, name: &str, error: &str) -> Result<()> {
    exec(
        client,
        "UPDATE queue.schedules SET last_error = $2, last_error_at = now() WHERE name = $1",
        &[name.into(), crate::validate::error_text(error).into()],
    )?;
    Ok(())
}
