//! `queue.stats`: the view reads this function, so that its probes run as queue_ext's own
//! statements (a kept generic plan, JIT off: see spi.rs) and list only the queues the reader
//! sees the figures of (visibility.rs).

use crate::error::{internal, Result};
use crate::spi::exec;
use crate::store;
use pgrx::datum::Interval;
use pgrx::prelude::*;

/// One row of queue.stats.
pub type StatsRow = (
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
    f64,
    i64,
    i64,
    Option<Interval>,
    Option<Interval>,
    Option<Interval>,
    bool,
    Option<f64>,
    bool,
);

/// Every visible queue's row, in name order.
pub fn rows() -> Result<Vec<StatsRow>> {
    Spi::connect_mut(|client| {
        let mut out = Vec::new();
        for r in exec(client, store::STATS_ROWS, &[])? {
            let text = |i| r.get::<String>(i).map_err(internal);
            let long = |i| r.get::<i64>(i).map_err(internal);
            let interval = |i| r.get::<Interval>(i).map_err(internal);
            out.push((
                text(1)?.unwrap_or_default(),
                long(2)?,
                long(3)?,
                long(4)?,
                long(5)?,
                long(6)?.unwrap_or(0),
                long(7)?.unwrap_or(0),
                r.get::<f64>(8).map_err(internal)?.unwrap_or(0.0),
                long(9)?.unwrap_or(0),
                long(10)?.unwrap_or(0),
                interval(11)?,
                interval(12)?,
                interval(13)?,
                r.get::<bool>(14).map_err(internal)?.unwrap_or(false),
                r.get::<f64>(15).map_err(internal)?,
                r.get::<bool>(16).map_err(internal)?.unwrap_or(false),
            ));
        }
        Ok(out)
    })
}

/// The rows of the `queue.stats` view.
#[pg_extern(name = "stats_all", schema = "queue_internal", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)]
fn queue_stats_all() -> Result<
    TableIterator<
        'static,
        (
            name!(queue, String),
            name!(ready, Option<i64>),
            name!(scheduled, Option<i64>),
            name!(running, Option<i64>),
            name!(dead, Option<i64>),
            name!(done_last_minute, i64),
            name!(done_last_hour, i64),
            name!(throughput, f64),
            name!(failures_last_hour, i64),
            name!(retries_last_hour, i64),
            name!(lag, Option<Interval>),
            name!(mean_wait, Option<Interval>),
            name!(mean_run, Option<Interval>),
            name!(paused, bool),
            name!(rate_limit, Option<f64>),
            name!(counted, bool),
        ),
    >,
> {
    // Figures only: readable inside a restricted operation too, for the role in force there.
    let _acting = crate::security::enter_read()?;
    Ok(TableIterator::new(rows()?))
}
