//! Observability: `queue.stats`, `queue.workers`, `queue.metrics()` and `queue.histogram()`.
//!
//! Numbers come from shared memory (src/shmem/stats.rs), kept by the counting triggers
//! (counting.rs), so reading them costs the same whatever the backlog and the history; the only
//! table reads are bounded probes (the heads of at most 100 groups for the lag, the running jobs
//! for per-worker and per-group figures, a histogram's window of scheduled jobs).

pub(crate) mod counting;
mod metrics;
pub mod recount;
pub mod view;

pub use counting::{because, Reason};

use crate::error::{internal, QueueError, Result};
use crate::shmem::stats;
use crate::spi::exec;
use crate::store;
use crate::validate::{positive_interval, queue_name, required};
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;

fn database() -> u32 {
    // SAFETY: reads a backend global.
    unsafe { pg_sys::MyDatabaseId }.to_u32()
}

/// A queue was just created: no job names it yet.
pub fn new_queue(queue_id: i32) {
    if crate::shmem::available() {
        stats::new_queue((database(), queue_id), crate::clock::wall_micros());
    }
}

fn interval_secs(seconds: f64) -> Option<Interval> {
    seconds.is_finite().then(|| Interval::from_micros((seconds * 1e6).round() as i64))
}

/// One queue's figures from shared memory (the `queue.stats` view adds the queue's name, lag,
/// pause and rate). Depths are NULL until known (counted is false): the background worker counts
/// them at its next tick after a restart.
#[pg_extern(name = "stats", schema = "queue_internal", volatile, strict, parallel_safe)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)]
fn queue_stats_of(
    queue_id: i32,
) -> TableIterator<
    'static,
    (
        name!(ready, Option<i64>),
        name!(scheduled, Option<i64>),
        name!(running, Option<i64>),
        name!(dead, Option<i64>),
        name!(done_last_minute, i64),
        name!(done_last_hour, i64),
        name!(throughput, f64),
        name!(failures_last_hour, i64),
        name!(retries_last_hour, i64),
        name!(mean_wait, Option<Interval>),
        name!(mean_run, Option<Interval>),
        name!(counted, bool),
    ),
> {
    let s = if crate::shmem::available() {
        stats::snapshot((database(), queue_id), crate::clock::wall_micros())
    } else {
        stats::Snapshot::default()
    };
    let depth = |i: usize| s.depth.map(|d| d[i]);
    let mean = |sum: f64, n: u64| (n > 0).then(|| sum / n as f64).and_then(interval_secs);
    TableIterator::once((
        depth(stats::READY),
        depth(stats::SCHEDULED),
        depth(stats::RUNNING),
        depth(stats::DEAD),
        s.completed_last_minute as i64,
        s.completed_last_hour as i64,
        s.completed_last_minute as f64 / 60.0,
        s.failed_last_hour as i64,
        s.retried_last_hour as i64,
        mean(s.wait_sum_last_hour, s.claims_last_hour),
        mean(s.run_sum_last_hour, s.completed_last_hour),
        s.depth.is_some(),
    ))
}

/// Have the background worker count the depths of the queues the caller administers again (every
/// queue of this database for an unrestricted admin; it does by itself after a restart), once the
/// calling transaction commits; returns the queues it will count (those shared memory has room
/// for). `queue.stats` shows their depths as NULL until it
/// has. Writers never wait for the count, except for one table at a time while it is counted
/// (src/stats/recount.rs).
#[pg_extern(name = "recount", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_recount() -> Result<i64> {
    let _acting = crate::security::enter()?;
    if !crate::shmem::available() {
        return Err(QueueError::NotInPrerequisiteState(
            "queue.recount needs queue_ext in shared_preload_libraries: statistics live in shared memory".into(),
        )
        .into());
    }
    let db = database();
    let ids = Spi::connect_mut(|client| {
        if let Some(why) = crate::worker::not_served() {
            return Err(why.refusal("nobody would count its queues"));
        }
        // Forgetting a queue's depths blanks its figures until they are counted: only the
        // caller's own queues.
        crate::spi::exec_column::<i32>(
            client,
            "SELECT id FROM queue.queues WHERE queue_internal.may(id, $1, 'admin')",
            &[crate::security::caller().into()],
        )
    })?;
    let ids: Vec<i32> = ids.into_iter().filter(|id| stats::has_room((db, *id))).collect();
    let queues = ids.len() as i64;
    // At PREPARE TRANSACTION too: forgetting early only costs a recount sooner.
    for event in [pgrx::PgXactCallbackEvent::Commit, pgrx::PgXactCallbackEvent::Prepare] {
        let ids = ids.clone();
        pgrx::register_xact_callback(event, move || {
            for id in &ids {
                stats::forget_depths((db, *id));
            }
            // (Any kind: the worker counts depths when it looks at everything.)
            crate::shmem::pool::due_at(db, crate::clock::wall_micros(), None);
        });
    }
    Ok(queues)
}

/// Forget every figure shared memory holds for this database once the calling transaction
/// commits: called by CREATE EXTENSION (and its upgrade to 0.2.0), so that what a dropped earlier
/// install left there is never added to (queue ids start over; pg_restore --clean drops and
/// creates the extension, then loads the jobs). The worker counts the depths again; counters
/// start from zero.
#[pg_extern(name = "stats_reset", schema = "queue_internal", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_stats_reset() {
    if crate::shmem::available() {
        let db = database();
        // At PREPARE TRANSACTION too: forgetting early only costs a recount sooner.
        for event in [pgrx::PgXactCallbackEvent::Commit, pgrx::PgXactCallbackEvent::Prepare] {
            pgrx::register_xact_callback(event, move || stats::forget_database(db));
        }
    }
}

/// What `queue.histogram` draws.
enum Of {
    /// Pending jobs by due time, from now on.
    Due,
    /// Completions per bucket over the last hour.
    Completed,
}

/// The queue's pending jobs by due time (`of => 'due'`, the default: ready jobs count in the
/// first bucket, and the last row holds every job due later than the window), or its completions
/// over the last hour (`of => 'completed'`, whole minutes per bucket), as text bars for psql.
#[pg_extern(name = "histogram", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)]
fn queue_histogram(
    queue: Option<&str>,
    bucket: default!(Option<Interval>, "'1 minute'"),
    buckets: default!(Option<i32>, 30),
    width: default!(Option<i32>, 50),
    of: default!(Option<&str>, "'due'"),
) -> Result<
    TableIterator<'static, (name!(bucket_start, TimestampWithTimeZone), name!(jobs, Option<i64>), name!(bar, String))>,
> {
    let _acting = crate::security::enter()?;
    let name = queue_name(queue)?;
    let bucket = positive_interval(required(bucket, "bucket")?, "bucket")?;
    if bucket.months() != 0 {
        return Err(
            QueueError::invalid(format!("bucket must not count months (their length varies), got {bucket}")).into()
        );
    }
    let buckets = required(buckets, "buckets")?;
    if !(1..=1000).contains(&buckets) {
        return Err(QueueError::invalid(format!("buckets must be between 1 and 1000, got {buckets}")).into());
    }
    let width = required(width, "width")?;
    if !(1..=500).contains(&width) {
        return Err(QueueError::invalid(format!("width must be between 1 and 500, got {width}")).into());
    }
    let of = match required(of, "of")? {
        "due" => Of::Due,
        "completed" => Of::Completed,
        other => {
            return Err(QueueError::invalid(format!("of must be 'due' or 'completed', got '{other}'")).into());
        }
    };
    let bucket_us = bucket.as_micros() as i64;
    let rows = Spi::connect_mut(|client| -> Result<Vec<(i64, Option<i64>)>> {
        let info = crate::catalog::queue(client, name)?.0.ok_or_else(|| QueueError::UnknownQueue(name.to_owned()))?;
        if !crate::visibility::sees(info.id, false)? {
            return Err(QueueError::Denied { queue: name.to_owned(), privilege: "read" }.into());
        }
        let now_us = crate::clock::wall_micros();
        let key = (database(), info.id);
        match of {
            Of::Completed => {
                if bucket_us % 60_000_000 != 0 {
                    return Err(QueueError::invalid(format!(
                        "bucket must be whole minutes with of => 'completed', got {bucket}"
                    ))
                    .into());
                }
                let per = (bucket_us / 60_000_000) as usize;
                let minutes = stats::minutes(key, now_us);
                Ok(minutes.chunks(per).map(|c| (c[0].0, Some(c.iter().map(|m| m.1 as i64).sum::<i64>()))).collect())
            }
            Of::Due => {
                let start = now_us - now_us.rem_euclid(bucket_us);
                let end = start.saturating_add(bucket_us.saturating_mul(buckets as i64));
                let ts = |us: i64| crate::clock::timestamp(us);
                let mut counts = vec![0i64; buckets as usize];
                let mut in_window = 0;
                for row in exec(
                    client,
                    store::HISTOGRAM_DUE,
                    &[info.id.into(), bucket.into(), ts(end)?.into(), ts(start)?.into()],
                )? {
                    let at = row.get::<TimestampWithTimeZone>(1).map_err(internal)?.expect("a bucket");
                    let n = row.get::<i64>(2).map_err(internal)?.unwrap_or(0);
                    let i = ((pg_sys::TimestampTz::from(at) - start) / bucket_us) as usize;
                    counts[i.min(buckets as usize - 1)] += n;
                    in_window += n;
                }
                let depth = crate::shmem::available().then(|| stats::snapshot(key, now_us).depth).flatten();
                let ready = match depth {
                    Some(d) => d[stats::READY],
                    None => crate::spi::exec_one::<i64>(
                        client,
                        "SELECT count(*) FROM queue.ready WHERE queue_id = $1",
                        &[info.id.into()],
                    )?
                    .unwrap_or(0),
                };
                counts[0] += ready;
                let later = depth.map(|d| (d[stats::SCHEDULED] - in_window).max(0));
                let mut rows: Vec<(i64, Option<i64>)> =
                    counts.into_iter().enumerate().map(|(i, n)| (start + i as i64 * bucket_us, Some(n))).collect();
                rows.push((end, later));
                Ok(rows)
            }
        }
    })?;
    let max = rows.iter().filter_map(|r| r.1).max().unwrap_or(0);
    let out = rows
        .into_iter()
        .map(|(at, n)| Ok((crate::clock::timestamp(at)?, n, bar(n.unwrap_or(0), max, width as usize))))
        .collect::<std::result::Result<Vec<_>, QueueError>>()?;
    Ok(TableIterator::new(out))
}

/// A bar of `n` out of `max` in `width` characters, in eighths of a block.
fn bar(n: i64, max: i64, width: usize) -> String {
    const PARTIAL: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    if max <= 0 || n <= 0 {
        return String::new();
    }
    let eighths = ((n as f64 / max as f64) * width as f64 * 8.0).round().max(1.0) as usize;
    let mut s = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        s.push(PARTIAL[eighths % 8]);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::bar;

    #[test]
    fn bars_scale_to_the_largest_and_never_hide_a_nonzero_count() {
        assert_eq!(bar(10, 10, 5), "█████");
        assert_eq!(bar(5, 10, 5), "██▌");
        assert_eq!(bar(1, 1_000_000, 5), "▏");
        assert_eq!(bar(0, 10, 5), "");
    }
}
