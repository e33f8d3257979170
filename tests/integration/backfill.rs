//! Paced backfills, driven by the real background worker (issue 11).

use crate::common::{await_condition, await_worker_ticks, connect, count, new_queue};
use crate::hostile::role;
use chrono::{DateTime, Utc};
use postgres::Client;
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// (job id, begin_id, end_id, run_at, state) of a backfill's jobs, by job id.
fn ranges(c: &mut Client, name: &str) -> Vec<(i64, i64, i64, DateTime<Utc>, String)> {
    c.query(
        "SELECT id, (payload->>'begin_id')::bigint, (payload->>'end_id')::bigint, run_at, state::text
           FROM queue.jobs WHERE payload->>'backfill' = $1 ORDER BY id",
        &[&name],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
    .collect()
}

/// Claim and complete whatever is ready in `queue`; returns how many.
fn work(c: &mut Client, queue: &str) -> usize {
    let jobs = c.query("SELECT id, lease_token FROM queue.claim($1, batch => 500)", &[&queue]).unwrap();
    if !jobs.is_empty() {
        let ids: Vec<i64> = jobs.iter().map(|r| r.get(0)).collect();
        let token: Uuid = jobs[0].get(1);
        c.execute("SELECT count(*) FROM queue.complete_many($1, ARRAY[$2]::uuid[])", &[&ids, &token]).unwrap();
    }
    jobs.len()
}

fn stat(c: &mut Client, name: &str, column: &str) -> i64 {
    count(c, &format!("SELECT {column}::bigint FROM queue.backfills WHERE name = $1"), &[&name])
}

/// Every id of `table` lies in exactly one range, ranges cover `batch` rows each (the last fewer),
/// and they come newest first.
fn assert_exact_coverage(c: &mut Client, table: &str, jobs: &[(i64, i64, i64, DateTime<Utc>, String)], batch: i64) {
    let ids: Vec<i64> = c
        .query(&format!("SELECT id::bigint FROM {table} ORDER BY id"), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut by_end: BTreeMap<i64, i64> = BTreeMap::new();
    for (_, begin, end, _, _) in jobs {
        assert!(begin <= end);
        assert!(by_end.insert(*end, *begin).is_none(), "two ranges end at {end}");
    }
    // Newest first: each job's range lies below the previous job's.
    for w in jobs.windows(2) {
        assert!(w[1].2 < w[0].1, "range {:?} is not below {:?}", (w[1].1, w[1].2), (w[0].1, w[0].2));
    }
    let mut covered = vec![0u32; ids.len()];
    for (end, begin) in &by_end {
        let from = ids.partition_point(|id| id < begin);
        let to = ids.partition_point(|id| id <= end);
        for k in &mut covered[from..to] {
            *k += 1;
        }
        let rows = (to - from) as i64;
        assert!(
            rows == batch || (*begin == jobs.last().unwrap().1 && rows <= batch),
            "range {begin}..{end} has {rows} rows"
        );
    }
    let wrong: Vec<i64> = ids.iter().zip(&covered).filter(|(_, n)| **n != 1).map(|(id, _)| *id).take(10).collect();
    assert!(wrong.is_empty(), "ids covered other than once: {wrong:?}");
}

/// Due times `spacing` µs apart: never closer (the rate is a ceiling), and nearly all exactly so
/// (a worker delayed past a whole window resumes from now, leaving a longer gap, never a burst).
fn assert_paced(due: &[DateTime<Utc>], spacing: i64) {
    let gaps: Vec<i64> = due.windows(2).map(|w| (w[1] - w[0]).num_microseconds().unwrap()).collect();
    assert!(gaps.iter().all(|g| *g >= spacing - 1_000), "jobs closer than {spacing} µs: {gaps:?}");
    let exact = gaps.iter().filter(|g| (**g - spacing).abs() <= 1_000).count();
    assert!(exact * 10 >= gaps.len() * 9, "jobs not {spacing} µs apart: {gaps:?}");
}

#[test]
fn a_backfill_covers_every_row_once_newest_first_at_its_pace() {
    let mut c = connect();
    let q = new_queue(&mut c, "backfill", "");
    let table = format!("bf_rows_{q}");
    // 100 000 rows with gaps: every third id is missing, and a hole of 20 000 in the middle.
    c.batch_execute(&format!(
        "CREATE TABLE {table} (id bigint PRIMARY KEY, secret text);
         INSERT INTO {table} SELECT g, 'x' FROM generate_series(1, 170000) g WHERE g % 3 <> 0 AND g NOT BETWEEN 50001 AND 70000;
         DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id DESC LIMIT (SELECT count(*) - 100000 FROM {table}));
         ANALYZE {table};"
    ))
    .unwrap();
    assert_eq!(count(&mut c, &format!("SELECT count(*) FROM {table}"), &[]), 100_000);
    let name = format!("reencrypt_{q}");
    c.execute(
        "SELECT queue.backfill_start($1, $2, $3::text::regclass, batch_size => 100, per_second => 50)",
        &[&name, &q, &table],
    )
    .unwrap();
    // A fleet that keeps up: claim and complete whatever is ready, and watch what waits ahead:
    // never more than the lookahead's worth (10 s at 50 a second).
    let lookahead_worth = 10 * 50;
    let mut most_pending = 0;
    await_condition("the backfill done", Duration::from_secs(120), || {
        work(&mut c, &q);
        most_pending = most_pending.max(count(
            &mut c,
            "SELECT count(*) FROM queue.jobs WHERE payload->>'backfill' = $1 AND state = 'pending' AND run_at > clock_timestamp()",
            &[&name],
        ));
        c.query_one("SELECT state FROM queue.backfills WHERE name = $1", &[&name]).unwrap().get::<_, String>(0)
            == "done"
    });
    assert!(
        most_pending <= lookahead_worth,
        "{most_pending} jobs waiting ahead (the lookahead holds {lookahead_worth})"
    );

    let jobs = ranges(&mut c, &name);
    assert_eq!(jobs.len(), 1000);
    assert!(jobs.iter().all(|j| j.4 == "done"));
    assert_exact_coverage(&mut c, &table, &jobs, 100);
    // No one-second window of due times holds more than per_second + 1 jobs.
    let mut due: Vec<DateTime<Utc>> = jobs.iter().map(|j| j.3).collect();
    due.sort();
    let mut worst = 0;
    for (i, t) in due.iter().enumerate() {
        let n = due[i..].partition_point(|u| *u < *t + chrono::Duration::seconds(1));
        worst = worst.max(n);
    }
    assert!(worst <= 51, "{worst} jobs due within one second at 50 per second");
    let r = c
        .query_one(
            "SELECT rows_enqueued, ranges_enqueued, ranges_done, ranges_pending, ranges_dead, finished_at IS NOT NULL
               FROM queue.backfills WHERE name = $1",
            &[&name],
        )
        .unwrap();
    assert_eq!(
        (
            r.get::<_, i64>(0),
            r.get::<_, i64>(1),
            r.get::<_, i64>(2),
            r.get::<_, i64>(3),
            r.get::<_, i64>(4),
            r.get::<_, bool>(5)
        ),
        (100_000, 1000, 1000, 0, 0, true)
    );
}

#[test]
fn pause_resume_alter_and_cancel_act_at_once_and_lose_nothing() {
    let mut c = connect();
    let q = new_queue(&mut c, "bfctl", "");
    let table = format!("bf_ctl_{q}");
    c.batch_execute(&format!(
        "CREATE TABLE {table} (id integer PRIMARY KEY); INSERT INTO {table} SELECT generate_series(1, 20000); ANALYZE {table};"
    ))
    .unwrap();
    let name = format!("ctl_{q}");
    c.execute(
        "SELECT queue.backfill_start($1, $2, $3::text::regclass, batch_size => 10, per_second => 20, lookahead => '2 seconds')",
        &[&name, &q, &table],
    )
    .unwrap();
    await_condition("some ranges", Duration::from_secs(30), || stat(&mut c, &name, "ranges_enqueued") >= 30);
    work(&mut c, &q);

    // Pause: at once, nothing of it can be claimed, and nothing more is enqueued.
    assert!(c.query_one("SELECT queue.backfill_pause($1)", &[&name]).unwrap().get::<_, bool>(0));
    assert_eq!(work(&mut c, &q), 0, "a paused backfill's job was claimed");
    let enqueued = stat(&mut c, &name, "ranges_enqueued");
    let parked = stat(&mut c, &name, "ranges_pending");
    await_worker_ticks(&mut c, 10);
    assert_eq!(work(&mut c, &q), 0);
    assert_eq!(stat(&mut c, &name, "ranges_enqueued"), enqueued);
    assert!(!c.query_one("SELECT queue.backfill_pause($1)", &[&name]).unwrap().get::<_, bool>(0));

    // Resume: the parked jobs come back first, then the ranges go on from the cursor.
    assert!(c.query_one("SELECT queue.backfill_resume($1)", &[&name]).unwrap().get::<_, bool>(0));
    await_condition("the parked jobs and more", Duration::from_secs(30), || {
        work(&mut c, &q);
        stat(&mut c, &name, "ranges_enqueued") >= enqueued + 20 && stat(&mut c, &name, "ranges_done") >= enqueued
    });
    assert!(parked > 0, "nothing was parked");

    // Alter: five times the rate, visible within the lookahead (2 s).
    let altered: DateTime<Utc> = c.query_one("SELECT now()", &[]).unwrap().get(0);
    c.execute("SELECT queue.backfill_alter($1, per_second => 100)", &[&name]).unwrap();
    await_condition("jobs at the new pace", Duration::from_secs(30), || {
        work(&mut c, &q);
        ranges(&mut c, &name).iter().filter(|j| j.3 > altered + chrono::Duration::seconds(3)).count() >= 50
    });
    let fast: Vec<DateTime<Utc>> =
        ranges(&mut c, &name).iter().map(|j| j.3).filter(|t| *t > altered + chrono::Duration::seconds(3)).collect();
    assert_paced(&fast, 10_000);

    // Cancel: its pending jobs are removed, nothing more comes.
    let pending = stat(&mut c, &name, "ranges_pending");
    let removed: i64 = c.query_one("SELECT queue.backfill_cancel($1)", &[&name]).unwrap().get(0);
    assert!(removed > 0 && removed >= pending - 1, "removed {removed} of {pending}");
    assert_eq!(stat(&mut c, &name, "ranges_pending"), 0);
    let enqueued = stat(&mut c, &name, "ranges_enqueued");
    await_worker_ticks(&mut c, 10);
    assert_eq!(stat(&mut c, &name, "ranges_enqueued"), enqueued);
    assert_eq!(
        c.query_one("SELECT state FROM queue.backfills WHERE name = $1", &[&name]).unwrap().get::<_, String>(0),
        "cancelled"
    );
    // Everything enqueued and not cancelled was covered exactly once.
    let jobs: Vec<_> = ranges(&mut c, &name);
    let mut ends: Vec<i64> = jobs.iter().map(|j| j.2).collect();
    ends.sort();
    ends.dedup();
    assert_eq!(ends.len(), jobs.len(), "a range was enqueued twice");
    // The name can be used again once it is cancelled.
    c.execute("SELECT queue.backfill_start($1, $2, $3::text::regclass, per_second => 1)", &[&name, &q, &table])
        .unwrap();
    c.execute("SELECT queue.backfill_cancel($1)", &[&name]).unwrap();
}

#[test]
fn peak_and_off_peak_rates_switch_at_the_boundary() {
    let mut c = connect();
    let q = new_queue(&mut c, "bfpeak", "");
    let table = format!("bf_peak_{q}");
    c.batch_execute(&format!("CREATE TABLE {table} (id bigint PRIMARY KEY); INSERT INTO {table} VALUES (1)")).unwrap();
    let name = format!("peak_{q}");
    c.execute(
        "SELECT queue.backfill_start($1, $2, $3::text::regclass, per_second => 10, peak_per_second => 2,
                                     off_peak_per_second => 50, timezone => 'Europe/Paris', peak_days => 'mon-fri',
                                     peak_hours => '9-18')",
        &[&name, &q, &table],
    )
    .unwrap();
    c.execute("SELECT queue.backfill_pause($1)", &[&name]).unwrap();
    let rate = |c: &mut Client, at: &str| -> f64 {
        c.query_one("SELECT queue.backfill_rate($1, $2::text::timestamptz)", &[&name, &at]).unwrap().get(0)
    };
    // Tuesday 2026-11-24, Paris is UTC+1.
    assert_eq!(rate(&mut c, "2026-11-24 07:59:59.999+00"), 50.0);
    assert_eq!(rate(&mut c, "2026-11-24 08:00:00+00"), 2.0);
    assert_eq!(rate(&mut c, "2026-11-24 16:59:59.999+00"), 2.0);
    assert_eq!(rate(&mut c, "2026-11-24 17:00:00+00"), 50.0);
    assert_eq!(rate(&mut c, "2026-11-28 12:00:00+00"), 50.0, "Saturday is off-peak");
    c.execute("SELECT queue.backfill_alter($1, off_peak_per_second => 40)", &[&name]).unwrap();
    assert_eq!(rate(&mut c, "2026-11-28 12:00:00+00"), 40.0);
    c.execute("SELECT queue.backfill_alter($1, reset => '{peak_schedule}')", &[&name]).unwrap();
    assert_eq!(rate(&mut c, "2026-11-24 12:00:00+00"), 10.0);
    c.execute("SELECT queue.backfill_cancel($1)", &[&name]).unwrap();
}

#[test]
fn two_backfills_keep_their_own_rates() {
    let mut c = connect();
    let mut names = Vec::new();
    for rate in [40, 8] {
        let q = new_queue(&mut c, "bftwo", "");
        let table = format!("bf_two_{q}");
        c.batch_execute(&format!(
            "CREATE TABLE {table} (id bigint PRIMARY KEY); INSERT INTO {table} SELECT generate_series(1, 5000)"
        ))
        .unwrap();
        let name = format!("two_{q}");
        c.execute(
            "SELECT queue.backfill_start($1, $2, $3::text::regclass, batch_size => 10, per_second => $4::float8)",
            &[&name, &q, &table, &(rate as f64)],
        )
        .unwrap();
        names.push((name, rate));
    }
    await_condition("both under way", Duration::from_secs(30), || {
        names.iter().all(|(n, r)| stat(&mut c, n, "ranges_enqueued") >= *r * 2)
    });
    for (name, rate) in &names {
        let due: Vec<DateTime<Utc>> = ranges(&mut c, name).iter().map(|j| j.3).collect();
        assert_paced(&due, 1_000_000 / rate);
        c.execute("SELECT queue.backfill_cancel($1)", &[name]).unwrap();
    }
}

#[test]
fn backfill_input_errors_are_precise_and_change_nothing() {
    let mut c = connect();
    let q = new_queue(&mut c, "bfbad", "");
    let t = format!("bf_bad_{q}");
    c.batch_execute(&format!(
        "CREATE TABLE {t} (id bigint PRIMARY KEY, code text, n int);
         CREATE TABLE {t}_text (k text PRIMARY KEY);
         CREATE TABLE {t}_nopk (n int);"
    ))
    .unwrap();
    let b = format!("bad_{q}");
    let start = |args: &str| format!("SELECT queue.backfill_start('{b}', '{q}', {args})");
    let cases: Vec<(String, &str, &str)> = vec![
        (start(&format!("'no_such_table_{q}'")), "42P01", "does not exist"),
        (start(&format!("'{t}_text'")), "42804", "integer key"),
        (start(&format!("'{t}', key_column => 'code'")), "42804", "integer key"),
        (start(&format!("'{t}', key_column => 'nope'")), "42703", "column \"nope\""),
        (start(&format!("'{t}_nopk'")), "22023", "primary key"),
        (start(&format!("'{t}', key_column => 'n'")), "55000", "no index"),
        (start(&format!("'{t}', batch_size => 0")), "22023", "batch"),
        (start(&format!("'{t}', batch_size => -5")), "22023", "batch"),
        (start(&format!("'{t}', per_second => 0")), "22023", "per_second"),
        (start(&format!("'{t}', per_second => -1")), "22023", "per_second"),
        (start(&format!("'{t}', per_second => 'NaN'")), "22023", "per_second"),
        (start(&format!("'{t}', lookahead => '0 seconds'")), "22023", "lookahead"),
        (start(&format!("'{t}', max_outstanding => 0")), "22023", "max_outstanding"),
        (start(&format!("'{t}', peak_per_second => 5, peak_days => 'someday'")), "22023", "peak_days"),
        (start(&format!("'{t}', peak_per_second => 5, peak_hours => '25-3'")), "22023", "peak_hours"),
        (start(&format!("'{t}', timezone => 'Mars/Olympus'")), "22023", "time zone"),
        (format!("SELECT queue.backfill_start('{b}', 'no_such_queue_{q}', '{t}')"), "42704", "does not exist"),
        (format!("SELECT queue.backfill_start(NULL, '{q}', '{t}')"), "22004", "backfill name"),
        (format!("SELECT queue.backfill_pause('{b}')"), "42704", "does not exist"),
        (format!("SELECT queue.backfill_alter('{b}', per_second => 3)"), "42704", "does not exist"),
    ];
    for (sql, code, fragment) in &cases {
        let e = c.batch_execute(sql).err().unwrap_or_else(|| panic!("accepted: {sql}"));
        let db = e.as_db_error().unwrap();
        assert_eq!((db.code().code(), db.message().contains(fragment)), (*code, true), "{sql}: {}", db.message());
    }
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.backfills WHERE name = $1", &[&b]), 0);
    // The missing index's hint is the statement to run.
    let e = c.batch_execute(&start(&format!("'{t}', key_column => 'n'"))).unwrap_err();
    let hint = e.as_db_error().unwrap().hint().unwrap().to_owned();
    c.batch_execute(&hint).unwrap();
    // A duplicate of a live backfill: 42710, the first one untouched.
    c.batch_execute(&start(&format!("'{t}', key_column => 'n', per_second => 2"))).unwrap();
    let e = c.batch_execute(&start(&format!("'{t}', per_second => 9"))).unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42710");
    assert_eq!(count(&mut c, "SELECT per_second::bigint FROM queue.backfills WHERE name = $1", &[&b]), 2);
    let e = c.batch_execute(&format!("SELECT queue.backfill_alter('{b}', reset => '{{speed}}')")).unwrap_err();
    assert_eq!(e.code().unwrap().code(), "22023");
    c.execute("SELECT queue.backfill_cancel($1)", &[&b]).unwrap();
}

#[test]
fn a_backfill_reads_its_source_as_the_role_that_started_it() {
    let mut admin = connect();
    let q = new_queue(&mut admin, "bfowned", "");
    let mut owner = role(&mut admin, "backfill_owner", &["queue_admin"]);
    let mut producer = role(&mut admin, "backfill_producer", &["queue_producer"]);
    admin.batch_execute("CREATE SCHEMA IF NOT EXISTS backfill_owned AUTHORIZATION backfill_owner").unwrap();
    let table = format!("backfill_owned.src_{q}");
    owner
        .batch_execute(&format!(
            "CREATE TABLE {table}_log (reader text);
             CREATE FUNCTION {table}_seen() RETURNS boolean LANGUAGE plpgsql AS
                 $$ BEGIN INSERT INTO {table}_log VALUES (current_user); RETURN true; END $$;
             CREATE TABLE {table} (id bigint PRIMARY KEY);
             INSERT INTO {table} SELECT generate_series(1, 300);
             ALTER TABLE {table} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
             CREATE POLICY seen ON {table} USING ({table}_seen());"
        ))
        .unwrap();
    let name = format!("owned_{q}");
    owner
        .execute(
            "SELECT queue.backfill_start($1, $2, $3::text::regclass, batch_size => 50, per_second => 100)",
            &[&name, &q, &table],
        )
        .unwrap();
    await_condition("the owner's backfill enqueued", Duration::from_secs(30), || {
        count(&mut admin, "SELECT ranges_enqueued FROM queue.backfills WHERE name = $1", &[&name]) >= 6
    });
    let readers: Vec<String> = admin
        .query(&format!("SELECT DISTINCT reader FROM {table}_log"), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(readers, ["backfill_owner"], "the source was read as someone else");
    // Only queue_admin starts backfills, and only on tables it may read.
    let e = producer.batch_execute(&format!("SELECT queue.backfill_start('p_{q}', '{q}', '{table}')")).unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42501");
    admin.batch_execute(&format!("CREATE TABLE private_bf_{q} (id bigint PRIMARY KEY)")).unwrap();
    let e = owner
        .batch_execute(&format!("SELECT queue.backfill_start('p_{q}', '{q}', 'public.private_bf_{q}')"))
        .unwrap_err();
    assert_eq!(e.code().unwrap().code(), "42501");
    owner.execute("SELECT queue.backfill_cancel($1)", &[&name]).unwrap();
}

/// The state of queue.backfills is honest about dead ranges (issue 16 §5): a backfill whose range
/// died is 'failed', not 'done'; once the range is retried it is 'draining' while the range is
/// pending; 'done' comes only when every range completed.
#[test]
fn a_backfill_with_a_dead_range_is_failed_then_draining_after_a_retry_then_done() {
    let mut c = connect();
    let q = new_queue(&mut c, "bfdead", "max_attempts => 1");
    let table = format!("bf_dead_{q}");
    c.batch_execute(&format!(
        "CREATE TABLE {table} (id integer PRIMARY KEY); INSERT INTO {table} SELECT generate_series(1, 6); ANALYZE {table};"
    ))
    .unwrap();
    let name = format!("dead_{q}");
    c.execute(
        "SELECT queue.backfill_start($1, $2, $3::text::regclass, batch_size => 2, per_second => 100)",
        &[&name, &q, &table],
    )
    .unwrap();
    let state = |c: &mut Client| -> String {
        c.query_one("SELECT state FROM queue.backfills WHERE name = $1", &[&name]).unwrap().get(0)
    };
    // Work every range; the first one claimed fails its only attempt.
    let mut failed = false;
    await_condition("every range finished", Duration::from_secs(60), || {
        for r in c.query("SELECT id, lease_token FROM queue.claim($1, batch => 10)", &[&q]).unwrap() {
            let (id, token): (i64, Uuid) = (r.get(0), r.get(1));
            let call = if failed { "SELECT queue.complete($1, $2)" } else { "SELECT queue.fail($1, $2, 'boom')" };
            c.execute(call, &[&id, &token]).unwrap();
            failed = true;
        }
        stat(&mut c, &name, "ranges_enqueued") == 3
            && stat(&mut c, &name, "ranges_pending") + stat(&mut c, &name, "ranges_running") == 0
    });
    assert_eq!(stat(&mut c, &name, "ranges_dead"), 1);
    assert_eq!(stat(&mut c, &name, "ranges_done"), 2);
    // The worker finds it finished (it records 'done'); the view says what happened.
    await_worker_ticks(&mut c, 3);
    assert_eq!(state(&mut c), "failed");

    let retried = count(
        &mut c,
        "SELECT count(*) FROM queue.jobs j WHERE j.state = 'dead' AND j.payload->>'backfill' = $1 AND queue.retry(j.id)",
        &[&name],
    );
    assert_eq!(retried, 1);
    assert_eq!(stat(&mut c, &name, "ranges_pending"), 1);
    assert_eq!(state(&mut c), "draining");
    await_worker_ticks(&mut c, 3);
    assert_eq!(state(&mut c), "draining", "the worker made a backfill with a pending range look finished");

    assert_eq!(work(&mut c, &q), 1);
    assert_eq!(stat(&mut c, &name, "ranges_done"), 3);
    assert_eq!(state(&mut c), "done");
}
