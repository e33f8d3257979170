//! Issue 16, 3: nobody can stall a database's worker. A restricted queue_admin's cast that sleeps
//! runs in the worker's read of a spread refresh's source; the read is bounded by
//! queue_ext.source_timeout, and SIGTERM ends the worker even inside it. On 0.2.0 the worker slept
//! the whole time: no tenant's schedule fired, and pg_terminate_backend did not stop it.

use crate::common::{await_condition, await_worker_ticks, count, worker_pid, TestDb};
use crate::hostile::role;
use chrono::{DateTime, Utc};
use postgres::Client;
use std::time::{Duration, Instant};

/// How long the hostile cast sleeps: far beyond every bound the tests assert.
const SLEEP_S: i32 = 60;

/// A database whose worker runs with `queue_ext.source_timeout = timeout` (a per-database setting,
/// which the worker applies when it connects: any worker connected before it is sent away).
fn database(prefix: &str, timeout: &str) -> (TestDb, Client) {
    let db = TestDb::without_extension(prefix);
    let mut admin = db.connect();
    admin.batch_execute(&format!("ALTER DATABASE {} SET queue_ext.source_timeout = '{timeout}'", db.name)).unwrap();
    let old: Vec<i32> = admin
        .query(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'queue_ext worker' AND datname = current_database()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for pid in &old {
        admin.execute("SELECT pg_terminate_backend($1)", &[pid]).unwrap();
    }
    await_condition("workers connected before the setting to leave", Duration::from_secs(30), || {
        old.iter().all(|pid| count(&mut admin, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", &[pid]) == 0)
    });
    admin.batch_execute("CREATE EXTENSION queue_ext").unwrap();
    (db, admin)
}

/// `owner` (a queue_admin restricted to queue `q`) builds the trap in schema `stall`: an enum
/// whose cast to text sleeps SLEEP_S seconds in the worker while `stall.armed` has a row (with
/// `catch_cancel`, it catches the cancel and sleeps again), a table keyed by it with the slot
/// index, and a spread refresh `name` of it every second.
fn hostile_refresh(admin: &mut Client, owner_name: &str, q: &str, name: &str, catch_cancel: bool) {
    admin.batch_execute(&format!("SELECT queue.create_queue('{q}')")).unwrap();
    let mut owner = role(admin, owner_name, &["queue_admin"]);
    admin
        .batch_execute(&format!(
            "SELECT queue.grant('{q}', '{owner_name}', 'admin');
             CREATE SCHEMA stall AUTHORIZATION {owner_name};"
        ))
        .unwrap();
    let sleep = if catch_cancel {
        format!(
            "BEGIN PERFORM pg_catalog.pg_sleep({SLEEP_S});
             EXCEPTION WHEN query_canceled THEN PERFORM pg_catalog.pg_sleep({SLEEP_S}); END;"
        )
    } else {
        format!("PERFORM pg_catalog.pg_sleep({SLEEP_S});")
    };
    // Only the worker sleeps (its application_name is empty): the test's own statements, and
    // CREATE INDEX, run the cast too.
    owner
        .batch_execute(&format!(
            "CREATE TABLE stall.armed ();
             CREATE TYPE stall.e AS ENUM ('a', 'b', 'c', 'd');
             CREATE FUNCTION stall.e_text(stall.e) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $f$
             BEGIN
                 IF EXISTS (SELECT FROM stall.armed) AND pg_catalog.current_setting('application_name') = '' THEN
                     {sleep}
                 END IF;
                 RETURN pg_catalog.format('%s', $1);
             END $f$;
             CREATE CAST (stall.e AS text) WITH FUNCTION stall.e_text(stall.e);
             CREATE TABLE stall.t (key stall.e PRIMARY KEY);
             INSERT INTO stall.t VALUES ('a'), ('b'), ('c'), ('d');
             CREATE INDEX ON stall.t (queue.slot_fraction((key)::text));
             SELECT queue.spread_refresh('{name}', '{q}', 'stall.t', 'key', '1 second');
             INSERT INTO stall.armed DEFAULT VALUES;"
        ))
        .unwrap();
}

/// The worker's pid once it sleeps inside the owner's code.
fn await_worker_asleep(c: &mut Client) -> i32 {
    let mut pid = None;
    await_condition("the worker to sleep inside the owner's code", Duration::from_secs(30), || {
        pid = c
            .query_opt(
                "SELECT pid FROM pg_stat_activity
                  WHERE backend_type = 'queue_ext worker' AND datname = current_database() AND wait_event = 'PgSleep'",
                &[],
            )
            .unwrap()
            .map(|r| r.get(0));
        pid.is_some()
    });
    pid.unwrap()
}

fn alive(c: &mut Client, pid: i32) -> bool {
    count(c, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", &[&pid]) > 0
}

/// Disarm the trap and drop the refresh, so that no worker sleeps after the test.
fn clean_up(c: &mut Client, name: &str) {
    c.batch_execute(&format!("DELETE FROM stall.armed; SELECT queue.drop_spread_refresh('{name}')")).unwrap();
}

#[test]
fn a_sleeping_source_is_cancelled_and_other_tenants_schedules_keep_firing() {
    let (_db, mut c) = database("stall_timeout", "2s");
    // Another tenant's schedule, firing every second from before the trap is set.
    c.batch_execute(
        "SELECT queue.create_queue('ticks');
         SELECT queue.schedule('every_second', '1 seconds', 'ticks');",
    )
    .unwrap();
    await_condition("the schedule's first fire", Duration::from_secs(30), || {
        count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = 'ticks'", &[]) >= 1
    });
    hostile_refresh(&mut c, "stall_timeout_admin", "stalled", "trap", false);
    let pid = await_worker_asleep(&mut c);

    // The read is cancelled at the timeout and recorded on the refresh, like any error of a source.
    let started = Instant::now();
    await_condition("the refresh's failure recorded", Duration::from_secs(30), || {
        count(&mut c, "SELECT count(*) FROM queue.spread_refreshes WHERE name = 'trap' AND last_error IS NOT NULL", &[])
            > 0
    });
    assert!(started.elapsed() < Duration::from_secs(SLEEP_S as u64 / 2), "cancelled after {:?}", started.elapsed());
    let error: String =
        c.query_one("SELECT last_error FROM queue.spread_refreshes WHERE name = 'trap'", &[]).unwrap().get(0);
    assert_eq!(error, "canceling statement due to statement timeout");
    // The cast honoured the cancel: the same worker carries on.
    assert_eq!(worker_pid(&mut c), Some(pid));

    // The refresh is retried (and cancelled again) meanwhile; the schedule never waits long.
    let fires = count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = 'ticks'", &[]);
    await_condition("more fires", Duration::from_secs(30), || {
        count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = 'ticks'", &[]) >= fires + 5
    });
    let enqueued: Vec<DateTime<Utc>> = c
        .query("SELECT enqueued_at FROM queue.jobs WHERE queue = 'ticks' ORDER BY enqueued_at", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let gap = enqueued.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(gap < chrono::Duration::seconds(6), "the schedule waited {gap} for the worker: {enqueued:?}");
    assert_eq!(worker_pid(&mut c), Some(pid));
    clean_up(&mut c, "trap");
}

#[test]
fn terminating_the_worker_inside_a_sleeping_source_ends_it_at_once() {
    // The timeout is far away: only the SIGTERM can end the read.
    let (_db, mut c) = database("stall_term", "50s");
    hostile_refresh(&mut c, "stall_term_admin", "stalled", "trap", false);
    let pid = await_worker_asleep(&mut c);
    // Disarmed for the next worker; this one sleeps on.
    c.batch_execute("DELETE FROM stall.armed").unwrap();
    assert!(c.query_one("SELECT pg_terminate_backend($1)", &[&pid]).unwrap().get::<_, bool>(0));
    await_condition("the terminated worker to exit", Duration::from_secs(5), || !alive(&mut c, pid));

    // Another worker serves the database, and reads the source again.
    await_condition("another worker", Duration::from_secs(30), || worker_pid(&mut c).is_some_and(|p| p != pid));
    await_worker_ticks(&mut c, 2);
    await_condition("the refresh's jobs", Duration::from_secs(30), || {
        count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = 'stalled'", &[]) >= 4
    });
    clean_up(&mut c, "trap");
}

#[test]
fn a_source_that_ignores_its_cancel_ends_the_worker_soon_after_the_timeout() {
    let (_db, mut c) = database("stall_ignore", "1s");
    hostile_refresh(&mut c, "stall_ignore_admin", "stalled", "trap", true);
    let pid = await_worker_asleep(&mut c);
    // Disarmed for the next worker; this one sleeps on.
    c.batch_execute("DELETE FROM stall.armed").unwrap();
    // The cancel comes after 1 s and is caught; a second later the worker ends.
    await_condition("the stalled worker to exit", Duration::from_secs(10), || !alive(&mut c, pid));
    await_condition("another worker", Duration::from_secs(30), || worker_pid(&mut c).is_some_and(|p| p != pid));
    await_worker_ticks(&mut c, 2);
    clean_up(&mut c, "trap");
}

#[test]
fn a_backfill_whose_row_security_sleeps_is_cancelled_and_records_it() {
    let (_db, mut c) = database("stall_backfill", "2s");
    c.batch_execute("SELECT queue.create_queue('filled')").unwrap();
    let mut owner = role(&mut c, "stall_backfill_admin", &["queue_admin"]);
    c.batch_execute(
        "SELECT queue.grant('filled', 'stall_backfill_admin', 'admin');
         CREATE SCHEMA stall AUTHORIZATION stall_backfill_admin;",
    )
    .unwrap();
    // The owner's policy sleeps in the worker (whose application_name is empty) while armed.
    owner
        .batch_execute(&format!(
            "CREATE TABLE stall.armed ();
             CREATE FUNCTION stall.slow() RETURNS boolean LANGUAGE plpgsql AS $f$
             BEGIN
                 IF EXISTS (SELECT FROM stall.armed) AND pg_catalog.current_setting('application_name') = '' THEN
                     PERFORM pg_catalog.pg_sleep({SLEEP_S});
                 END IF;
                 RETURN true;
             END $f$;
             CREATE TABLE stall.t (id bigint PRIMARY KEY);
             INSERT INTO stall.t SELECT pg_catalog.generate_series(1, 100);
             ALTER TABLE stall.t ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
             CREATE POLICY slow ON stall.t USING (stall.slow());
             INSERT INTO stall.armed DEFAULT VALUES;
             SELECT queue.backfill_start('trap', 'filled', 'stall.t', batch_size => 10, per_second => 10);"
        ))
        .unwrap();
    let pid = await_worker_asleep(&mut c);
    let started = Instant::now();
    await_condition("the backfill's failure recorded", Duration::from_secs(30), || {
        count(&mut c, "SELECT count(*) FROM queue.backfills WHERE name = 'trap' AND last_error IS NOT NULL", &[]) > 0
    });
    assert!(started.elapsed() < Duration::from_secs(SLEEP_S as u64 / 2), "cancelled after {:?}", started.elapsed());
    let error: String = c.query_one("SELECT last_error FROM queue.backfills WHERE name = 'trap'", &[]).unwrap().get(0);
    assert_eq!(error, "canceling statement due to statement timeout");
    assert_eq!(worker_pid(&mut c), Some(pid));
    // Disarmed, the backfill goes on from where it was.
    c.batch_execute("DELETE FROM stall.armed").unwrap();
    await_condition("the backfill's jobs", Duration::from_secs(30), || {
        count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = 'filled'", &[]) >= 1
    });
    c.batch_execute("SELECT queue.backfill_cancel('trap')").unwrap();
}
