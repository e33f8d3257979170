//! `queue.metrics()`: the Prometheus text exposition format (version 0.0.4) of every queue's
//! figures, for postgres_exporter (contrib/postgres_exporter/) or any scraper.
//!
//! Depths are gauges; events are counters and histograms since the server started (a restart is
//! a counter reset, which Prometheus' rate() handles). Labels: `queue` always; `group` and
//! `worker` only for running jobs, whose number is bounded by the workers' concurrency.

use super::database;
use crate::error::{internal, Result};
use crate::shmem::stats::{self, Samples, BUCKETS};
use crate::spi::exec;
use pgrx::prelude::*;
use std::fmt::Write;

/// Escape a label value: backslash, double quote and newline.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// A float as Prometheus writes it.
fn number(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{x}")
    }
}

struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", label(v))).collect();
        let _ = writeln!(self.out, "{name}{{{}}} {}", labels.join(","), number(value));
    }

    fn histogram(&mut self, name: &str, queue: &str, s: &Samples) {
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().map(|b| number(*b)).chain(["+Inf".to_owned()]).enumerate() {
            cumulative += s.buckets[i];
            self.sample(&format!("{name}_bucket"), &[("queue", queue), ("le", &bound)], cumulative as f64);
        }
        self.sample(&format!("{name}_sum"), &[("queue", queue)], s.sum);
        self.sample(&format!("{name}_count"), &[("queue", queue)], s.count as f64);
    }
}

struct Row {
    queue: String,
    id: i32,
    depth: [Option<i64>; 4],
    lag: Option<f64>,
    paused: bool,
    rate: Option<f64>,
}

/// Every queue's figures in the Prometheus text format.
#[pg_extern(name = "metrics", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_metrics() -> Result<String> {
    let _acting = crate::security::enter()?;
    let (rows, running) = Spi::connect_mut(|client| {
        let mut rows = Vec::new();
        for r in exec(
            client,
            "SELECT s.queue, q.id, s.ready, s.scheduled, s.running, s.dead,
                    extract(epoch FROM s.lag)::float8, s.paused, s.rate_limit
               FROM queue.stats s JOIN queue.queues q ON q.name = s.queue
              ORDER BY s.queue",
            &[],
        )? {
            let i64_at = |i| r.get::<i64>(i).map_err(internal);
            rows.push(Row {
                queue: r.get::<String>(1).map_err(internal)?.unwrap_or_default(),
                id: r.get::<i32>(2).map_err(internal)?.unwrap_or_default(),
                depth: [i64_at(3)?, i64_at(4)?, i64_at(5)?, i64_at(6)?],
                lag: r.get::<f64>(7).map_err(internal)?,
                paused: r.get::<bool>(8).map_err(internal)?.unwrap_or(false),
                rate: r.get::<f64>(9).map_err(internal)?,
            });
        }
        let mut running = Vec::new();
        for r in exec(client, crate::store::METRICS_RUNNING, &[])? {
            running.push((
                r.get::<String>(1).map_err(internal)?.unwrap_or_default(),
                r.get::<String>(2).map_err(internal)?,
                r.get::<String>(3).map_err(internal)?,
                r.get::<i64>(4).map_err(internal)?.unwrap_or(0),
            ));
        }
        Ok::<_, pgrx::pg_sys::panic::ErrorReport>((rows, running))
    })?;
    let now_us = crate::clock::wall_micros();
    let snaps: Vec<stats::Snapshot> =
        rows.iter()
            .map(|r| {
                if crate::shmem::available() {
                    stats::snapshot((database(), r.id), now_us)
                } else {
                    Default::default()
                }
            })
            .collect();
    let mut out = String::new();
    let mut f = Family { out: &mut out };

    f.header(
        "queue_ext_jobs",
        "gauge",
        "Jobs of the queue by state (absent until the worker has counted them after a restart).",
    );
    for r in &rows {
        for (state, n) in ["ready", "scheduled", "running", "dead"].iter().zip(r.depth) {
            if let Some(n) = n {
                f.sample("queue_ext_jobs", &[("queue", &r.queue), ("state", state)], n as f64);
            }
        }
    }
    f.header(
        "queue_ext_lag_seconds",
        "gauge",
        "Age of the oldest job at the head of a group of ready jobs (0 when none is ready).",
    );
    for r in &rows {
        f.sample("queue_ext_lag_seconds", &[("queue", &r.queue)], r.lag.unwrap_or(0.0).max(0.0));
    }
    f.header("queue_ext_paused", "gauge", "1 while the queue is paused.");
    for r in &rows {
        f.sample("queue_ext_paused", &[("queue", &r.queue)], if r.paused { 1.0 } else { 0.0 });
    }
    f.header(
        "queue_ext_rate_limit",
        "gauge",
        "Jobs per second the queue hands out at most now (queues with a rate limit only).",
    );
    for r in rows.iter().filter(|r| r.rate.is_some()) {
        f.sample("queue_ext_rate_limit", &[("queue", &r.queue)], r.rate.unwrap_or_default());
    }
    type Counter = (&'static str, &'static str, fn(&stats::Snapshot) -> u64);
    let counters: [Counter; 5] = [
        ("queue_ext_completed_total", "Jobs completed.", |s| s.totals.completed),
        ("queue_ext_failed_total", "Failed attempts (fail() and expired leases).", |s| s.totals.failed),
        ("queue_ext_retried_total", "Failed attempts that were scheduled to run again.", |s| s.totals.retried),
        ("queue_ext_dead_total", "Jobs that became dead (their attempts ran out).", |s| s.totals.died),
        ("queue_ext_cancelled_total", "Jobs cancelled.", |s| s.totals.cancelled),
    ];
    for (name, help, get) in counters {
        f.header(name, "counter", help);
        for (r, s) in rows.iter().zip(&snaps) {
            f.sample(name, &[("queue", &r.queue)], get(s) as f64);
        }
    }
    f.header(
        "queue_ext_wait_seconds",
        "histogram",
        "From when a job could first run (enqueued, or due) to its first claim.",
    );
    for (r, s) in rows.iter().zip(&snaps) {
        f.histogram("queue_ext_wait_seconds", &r.queue, &s.totals.waits);
    }
    f.header("queue_ext_run_seconds", "histogram", "From claim to completion, of completed jobs.");
    for (r, s) in rows.iter().zip(&snaps) {
        f.histogram("queue_ext_run_seconds", &r.queue, &s.totals.runs);
    }
    f.header(
        "queue_ext_running_jobs",
        "gauge",
        "Leased jobs by queue, group and worker (the claim's worker argument).",
    );
    for (queue, group, worker, n) in &running {
        f.sample(
            "queue_ext_running_jobs",
            &[("queue", queue), ("group", group.as_deref().unwrap_or("")), ("worker", worker.as_deref().unwrap_or(""))],
            *n as f64,
        );
    }
    // The worker pool, for this database: how long due work has waited for a worker (a saturated
    // pool shows here first), and whether one is here now.
    if let Some(slot) = crate::shmem::available().then(|| crate::shmem::pool::database(database())).flatten() {
        let waiting = if slot.pid == 0 { (now_us - slot.next_due_us).max(0) as f64 / 1e6 } else { 0.0 };
        f.header(
            "queue_ext_worker_waiting_seconds",
            "gauge",
            "How long work due in this database has waited for a background worker of the pool (0: none due, or a worker is here).",
        );
        f.sample("queue_ext_worker_waiting_seconds", &[], waiting);
        f.header("queue_ext_worker_present", "gauge", "1 while a background worker of the pool is in this database.");
        f.sample("queue_ext_worker_present", &[], if slot.pid != 0 { 1.0 } else { 0.0 });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn numbers_are_written_as_prometheus_reads_them() {
        assert_eq!(number(1.0), "1");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
