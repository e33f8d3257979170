//! Queue administration: create_queue, alter_queue, drop_queue, pause, resume.
//!
//! Defaults live in one place, the column defaults of `queue.queues`: a NULL argument means
//! "keep the default" to create_queue and "keep the current value" to alter_queue.

use crate::error::{internal, QueueError, Result};
use crate::security::{caller, check_queue, Privilege};
use crate::spi::{exec, exec_one};
use crate::store;
use crate::validate::{at_least, non_negative_interval, positive_interval, queue_name, required};
use pgrx::datum::{DatumWithOid, Interval};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// The settings a caller may pass; `None` leaves a setting as it is.
#[derive(Default)]
struct SettingsChange {
    lease: Option<Interval>,
    max_attempts: Option<i32>,
    backoff_base: Option<Interval>,
    backoff_max: Option<Interval>,
    notify: Option<bool>,
    rate_per_second: Option<f64>,
    burst: Option<i32>,
    max_running: Option<i32>,
    max_running_per_group: Option<i32>,
    group_backoff: Option<bool>,
    retention: Option<Interval>,
    dead_retention: Option<Interval>,
}

/// A queue's full settings, as stored.
struct Settings {
    lease: Interval,
    max_attempts: i32,
    backoff_base: Interval,
    backoff_max: Interval,
    notify: bool,
    rate_per_second: Option<f64>,
    burst: Option<i32>,
    max_running: Option<i32>,
    max_running_per_group: Option<i32>,
    group_backoff: bool,
    retention: Interval,
}

// Grants 'admin' on new queue $1 to role $2 when $2 is restricted to some queues ('admin' grants).
const GRANT_TO_RESTRICTED_CREATOR: &str = "
    INSERT INTO queue.queue_grants (queue_id, grantee, privilege)
    SELECT $1, $2::regrole, 'admin'
     WHERE NOT coalesce((SELECT rolsuper FROM pg_catalog.pg_roles WHERE oid = $2), false)
       AND EXISTS (SELECT FROM queue.queue_grants g
                    WHERE g.privilege = 'admin' AND pg_catalog.pg_has_role($2, g.grantee::oid, 'USAGE'))
    ON CONFLICT DO NOTHING";

/// Settings `reset` may return to their column defaults (NULL, i.e. "no limit", for the limits).
const RESETTABLE: &[&str] = &[
    "lease",
    "max_attempts",
    "backoff_base",
    "backoff_max",
    "notify",
    "rate_per_second",
    "burst",
    "max_running",
    "max_running_per_group",
    "group_backoff",
    "retention",
    "dead_retention",
];

impl Settings {
    fn apply(mut self, c: SettingsChange) -> Self {
        self.lease = c.lease.unwrap_or(self.lease);
        self.max_attempts = c.max_attempts.unwrap_or(self.max_attempts);
        self.backoff_base = c.backoff_base.unwrap_or(self.backoff_base);
        self.backoff_max = c.backoff_max.unwrap_or(self.backoff_max);
        self.notify = c.notify.unwrap_or(self.notify);
        self.rate_per_second = c.rate_per_second.or(self.rate_per_second);
        self.burst = c.burst.or(self.burst);
        self.max_running = c.max_running.or(self.max_running);
        self.max_running_per_group = c.max_running_per_group.or(self.max_running_per_group);
        self.group_backoff = c.group_backoff.unwrap_or(self.group_backoff);
        self.retention = c.retention.unwrap_or(self.retention);
        self
    }

    fn validate(&self) -> std::result::Result<(), QueueError> {
        positive_interval(self.lease, "lease")?;
        at_least(self.max_attempts, 1, "max_attempts")?;
        non_negative_interval(self.backoff_base, "backoff_base")?;
        non_negative_interval(self.backoff_max, "backoff_max")?;
        if self.backoff_max.as_micros() < self.backoff_base.as_micros() {
            return Err(QueueError::invalid(format!(
                "backoff_max ({}) must not be less than backoff_base ({})",
                self.backoff_max, self.backoff_base
            )));
        }
        if let Some(rate) = self.rate_per_second {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(QueueError::invalid(format!("rate_per_second must be a positive number, got {rate}")));
            }
        }
        if let Some(burst) = self.burst {
            at_least(burst, 0, "burst")?;
        }
        if let Some(n) = self.max_running {
            at_least(n, 1, "max_running")?;
        }
        if let Some(n) = self.max_running_per_group {
            at_least(n, 1, "max_running_per_group")?;
        }
        non_negative_interval(self.retention, "retention")?;
        Ok(())
    }
}

fn load(client: &mut SpiClient<'_>, name: &str) -> Result<Settings> {
    let table = exec(
        client,
        "SELECT lease, max_attempts, backoff_base, backoff_max, notify, rate_per_second, burst,
                max_running, max_running_per_group, group_backoff, retention
           FROM queue.queues WHERE name = $1 FOR UPDATE",
        &[name.into()],
    )?;
    if table.is_empty() {
        return Err(QueueError::UnknownQueue(name.to_owned()).into());
    }
    let row = table.first();
    let get_interval = |i| row.get::<Interval>(i).map_err(internal).map(|v| v.expect("NOT NULL column"));
    Ok(Settings {
        lease: get_interval(1)?,
        max_attempts: row.get::<i32>(2).map_err(internal)?.expect("NOT NULL column"),
        backoff_base: get_interval(3)?,
        backoff_max: get_interval(4)?,
        notify: row.get::<bool>(5).map_err(internal)?.expect("NOT NULL column"),
        rate_per_second: row.get::<f64>(6).map_err(internal)?,
        burst: row.get::<i32>(7).map_err(internal)?,
        max_running: row.get::<i32>(8).map_err(internal)?,
        max_running_per_group: row.get::<i32>(9).map_err(internal)?,
        group_backoff: row.get::<bool>(10).map_err(internal)?.expect("NOT NULL column"),
        retention: get_interval(11)?,
    })
}

fn save(client: &mut SpiClient<'_>, name: &str, s: &Settings) -> Result<()> {
    let args: Vec<DatumWithOid> = vec![
        name.into(),
        s.lease.into(),
        s.max_attempts.into(),
        s.backoff_base.into(),
        s.backoff_max.into(),
        s.notify.into(),
        s.rate_per_second.into(),
        s.burst.into(),
        s.max_running.into(),
        s.max_running_per_group.into(),
        s.group_backoff.into(),
        s.retention.into(),
    ];
    exec(
        client,
        "UPDATE queue.queues
            SET lease = $2, max_attempts = $3, backoff_base = $4, backoff_max = $5, notify = $6,
                rate_per_second = $7, burst = $8, max_running = $9, max_running_per_group = $10,
                group_backoff = $11, retention = $12, updated_at = now()
          WHERE name = $1",
        &args,
    )?;
    Ok(())
}

fn reset(client: &mut SpiClient<'_>, name: &str, settings: &[Option<String>]) -> Result<()> {
    let mut assignments = Vec::new();
    for s in settings.iter().flatten() {
        if !RESETTABLE.contains(&s.as_str()) {
            return Err(QueueError::invalid(format!(
                "reset names unknown setting \"{}\"; settings are: {}",
                s.escape_default(),
                RESETTABLE.join(", ")
            ))
            .into());
        }
        // Safe to splice: the name was just checked against a fixed list of column names.
        assignments.push(format!("{s} = DEFAULT"));
    }
    if !assignments.is_empty() {
        let sql = format!("UPDATE queue.queues SET {} WHERE name = $1", assignments.join(", "));
        client.update(sql.as_str(), None, &[name.into()]).map_err(internal)?;
    }
    Ok(())
}

fn change_settings(name: &str, change: SettingsChange, reset_settings: Option<Vec<Option<String>>>) -> Result<()> {
    Spi::connect_mut(|client| {
        check_queue(client, name, Privilege::Admin)?;
        crate::catalog::changed();
        // load() locks the row: concurrent alters of one queue apply one after the other.
        let mut current = load(client, name)?;
        if let Some(r) = reset_settings {
            reset(client, name, &r)?;
            current = load(client, name)?;
        }
        // Read and written apart from the others, only when given: 0.2.0's SQL objects, which
        // this library serves until ALTER EXTENSION UPDATE, have no such column.
        let dead_retention = change.dead_retention.map(|d| non_negative_interval(d, "dead_retention")).transpose()?;
        let merged = current.apply(change);
        merged.validate()?;
        save(client, name, &merged)?;
        if let Some(d) = dead_retention {
            exec(client, "UPDATE queue.queues SET dead_retention = $2 WHERE name = $1", &[name.into(), d.into()])?;
        }
        // Claims hold back every group listed in queue.group_state: with group backoff off, the
        // groups backing off now are freed at once, not when their eligible_at comes.
        if !merged.group_backoff {
            exec(
                client,
                "DELETE FROM queue.group_state WHERE queue_id = (SELECT id FROM queue.queues WHERE name = $1)",
                &[name.into()],
            )?;
        }
        Ok(())
    })
}

/// Create a queue. Settings left NULL take the defaults shown in `queue.queues`. (Its symbol is
/// new in 0.3.0, with the new argument: 0.2.0's SQL calls queues_compat.rs.)
#[pg_extern(name = "create_queue", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn queue_create_queue_v3(
    name: Option<&str>,
    lease: default!(Option<Interval>, NULL),
    max_attempts: default!(Option<i32>, NULL),
    backoff_base: default!(Option<Interval>, NULL),
    backoff_max: default!(Option<Interval>, NULL),
    notify: default!(Option<bool>, NULL),
    rate_per_second: default!(Option<f64>, NULL),
    burst: default!(Option<i32>, NULL),
    max_running: default!(Option<i32>, NULL),
    max_running_per_group: default!(Option<i32>, NULL),
    group_backoff: default!(Option<bool>, NULL),
    retention: default!(Option<Interval>, NULL),
    if_not_exists: default!(Option<bool>, false),
    // Last, after the arguments of 0.2.0, so that their positions stay.
    dead_retention: default!(Option<Interval>, NULL),
) -> Result<()> {
    let _acting = crate::security::enter()?;
    let name = queue_name(name)?;
    let if_not_exists = required(if_not_exists, "if_not_exists")?;
    crate::catalog::changed();
    let created = Spi::connect_mut(|client| {
        let id = exec_one::<i32>(
            client,
            "INSERT INTO queue.queues (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id",
            &[name.into()],
        )?;
        // A role restricted to some queues (it holds 'admin' grants) keeps administering the
        // queues it creates.
        if let Some(id) = id {
            exec(client, GRANT_TO_RESTRICTED_CREATOR, &[id.into(), caller().into()])?;
            // No job can name the queue before this transaction commits: its depths are known.
            crate::stats::new_queue(id);
        }
        Ok::<_, pgrx::pg_sys::panic::ErrorReport>(id)
    })?;
    if created.is_none() {
        return if if_not_exists { Ok(()) } else { Err(QueueError::DuplicateQueue(name.to_owned()).into()) };
    }
    let change = SettingsChange {
        lease,
        max_attempts,
        backoff_base,
        backoff_max,
        notify,
        rate_per_second,
        burst,
        max_running,
        max_running_per_group,
        group_backoff,
        retention,
        dead_retention,
    };
    change_settings(name, change, None)
}

/// Change a queue's settings. NULL leaves a setting unchanged; `reset` lists settings to return to
/// their defaults (for the limits, that is "no limit"). (Its symbol is new in 0.3.0, with the new
/// argument: 0.2.0's SQL calls queues_compat.rs.)
#[pg_extern(name = "alter_queue", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn queue_alter_queue_v3(
    name: Option<&str>,
    lease: default!(Option<Interval>, NULL),
    max_attempts: default!(Option<i32>, NULL),
    backoff_base: default!(Option<Interval>, NULL),
    backoff_max: default!(Option<Interval>, NULL),
    notify: default!(Option<bool>, NULL),
    rate_per_second: default!(Option<f64>, NULL),
    burst: default!(Option<i32>, NULL),
    max_running: default!(Option<i32>, NULL),
    max_running_per_group: default!(Option<i32>, NULL),
    group_backoff: default!(Option<bool>, NULL),
    retention: default!(Option<Interval>, NULL),
    reset: default!(Option<Vec<Option<String>>>, NULL),
    // Last, after the arguments of 0.2.0, so that their positions stay.
    dead_retention: default!(Option<Interval>, NULL),
) -> Result<()> {
    // The background worker looks at what this changed once it commits.
    crate::pool_hints::due_now_at_commit(None);
    let _acting = crate::security::enter()?;
    let name = queue_name(name)?;
    if reset.as_ref().is_some_and(|r| r.iter().any(Option::is_none)) {
        return Err(QueueError::NullValue("every element of reset").into());
    }
    let change = SettingsChange {
        lease,
        max_attempts,
        backoff_base,
        backoff_max,
        notify,
        rate_per_second,
        burst,
        max_running,
        max_running_per_group,
        group_backoff,
        retention,
        dead_retention,
    };
    change_settings(name, change, reset)
}

/// Remove a queue. Refuses while jobs are pending or running unless `force`. Only the queue's own
/// rows go in this transaction: its jobs are purged by the background worker in bounded batches
/// (they vanish from queue.jobs at once), so a drop never holds up work on other queues.
/// `if_exists` makes an unknown queue a no-op instead of 42704, as DROP ... IF EXISTS does.
#[pg_extern(name = "drop_queue", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_drop_queue(
    name: Option<&str>,
    force: default!(Option<bool>, false),
    if_exists: default!(Option<bool>, false),
) -> Result<()> {
    // The background worker looks at what this changed once it commits.
    crate::pool_hints::due_now_at_commit(Some(crate::shmem::pool::Work::Purge));
    let _acting = crate::security::enter()?;
    let name = queue_name(name)?;
    let force = required(force, "force")?;
    let if_exists = required(if_exists, "if_exists")?;
    let id = Spi::connect_mut(|client| {
        match crate::security::may(client, name, Privilege::Admin)? {
            None if if_exists => return Ok(None),
            None => return Err(QueueError::UnknownQueue(name.to_owned()).into()),
            Some(allowed) => crate::security::require(allowed, name, Privilege::Admin)?,
        }
        // Locks the queue row: concurrent alters and drops of this queue wait for us.
        let id = exec_one::<i32>(client, "SELECT id FROM queue.queues WHERE name = $1 FOR UPDATE", &[name.into()])?
            .ok_or_else(|| QueueError::UnknownQueue(name.to_owned()))?;
        let live = exec_one::<i64>(client, store::LIVE_JOBS, &[id.into()])?.unwrap_or(0);
        if live > 0 && !force {
            return Err(QueueError::ObjectInUse(format!(
                "queue \"{name}\" still has {live} pending or running jobs; drop it with force => true to discard them"
            ))
            .into());
        }
        crate::catalog::changed();
        exec(client, store::DROP_QUEUE, &[name.into(), id.into()])?;
        Ok::<_, pgrx::pg_sys::panic::ErrorReport>(Some(id))
    })?;
    let Some(id) = id else { return Ok(()) };
    if crate::shmem::available() {
        // SAFETY: reads a backend global.
        let db = unsafe { pg_sys::MyDatabaseId }.to_u32();
        pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, move || crate::shmem::forget_queue(db, id));
    }
    Ok(())
}

pub(crate) fn set_paused(name: Option<&str>, paused: bool) -> Result<()> {
    let name = queue_name(name)?;
    let found = Spi::connect_mut(|client| {
        check_queue(client, name, Privilege::Admin)?;
        crate::catalog::changed();
        exec_one::<String>(
            client,
            "UPDATE queue.queues SET paused = $2, updated_at = now() WHERE name = $1 RETURNING name",
            &[name.into(), paused.into()],
        )
    })?;
    required(found, "queue").map_err(|_| QueueError::UnknownQueue(name.to_owned()))?;
    Ok(())
}

/// Stop handing out jobs from a queue; enqueues still succeed. Pausing a paused queue is a no-op.
#[pg_extern(name = "pause_queue", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_pause_queue(name: Option<&str>) -> Result<()> {
    let _acting = crate::security::enter()?;
    set_paused(name, true)
}

/// Resume handing out jobs from a paused queue.
#[pg_extern(name = "resume_queue", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_resume_queue(name: Option<&str>) -> Result<()> {
    let _acting = crate::security::enter()?;
    set_paused(name, false)
}
