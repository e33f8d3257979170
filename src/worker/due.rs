//! What a round has to do. Usually the pool knows (src/shmem/pool.rs keeps when each kind of work
//! is next due, from the rounds before and the backends' reports), and a round runs the steps
//! whose moment has come without reading anything; then it reads again the moments of what it did
//! (pool_due.sql, a statement per kind). Otherwise (a new entry, a report of any kind, and every
//! pool::FULL_LOOK_EVERY_US) it probes every step's condition in one read-only statement
//! (tick_due.sql) and reads every moment. Either way an idle round costs a handful of index probes
//! at most, whatever the tables' size or bloat (docs/adr/003-idle-cost.md), and a visit for one
//! schedule reads the tables of that schedule only (docs/adr/006-worker-pool.md). The steps
//! themselves run in transactions of their own.

use crate::error::{internal, Result};
use crate::shmem::pool::{Dues, Work, KINDS};
use crate::spi::exec;
use crate::store;
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use std::sync::OnceLock;

/// Which steps have work, and the database's queues (None when the probe failed).
pub struct Due {
    pub leases: bool,
    pub schedules: bool,
    pub refreshes: bool,
    pub backfills: bool,
    pub promote: bool,
    pub purge: bool,
    pub retention: bool,
    /// Look for queues whose depths shared memory does not know (after a restart): with their
    /// list when the probe read it.
    pub recount: bool,
    pub queues: Option<Vec<i32>>,
    /// The probe's now(): when it found no expired lease, none had expired before this.
    pub now: Option<TimestampWithTimeZone>,
}

impl Due {
    /// Every step: what the worker does when the probe failed.
    pub fn everything() -> Due {
        Due {
            leases: true,
            schedules: true,
            refreshes: true,
            backfills: true,
            promote: true,
            purge: true,
            retention: true,
            recount: true,
            queues: None,
            now: None,
        }
    }

    /// The steps whose moment has come at `now_us`, as the pool knows the moments.
    pub fn from_dues(dues: &Dues, now_us: i64) -> Due {
        let due = |w: Work| dues[w as usize] <= now_us;
        Due {
            leases: due(Work::Leases),
            schedules: due(Work::Cron),
            refreshes: due(Work::Refresh),
            backfills: due(Work::Backfill),
            promote: due(Work::Promote),
            purge: due(Work::Purge),
            retention: due(Work::Retention),
            recount: false,
            queues: None,
            now: None,
        }
    }

    /// The kinds of work whose moments a round must read again after these steps ran: each step's
    /// own, and the promotion's after those that schedule jobs without reporting them (expired
    /// leases retry later, refreshes and backfills enqueue ahead; a schedule's fire reports).
    pub fn reads(&self) -> Vec<Work> {
        let ran = [
            (self.promote, Work::Promote),
            (self.schedules, Work::Cron),
            (self.leases, Work::Leases),
            (self.refreshes, Work::Refresh),
            (self.backfills, Work::Backfill),
            (self.purge, Work::Purge),
            (self.retention, Work::Retention),
        ];
        let mut kinds: Vec<Work> = ran.iter().filter(|(ran, _)| *ran).map(|(_, w)| *w).collect();
        if (self.leases || self.refreshes || self.backfills) && !kinds.contains(&Work::Promote) {
            kinds.push(Work::Promote);
        }
        kinds
    }
}

/// pool_due.sql's statements, by kind of work (the file's `-- due: <kind>` sections, in the order
/// of [`Work::ALL`]).
fn pool_due_statements() -> &'static [&'static str; KINDS] {
    static STATEMENTS: OnceLock<[&'static str; KINDS]> = OnceLock::new();
    STATEMENTS.get_or_init(|| {
        let sections: Vec<&'static str> = store::POOL_DUE.split("\n-- due: ").skip(1).collect();
        let names = ["promote", "cron", "leases", "refresh", "backfill", "purge", "retention"];
        assert_eq!(sections.len(), KINDS, "pool_due.sql has a section per kind of work");
        std::array::from_fn(|k| {
            let (name, sql) = sections[k].split_once('\n').expect("a section has a statement");
            assert_eq!(name.trim(), names[k], "pool_due.sql's sections are in the order of pool::Work");
            sql
        })
    })
}

/// Where lease expiry and retention got to, as pool_due.sql's statements take them.
pub struct Positions {
    pub lease_from: Option<TimestampWithTimeZone>,
    pub refresh_ahead: Interval,
    pub prune_ids: Vec<i32>,
    pub prune_from: Vec<TimestampWithTimeZone>,
}

/// When each kind of work in `kinds` is next due (Postgres microseconds; NEVER: none pending).
pub fn read_dues(client: &mut SpiClient<'_>, kinds: &[Work], at: &Positions) -> Result<[Option<i64>; KINDS]> {
    let mut found = [None; KINDS];
    for &kind in kinds {
        let args =
            [at.lease_from.into(), at.refresh_ahead.into(), at.prune_ids.clone().into(), at.prune_from.clone().into()];
        let row = crate::heads::first_row(exec(client, pool_due_statements()[kind as usize], &args)?)?;
        let at = row.get::<TimestampWithTimeZone>(1).map_err(internal)?;
        found[kind as usize] = Some(at.map_or(crate::shmem::pool::NEVER, pg_sys::TimestampTz::from));
    }
    Ok(found)
}

/// Probe for work: expired leases from `lease_from` on, and spread refresh slots before
/// `refresh_until`.
pub fn probe(
    client: &mut SpiClient<'_>,
    lease_from: Option<TimestampWithTimeZone>,
    refresh_until: TimestampWithTimeZone,
) -> Result<Due> {
    let row = crate::heads::first_row(exec(client, store::TICK_DUE, &[lease_from.into(), refresh_until.into()])?)?;
    let flag = |i: usize| -> Result<bool> { Ok(row.get::<bool>(i).map_err(internal)?.unwrap_or(true)) };
    Ok(Due {
        leases: flag(1)?,
        schedules: flag(2)?,
        refreshes: flag(3)?,
        backfills: flag(4)?,
        promote: flag(5)?,
        purge: flag(6)?,
        // (Retention's moment comes from the pool: the probe does not read it.)
        retention: false,
        recount: true,
        queues: Some(row.get::<Vec<i32>>(7).map_err(internal)?.unwrap_or_default()),
        now: row.get::<TimestampWithTimeZone>(8).map_err(internal)?,
    })
}
