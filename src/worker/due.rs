//! What a tick has to do, found out in one read-only statement (tick_due.sql): each step of the
//! worker runs only when the probe says it has work, so that an idle tick costs one short
//! transaction and a handful of index probes, whatever the tables' size or bloat
//! (docs/adr/003-idle-cost.md). The steps themselves still run in transactions of their own.

use crate::error::{internal, Result};
use crate::spi::exec;
use crate::store;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::spi::SpiClient;

/// Which steps have work, and the database's queues (None when the probe failed).
pub struct Due {
    pub leases: bool,
    pub schedules: bool,
    pub refreshes: bool,
    pub backfills: bool,
    pub promote: bool,
    pub purge: bool,
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
            queues: None,
            now: None,
        }
    }
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
        queues: Some(row.get::<Vec<i32>>(7).map_err(internal)?.unwrap_or_default()),
        now: row.get::<TimestampWithTimeZone>(8).map_err(internal)?,
    })
}
