//! The claim rules under concurrency: rate limits and schedules, caps, fairness, group backoff.

use crate::common::{await_condition, connect, count, new_queue};
use postgres::Client;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Enqueue `n` jobs into `group` ("" for no group_key).
fn enqueue_group(c: &mut Client, q: &str, group: &str, n: i32) {
    let payloads: Vec<serde_json::Value> = (0..n).map(|i| json!({"i": i})).collect();
    let group = (!group.is_empty()).then_some(group);
    c.execute("SELECT count(*) FROM queue.enqueue_many($1, $2, group_key => $3)", &[&q, &payloads, &group]).unwrap();
}

/// Claim instants (microseconds) of every job of `q` ever claimed.
fn claim_instants(c: &mut Client, q: &str) -> Vec<i64> {
    c.query(
        "SELECT (extract(epoch FROM first_claimed_at) * 1e6)::bigint FROM queue.jobs WHERE queue = $1 AND first_claimed_at IS NOT NULL ORDER BY 1",
        &[&q],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn rate_limit_holds_in_every_one_second_window() {
    let mut c = connect();
    let q = new_queue(&mut c, "rate", "rate_per_second => 50, burst => 10");
    enqueue_group(&mut c, &q, "", 2000);
    let run_for = Duration::from_secs(10);
    let barrier = Arc::new(Barrier::new(8));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (q, barrier) = (q.clone(), barrier.clone());
            thread::spawn(move || {
                let mut c = connect();
                barrier.wait();
                let start = Instant::now();
                while start.elapsed() < run_for {
                    for r in c.query("SELECT id, lease_token FROM queue.claim($1, batch => 5)", &[&q]).unwrap() {
                        c.execute("SELECT queue.complete($1, $2)", &[&r.get::<_, i64>(0), &r.get::<_, Uuid>(1)])
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let t = claim_instants(&mut c, &q);
    let (first, last) = (t[0], *t.last().unwrap());
    // Every window [t, t + 1 s) that starts at a claim: at most rate + burst claims.
    let mut worst = 0;
    for (i, start) in t.iter().enumerate() {
        let in_window = t[i..].iter().take_while(|x| **x < start + 1_000_000).count();
        worst = worst.max(in_window);
    }
    assert!(worst <= 60, "a one-second window saw {worst} claims");
    // The rate is let through: in the typical second of the run (the median of its whole
    // seconds, so that a second in which this 2-core machine starved the claimers does not
    // count), within 10% of 50 claims.
    let mut per_second: Vec<usize> =
        (0..(last - first) / 1_000_000).map(|k| t.iter().filter(|x| (**x - first) / 1_000_000 == k).count()).collect();
    assert!(per_second.len() >= 5, "claims spanned only {} whole seconds", per_second.len());
    let in_order = per_second.clone();
    per_second.sort_unstable();
    let median = per_second[per_second.len() / 2];
    assert!((45..=55).contains(&median), "claims per second {in_order:?}: median {median}");
}

#[test]
fn rate_schedule_switches_at_the_configured_boundary() {
    let mut c = connect();
    let q = new_queue(&mut c, "sched", "rate_per_second => 7");
    c.execute(
        "SELECT queue.set_rate_schedule($1, peak_rate => 100, off_peak_rate => 10, timezone => 'Europe/Paris',
                                        peak_days => 'mon-fri', peak_hours => '9-17', peak_burst => 20)",
        &[&q],
    )
    .unwrap();
    let at = |c: &mut Client, t: &str| -> (Option<f64>, Option<i32>, Option<bool>) {
        let r = c.query_one("SELECT * FROM queue.effective_rate($1, $2::text::timestamptz)", &[&q, &t]).unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    // Monday 23 November 2026; Paris is UTC+1 in winter.
    // No off-peak burst set: the one claims use shows (the rate rounded up).
    assert_eq!(at(&mut c, "2026-11-23 07:59:59.999+00"), (Some(10.0), Some(10), Some(false)));
    assert_eq!(at(&mut c, "2026-11-23 08:00:00+00"), (Some(100.0), Some(20), Some(true)));
    assert_eq!(at(&mut c, "2026-11-23 15:59:59.999+00"), (Some(100.0), Some(20), Some(true)));
    assert_eq!(at(&mut c, "2026-11-23 16:00:00+00"), (Some(10.0), Some(10), Some(false)));
    assert_eq!(at(&mut c, "2026-11-28 10:00:00+00"), (Some(10.0), Some(10), Some(false)), "Saturday is off-peak");
    assert!(c.query_one("SELECT queue.clear_rate_schedule($1)", &[&q]).unwrap().get::<_, bool>(0));
    assert_eq!(at(&mut c, "2026-11-23 10:00:00+00"), (Some(7.0), Some(7), None));

    // And claims follow the schedule in force now: a peak covering this hour, every day.
    c.execute(
        "SELECT queue.set_rate_schedule($1, peak_rate => 1, off_peak_rate => NULL, peak_burst => 3, peak_days => 'mon-sun',
                                        peak_hours => extract(hour FROM now() AT TIME ZONE 'UTC')::int || '-' || extract(hour FROM now() AT TIME ZONE 'UTC')::int + 1)",
        &[&q],
    )
    .unwrap();
    let minute: i32 = c.query_one("SELECT extract(minute FROM now())::int", &[]).unwrap().get(0);
    if minute < 59 {
        enqueue_group(&mut c, &q, "", 50);
        let claimed = count(&mut c, "SELECT count(*) FROM queue.claim($1, batch => 50)", &[&q]);
        assert!((3..=4).contains(&claimed), "peak burst 3 should allow 3 claims at once, got {claimed}");
    }
}

#[test]
fn claims_rotate_fairly_across_groups() {
    let mut c = connect();
    let q = new_queue(&mut c, "fair", "");
    enqueue_group(&mut c, &q, "whale", 10_000);
    for g in 1..=9 {
        enqueue_group(&mut c, &q, &format!("minnow{g}"), 100);
    }
    // Four concurrent workers claim batches of 5 until 1 000 jobs were handed out.
    let barrier = Arc::new(Barrier::new(4));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (q, barrier) = (q.clone(), barrier.clone());
            thread::spawn(move || {
                let mut c = connect();
                barrier.wait();
                while count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state <> 'pending'", &[&q])
                    < 1000
                {
                    c.query("SELECT id FROM queue.claim($1, batch => 5)", &[&q]).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let order: Vec<String> = c
        .query(
            "SELECT group_key FROM queue.jobs WHERE queue = $1 AND claimed_at IS NOT NULL ORDER BY claimed_at, id LIMIT 1000",
            &[&q],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let first_100: std::collections::HashSet<&String> = order.iter().take(100).collect();
    assert_eq!(first_100.len(), 10, "the first 100 claims missed a group: {first_100:?}");
    let mut per_group: HashMap<&String, f64> = HashMap::new();
    for g in &order {
        *per_group.entry(g).or_default() += 1.0;
    }
    let xs: Vec<f64> = per_group.values().copied().collect();
    let jain = xs.iter().sum::<f64>().powi(2) / (xs.len() as f64 * xs.iter().map(|x| x * x).sum::<f64>());
    assert!(jain >= 0.95, "Jain's index {jain} over the first 1000 claims: {per_group:?}");
}

/// The most jobs of `q` running at once (per group when `by_group`), from claim and finish times.
fn max_concurrency(c: &mut Client, q: &str, by_group: bool) -> i64 {
    c.query_one(
        "WITH events AS (
             SELECT CASE WHEN $2 THEN group_key ELSE '' END AS g, claimed_at AS t, 1 AS d FROM queue.jobs WHERE queue = $1 AND claimed_at IS NOT NULL
             UNION ALL
             SELECT CASE WHEN $2 THEN group_key ELSE '' END, finished_at, -1 FROM queue.jobs WHERE queue = $1 AND finished_at IS NOT NULL
         )
         SELECT coalesce(max(running), 0) FROM (
             SELECT sum(d) OVER (PARTITION BY g ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS running FROM events) AS r",
        &[&q, &by_group],
    )
    .unwrap()
    .get(0)
}

/// The most of `spans` (group, held from, held until) that overlap at once, per group when
/// `by_group`.
fn max_overlap(spans: &[(String, Instant, Instant)], by_group: bool) -> i64 {
    let mut events: Vec<(&str, Instant, i64)> = Vec::new();
    for (g, from, until) in spans {
        let g = if by_group { g.as_str() } else { "" };
        events.push((g, *from, 1));
        events.push((g, *until, -1));
    }
    // Ends before starts at the same instant: touching spans do not overlap.
    events.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    let (mut best, mut running, mut group) = (0, 0, "");
    for (g, _, d) in events {
        if g != group {
            (group, running) = (g, 0);
        }
        running += d;
        best = best.max(running);
    }
    best
}

#[test]
fn caps_are_never_exceeded_under_eight_concurrent_claimers() {
    let mut c = connect();
    let q = new_queue(&mut c, "caps", "max_running => 5, max_running_per_group => 2");
    for g in ["a", "b", "c", "d"] {
        enqueue_group(&mut c, &q, g, 60);
    }
    let barrier = Arc::new(Barrier::new(8));
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let (q, barrier) = (q.clone(), barrier.clone());
            thread::spawn(move || {
                let mut c = connect();
                barrier.wait();
                let mut seed = w as u64 + 1;
                // Each job from when its claim returned (after the claim committed) to when its
                // complete was sent (before it committed): inside the time the job really ran, so
                // that spans overlapping beyond a cap prove the cap was exceeded. The jobs' own
                // claimed_at and finished_at cannot: finished_at is the completing transaction's
                // start, earlier than the commit a later claim saw.
                let mut spans = Vec::new();
                loop {
                    let rows =
                        c.query("SELECT id, lease_token, group_key FROM queue.claim($1, batch => 3)", &[&q]).unwrap();
                    let claimed = Instant::now();
                    if rows.is_empty() {
                        if count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state <> 'done'", &[&q])
                            == 0
                        {
                            return spans;
                        }
                        continue;
                    }
                    for r in rows {
                        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        thread::sleep(Duration::from_micros(200 + (seed >> 54))); // holding the job, up to ~1.2 ms
                        spans.push((r.get::<_, String>(2), claimed, Instant::now()));
                        c.execute("SELECT queue.complete($1, $2)", &[&r.get::<_, i64>(0), &r.get::<_, Uuid>(1)])
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    let spans: Vec<_> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state = 'done'", &[&q]), 240);
    assert_eq!(spans.len(), 240);
    let overall = max_overlap(&spans, false);
    let per_group = max_overlap(&spans, true);
    assert!(overall <= 5, "max_running exceeded: {overall}");
    assert!(per_group <= 2, "max_running_per_group exceeded: {per_group}");
    // The cap was reached, as the jobs' own times show (they can only overstate how many ran).
    assert!(max_concurrency(&mut c, &q, false) >= 5, "the cap was never reached: the test did not test it");
}

/// alter_queue(group_backoff => false) frees a group that is already backing off (issue 16 §5):
/// before, it stayed held back until its eligible_at, up to backoff_max later.
#[test]
fn turning_group_backoff_off_frees_a_group_already_backing_off() {
    let mut c = connect();
    let q = new_queue(&mut c, "gback_off", "backoff_base => '1 hour', backoff_max => '1 hour'");
    enqueue_group(&mut c, &q, "broken", 3);
    let r = c.query_one("SELECT id, lease_token FROM queue.claim($1)", &[&q]).unwrap();
    c.execute(
        "SELECT queue.fail($1, $2, 'upstream down', retry_in => '0')",
        &[&r.get::<_, i64>(0), &r.get::<_, Uuid>(1)],
    )
    .unwrap();
    // The group backs off for half an hour at least: its three ready jobs are held back.
    assert!(c.query("SELECT id FROM queue.claim($1, batch => 10)", &[&q]).unwrap().is_empty());

    c.execute("SELECT queue.alter_queue($1, group_backoff => false)", &[&q]).unwrap();
    let claimed = c.query("SELECT group_key FROM queue.claim($1, batch => 10)", &[&q]).unwrap();
    assert_eq!(claimed.len(), 3, "the group stayed backed off after group_backoff => false");
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM queue.group_state s JOIN queue.queues q ON q.id = s.queue_id WHERE q.name = $1",
            &[&q]
        ),
        0
    );
}

#[test]
fn a_failing_group_backs_off_while_others_flow_and_one_success_resets_it() {
    let mut c = connect();
    let q = new_queue(&mut c, "gback", "backoff_base => '200 ms', backoff_max => '1 minute'");
    enqueue_group(&mut c, &q, "broken", 5);
    enqueue_group(&mut c, &q, "healthy", 500);
    let mut delays = Vec::new(); // eligible_at - failure time, per consecutive failure
    let mut healthy_between = Vec::new();
    let mut healthy_done = 0;
    let mut last_eligible: Option<f64> = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    // One job per claim, so that every claim of the broken group comes after its previous failure.
    while delays.len() < 3 {
        assert!(Instant::now() < deadline, "the broken group was not retried");
        for r in c.query("SELECT id, lease_token, group_key, extract(epoch FROM clock_timestamp())::float8 FROM queue.claim($1, batch => 1)", &[&q]).unwrap() {
            let (id, token, group, now): (i64, Uuid, String, f64) = (r.get(0), r.get(1), r.get(2), r.get(3));
            if group == "broken" {
                if let Some(eligible) = last_eligible {
                    assert!(now >= eligible, "broken group claimed {:.3}s before it was eligible", eligible - now);
                }
                c.execute("SELECT queue.fail($1, $2, 'upstream down', retry_in => '0')", &[&id, &token]).unwrap();
                let (failures, eligible, failed_at): (i32, f64, f64) = {
                    let s = c
                        .query_one(
                            "SELECT consecutive_failures, extract(epoch FROM eligible_at)::float8, extract(epoch FROM now())::float8
                               FROM queue.group_state s JOIN queue.queues q ON q.id = s.queue_id
                              WHERE q.name = $1 AND s.group_key = 'broken'",
                            &[&q],
                        )
                        .unwrap();
                    (s.get(0), s.get(1), s.get(2))
                };
                assert_eq!(failures as usize, delays.len() + 1);
                delays.push(eligible - failed_at);
                healthy_between.push(healthy_done);
                last_eligible = Some(eligible);
                healthy_done = 0;
            } else {
                c.execute("SELECT queue.complete($1, $2)", &[&id, &token]).unwrap();
                healthy_done += 1;
            }
        }
    }
    // Delays grow: failure n waits 200 ms · 2^(n-1) · [0.5, 1), so each exceeds the one before.
    for (n, d) in delays.iter().enumerate() {
        let full = 0.2 * 2f64.powi(n as i32);
        assert!(*d >= full / 2.0 - 0.01 && *d < full + 0.01, "delay {n}: {d}");
    }
    assert!(delays.windows(2).all(|w| w[1] > w[0]), "delays do not grow: {delays:?}");
    assert!(
        healthy_between[1..].iter().all(|n| *n > 0),
        "healthy jobs did not flow during the backoff: {healthy_between:?}"
    );

    // One success resets the group.
    let eligible = last_eligible.unwrap();
    await_condition("the broken group to become eligible", Duration::from_secs(30), || {
        c.query_one("SELECT extract(epoch FROM clock_timestamp())::float8", &[]).unwrap().get::<_, f64>(0) >= eligible
    });
    let mut recovered = false;
    await_condition("a job of the broken group", Duration::from_secs(30), || {
        for r in c.query("SELECT id, lease_token, group_key FROM queue.claim($1, batch => 10)", &[&q]).unwrap() {
            c.execute("SELECT queue.complete($1, $2)", &[&r.get::<_, i64>(0), &r.get::<_, Uuid>(1)]).unwrap();
            recovered |= r.get::<_, String>(2) == "broken";
        }
        recovered
    });
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM queue.group_state s JOIN queue.queues q ON q.id = s.queue_id WHERE q.name = $1",
            &[&q]
        ),
        0,
        "success did not reset the group"
    );
}
