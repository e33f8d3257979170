//! Observability (issue 12): queue.stats against hand-counted truth, queue.metrics() parsed by a
//! real Prometheus parser, a real postgres_exporter scrape, histograms, per-worker view, the
//! constant-cost plan, and what hostile roles can do with it all.

use crate::common::{await_condition, config, connect, count, fill_history, job_table_depths, new_queue, TestDb};
use crate::hostile::role;
use postgres::Client;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::Duration;
use uuid::Uuid;

fn truth(c: &mut Client, queue: &str) -> [i64; 4] {
    job_table_depths(c, queue)
}

fn depths(c: &mut Client, queue: &str) -> [i64; 4] {
    let r = c
        .query_one("SELECT ready, scheduled, running, dead, counted FROM queue.stats WHERE queue = $1", &[&queue])
        .unwrap();
    assert!(r.get::<_, bool>(4), "depths of {queue} are known");
    [r.get(0), r.get(1), r.get(2), r.get(3)]
}

fn assert_depths(c: &mut Client, queue: &str, expected: [i64; 4], step: &str) {
    assert_eq!(truth(c, queue), expected, "the tables after {step}");
    assert_eq!(depths(c, queue), expected, "queue.stats after {step}");
}

/// Claim `batch` jobs as `worker`: (ids, token).
fn claim(c: &mut Client, queue: &str, batch: i32, worker: &str) -> (Vec<i64>, Option<Uuid>) {
    let rows = c
        .query("SELECT id, lease_token FROM queue.claim($1, batch => $2, worker => $3)", &[&queue, &batch, &worker])
        .unwrap();
    (rows.iter().map(|r| r.get(0)).collect(), rows.first().map(|r| r.get(1)))
}

fn stat_i64(c: &mut Client, queue: &str, column: &str) -> i64 {
    count(c, &format!("SELECT {column}::bigint FROM queue.stats WHERE queue = $1"), &[&queue])
}

/// The scripted scenario: every kind of move, savepoints and rollbacks; (queue, expected depths).
fn scenario(c: &mut Client) -> String {
    let q = new_queue(c, "st", "max_attempts => 2");
    let enqueue = "SELECT queue.enqueue($1, '{}'::jsonb)";
    c.execute("SELECT queue.enqueue($1, '{\"vip\": true}'::jsonb, priority => 10)", &[&q]).unwrap();
    c.execute("SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[9]))", &[&q]).unwrap();
    c.execute(
        "SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[5]), run_at => now() + interval '1 hour')",
        &[&q],
    )
    .unwrap();
    assert_depths(c, &q, [10, 5, 0, 0], "enqueue");

    // Rolled back: counts nothing. A savepoint rolled back inside a committed transaction: only
    // what follows it counts.
    let mut t = c.transaction().unwrap();
    t.execute("SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[3]))", &[&q]).unwrap();
    t.rollback().unwrap();
    let mut t = c.transaction().unwrap();
    t.batch_execute("SAVEPOINT s").unwrap();
    t.execute("SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[2]))", &[&q]).unwrap();
    t.batch_execute("ROLLBACK TO SAVEPOINT s").unwrap();
    t.execute(enqueue, &[&q]).unwrap();
    t.commit().unwrap();
    assert_depths(c, &q, [11, 5, 0, 0], "rollbacks");

    // The vip job fails twice: retried once, then dead.
    let (vip, token) = claim(c, &q, 1, "w1");
    c.execute("SELECT queue.fail($1, $2, 'boom', retry_in => '0')", &[&vip[0], &token]).unwrap();
    let (again, token) = claim(c, &q, 1, "w1");
    assert_eq!(again, vip);
    c.execute("SELECT queue.fail($1, $2, 'boom again')", &[&vip[0], &token]).unwrap();
    assert_depths(c, &q, [10, 5, 0, 1], "a job died");

    // Six claimed: three complete, one fails into a backoff, one is released, one stays running.
    let (ids, token) = claim(c, &q, 6, "w2");
    assert_eq!(ids.len(), 6);
    c.execute(
        "SELECT count(*) FROM queue.complete_many($1, ARRAY[$2]::uuid[])",
        &[&ids[..3].to_vec(), &token.unwrap()],
    )
    .unwrap();
    c.execute("SELECT queue.fail($1, $2, 'later', retry_in => '1 hour')", &[&ids[3], &token]).unwrap();
    c.execute("SELECT queue.release($1, $2)", &[&ids[4], &token]).unwrap();
    assert_depths(c, &q, [5, 6, 1, 1], "complete, fail, release");

    // A claim rolled back gives its jobs back; a cancel of a pending job.
    let mut t = c.transaction().unwrap();
    t.query("SELECT * FROM queue.claim($1, batch => 3)", &[&q]).unwrap();
    t.rollback().unwrap();
    let pending: i64 = c
        .query_one(
            "SELECT id FROM queue.jobs WHERE queue = $1 AND state = 'pending' AND run_at <= now() ORDER BY id LIMIT 1",
            &[&q],
        )
        .unwrap()
        .get(0);
    c.execute("SELECT queue.cancel($1)", &[&pending]).unwrap();
    assert_depths(c, &q, [4, 6, 1, 1], "claim rolled back, cancel");

    // Dead jobs sent back.
    c.execute("SELECT queue.retry($1)", &[&q]).unwrap();
    assert_depths(c, &q, [5, 6, 1, 0], "retry of the dead");
    q
}

#[test]
fn stats_match_hand_counted_truth_after_a_scripted_scenario() {
    let mut c = connect();
    let q = scenario(&mut c);
    assert_eq!(stat_i64(&mut c, &q, "done_last_minute"), 3);
    assert_eq!(stat_i64(&mut c, &q, "done_last_hour"), 3);
    // Failed attempts: the vip job twice and one backoff; retried: the vip's first and the backoff.
    assert_eq!(stat_i64(&mut c, &q, "failures_last_hour"), 3);
    assert_eq!(stat_i64(&mut c, &q, "retries_last_hour"), 2);
    let r = c
        .query_one(
            "SELECT throughput, mean_wait IS NOT NULL, mean_run IS NOT NULL, lag >= '0', paused, rate_limit IS NULL
               FROM queue.stats WHERE queue = $1",
            &[&q],
        )
        .unwrap();
    assert!((r.get::<_, f64>(0) - 3.0 / 60.0).abs() < 1e-9);
    assert!(r.get::<_, bool>(1) && r.get::<_, bool>(2) && r.get::<_, bool>(3));
    assert!(!r.get::<_, bool>(4) && r.get::<_, bool>(5));

    // Pause and a rate limit show.
    c.execute("SELECT queue.pause($1)", &[&q]).unwrap();
    c.execute("SELECT queue.alter_queue($1, rate_per_second => 2.5)", &[&q]).unwrap();
    let r = c.query_one("SELECT paused, rate_limit FROM queue.stats WHERE queue = $1", &[&q]).unwrap();
    assert!(r.get::<_, bool>(0));
    assert_eq!(r.get::<_, Option<f64>>(1), Some(2.5));
}

#[test]
fn completions_count_whatever_the_retention_keeps() {
    let mut c = connect();
    let q = new_queue(&mut c, "st_ret", "retention => '0'");
    c.execute("SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[4]))", &[&q]).unwrap();
    let (ids, token) = claim(&mut c, &q, 4, "w");
    c.execute("SELECT count(*) FROM queue.complete_many($1, ARRAY[$2]::uuid[])", &[&ids, &token.unwrap()]).unwrap();
    // Nothing kept in the history, yet the completions are counted.
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&q]), 0);
    assert_eq!(stat_i64(&mut c, &q, "done_last_minute"), 4);
    assert_eq!(stat_i64(&mut c, &q, "done_last_hour"), 4);
    assert_depths(&mut c, &q, [0, 0, 0, 0], "completions with retention 0");
}

#[test]
fn lag_is_the_age_of_the_oldest_ready_job_at_a_group_head() {
    let mut c = connect();
    let q = new_queue(&mut c, "st_lag", "");
    assert_eq!(count(&mut c, "SELECT extract(epoch FROM lag)::bigint FROM queue.stats WHERE queue = $1", &[&q]), 0);
    c.execute(
        "SELECT queue.enqueue($1, '{}'::jsonb, group_key => 'a', run_at => now() - interval '90 seconds')",
        &[&q],
    )
    .unwrap();
    c.execute(
        "SELECT queue.enqueue($1, '{}'::jsonb, group_key => 'b', run_at => now() - interval '30 seconds')",
        &[&q],
    )
    .unwrap();
    c.execute("SELECT queue.enqueue($1, '{}'::jsonb)", &[&q]).unwrap();
    let lag = count(&mut c, "SELECT extract(epoch FROM lag)::bigint FROM queue.stats WHERE queue = $1", &[&q]);
    assert!((90..95).contains(&lag), "lag {lag}");
}

#[test]
fn concurrent_producers_and_consumers_leave_exact_depths() {
    let mut c = connect();
    let q = new_queue(&mut c, "st_conc", "");
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let q = q.clone();
            std::thread::spawn(move || {
                let mut c = connect();
                for n in 0..50 {
                    if i % 2 == 0 {
                        c.execute("SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[7]))", &[&q]).unwrap();
                    } else {
                        let (ids, token) = claim(&mut c, &q, 5, "w");
                        if let Some(token) = token {
                            if n % 3 == 0 {
                                c.execute("SELECT queue.fail($1, $2, retry_in => '0')", &[&ids[0], &token]).unwrap();
                            }
                            let rest = ids[usize::from(n % 3 == 0)..].to_vec();
                            c.execute(
                                "SELECT count(*) FROM queue.complete_many($1, ARRAY[$2]::uuid[])",
                                &[&rest, &token],
                            )
                            .unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let t = truth(&mut c, &q);
    assert_eq!(depths(&mut c, &q), t);
    let done = count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state = 'done'", &[&q]);
    assert_eq!(stat_i64(&mut c, &q, "done_last_hour"), done);
}

/// The depths `queue.stats` shows, or None while they are not known.
fn known_depths(c: &mut Client, queue: &str) -> Option<[i64; 4]> {
    let r = c
        .query_one("SELECT ready, scheduled, running, dead, counted FROM queue.stats WHERE queue = $1", &[&queue])
        .unwrap();
    r.get::<_, bool>(4).then(|| [r.get(0), r.get(1), r.get(2), r.get(3)])
}

#[test]
fn recount_restores_exact_depths_and_is_for_admins_only() {
    // A database of its own, whose default isolation is SERIALIZABLE: the worker counts under
    // READ COMMITTED all the same (a count in an older snapshot would miss commits).
    let db = TestDb::without_extension("stats_recount");
    let mut admin = connect();
    admin
        .batch_execute(&format!("ALTER DATABASE {} SET default_transaction_isolation = 'serializable'", db.name))
        .unwrap();
    let mut c = db.connect();
    c.batch_execute("CREATE EXTENSION queue_ext; SET default_transaction_isolation = 'read committed'").unwrap();
    let q = scenario(&mut c);
    let expected = truth(&mut c, &q);
    // A writer holds the ready table: the worker neither counts it nor makes the writer wait.
    let mut writer = db.connect();
    writer.batch_execute("SET default_transaction_isolation = 'read committed'").unwrap();
    let mut tx = writer.transaction().unwrap();
    tx.execute("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap();
    assert_eq!(count(&mut c, "SELECT queue.recount()", &[]), 1);
    assert_eq!(known_depths(&mut c, &q), None, "depths are unknown until the worker has counted");
    // Another writer goes on meanwhile (a waiting lock request of the worker's would queue it).
    let mut other = db.connect();
    other.batch_execute("SET default_transaction_isolation = 'read committed'").unwrap();
    for _ in 0..20 {
        other.execute("SELECT queue.enqueue($1, '{}', run_at => now() + interval '1 hour')", &[&q]).unwrap();
    }
    tx.commit().unwrap();
    await_condition("the worker to count the queue", Duration::from_secs(30), || known_depths(&mut c, &q).is_some());
    let [ready, scheduled, running, dead] = expected;
    assert_eq!(known_depths(&mut c, &q), Some([ready + 1, scheduled + 20, running, dead]));
    assert_eq!(known_depths(&mut c, &q), Some(truth(&mut c, &q)));
    let mut producer = role(&mut c, "st_producer", &["queue_producer"]);
    let e = producer.query_one("SELECT queue.recount()", &[]).unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42501");
    let e = producer.query_one("SELECT queue_internal.stats_reset()", &[]).unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42501");
}

/// DROP EXTENSION and CREATE EXTENSION (what pg_restore --clean does) start the figures over:
/// queue ids start over too, and jobs loaded again must not add to what the old install counted.
#[test]
fn a_new_install_starts_its_figures_over() {
    let db = TestDb::new("stats_reinstall");
    let mut c = db.connect();
    let q = new_queue(&mut c, "st_again", "");
    c.execute("SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[5]))", &[&q]).unwrap();
    assert_eq!(depths(&mut c, &q), [5, 0, 0, 0]);
    let dump = std::env::temp_dir().join(format!("{}.dump", db.name));
    crate::dump::pg_tool("pg_dump", &["-Fc", "-d", &db.name, "-f", dump.to_str().unwrap()]);
    crate::dump::pg_tool("pg_restore", &["-d", &db.name, "--clean", "--exit-on-error", dump.to_str().unwrap()]);
    let mut c = db.connect();
    assert_eq!(count(&mut c, "SELECT id::bigint FROM queue.queues WHERE name = $1", &[&q]), 1, "the same queue id");
    await_condition("the worker to count the restored queue", Duration::from_secs(30), || {
        known_depths(&mut c, &q).is_some()
    });
    assert_eq!(depths(&mut c, &q), [5, 0, 0, 0]);
    assert_eq!(stat_i64(&mut c, &q, "done_last_hour"), 0);
    let _ = std::fs::remove_file(dump);
}

/// Parse `text` with prometheus_client's parser: every sample as (name, labels) -> value.
fn parse_prometheus(text: &str) -> HashMap<(String, Vec<(String, String)>), f64> {
    let python = std::env::var("QUEUE_EXT_TEST_PYTHON").expect("QUEUE_EXT_TEST_PYTHON: run through scripts/test");
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append([family.type, s.name, sorted(s.labels.items()), s.value])
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the parser refused the exposition:\n{text}");
    // [family type, sample name, sorted labels, value]
    type Sample = (String, String, Vec<(String, String)>, f64);
    let samples: Vec<Sample> = serde_json::from_slice(&out.stdout).unwrap();
    samples.into_iter().map(|(_, name, labels, v)| ((name, labels), v)).collect()
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    v.sort();
    v
}

#[test]
fn metrics_parse_with_a_real_prometheus_parser_and_match_the_queue() {
    let mut c = connect();
    let q = scenario(&mut c);
    c.execute("SELECT queue.enqueue($1, '{}'::jsonb, group_key => 'tenant \"x\"\\1')", &[&q]).unwrap();
    let text: String = c.query_one("SELECT queue.metrics()", &[]).unwrap().get(0);
    let m = parse_prometheus(&text);
    let [ready, scheduled, running, dead] = truth(&mut c, &q);
    for (state, n) in [("ready", ready), ("scheduled", scheduled), ("running", running), ("dead", dead)] {
        assert_eq!(m[&("queue_ext_jobs".into(), labels(&[("queue", &q), ("state", state)]))], n as f64, "{state}");
    }
    let one = |name: &str| m[&(name.to_string(), labels(&[("queue", &q)]))];
    assert_eq!(one("queue_ext_completed_total"), 3.0);
    assert_eq!(one("queue_ext_failed_total"), 3.0);
    assert_eq!(one("queue_ext_retried_total"), 2.0);
    assert_eq!(one("queue_ext_dead_total"), 1.0);
    assert_eq!(one("queue_ext_cancelled_total"), 1.0);
    assert_eq!(one("queue_ext_run_seconds_count"), 3.0);
    assert_eq!(m[&("queue_ext_run_seconds_bucket".into(), labels(&[("queue", &q), ("le", "+Inf")]))], 3.0);
    // First claims: the vip job, then six.
    assert_eq!(one("queue_ext_wait_seconds_count"), 7.0);
    assert_eq!(one("queue_ext_paused"), 0.0);
    // The running job, by worker (w2); its group is the default one.
    assert_eq!(m[&("queue_ext_running_jobs".into(), labels(&[("queue", &q), ("group", ""), ("worker", "w2")]))], 1.0);
}

#[test]
fn postgres_exporter_scrapes_the_queries_file_over_http() {
    let mut c = connect();
    let q = scenario(&mut c);
    // The exporter runs as a monitoring role, not a superuser: pg_monitor is all it needs.
    let _ = role(&mut c, "st_exporter", &["pg_monitor"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = config("st_exporter");
    let host = std::env::var("QUEUE_EXT_TEST_HOST").unwrap();
    let dsn = format!(
        "host={host} port={} user=st_exporter dbname={} sslmode=disable",
        std::env::var("QUEUE_EXT_TEST_PORT").unwrap(),
        cfg.get_dbname().unwrap()
    );
    let queries = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/postgres_exporter/queries.yaml");
    let mut exporter =
        std::process::Command::new(std::env::var("QUEUE_EXT_TEST_EXPORTER").expect("QUEUE_EXT_TEST_EXPORTER"))
            .args([
                &format!("--web.listen-address=127.0.0.1:{port}"),
                &format!("--extend.query-path={queries}"),
                "--disable-default-metrics",
                "--disable-settings-metrics",
            ])
            .env("DATA_SOURCE_NAME", dsn)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start prometheus-postgres-exporter");
    let scrape = || -> Option<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).ok()?;
        Some(body)
    };
    let [ready, _, _, dead] = truth(&mut c, &q);
    // A series of ours: name, our queue's label (the exporter may add labels of its own), value.
    let series = |text: &str, name: &str| -> Option<f64> {
        let label = format!("queue=\"{q}\"");
        text.lines()
            .find(|l| l.starts_with(&format!("{name}{{")) && l.contains(&label))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    };
    let mut last = String::new();
    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        await_condition("the exporter to serve our series", Duration::from_secs(30), || {
            last = scrape().unwrap_or_default();
            series(&last, "queue_ext_ready").is_some()
        })
    }));
    exporter.kill().unwrap();
    let out = exporter.wait_with_output().unwrap();
    assert!(
        found.is_ok(),
        "no queue_ext_ready for {q} in the scrape:\n{last}\nexporter said:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(series(&last, "queue_ext_ready"), Some(ready as f64));
    assert_eq!(series(&last, "queue_ext_dead"), Some(dead as f64));
    assert_eq!(series(&last, "queue_ext_done_last_hour"), Some(3.0));
    assert!(last.contains("# TYPE queue_ext_ready gauge"));
}

#[test]
fn histogram_draws_due_times_and_completions() {
    let mut c = connect();
    let q = new_queue(&mut c, "st_hist", "");
    c.execute("SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[4]))", &[&q]).unwrap();
    // 10 jobs in the 3rd minute from the one in progress, 5 in the 5th, 2 beyond the window.
    let base: chrono::DateTime<chrono::Utc> =
        c.query_one("SELECT date_bin('1 minute', now(), 'epoch')", &[]).unwrap().get(0);
    let at = |secs: i64| base + chrono::Duration::seconds(secs);
    c.execute("SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[10]), run_at => $2)", &[&q, &at(150)])
        .unwrap();
    c.execute("SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[5]), run_at => $2)", &[&q, &at(241)])
        .unwrap();
    c.execute(
        "SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[2]), run_at => now() + interval '2 hours')",
        &[&q],
    )
    .unwrap();
    let rows =
        c.query("SELECT bucket_start, jobs, bar FROM queue.histogram($1, '1 minute', 6, width => 10)", &[&q]).unwrap();
    assert_eq!(rows.len(), 7);
    let by_start: HashMap<chrono::DateTime<chrono::Utc>, (Option<i64>, String)> =
        rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect();
    // The first bucket holds every job due by its end: the ready ones (and, should a minute have
    // passed since the enqueue, nothing else yet).
    assert_eq!(rows[0].get::<_, Option<i64>>(1), Some(4));
    assert_eq!(by_start[&at(120)], (Some(10), "██████████".to_owned()));
    assert_eq!(by_start[&at(240)], (Some(5), "█████".to_owned()));
    assert_eq!(rows.last().unwrap().get::<_, Option<i64>>(1), Some(2), "due after the window");
    let total: i64 = rows.iter().map(|r| r.get::<_, Option<i64>>(1).unwrap()).sum();
    assert_eq!(total, 21);

    let (ids, token) = claim(&mut c, &q, 4, "w");
    c.execute("SELECT count(*) FROM queue.complete_many($1, ARRAY[$2]::uuid[])", &[&ids, &token.unwrap()]).unwrap();
    let rows = c.query("SELECT jobs FROM queue.histogram($1, '5 minutes', of => 'completed')", &[&q]).unwrap();
    assert_eq!(rows.len(), 12);
    assert_eq!(rows.last().unwrap().get::<_, Option<i64>>(0), Some(4));

    for (args, code) in [
        ("'0 seconds'", "22023"),
        ("'1 month'", "22023"),
        ("'1 minute', 0", "22023"),
        ("'1 minute', 30, 0", "22023"),
        ("'1 minute', of => 'nope'", "22023"),
        ("'90 seconds', of => 'completed'", "22023"),
    ] {
        let e = c.query(&format!("SELECT * FROM queue.histogram($1, {args})"), &[&q]).unwrap_err();
        assert_eq!(e.code().unwrap().code(), code, "{args}");
    }
    let e = c.query("SELECT * FROM queue.histogram('st_no_such_queue')", &[]).unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42704");
}

#[test]
fn workers_view_shows_who_holds_leases() {
    let mut c = connect();
    let q = new_queue(&mut c, "st_workers", "");
    c.execute("SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[5]))", &[&q]).unwrap();
    claim(&mut c, &q, 3, "alpha");
    claim(&mut c, &q, 1, "beta");
    let rows = c
        .query(
            "SELECT worker, leases, oldest_lease_age >= '0', last_seen <= now(), next_expiry > now()
               FROM queue.workers WHERE queue = $1 ORDER BY worker",
            &[&q],
        )
        .unwrap();
    let got: Vec<(String, i64, bool, bool, bool)> =
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))).collect();
    assert_eq!(got, vec![("alpha".into(), 3, true, true, true), ("beta".into(), 1, true, true, true)]);
}

#[test]
fn hostile_roles_can_read_figures_but_not_change_them() {
    let mut c = connect();
    let q = new_queue(&mut c, "st_hostile", "");
    c.execute("SELECT queue.enqueue($1, '{}'::jsonb)", &[&q]).unwrap();
    // A role in no queue role reads nothing.
    let mut nobody = role(&mut c, "st_nobody", &[]);
    for sql in ["SELECT * FROM queue.stats", "SELECT queue.metrics()", "SELECT * FROM queue.workers"] {
        let e = nobody.query(sql, &[]).unwrap_err();
        assert_eq!(e.code().unwrap().code(), "42501", "{sql}");
    }
    let e = nobody.query("SELECT * FROM queue.histogram($1)", &[&q]).unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42501");
    // A producer reads them, and cannot point the counting trigger at a table of its own or call
    // the internal functions to forge figures.
    let mut producer = role(&mut c, "st_hostile_producer", &["queue_producer"]);
    assert_eq!(count(&mut producer, "SELECT ready FROM queue.stats WHERE queue = $1", &[&q]), 1);
    producer.query_one("SELECT queue.metrics()", &[]).unwrap();
    producer.batch_execute("CREATE TEMP TABLE ready (queue_id int)").unwrap();
    let e = producer
        .batch_execute("CREATE TRIGGER forge AFTER INSERT ON pg_temp.ready REFERENCING NEW TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue_internal.count_jobs()")
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42501");
    assert_eq!(count(&mut c, "SELECT ready FROM queue.stats WHERE queue = $1", &[&q]), 1);
    // Queue names and group keys reach the exposition escaped, never as text that could forge a
    // series (checked by the parser test); a hostile worker name neither.
    c.execute("SELECT queue.enqueue($1, '{}'::jsonb)", &[&q]).unwrap();
    let mut worker = role(&mut c, "st_hostile_worker", &["queue_worker"]);
    worker.query("SELECT * FROM queue.claim($1, worker => E'w\"} 1\\nqueue_ext_jobs{queue=\"x\"')", &[&q]).unwrap();
    let text: String = c.query_one("SELECT queue.metrics()", &[]).unwrap().get(0);
    let m = parse_prometheus(&text);
    assert!(!m.keys().any(|(name, l)| name == "queue_ext_jobs" && l.contains(&("queue".into(), "x".into()))));
}

/// Every node of an EXPLAIN (FORMAT JSON) plan.
fn plan_nodes(node: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    out.push(node.clone());
    if let Some(children) = node.get("Plans").and_then(|p| p.as_array()) {
        for child in children {
            plan_nodes(child, out);
        }
    }
}

#[test]
fn stats_read_no_history_and_no_backlog_whatever_their_size() {
    // A database of its own: the plan must not see the other tests' queues.
    let db = TestDb::new("stats_plan");
    let mut c = db.connect();
    let q = new_queue(&mut c, "stplan", "");
    // Written directly (the test role is superuser), in single statements: the counting triggers
    // see 100 000 rows at once. 100 000 finished, 100 000 due tomorrow, 50 000 ready in 500 groups
    // with mixed priorities.
    fill_history(&mut c, &q, 100_000);
    c.execute(
        "INSERT INTO queue.scheduled (queue_id, payload, max_attempts, run_at, enqueued_at, group_key)
         SELECT q.id, '{}', 25, now() + interval '1 day', now(), 'user' || g FROM queue.queues q, generate_series(1, 100000) g
          WHERE q.name = $1",
        &[&q],
    )
    .unwrap();
    c.execute(
        "INSERT INTO queue.ready (queue_id, payload, max_attempts, run_at, enqueued_at, group_key, priority)
         SELECT q.id, '{}', 25, now() - (g % 97) * interval '1 second', now(), 'g' || (g % 500), g % 3
           FROM queue.queues q, generate_series(1, 50000) g WHERE q.name = $1",
        &[&q],
    )
    .unwrap();
    c.batch_execute("VACUUM ANALYZE queue.ready, queue.scheduled, queue.done").unwrap();
    assert_eq!(depths(&mut c, &q), [50_000, 100_000, 0, 0]);

    let plan: serde_json::Value =
        c.query_one("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM queue.stats", &[]).unwrap().get(0);
    let mut nodes = Vec::new();
    plan_nodes(&plan[0]["Plan"], &mut nodes);
    let mut ready_rows = 0.0;
    for n in &nodes {
        let Some(rel) = n.get("Relation Name").and_then(|r| r.as_str()) else { continue };
        assert!(!["done", "scheduled", "dead", "running"].contains(&rel), "queue.stats reads queue.{rel}:\n{plan:#}");
        if rel == "ready" {
            let kind = n["Node Type"].as_str().unwrap();
            assert!(kind.starts_with("Index"), "queue.stats reads ready by {kind}:\n{plan:#}");
            ready_rows += n["Actual Rows"].as_f64().unwrap() * n["Actual Loops"].as_f64().unwrap();
        }
    }
    // The lag probes: 100 groups found and 100 heads read, of 50 000 ready jobs.
    assert!(ready_rows <= 250.0, "queue.stats read {ready_rows} ready rows:\n{plan:#}");
    let buffers = plan[0]["Plan"]["Shared Hit Blocks"].as_i64().unwrap()
        + plan[0]["Plan"]["Shared Read Blocks"].as_i64().unwrap();
    assert!(buffers < 2_000, "queue.stats read {buffers} buffers");
}
