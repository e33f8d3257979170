//! Tests that crash or restart the server or its background worker. They run one at a time,
//! after the integration suite, on the same server (scripts/test starts it).

#[path = "../integration/common.rs"]
#[allow(dead_code)]
mod common;

use common::{await_condition, await_worker_ticks, config, connect, count, new_queue, pg_ctl, worker_pid};
use postgres::NoTls;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;
use uuid::Uuid;

/// The background worker is at work: a job whose lease runs out comes back to pending.
fn assert_worker_releases_expired_leases(c: &mut postgres::Client, prefix: &str) {
    let q = new_queue(c, prefix, "backoff_base => '0', backoff_max => '0'");
    let id: i64 = c.query_one("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap().get(0);
    c.execute("SELECT queue.claim($1, lease => '100 ms')", &[&q]).unwrap();
    await_condition("the expired lease to be released", Duration::from_secs(30), || {
        c.query_one("SELECT state::text FROM queue.jobs WHERE id = $1", &[&id]).unwrap().get::<_, String>(0)
            == "pending"
    });
}

#[test]
fn terminated_background_worker_is_replaced_when_work_is_due() {
    let mut c = connect();
    await_condition("the background worker", Duration::from_secs(30), || worker_pid(&mut c).is_some());
    let old = worker_pid(&mut c).unwrap();
    assert!(c.query_one("SELECT pg_terminate_backend($1)", &[&old]).unwrap().get::<_, bool>(0));
    await_condition("the worker to exit", Duration::from_secs(30), || worker_pid(&mut c) != Some(old));

    // The pool sends another when something is due (at once when the worker died in a round):
    // it releases expired leases, and ticks.
    assert_worker_releases_expired_leases(&mut c, "after_restart");
    await_condition("a new background worker", Duration::from_secs(30), || {
        worker_pid(&mut c).is_some_and(|p| p != old)
    });
    await_worker_ticks(&mut c, 2);
    let new = worker_pid(&mut c).unwrap();
    assert_eq!(c.query_one("SELECT pid FROM queue.worker_status", &[]).unwrap().get::<_, i32>(0), new);
}

/// Jobs whose enqueue committed (the client saw COMMIT succeed), and completions that committed.
#[derive(Default)]
struct Ledger {
    enqueued: HashSet<i64>,
    completed: HashMap<i64, u32>,
}

#[test]
fn immediate_shutdown_under_load_loses_nothing_and_completes_nothing_twice() {
    let mut c = connect();
    let q = new_queue(&mut c, "crash", "lease => '1 second', backoff_base => '0', backoff_max => '0'");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let crashed = Arc::new(AtomicBool::new(false));

    // Producers and consumers run until the server dies under them.
    let mut handles = Vec::new();
    for p in 0..2 {
        let (q, ledger, crashed) = (q.clone(), ledger.clone(), crashed.clone());
        handles.push(thread::spawn(move || {
            let mut c = config("postgres").connect(NoTls).unwrap();
            let mut n = 0;
            while !crashed.load(Ordering::Relaxed) {
                n += 1;
                let Ok(rows) = c.query(
                    "SELECT * FROM queue.enqueue_many($1, ARRAY[$2, $2]::jsonb[])",
                    &[&q, &json!({"p": p, "n": n})],
                ) else {
                    return;
                };
                ledger.lock().unwrap().enqueued.extend(rows.iter().map(|r| r.get::<_, i64>(0)));
            }
        }));
    }
    for w in 0..3 {
        let (q, ledger, crashed) = (q.clone(), ledger.clone(), crashed.clone());
        handles.push(thread::spawn(move || {
            let mut c = config("postgres").connect(NoTls).unwrap();
            let worker = format!("w{w}");
            while !crashed.load(Ordering::Relaxed) {
                let Ok(rows) = c.query("SELECT id, lease_token FROM queue.claim($1, $2, batch => 5)", &[&q, &worker])
                else {
                    return;
                };
                for r in rows {
                    let (id, token): (i64, Uuid) = (r.get(0), r.get(1));
                    match c.query_one("SELECT queue.complete($1, $2)", &[&id, &token]) {
                        Ok(row) if row.get::<_, bool>(0) => {
                            *ledger.lock().unwrap().completed.entry(id).or_default() += 1
                        }
                        Ok(_) => {}
                        Err(_) => return,
                    }
                }
            }
        }));
    }
    await_condition("some work before the crash", Duration::from_secs(60), || {
        ledger.lock().unwrap().completed.len() >= 300
    });
    pg_ctl(&["stop", "-m", "immediate"]);
    crashed.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    pg_ctl(&["start"]);

    // After recovery: every acknowledged enqueue is there; finish the rest (leases of jobs that
    // were running at the crash expire and come back through the background worker).
    let mut c = connect();
    let ledger = Arc::try_unwrap(ledger).ok().unwrap().into_inner().unwrap();
    let present = count(
        &mut c,
        "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND id = ANY($2)",
        &[&q, &ledger.enqueued.iter().copied().collect::<Vec<_>>()],
    );
    assert_eq!(present as usize, ledger.enqueued.len(), "a committed enqueue was lost");
    for (id, n) in &ledger.completed {
        assert_eq!(*n, 1, "job {id} completed twice before the crash");
    }
    let mut after: HashMap<i64, u32> = HashMap::new();
    await_condition("the queue to drain after restart", Duration::from_secs(60), || {
        for r in c.query("SELECT id, lease_token FROM queue.claim($1, 'after', batch => 50)", &[&q]).unwrap() {
            let (id, token): (i64, Uuid) = (r.get(0), r.get(1));
            if c.query_one("SELECT queue.complete($1, $2)", &[&id, &token]).unwrap().get::<_, bool>(0) {
                *after.entry(id).or_default() += 1;
            }
        }
        count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state <> 'done'", &[&q]) == 0
    });
    for (id, n) in &after {
        assert_eq!(*n, 1, "job {id} completed twice after the restart");
        assert!(!ledger.completed.contains_key(id), "job {id} completed before the crash was handed out again");
    }
    for id in &ledger.enqueued {
        let row = c.query_one("SELECT state::text FROM queue.jobs WHERE id = $1", &[id]).unwrap();
        assert_eq!(row.get::<_, String>(0), "done", "job {id}");
    }
    // The background worker came back with the server and is working.
    await_worker_ticks(&mut c, 2);
}

/// The server log, from byte `from` on.
fn server_log_since(from: u64) -> String {
    let log = std::fs::read(std::env::var("QUEUE_EXT_TEST_LOG").unwrap()).unwrap();
    String::from_utf8_lossy(&log[from as usize..]).into_owned()
}

fn log_len() -> u64 {
    std::fs::metadata(std::env::var("QUEUE_EXT_TEST_LOG").unwrap()).unwrap().len()
}

/// Is a background worker connected to this test's database?
fn worker_connected(c: &mut postgres::Client) -> bool {
    common::worker_pid(c).is_some()
}

#[test]
fn worker_leaves_a_database_without_the_extension_and_returns_after_create() {
    let mut c = connect();
    await_condition("the background worker", Duration::from_secs(30), || worker_connected(&mut c));
    let from = log_len();
    c.batch_execute("DROP EXTENSION queue_ext CASCADE").unwrap();
    // It notices within a tick and leaves: it holds no connection to a database that has no use
    // for it (which would also stand in the way of DROP DATABASE).
    await_condition("the worker to leave", Duration::from_secs(30), || !worker_connected(&mut c));

    c.batch_execute("CREATE EXTENSION queue_ext").unwrap();
    // CREATE EXTENSION wakes the launcher at commit: a worker serves the database again at once,
    // not after the minute the launcher otherwise leaves a database without the extension alone.
    await_condition("a worker to come back", Duration::from_secs(10), || worker_connected(&mut c));
    await_worker_ticks(&mut c, 2);
    assert_worker_releases_expired_leases(&mut c, "recreated");

    let log = server_log_since(from);
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    let left = log
        .matches(&format!("queue_ext is not installed in database \"{db}\"; leaving it until CREATE EXTENSION"))
        .count();
    assert_eq!(left, 1, "expected the worker to say once that it leaves, got {left}:\n{log}");
    assert!(!log.contains("ERROR") && !log.contains("FATAL"), "the worker complained:\n{log}");
    assert!(!log.contains("terminated by signal"), "a crash:\n{log}");
}

fn set_databases(c: &mut postgres::Client, value: Option<&str>) {
    match value {
        Some(v) => c.batch_execute(&format!("ALTER SYSTEM SET queue_ext.databases = '{v}'")).unwrap(),
        None => c.batch_execute("ALTER SYSTEM RESET queue_ext.databases").unwrap(),
    }
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
}

/// Correctness never waits for the background worker: with no worker serving the database, a
/// claim takes over the expired leases of its queue itself. And a database named in
/// queue_ext.databases that does not exist is reported once, without the launcher or any worker
/// crashing in a loop.
#[test]
fn without_a_worker_claims_take_over_expired_leases_and_a_missing_database_is_reported_once() {
    let mut c = connect();
    let from = log_len();
    set_databases(&mut c, Some("no_such_database_here"));
    await_condition("the worker to leave", Duration::from_secs(30), || worker_pid(&mut c).is_none());

    let q = new_queue(&mut c, "takeover", "backoff_base => '0', backoff_max => '0'");
    let id: i64 = c.query_one("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap().get(0);
    let first: Uuid = c.query_one("SELECT lease_token FROM queue.claim($1, lease => '100 ms')", &[&q]).unwrap().get(0);
    let mut second = None;
    await_condition("a claim to take the expired lease over", Duration::from_secs(30), || {
        second = c.query_opt("SELECT lease_token FROM queue.claim($1)", &[&q]).unwrap().map(|r| r.get::<_, Uuid>(0));
        second.is_some()
    });
    assert_ne!(second, Some(first));
    let row = c.query_one("SELECT attempts, last_error FROM queue.jobs WHERE id = $1", &[&id]).unwrap();
    assert_eq!(row.get::<_, i32>(0), 2);
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("lease expired"));
    assert!(!c.query_one("SELECT queue.complete($1, $2)", &[&id, &first]).unwrap().get::<_, bool>(0));

    set_databases(&mut c, None);
    await_condition("the worker to come back", Duration::from_secs(30), || worker_pid(&mut c).is_some());
    await_worker_ticks(&mut c, 2);
    let log = server_log_since(from);
    let reported = log.matches("\"no_such_database_here\" named in queue_ext.databases does not exist").count();
    assert_eq!(reported, 1, "expected one warning about the missing database, got {reported}:\n{log}");
    assert!(!log.contains("terminated by signal") && !log.contains("FATAL"), "a crash:\n{log}");
}

/// A per-second schedule across a clean restart and an immediate shutdown: no fire time fires
/// twice, and every fire time from the first on either fired or was counted as missed (the window
/// the server was down for fires once on catch-up).
#[test]
fn schedules_fire_exactly_once_across_restart_and_immediate_shutdown() {
    let mut c = connect();
    let q = new_queue(&mut c, "cron_crash", "");
    let name = format!("crash_{q}");
    let first: chrono::DateTime<chrono::Utc> =
        c.query_one("SELECT queue.schedule($1, '1 seconds', $2)", &[&name, &q]).unwrap().get(0);
    let jobs = |c: &mut postgres::Client| count(c, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&q]);
    await_condition("fires before the restart", Duration::from_secs(30), || jobs(&mut c) >= 2);
    pg_ctl(&["restart", "-m", "fast"]);
    let mut c = connect();
    let before = jobs(&mut c);
    await_condition("fires after the restart", Duration::from_secs(30), || jobs(&mut c) >= before + 2);
    pg_ctl(&["stop", "-m", "immediate"]);
    // Down for a few fire times (a wall-clock wait is the point here).
    thread::sleep(Duration::from_secs(3));
    pg_ctl(&["start"]);
    let mut c = connect();
    let before = jobs(&mut c);
    await_condition("fires after the crash", Duration::from_secs(30), || jobs(&mut c) >= before + 3);
    c.execute("SELECT queue.pause_schedule($1)", &[&name]).unwrap();

    let runs: Vec<chrono::DateTime<chrono::Utc>> = c
        .query("SELECT run_at FROM queue.jobs WHERE queue = $1 ORDER BY run_at", &[&q])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let distinct: HashSet<_> = runs.iter().collect();
    assert_eq!(distinct.len(), runs.len(), "a fire time fired twice: {runs:?}");
    let r = c.query_one("SELECT fires, misses FROM queue.schedules WHERE name = $1", &[&name]).unwrap();
    let (fires, misses): (i64, i64) = (r.get(0), r.get(1));
    assert_eq!(fires, runs.len() as i64);
    let span = (*runs.last().unwrap() - first).num_seconds() + 1;
    assert_eq!(fires + misses, span, "fires {fires} + misses {misses} over {span} fire times: {runs:?}");
    // The crash window was caught up by one fire, not one per missed second.
    let gaps = runs.windows(2).filter(|w| (w[1] - w[0]).num_seconds() >= 3).count();
    assert!(gaps >= 1, "no catch-up gap after three seconds down: {runs:?}");
    c.execute("SELECT queue.unschedule($1)", &[&name]).unwrap();
}

/// A backfill interrupted by an immediate shutdown: its cursor moved with the ranges it enqueued,
/// so after the restart every row is still covered exactly once.
#[test]
fn a_backfill_covers_every_row_exactly_once_across_an_immediate_shutdown() {
    let mut c = connect();
    let q = new_queue(&mut c, "bf_crash", "");
    let table = format!("bf_crash_{q}");
    c.batch_execute(&format!(
        "CREATE TABLE {table} (id bigint PRIMARY KEY); INSERT INTO {table} SELECT g FROM generate_series(1, 9000) g WHERE g % 3 <> 0"
    ))
    .unwrap();
    let name = format!("crash_{q}");
    c.execute(
        "SELECT queue.backfill_start($1, $2, $3::text::regclass, batch_size => 10, per_second => 200, lookahead => '1 second')",
        &[&name, &q, &table],
    )
    .unwrap();
    let enqueued =
        |c: &mut postgres::Client| count(c, "SELECT ranges_enqueued FROM queue.backfills WHERE name = $1", &[&name]);
    await_condition("ranges before the crash", Duration::from_secs(30), || enqueued(&mut c) >= 100);
    pg_ctl(&["stop", "-m", "immediate"]);
    pg_ctl(&["start"]);
    let mut c = connect();
    await_condition("the backfill done after the restart", Duration::from_secs(120), || {
        let jobs = c.query("SELECT id, lease_token FROM queue.claim($1, batch => 500)", &[&q]).unwrap();
        if !jobs.is_empty() {
            let ids: Vec<i64> = jobs.iter().map(|r| r.get(0)).collect();
            let token: Uuid = jobs[0].get(1);
            c.execute("SELECT count(*) FROM queue.complete_many($1, ARRAY[$2]::uuid[])", &[&ids, &token]).unwrap();
        }
        c.query_one("SELECT state FROM queue.backfills WHERE name = $1", &[&name]).unwrap().get::<_, String>(0)
            == "done"
    });
    let uncovered = count(
        &mut c,
        &format!(
            "SELECT count(*) FROM {table} t
              WHERE (SELECT count(*) FROM queue.jobs j
                      WHERE j.payload->>'backfill' = $1
                        AND t.id BETWEEN (j.payload->>'begin_id')::bigint AND (j.payload->>'end_id')::bigint) <> 1"
        ),
        &[&name],
    );
    assert_eq!(uncovered, 0, "rows covered other than exactly once after the crash");
    assert_eq!(enqueued(&mut c), 600);
}

fn stats_depths(c: &mut postgres::Client, queue: &str) -> Option<[i64; 4]> {
    let r = c
        .query_one("SELECT ready, scheduled, running, dead, counted FROM queue.stats WHERE queue = $1", &[&queue])
        .unwrap();
    r.get::<_, bool>(4).then(|| [r.get(0), r.get(1), r.get(2), r.get(3)])
}

/// Shared memory forgets the depths at a crash: the worker counts them again, exactly, while
/// producers and consumers keep going.
#[test]
fn stats_are_recounted_exactly_after_an_immediate_shutdown_under_load() {
    let mut c = connect();
    let q = new_queue(&mut c, "recount", "max_attempts => 1");
    c.execute("SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[500]))", &[&q]).unwrap();
    c.execute(
        "SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[70]), run_at => now() + interval '1 day')",
        &[&q],
    )
    .unwrap();
    let claimed = c.query("SELECT id, lease_token FROM queue.claim($1, batch => 20)", &[&q]).unwrap();
    for r in &claimed[..5] {
        c.execute("SELECT queue.fail($1, $2, 'dead')", &[&r.get::<_, i64>(0), &r.get::<_, Uuid>(1)]).unwrap();
    }
    assert_eq!(stats_depths(&mut c, &q), Some(common::job_table_depths(&mut c, &q)));

    pg_ctl(&["stop", "-m", "immediate"]);
    pg_ctl(&["start"]);
    let mut c = connect();
    // Load while the worker recounts: every write either is in its count or adds after it.
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for role in 0..2 {
        let (q, stop) = (q.clone(), stop.clone());
        handles.push(thread::spawn(move || {
            let mut c = config("postgres").connect(NoTls).unwrap();
            while !stop.load(Ordering::Relaxed) {
                if role == 0 {
                    c.execute("SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[3]))", &[&q]).unwrap();
                } else {
                    let rows = c.query("SELECT id, lease_token FROM queue.claim($1, batch => 4)", &[&q]).unwrap();
                    let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
                    if let Some(r) = rows.first() {
                        c.execute(
                            "SELECT count(*) FROM queue.complete_many($1, ARRAY[$2]::uuid[])",
                            &[&ids, &r.get::<_, Uuid>(1)],
                        )
                        .unwrap();
                    }
                }
            }
        }));
    }
    await_condition("the worker to count the queue", Duration::from_secs(60), || stats_depths(&mut c, &q).is_some());
    // Some more load after the count.
    await_worker_ticks(&mut c, 3);
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(stats_depths(&mut c, &q), Some(common::job_table_depths(&mut c, &q)));
}

/// More queues than shared memory keeps figures for (16 shards of 72): every queue shows its
/// exact depths or none, never wrong ones; the worker does not chase counts (a count never evicts
/// a counted queue, so the queues it knows stay known); a dropped database's figures go. One at a
/// time: it fills the table every other test's queues share.
#[test]
fn more_queues_than_slots_show_exact_depths_or_none() {
    const QUEUES: i32 = 2_000;
    // A queue of the test database, known before the others come: the least recently used.
    let mut main = connect();
    let early = new_queue(&mut main, "early", "");
    main.execute("SELECT queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[2]))", &[&early]).unwrap();
    assert_eq!(stats_depths(&mut main, &early), Some([2, 0, 0, 0]));
    let db = common::TestDb::new("many_queues");
    let mut c = db.connect();
    c.batch_execute(&format!(
        "SELECT count(queue.create_queue('many_' || g, max_attempts => 1)) FROM generate_series(1, {QUEUES}) g;
         SELECT count(*) FROM generate_series(1, {QUEUES}) g,
                LATERAL queue.enqueue_many('many_' || g, array_fill('{{}}'::jsonb, ARRAY[3]));"
    ))
    .unwrap();
    // Events for every queue, in one transaction: a completion and a death each.
    c.batch_execute(&format!(
        "DO $$
         DECLARE j record; n integer;
         BEGIN
             FOR g IN 1..{QUEUES} LOOP
                 n := 0;
                 FOR j IN SELECT id, lease_token FROM queue.claim('many_' || g, batch => 2) LOOP
                     IF n = 0 THEN PERFORM queue.complete(j.id, j.lease_token);
                     ELSE PERFORM queue.fail(j.id, j.lease_token, 'dies'); END IF;
                     n := n + 1;
                 END LOOP;
             END LOOP;
         END $$;"
    ))
    .unwrap();
    let known = |c: &mut postgres::Client| -> HashSet<String> {
        let rows = c
            .query(
                "SELECT queue, ready, scheduled, running, dead FROM queue.stats WHERE queue LIKE 'many\\_%' AND counted",
                &[],
            )
            .unwrap();
        for r in &rows {
            let depths: [i64; 4] = [r.get(1), r.get(2), r.get(3), r.get(4)];
            assert_eq!(depths, [1, 0, 0, 1], "queue.stats of {}", r.get::<_, String>(0));
        }
        rows.iter().map(|r| r.get(0)).collect()
    };
    await_worker_ticks(&mut c, 3);
    let first = known(&mut c);
    assert!(!first.is_empty() && first.len() < QUEUES as usize, "{} of {QUEUES} queues known", first.len());
    await_worker_ticks(&mut c, 5);
    assert_eq!(known(&mut c), first, "the queues known stay known");
    let error: Option<String> = c.query_one("SELECT last_error FROM queue.worker_status", &[]).unwrap().get(0);
    assert_eq!(error, None);

    // 2 000 queues fill every shard (72 each): the early queue made way, and there is no room to
    // count it again.
    assert_eq!(stats_depths(&mut main, &early), None);

    // Drop the database: the launcher's sweep frees its slots, and the early queue is counted.
    drop(c);
    drop(db);
    await_condition("the early queue counted again", Duration::from_secs(30), || {
        stats_depths(&mut main, &early) == Some([2, 0, 0, 0])
    });
}

/// A database the background worker does not serve says so (issue 16 §5), where 0.2.0 was silent:
/// CREATE EXTENSION warns with the setting to change, queue.worker_status's state says "not
/// served", creating a schedule or a backfill warns that it will not run, and queue.recount
/// refuses with the same hint. Once the database is listed, its worker runs and nothing warns.
/// queue_ext.databases is a server setting: it is restored at the end, whatever happens.
#[test]
fn a_database_the_worker_does_not_serve_says_so() {
    struct Restore;
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Ok(mut c) = config("postgres").connect(NoTls) {
                set_databases(&mut c, None);
            }
        }
    }
    let mut c = connect();
    let served: String = c.query_one("SELECT current_database()::text", &[]).unwrap().get(0);
    let db = common::TestDb::without_extension("unserved");
    let _restore = Restore;
    set_databases(&mut c, Some(&served));

    let notices = Arc::new(Mutex::new(Vec::<postgres::error::DbError>::new()));
    let sink = notices.clone();
    let mut u = config("postgres")
        .dbname(&db.name)
        .notice_callback(move |n| sink.lock().unwrap().push(n))
        .connect(NoTls)
        .unwrap();
    await_condition("the new queue_ext.databases", Duration::from_secs(30), || {
        u.query_one("SELECT current_setting('queue_ext.databases')", &[]).unwrap().get::<_, String>(0) == served
    });
    let warnings = |u: &mut postgres::Client, sql: &str| -> Vec<postgres::error::DbError> {
        notices.lock().unwrap().clear();
        u.batch_execute(sql).unwrap();
        notices.lock().unwrap().drain(..).filter(|n| n.severity() == "WARNING").collect()
    };

    let w = warnings(&mut u, "CREATE EXTENSION queue_ext");
    assert_eq!(w.len(), 1, "CREATE EXTENSION gave no warning: {w:?}");
    assert_eq!(w[0].message(), format!("no queue_ext background worker serves database \"{}\"", db.name));
    assert!(w[0].detail().is_some_and(|d| d.contains(&format!("queue_ext.databases is '{served}'"))), "{w:?}");
    let hint = format!("ALTER SYSTEM SET queue_ext.databases = '{served},{}'", db.name);
    assert!(w[0].hint().is_some_and(|h| h.starts_with(&hint)), "{w:?}");

    let row = u.query_one("SELECT state, pid FROM queue.worker_status", &[]).unwrap();
    assert_eq!(row.get::<_, String>(0), "not served: database not in queue_ext.databases");
    assert_eq!(row.get::<_, Option<i32>>(1), None);

    u.batch_execute("SELECT queue.create_queue('nightly'); CREATE TABLE rows_to_touch (id bigint PRIMARY KEY)")
        .unwrap();
    let w = warnings(&mut u, "SELECT queue.schedule('every-minute', '* * * * *', 'nightly')");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].message().ends_with(": schedule \"every-minute\" will not run"), "{w:?}");
    assert!(w[0].hint().is_some_and(|h| h.starts_with(&hint)), "{w:?}");
    let w = warnings(&mut u, "SELECT queue.backfill_start('touch', 'nightly', 'rows_to_touch')");
    assert!(w.len() == 1 && w[0].message().ends_with(": backfill \"touch\" will not run"), "{w:?}");
    let e = u.batch_execute("SELECT queue.recount()").unwrap_err();
    let e = e.as_db_error().unwrap();
    assert_eq!(e.code().code(), "55000");
    assert!(e.hint().is_some_and(|h| h.starts_with(&hint)), "{e:?}");

    // Listed: the worker comes, the state says so, and nothing warns any more.
    set_databases(&mut c, Some(&format!("{served},{}", db.name)));
    await_condition("the worker of the newly listed database", Duration::from_secs(30), || {
        u.query_one("SELECT state FROM queue.worker_status", &[]).unwrap().get::<_, String>(0) == "running"
    });
    assert!(warnings(&mut u, "SELECT queue.schedule('every-minute', '* * * * *', 'nightly')").is_empty());
    assert!(warnings(&mut u, "SELECT queue.recount()").is_empty());
}
