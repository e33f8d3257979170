//! Hash slots, consistent buckets, spread enqueues and interleaved polling.

use crate::common::{connect, count, new_queue};
use std::io::Write;
use std::process::{Command, Stdio};

fn one_f64(c: &mut postgres::Client, sql: &str) -> f64 {
    c.query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn hundred_thousand_ids_fill_96_slots_of_a_day_evenly() {
    let mut c = connect();
    let ratio = one_f64(
        &mut c,
        "SELECT max(n)::float8 / avg(n)::float8 FROM (
             SELECT floor(queue.slot_fraction(id::text) * 96) AS slot, count(*) AS n
               FROM generate_series(1, 100000) AS id GROUP BY 1) AS s",
    );
    assert!(ratio <= 1.10, "max bucket / mean = {ratio}");
    assert_eq!(
        count(
            &mut c,
            "SELECT count(DISTINCT floor(queue.slot_fraction(id::text) * 96)) FROM generate_series(1, 100000) AS id",
            &[]
        ),
        96
    );
    // The same holds for the job run_at times a spread enqueue computes over a day.
    let ratio = one_f64(
        &mut c,
        "SELECT max(n)::float8 / avg(n)::float8 FROM (
             SELECT floor(extract(epoch FROM queue.slot_offset(id::text, '1 day')) / 900) AS slot, count(*) AS n
               FROM generate_series(1, 100000) AS id GROUP BY 1) AS s",
    );
    assert!(ratio <= 1.10, "max 15-minute slot / mean = {ratio}");
}

#[test]
fn changing_the_period_keeps_every_keys_phase() {
    let mut c = connect();
    // Phase = position in the period / period, for 1 day and 6 hours: equal up to a microsecond.
    let worst = one_f64(
        &mut c,
        "SELECT max(abs(extract(epoch FROM queue.slot_offset(k, '1 day')) / 86400
                      - extract(epoch FROM queue.slot_offset(k, '6 hours')) / 21600))::float8
           FROM (SELECT 'user-' || g AS k FROM generate_series(1, 10000) g) AS keys",
    );
    assert!(worst < 1e-9, "phase moved by {worst}");
    let worst = one_f64(
        &mut c,
        "SELECT max(abs(extract(epoch FROM queue.next_slot(k, '1 day', t) - date_trunc('day', t)) / 86400 - queue.slot_fraction(k)))::float8
           FROM (SELECT 'user-' || g AS k, '2026-11-22 00:00+00'::timestamptz AS t FROM generate_series(1, 1000) g) AS keys",
    );
    assert!(worst < 1e-9, "next_slot is off the key's phase by {worst}");
}

#[test]
fn growing_buckets_moves_about_one_key_in_n_plus_one() {
    let mut c = connect();
    for n in [10, 96] {
        let moved = count(
            &mut c,
            "SELECT count(*) FROM generate_series(1, 100000) AS id WHERE queue.bucket(id::text, $1) <> queue.bucket(id::text, $1 + 1)",
            &[&n],
        ) as f64;
        let expected = 100_000.0 / (n as f64 + 1.0);
        // Stated tolerance: within 10% of 1/(n+1).
        assert!((moved - expected).abs() <= expected * 0.10, "n = {n}: moved {moved}, expected about {expected}");
        // And every moved key went to the new bucket.
        let elsewhere = count(
            &mut c,
            "SELECT count(*) FROM generate_series(1, 100000) AS id
              WHERE queue.bucket(id::text, $1) <> queue.bucket(id::text, $1 + 1) AND queue.bucket(id::text, $1 + 1) <> $1",
            &[&n],
        );
        assert_eq!(elsewhere, 0);
    }
}

#[test]
fn the_documented_python_client_computes_the_same_values() {
    let mut c = connect();
    let period_us: i64 = 6 * 3600 * 1_000_000;
    let rows = c
        .query(
            "SELECT k, queue.slot_fraction(k), (extract(epoch FROM queue.slot_offset(k, '6 hours')) * 1e6)::bigint,
                    (extract(epoch FROM queue.next_slot(k, '6 hours', '2026-11-22 13:14:15.123456+00')) * 1e6)::bigint,
                    queue.bucket(k, 96)
               FROM (SELECT unnest(ARRAY['', 'hello', 'user:42', 'émile', '日本', 'a much longer key with spaces']) AS k
                     UNION ALL SELECT g::text FROM generate_series(1, 500) g) AS keys",
            &[],
        )
        .unwrap();
    let after_us: i64 = c
        .query_one("SELECT (extract(epoch FROM '2026-11-22 13:14:15.123456+00'::timestamptz) * 1e6)::bigint", &[])
        .unwrap()
        .get(0);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/python/queue_ext_slots.py");
    let mut py =
        Command::new("python3").arg(script).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("python3");
    {
        let stdin = py.stdin.as_mut().unwrap();
        for r in &rows {
            let line = serde_json::json!({"key": r.get::<_, String>(0), "period_us": period_us, "after_us": after_us, "buckets": 96});
            writeln!(stdin, "{line}").unwrap();
        }
    }
    let out = py.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), rows.len());
    for (r, py) in rows.iter().zip(&lines) {
        let key: String = r.get(0);
        assert_eq!(py["fraction"].as_f64().unwrap(), r.get::<_, f64>(1), "fraction of {key:?}");
        assert_eq!(py["offset_us"].as_i64().unwrap(), r.get::<_, i64>(2), "offset of {key:?}");
        assert_eq!(py["next_slot_us"].as_i64().unwrap(), r.get::<_, i64>(3), "next slot of {key:?}");
        assert_eq!(py["bucket"].as_i64().unwrap(), r.get::<_, i32>(4) as i64, "bucket of {key:?}");
    }
}

#[test]
fn spread_enqueue_and_trigger_put_jobs_at_the_keys_slot() {
    let mut c = connect();
    let q = new_queue(&mut c, "spread", "");
    let id: i64 = c
        .query_one("SELECT queue.enqueue($1, '{}', spread_key => 'user:7', spread_period => '6 hours')", &[&q])
        .unwrap()
        .get(0);
    let ok: bool = c
        .query_one(
            "SELECT run_at = queue.next_slot('user:7', '6 hours', enqueued_at) FROM queue.jobs WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert!(ok, "spread enqueue is not at the key's slot");
    // With run_at, the slot is the first at or after it.
    let id: i64 = c
        .query_one(
            "SELECT queue.enqueue($1, '{}', run_at => '2030-01-01', spread_key => 'user:7', spread_period => '1 day')",
            &[&q],
        )
        .unwrap()
        .get(0);
    let ok: bool = c
        .query_one(
            "SELECT run_at = queue.next_slot('user:7', '1 day', '2030-01-01') FROM queue.jobs WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert!(ok);

    let t = format!("{q}_users");
    c.batch_execute(&format!(
        "CREATE TABLE {t} (id int, name text);
         CREATE TRIGGER enq AFTER INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION queue.enqueue_trigger('{q}', 'spread=id:1 day');
         INSERT INTO {t} VALUES (1, 'a'), (2, 'b'), (NULL, 'c');"
    ))
    .unwrap();
    let rows = c
        .query(
            "SELECT payload->'new'->>'id', run_at = queue.next_slot(payload->'new'->>'id', '1 day', enqueued_at), run_at = enqueued_at
               FROM queue.jobs WHERE queue = $1 AND payload ? 'new' ORDER BY id",
            &[&q],
        )
        .unwrap();
    let got: Vec<(Option<String>, Option<bool>, bool)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    assert_eq!(got[0].1, Some(true));
    assert_eq!(got[1].1, Some(true));
    assert_eq!((got[2].0.clone(), got[2].2), (None, true), "a NULL spread column is due at once");
}

fn coefficient_of_variation(xs: &[f64]) -> f64 {
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
    var.sqrt() / mean
}

#[test]
fn poll_delay_interleaves_workers_without_drift() {
    let mut c = connect();
    let (n, spacing_ms, polls) = (4, 100.0, 40);
    // Each worker polls, works for a pseudo-random time shorter than a cycle, then sleeps.
    let mut seed: u64 = 42;
    let mut job_ms = || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as f64 / (1u64 << 31) as f64 * spacing_ms * n as f64 * 0.9
    };
    let start_ms = 1_795_000_000_000.0; // an arbitrary instant, as Unix milliseconds
    let mut slotted = Vec::new();
    let mut fixed = Vec::new();
    for worker in 0..n {
        let (mut t, mut u) = (start_ms + worker as f64 * 7.0, start_ms + worker as f64 * 7.0);
        for _ in 0..polls {
            let work = job_ms();
            let at = t + work;
            let delay_ms: f64 = c
                .query_one(
                    "SELECT extract(epoch FROM queue.poll_delay($1, $2, '100 ms', at => to_timestamp($3::float8 / 1000)))::float8 * 1000",
                    &[&worker, &n, &at],
                )
                .unwrap()
                .get(0);
            t = at + delay_ms;
            slotted.push(t);
            // The naive worker sleeps a fixed n × spacing after each job.
            u += work + spacing_ms * n as f64;
            fixed.push(u);
        }
    }
    let gaps = |mut polls: Vec<f64>| {
        polls.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let window: Vec<f64> =
            polls.into_iter().filter(|p| *p > start_ms + 2000.0 && *p < start_ms + 12000.0).collect();
        window.windows(2).map(|w| w[1] - w[0]).collect::<Vec<f64>>()
    };
    let slotted_gaps = gaps(slotted);
    assert!(slotted_gaps.len() > 50);
    assert!(slotted_gaps.iter().all(|g| (g - spacing_ms).abs() < 0.01), "polls collide or drift: {slotted_gaps:?}");
    let cv = coefficient_of_variation(&slotted_gaps);
    assert!(cv <= 0.05, "poll_delay gaps CV = {cv}");
    let fixed_cv = coefficient_of_variation(&gaps(fixed));
    assert!(fixed_cv > 0.3, "fixed sleeps were expected to bunch up (CV {fixed_cv})");
}
