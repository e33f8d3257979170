//! Cron schedules and spread refreshes, fired by the real background worker (issue 10).

use crate::common::{await_condition, await_worker_ticks, connect, count, new_queue, worker_pid, TestDb};
use crate::hostile::role;
use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use postgres::Client;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

fn error_of(c: &mut Client, sql: &str) -> Option<(String, String, Option<String>)> {
    c.batch_execute(sql).err().map(|e| {
        let db = e.as_db_error().unwrap_or_else(|| panic!("not a server error: {e}"));
        (db.code().code().to_owned(), db.message().to_owned(), db.hint().map(str::to_owned))
    })
}

fn timestamps(c: &mut Client, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> Vec<DateTime<Utc>> {
    c.query(sql, params).unwrap().iter().map(|r| r.get(0)).collect()
}

#[test]
fn a_schedule_fires_once_per_fire_time() {
    let mut c = connect();
    let q = new_queue(&mut c, "sched", "");
    let name = format!("every_second_{q}");
    let first: DateTime<Utc> =
        c.query_one("SELECT queue.schedule($1, '1 seconds', $2, '{\"kind\": \"tick\"}')", &[&name, &q]).unwrap().get(0);
    await_condition("three fires", Duration::from_secs(30), || {
        count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&q]) >= 3
    });
    c.execute("SELECT queue.pause_schedule($1)", &[&name]).unwrap();

    let runs = timestamps(&mut c, "SELECT run_at FROM queue.jobs WHERE queue = $1 ORDER BY run_at", &[&q]);
    let distinct: HashSet<_> = runs.iter().collect();
    assert_eq!(distinct.len(), runs.len(), "a fire time fired twice: {runs:?}");
    assert!(runs.iter().all(|t| t.timestamp_subsec_micros() == 0), "fire times are whole seconds: {runs:?}");
    let row = c
        .query_one(
            "SELECT fires, misses, last_job_id, last_fire_at, owner::text FROM queue.schedules WHERE name = $1",
            &[&name],
        )
        .unwrap();
    let (fires, misses): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(fires, runs.len() as i64);
    // Every fire time from the first to the last either fired or was counted as missed.
    let span = (*runs.last().unwrap() - first).num_seconds() + 1;
    assert_eq!(fires + misses, span, "fires {fires} + misses {misses} over {span} fire times");
    let last_job: i64 = row.get(2);
    assert_eq!(last_job, count(&mut c, "SELECT max(id) FROM queue.jobs WHERE queue = $1", &[&q]));
    assert_eq!(row.get::<_, DateTime<Utc>>(3), *runs.last().unwrap());
    assert_eq!(row.get::<_, String>(4), "postgres");
    let payloads =
        count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND payload = '{\"kind\": \"tick\"}'", &[&q]);
    assert_eq!(payloads, runs.len() as i64);

    // Paused: no more fires however long we wait (the worker ticks on).
    let jobs = runs.len() as i64;
    await_worker_ticks(&mut c, 15);
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&q]), jobs);
    assert!(c.query_one("SELECT queue.unschedule($1)", &[&name]).unwrap().get::<_, bool>(0));
    assert!(!c.query_one("SELECT queue.unschedule($1)", &[&name]).unwrap().get::<_, bool>(0));
}

fn fires_utc(c: &mut Client, cron: &str, tz: &str, after: &str, n: i32) -> Vec<String> {
    c.query(
        "SELECT to_char(f AT TIME ZONE 'UTC', 'MM-DD HH24:MI') FROM queue.schedule_fires($1, $2, $3::text::timestamptz, $4) f",
        &[&cron, &tz, &after, &n],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn daylight_saving_days_fire_a_daily_job_once() {
    let mut c = connect();
    // New York springs forward on 2026-03-08 (02:00 EST -> 03:00 EDT): 02:30 does not exist and
    // fires once, at 03:00 EDT (07:00 UTC); it falls back on 2026-11-01: 01:30 happens twice and
    // fires once, the first time (05:30 UTC).
    assert_eq!(
        fires_utc(&mut c, "30 2 * * *", "America/New_York", "2026-03-07 12:00Z", 3),
        ["03-08 07:00", "03-09 06:30", "03-10 06:30"]
    );
    assert_eq!(
        fires_utc(&mut c, "30 1 * * *", "America/New_York", "2026-10-31 12:00Z", 3),
        ["11-01 05:30", "11-02 06:30", "11-03 06:30"]
    );
    // Paris: 2026-03-29 02:30 does not exist (fires at 03:00 CEST), 2026-10-25 02:30 happens twice.
    assert_eq!(fires_utc(&mut c, "30 2 * * *", "Europe/Paris", "2026-03-28 12:00Z", 2), ["03-29 01:00", "03-30 00:30"]);
    assert_eq!(fires_utc(&mut c, "30 2 * * *", "Europe/Paris", "2026-10-24 12:00Z", 2), ["10-25 00:30", "10-26 01:30"]);
    // An hourly pattern follows real time: both passes of the repeated hour, none of the skipped.
    assert_eq!(
        fires_utc(&mut c, "0 * * * *", "America/New_York", "2026-11-01 04:30Z", 3),
        ["11-01 05:00", "11-01 06:00", "11-01 07:00"]
    );
    assert_eq!(
        fires_utc(&mut c, "30 * * * *", "America/New_York", "2026-03-08 06:00Z", 2),
        ["03-08 06:30", "03-08 07:30"]
    );
    // Macros.
    assert_eq!(fires_utc(&mut c, "@daily", "UTC", "2026-05-01 10:00Z", 1), ["05-02 00:00"]);
    assert_eq!(fires_utc(&mut c, "@hourly", "Asia/Kolkata", "2026-05-01 10:10Z", 1), ["05-01 10:30"]);

    // The worker fires by the same rules: a schedule whose next fire is the gap's 02:30 waits
    // for 03:00 EDT, as the preview says.
    let q = new_queue(&mut c, "dst", "");
    let name = format!("dst_{q}");
    c.execute("SELECT queue.schedule($1, '30 2 * * *', $2, timezone => 'America/New_York')", &[&name, &q]).unwrap();
    let (fire, run): (DateTime<Utc>, DateTime<Utc>) = {
        let r = c.query_one("SELECT next_fire_at, next_run_at FROM queue.schedules WHERE name = $1", &[&name]).unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(fire, run);
    let preview =
        timestamps(&mut c, "SELECT f FROM queue.schedule_fires('30 2 * * *', 'America/New_York', now(), 1) f", &[]);
    assert_eq!(preview, [fire]);
    c.execute("SELECT queue.unschedule($1)", &[&name]).unwrap();
}

/// The documented jitter offset, computed as a client would: slot_fraction(name) × jitter.
fn expected_offset_micros(name: &str, jitter_micros: i64) -> i64 {
    let digest = Md5::digest(name.as_bytes());
    let h = u64::from_be_bytes(digest[..8].try_into().unwrap());
    let fraction = (h >> 11) as f64 / (1u64 << 53) as f64;
    ((fraction * jitter_micros as f64) as i64).min(jitter_micros - 1)
}

#[test]
fn jitter_offsets_are_deterministic_in_range_and_predictable() {
    let mut c = connect();
    let q = new_queue(&mut c, "jitter", "");
    let names: Vec<String> = (0..20).map(|i| format!("jitter_{q}_{i}")).collect();
    let mut offsets = HashMap::new();
    for round in 0..2 {
        for name in &names {
            // Once a year: nothing fires during the test.
            c.execute("SELECT queue.schedule($1, '0 0 1 1 *', $2, jitter => '10 minutes')", &[name, &q]).unwrap();
            let r = c
                .query_one(
                    "SELECT (extract(epoch FROM next_run_at - next_fire_at) * 1000000)::bigint,
                            (extract(epoch FROM queue.slot_offset($1, '10 minutes')) * 1000000)::bigint
                       FROM queue.schedules WHERE name = $1",
                    &[name],
                )
                .unwrap();
            let (offset, documented): (i64, i64) = (r.get(0), r.get(1));
            assert_eq!(offset, documented, "{name}");
            assert_eq!(offset, expected_offset_micros(name, 600_000_000), "{name}");
            assert!((0..600_000_000).contains(&offset), "{name}: {offset}");
            if round == 1 {
                assert_eq!(offsets[name], offset, "{name}: the offset changed when the schedule was replaced");
            }
            offsets.insert(name.clone(), offset);
        }
    }
    let distinct: HashSet<_> = offsets.values().collect();
    assert!(distinct.len() >= 19, "twenty names share offsets: {offsets:?}");
    for name in &names {
        c.execute("SELECT queue.unschedule($1)", &[name]).unwrap();
    }
}

#[test]
fn a_window_missed_while_down_fires_once_or_is_skipped() {
    let mut c = connect();
    let q = new_queue(&mut c, "catchup", "");
    // A daily fire time twelve hours from now: the last one due was about twelve hours ago, far
    // past the one-minute grace.
    let hour: i32 =
        c.query_one("SELECT ((extract(hour FROM now() AT TIME ZONE 'UTC')::int + 12) % 24)", &[]).unwrap().get(0);
    let cron = format!("0 {hour} * * *");
    let (yes, no) = (format!("catch_up_{q}"), format!("skip_{q}"));
    for (name, catch_up) in [(&yes, true), (&no, false)] {
        c.execute("SELECT queue.schedule($1, $2, $3, catch_up => $4)", &[name, &cron, &q, &catch_up]).unwrap();
    }
    // The server was "down" for six fire times: next_fire_at is five days before the last one due.
    c.execute(
        "UPDATE queue.schedules SET next_fire_at = date_trunc('hour', now()) - interval '12 hours' - interval '5 days',
                                    next_run_at = date_trunc('hour', now()) - interval '12 hours' - interval '5 days'
          WHERE name IN ($1, $2)",
        &[&yes, &no],
    )
    .unwrap();
    await_condition("both schedules handled", Duration::from_secs(30), || {
        count(
            &mut c,
            "SELECT count(*) FROM queue.schedules WHERE name IN ($1, $2) AND next_fire_at > now()",
            &[&yes, &no],
        ) == 2
    });
    let last_due: DateTime<Utc> =
        c.query_one("SELECT date_trunc('hour', now()) - interval '12 hours'", &[]).unwrap().get(0);
    let runs = timestamps(&mut c, "SELECT run_at FROM queue.jobs WHERE queue = $1", &[&q]);
    assert_eq!(runs, [last_due], "the catch-up fires once, for the last fire time due");
    let stats = |c: &mut Client, name: &str| -> (i64, i64, DateTime<Utc>) {
        let r =
            c.query_one("SELECT fires, misses, next_fire_at FROM queue.schedules WHERE name = $1", &[&name]).unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    let next = last_due + chrono::Duration::days(1);
    assert_eq!(stats(&mut c, &yes), (1, 5, next));
    assert_eq!(stats(&mut c, &no), (0, 6, next));
    for name in [&yes, &no] {
        c.execute("SELECT queue.unschedule($1)", &[name]).unwrap();
    }
}

#[test]
fn periodic_input_errors_are_precise_and_change_nothing() {
    let mut c = connect();
    let q = new_queue(&mut c, "badper", "");
    let table = format!("src_{q}");
    c.batch_execute(&format!(
        "CREATE TABLE {table} (id int, name text, \"Mixed Case\" int);
         CREATE INDEX ON {table} (queue.slot_fraction((id)::text));
         CREATE VIEW {table}_v AS SELECT * FROM {table};"
    ))
    .unwrap();
    let s = format!("bad_{q}");
    let cases: Vec<(String, &str, &str)> = vec![
        (format!("SELECT queue.schedule('{s}', '61 * * * *', '{q}')"), "22023", "minute field \"61\""),
        (format!("SELECT queue.schedule('{s}', '0 25 * * *', '{q}')"), "22023", "hour field \"25\""),
        (format!("SELECT queue.schedule('{s}', '0 0 * 13 *', '{q}')"), "22023", "month field \"13\""),
        (format!("SELECT queue.schedule('{s}', '0 0 * * 9', '{q}')"), "22023", "day of week field \"9\""),
        (format!("SELECT queue.schedule('{s}', '* * * *', '{q}')"), "22023", "this one has 4"),
        (format!("SELECT queue.schedule('{s}', '@fortnightly', '{q}')"), "22023", "@fortnightly"),
        (format!("SELECT queue.schedule('{s}', '0 0 30 2 *', '{q}')"), "22023", "never matches"),
        (format!("SELECT queue.schedule('{s}', '90 seconds', '{q}')"), "22023", "1 to 59"),
        (
            format!("SELECT queue.schedule('{s}', '* * * * *', '{q}', timezone => 'Mars/Olympus')"),
            "22023",
            "unknown time zone",
        ),
        (format!("SELECT queue.schedule('{s}', '* * * * *', '{q}', jitter => '-1 second')"), "22023", "jitter"),
        (format!("SELECT queue.schedule('{s}', '* * * * *', '{q}', jitter => '1 month')"), "22023", "jitter"),
        (format!("SELECT queue.schedule('{s}', '* * * * *', '{q}', max_attempts => 0)"), "22023", "max_attempts"),
        (format!("SELECT queue.schedule('{s}', '* * * * *', 'no_such_queue_{q}')"), "42704", "does not exist"),
        (format!("SELECT queue.schedule('', '* * * * *', '{q}')"), "22023", "schedule name"),
        (format!("SELECT queue.schedule(NULL, '* * * * *', '{q}')"), "22004", "schedule name"),
        (format!("SELECT queue.schedule('{s}', NULL, '{q}')"), "22004", "cron"),
        (format!("SELECT queue.pause_schedule('{s}')"), "42704", "does not exist"),
        ("SELECT queue.schedule_fires('* * * * *', count => 0)".to_string(), "22023", "count"),
        (
            format!("SELECT queue.spread_refresh('{s}', '{q}', 'no_such_table_{q}', 'id', '1 minute')"),
            "42P01",
            "does not exist",
        ),
        (
            format!("SELECT queue.spread_refresh('{s}', '{q}', '{table}', 'nope', '1 minute')"),
            "42703",
            "column \"nope\"",
        ),
        (format!("SELECT queue.spread_refresh('{s}', '{q}', '{table}', 'id', '0 seconds')"), "22023", "period"),
        (format!("SELECT queue.spread_refresh('{s}', '{q}', '{table}', 'id', '-5 minutes')"), "22023", "period"),
        (format!("SELECT queue.spread_refresh('{s}', '{q}', '{table}', 'id', '1 month')"), "22023", "months"),
        (format!("SELECT queue.spread_refresh('{s}', '{q}', '{table}', 'id', '100 ms')"), "22023", "at least 1 second"),
        (
            format!("SELECT queue.spread_refresh('{s}', '{q}', '{table}', 'id', '1 minute', batch => 0)"),
            "22023",
            "batch",
        ),
        (format!("SELECT queue.spread_refresh('{s}', '{q}', '{table}_v', 'id', '1 minute')"), "22023", "table"),
        (
            format!("SELECT queue.spread_refresh('{s}', 'no_such_queue_{q}', '{table}', 'id', '1 minute')"),
            "42704",
            "does not exist",
        ),
        (format!("SELECT queue.spread_refresh('{s}', '{q}', '{table}', 'name', '1 minute')"), "55000", "no index"),
        (format!("SELECT queue.pause_spread_refresh('{s}')"), "42704", "does not exist"),
    ];
    for (sql, code, fragment) in &cases {
        let (got, message, _) = error_of(&mut c, sql).unwrap_or_else(|| panic!("accepted: {sql}"));
        assert_eq!((got.as_str(), message.contains(fragment)), (*code, true), "{sql}: {message}");
    }
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.schedules WHERE name = $1", &[&s]), 0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.spread_refreshes WHERE name = $1", &[&s]), 0);
    let (code, _, _) = error_of(&mut c, &format!("SELECT queue.drop_spread_refresh('{s}')")).expect("refused");
    assert_eq!(code, "42704");
    c.execute("SELECT queue.drop_spread_refresh($1, if_exists => true)", &[&s]).unwrap();

    // The missing index's hint is the statement to run, and then the refresh is accepted (for a
    // column whose name needs quoting too).
    for column in ["name", "Mixed Case"] {
        let sql = format!("SELECT queue.spread_refresh('{s}', '{q}', '{table}', '{column}', '1 minute')");
        let (_, _, hint) = error_of(&mut c, &sql).unwrap();
        let hint = hint.expect("a hint");
        assert!(hint.starts_with("CREATE INDEX ON public."), "{hint}");
        c.batch_execute(&hint).unwrap();
        c.batch_execute(&sql).unwrap();
    }
    c.execute("SELECT queue.drop_spread_refresh($1)", &[&s]).unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.spread_refreshes WHERE name = $1", &[&s]), 0);
}

#[test]
fn ten_thousand_idle_schedules_cost_a_tick_a_few_buffers() {
    let db = TestDb::new("schedules10k");
    let mut c = db.connect();
    c.batch_execute(
        "SELECT queue.create_queue('yearly');
         SELECT queue.schedule('yearly_' || g, '0 0 1 1 *', 'yearly', jitter => '1 day') FROM generate_series(1, 10000) g;
         ANALYZE queue.schedules;",
    )
    .unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.schedules", &[]), 10_000);
    // The worker's statements as it runs them: generic plans, no sequential scans. (When the
    // cron schedules are next due: pool_due.sql's `cron` section.)
    let pool_due = include_str!("../../src/store/sql/pool_due.sql");
    let cron_due = pool_due.split("\n-- due: cron\n").nth(1).unwrap().split("\n-- due: ").next().unwrap();
    c.batch_execute(&format!(
        "SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off; SET jit = off;
         PREPARE due(bigint, text[]) AS {};
         PREPARE lock(text[], text[], bigint) AS {};
         PREPARE pool_due(timestamptz, interval, integer[], timestamptz[]) AS {cron_due};",
        include_str!("../../src/store/sql/schedules_due.sql"),
        include_str!("../../src/store/sql/schedules_lock.sql"),
    ))
    .unwrap();
    for statement in ["due(100, '{}')", "lock(NULL, '{}', 100)", "pool_due(NULL, '1 second', '{}', '{}')"] {
        let plan: serde_json::Value =
            c.query_one(&format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE {statement}"), &[]).unwrap().get(0);
        let text = plan.to_string();
        assert!(text.contains("schedules_due_idx"), "{statement} does not use schedules_due_idx: {text}");
        assert!(!seq_scans(&plan[0]["Plan"]).contains(&"schedules".to_owned()), "{text}");
        let top = &plan[0]["Plan"];
        let buffers = top["Shared Hit Blocks"].as_i64().unwrap() + top["Shared Read Blocks"].as_i64().unwrap();
        assert!(buffers <= 24, "{statement} touched {buffers} buffers with 10 000 idle schedules: {text}");
    }
    // And the worker keeps ticking, firing nothing.
    await_worker_ticks(&mut c, 3);
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.jobs", &[]), 0);
}

/// (run_at, key) of the jobs a refresh enqueued into `queue`.
fn refresh_jobs(
    c: &mut Client,
    queue: &str,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, String)> {
    c.query(
        "SELECT run_at, payload->>'key' FROM queue.jobs WHERE queue = $1 AND run_at >= $2 AND run_at < $3",
        &[&queue, &from, &until],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

fn next_due(c: &mut Client, name: &str) -> DateTime<Utc> {
    c.query_one("SELECT next_due FROM queue.spread_refreshes WHERE name = $1", &[&name]).unwrap().get(0)
}

fn index_tuples_read(c: &mut Client, index: &str) -> i64 {
    c.batch_execute("SELECT pg_stat_clear_snapshot()").unwrap();
    c.query_one("SELECT idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = $1", &[&index]).unwrap().get(0)
}

#[test]
fn spread_refresh_enqueues_every_key_once_per_period_evenly() {
    const ROWS: i64 = 200_000;
    let db = TestDb::new("refresh");
    let mut c = db.connect();
    c.batch_execute(&format!(
        "CREATE TABLE users (id bigint PRIMARY KEY, name text);
         INSERT INTO users SELECT g, 'user ' || g FROM generate_series(1, {ROWS}) g;
         CREATE INDEX users_slot ON users (queue.slot_fraction((id)::text));
         ANALYZE users;
         SELECT queue.create_queue('sync');"
    ))
    .unwrap();
    let reads_before = index_tuples_read(&mut c, "users_slot");
    c.batch_execute("SELECT queue.spread_refresh('users', 'sync', 'users', 'id', '60 seconds')").unwrap();
    let t0 = next_due(&mut c, "users");
    let end = t0 + chrono::Duration::seconds(60);

    // A third of the way in: new rows join at their slot, deleted rows stop.
    await_condition("a third of the period", Duration::from_secs(60), || {
        next_due(&mut c, "users") >= t0 + chrono::Duration::seconds(20)
    });
    let before_insert = next_due(&mut c, "users");
    c.batch_execute("INSERT INTO users SELECT g, 'new' FROM generate_series(1000001, 1000300) g").unwrap();
    let after_insert = next_due(&mut c, "users");
    // Delete rows whose slot is still ahead (by more than the worker's one-tick look-ahead).
    let deleted: Vec<i64> = c
        .query(
            "DELETE FROM users WHERE id IN (
                 SELECT id FROM generate_series(1, 3000) AS id
                  WHERE queue.next_slot(id::text, '60 seconds', $1) > clock_timestamp() + interval '3 seconds'
                  LIMIT 300)
             RETURNING id",
            &[&t0],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(deleted.len(), 300);

    // Two thirds in: the worker is killed; the launcher starts another, which carries on.
    await_condition("two thirds of the period", Duration::from_secs(60), || {
        next_due(&mut c, "users") >= t0 + chrono::Duration::seconds(40)
    });
    let pid = worker_pid(&mut c).expect("a worker");
    c.execute("SELECT pg_terminate_backend($1)", &[&pid]).unwrap();
    let restarted = std::time::Instant::now();
    while worker_pid(&mut c).is_none_or(|p| p == pid) {
        if restarted.elapsed() > Duration::from_secs(30) {
            let activity: Vec<String> = c
                .query(
                    "SELECT format('%s %s %s %s/%s %s', pid, backend_type, datname, wait_event_type, wait_event, left(query, 200))
                       FROM pg_stat_activity WHERE backend_type LIKE 'queue_ext%' OR datname = current_database()",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            panic!("no new worker 30 s after terminating {pid}: {activity:#?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    await_condition("the whole period enqueued", Duration::from_secs(90), || next_due(&mut c, "users") >= end);

    // (The worker goes on into the next period: its jobs are not this period's.)
    let jobs = refresh_jobs(&mut c, "sync", t0, end);
    let mut per_key: HashMap<&str, Vec<DateTime<Utc>>> = HashMap::new();
    for (run_at, key) in &jobs {
        per_key.entry(key.as_str()).or_default().push(*run_at);
    }
    let twice: Vec<_> = per_key.iter().filter(|(_, runs)| runs.len() > 1).take(5).collect();
    assert!(twice.is_empty(), "keys enqueued more than once: {twice:?}");
    let slots: HashMap<i64, DateTime<Utc>> = c
        .query(
            "SELECT g, queue.next_slot(g::text, '60 seconds', $1) FROM generate_series(1, $2::bigint) g
             UNION ALL SELECT g, queue.next_slot(g::text, '60 seconds', $1) FROM generate_series(1000001, 1000300) g",
            &[&t0, &ROWS],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let deleted: HashSet<i64> = deleted.into_iter().collect();
    // Every original row not deleted: exactly one job, at its slot in the period.
    for id in 1..=ROWS {
        let key = id.to_string();
        let runs = per_key.get(key.as_str());
        if deleted.contains(&id) {
            assert!(runs.is_none(), "deleted row {id} (slot {}) was enqueued", slots[&id]);
        } else {
            assert_eq!(runs, Some(&vec![slots[&id]]), "row {id}");
        }
    }
    // New rows: enqueued when their slot was ahead of the refresh when they arrived, not before.
    for id in 1_000_001..=1_000_300i64 {
        let slot = slots[&id];
        let enqueued = per_key.contains_key(id.to_string().as_str());
        if slot >= after_insert {
            assert!(enqueued, "new row {id} with its slot {slot} ahead was not enqueued");
        } else if slot < before_insert {
            assert!(!enqueued, "new row {id} whose slot {slot} had passed was enqueued this period");
        }
    }
    // Arrivals per second of the period: even.
    let mut per_second = [0u32; 60];
    for (run_at, _) in &jobs {
        let s = (*run_at - t0).num_seconds();
        assert!((0..60).contains(&s), "a job outside the period: {run_at}");
        per_second[s as usize] += 1;
    }
    let mean = per_second.iter().sum::<u32>() as f64 / 60.0;
    let max = *per_second.iter().max().unwrap() as f64;
    assert!(max / mean <= 1.10, "per-second arrivals max/mean = {} ({per_second:?})", max / mean);

    // The view agrees, and the index was read about once per row in all, not once per tick.
    let r = c
        .query_one("SELECT jobs_enqueued, rows_per_period, lag FROM queue.spread_refreshes WHERE name = 'users'", &[])
        .unwrap();
    let enqueued = r.get::<_, i64>(0);
    assert!(enqueued >= jobs.len() as i64 && enqueued <= jobs.len() as i64 + 300, "{enqueued} vs {}", jobs.len());
    assert!((r.get::<_, i64>(1) - ROWS).abs() < ROWS / 10);
    await_worker_ticks(&mut c, 15); // the worker flushes its statistics at most once a second
    let read = index_tuples_read(&mut c, "users_slot") - reads_before;
    // Once per row, not once per tick (600 ticks a period here). Under the full suite's load the
    // count has come out at 1.34-1.53 times the rows since the worker pool (a killed worker's step
    // is read again; the rest is not explained yet): the bound leaves room for that.
    assert!(
        (ROWS * 9 / 10..=ROWS * 16 / 10).contains(&read),
        "the index returned {read} tuples for {ROWS} rows in little more than a period"
    );
}

#[test]
fn a_key_whose_job_is_live_is_not_enqueued_again_and_batches_group_keys() {
    let mut c = connect();
    let q = new_queue(&mut c, "pile", "");
    let qb = new_queue(&mut c, "batch", "");
    let table = format!("keys_{q}");
    c.batch_execute(&format!(
        "CREATE TABLE {table} (k text);
         INSERT INTO {table} SELECT 'user-' || g FROM generate_series(1, 300) g;
         CREATE INDEX ON {table} (queue.slot_fraction(k));
         ANALYZE {table};"
    ))
    .unwrap();
    let (pile, batch) = (format!("pile_{q}"), format!("batch_{q}"));
    c.execute(
        "SELECT queue.spread_refresh($1, $2, $3::text::regclass, 'k', '2 seconds', '{\"op\": \"sync\"}')",
        &[&pile, &q, &table],
    )
    .unwrap();
    c.execute(
        "SELECT queue.spread_refresh($1, $2, $3::text::regclass, 'k', '2 seconds', batch => 50)",
        &[&batch, &qb, &table],
    )
    .unwrap();
    let t0 = next_due(&mut c, &batch);

    // Nobody works the jobs: after the first period every key is skipped, none piles up.
    await_condition("a second period of skipped keys", Duration::from_secs(60), || {
        count(&mut c, "SELECT keys_skipped FROM queue.spread_refreshes WHERE name = $1", &[&pile]) >= 300
    });
    let per_key = count(
        &mut c,
        "SELECT count(*) FROM (SELECT payload->>'key' FROM queue.jobs WHERE queue = $1 GROUP BY 1 HAVING count(*) > 1) d",
        &[&q],
    );
    assert_eq!(per_key, 0, "a key got a second job while its first was pending");
    let payloads = count(
        &mut c,
        "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND payload - 'key' = jsonb_build_object('op', 'sync', 'refresh', $2::text)",
        &[&q, &pile],
    );
    assert_eq!(payloads, count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&q]));

    // Done jobs free their keys: the next period enqueues them again.
    c.batch_execute(&format!("SELECT queue.complete(id, lease_token) FROM queue.claim('{q}', batch => 1000)")).unwrap();
    await_condition("keys enqueued again", Duration::from_secs(60), || {
        count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state = 'pending'", &[&q]) >= 300
    });

    // Batches: up to 50 keys a job, and every key once per period: its appearances are a period
    // apart (a batch is due at its last key's slot, so within a tick of each key's own).
    await_condition("two periods of batches", Duration::from_secs(60), || {
        next_due(&mut c, &batch) >= t0 + chrono::Duration::seconds(4)
    });
    let rows = c
        .query(
            "SELECT run_at, payload->'keys' FROM queue.jobs WHERE queue = $1 AND run_at < $2",
            &[&qb, &(t0 + chrono::Duration::seconds(4))],
        )
        .unwrap();
    let mut seen: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    for r in &rows {
        let keys = r.get::<_, serde_json::Value>(1);
        let keys = keys.as_array().unwrap();
        assert!(!keys.is_empty() && keys.len() <= 50, "a batch of {} keys", keys.len());
        for k in keys {
            seen.entry(k.as_str().unwrap().to_owned()).or_default().push(r.get(0));
        }
    }
    assert_eq!(seen.len(), 300, "keys missing from the batches");
    for (key, mut runs) in seen {
        runs.sort();
        assert!(runs[0] < t0 + chrono::Duration::milliseconds(2_300), "{key} first came at {}", runs[0]);
        for w in runs.windows(2) {
            let gap = (w[1] - w[0]).num_milliseconds();
            assert!((1_700..=2_300).contains(&gap), "{key} came twice {gap} ms apart");
        }
    }
    for name in [&pile, &batch] {
        c.execute("SELECT queue.drop_spread_refresh($1)", &[name]).unwrap();
    }
}

#[test]
fn refreshes_read_as_their_owner_and_owners_need_their_rights_at_fire_time() {
    let mut admin = connect();
    let q = new_queue(&mut admin, "owned", "");
    let other = new_queue(&mut admin, "other", "");
    let mut owner = role(&mut admin, "periodic_owner", &["queue_admin"]);
    let mut producer = role(&mut admin, "periodic_producer", &["queue_producer"]);
    admin.batch_execute("CREATE SCHEMA IF NOT EXISTS periodic_owned AUTHORIZATION periodic_owner").unwrap();
    let table = format!("periodic_owned.src_{q}");
    // The owner's table logs who reads it (a row security policy runs as the reader).
    owner
        .batch_execute(&format!(
            "CREATE TABLE {table}_log (reader text);
             CREATE FUNCTION {table}_seen() RETURNS boolean LANGUAGE plpgsql AS
                 $$ BEGIN INSERT INTO {table}_log VALUES (current_user); RETURN true; END $$;
             CREATE TABLE {table} (id int);
             INSERT INTO {table} SELECT generate_series(1, 50);
             CREATE INDEX ON {table} (queue.slot_fraction((id)::text));
             ALTER TABLE {table} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
             CREATE POLICY seen ON {table} USING ({table}_seen());"
        ))
        .unwrap();
    let name = format!("owned_{q}");
    owner
        .execute("SELECT queue.spread_refresh($1, $2, $3::text::regclass, 'id', '1 second')", &[&name, &q, &table])
        .unwrap();
    await_condition("the owner's rows enqueued", Duration::from_secs(30), || {
        count(&mut admin, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&q]) >= 50
    });
    let readers: Vec<String> = admin
        .query(&format!("SELECT DISTINCT reader FROM {table}_log"), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(readers, ["periodic_owner"], "the source was read as someone else");
    owner.execute("SELECT queue.drop_spread_refresh($1)", &[&name]).unwrap();

    // Creating: only queue_admin, only with SELECT on the source, only on queues it administers.
    let state = |c: &mut Client, sql: &str| error_of(c, sql).map(|e| e.0);
    let sql = format!("SELECT queue.spread_refresh('p_{q}', '{q}', '{table}', 'id', '1 minute')");
    assert_eq!(state(&mut producer, &sql).as_deref(), Some("42501"));
    assert_eq!(
        state(&mut producer, &format!("SELECT queue.schedule('p_{q}', '* * * * *', '{q}')")).as_deref(),
        Some("42501")
    );
    admin
        .batch_execute(&format!(
            "CREATE TABLE private_{q} (id int); CREATE INDEX ON private_{q} (queue.slot_fraction((id)::text))"
        ))
        .unwrap();
    let private = format!("SELECT queue.spread_refresh('p_{q}', '{q}', 'public.private_{q}', 'id', '1 minute')");
    assert_eq!(state(&mut owner, &private).as_deref(), Some("42501"));
    admin.execute("SELECT queue.grant($1, 'periodic_owner', 'admin')", &[&other]).unwrap();
    let (code, message, _) = error_of(&mut owner, &sql).unwrap();
    assert_eq!((code.as_str(), message.contains(&q)), ("42501", true), "{message}");
    let (code, _, _) = error_of(&mut owner, &format!("SELECT queue.schedule('p_{q}', '* * * * *', '{q}')")).unwrap();
    assert_eq!(code, "42501");
    admin.execute("SELECT queue.revoke($1, 'periodic_owner', 'admin')", &[&other]).unwrap();

    // A schedule fires with its owner's rights: once the owner is no queue_admin, it stops.
    let sched = format!("owned_sched_{q}");
    owner.execute("SELECT queue.schedule($1, '1 seconds', $2)", &[&sched, &other]).unwrap();
    await_condition("a fire", Duration::from_secs(30), || {
        count(&mut admin, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&other]) >= 1
    });
    admin.batch_execute("REVOKE queue_admin FROM periodic_owner").unwrap();
    await_condition("the refusal recorded", Duration::from_secs(30), || {
        count(
            &mut admin,
            "SELECT count(*) FROM queue.schedules WHERE name = $1 AND last_error LIKE '%may no longer enqueue%'",
            &[&sched],
        ) == 1
    });
    let jobs = count(&mut admin, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&other]);
    await_worker_ticks(&mut admin, 15);
    assert_eq!(count(&mut admin, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&other]), jobs);
    admin.batch_execute("GRANT queue_admin TO periodic_owner").unwrap();
    admin.execute("SELECT queue.unschedule($1)", &[&sched]).unwrap();
}

/// The relations a plan reads with sequential scans.
fn seq_scans(node: &serde_json::Value) -> Vec<String> {
    let mut found: Vec<String> = node["Plans"].as_array().into_iter().flatten().flat_map(seq_scans).collect();
    if node["Node Type"] == "Seq Scan" {
        found.push(node["Relation Name"].as_str().unwrap_or("").to_owned());
    }
    found
}
