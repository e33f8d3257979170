//! The worker pool on a stock-sized server (scripts/test starts it: max_worker_processes = 8,
//! queue_ext.max_workers = 2, the default tick and linger): fifty databases share two workers,
//! every one of them is served, and parallel query keeps its workers. Run one test at a time.

#[path = "../integration/common.rs"]
#[allow(dead_code)]
mod common;

use common::{await_condition, config, connect, count, TestDb};
use postgres::{Client, NoTls};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const DATABASES: usize = 50;

/// Background workers of queue_ext running now (the launcher is another backend type).
fn pool_workers(c: &mut Client) -> i64 {
    count(c, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'queue_ext worker'", &[])
}

/// Samples the number of queue_ext workers until dropped; the largest seen.
struct Sampler {
    stop: Arc<AtomicBool>,
    most: Arc<AtomicI64>,
    samples: Arc<AtomicI64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start() -> Sampler {
        let (stop, most, samples) =
            (Arc::new(AtomicBool::new(false)), Arc::new(AtomicI64::new(0)), Arc::new(AtomicI64::new(0)));
        let (s, m, n) = (stop.clone(), most.clone(), samples.clone());
        let thread = std::thread::spawn(move || {
            let mut c = connect();
            while !s.load(Ordering::Relaxed) {
                m.fetch_max(pool_workers(&mut c), Ordering::Relaxed);
                n.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Sampler { stop, most, samples, thread: Some(thread) }
    }

    fn most(&self) -> i64 {
        self.most.load(Ordering::Relaxed)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `n` databases with the extension, made four at a time.
fn databases(prefix: &str, n: usize) -> Vec<TestDb> {
    let chunks: Vec<Vec<TestDb>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(move || (0..n.div_ceil(4)).map(|_| TestDb::new(prefix)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    chunks.into_iter().flatten().take(n).collect()
}

/// A server setting changed for a test, reset when the test ends (however it ends).
struct Setting(&'static str);

impl Setting {
    fn set(c: &mut Client, name: &'static str, value: &str) -> Setting {
        set(c, name, Some(value));
        Setting(name)
    }
}

impl Drop for Setting {
    fn drop(&mut self) {
        set(&mut connect(), self.0, None);
    }
}

fn set(c: &mut Client, setting: &str, value: Option<&str>) {
    match value {
        Some(v) => c.batch_execute(&format!("ALTER SYSTEM SET {setting} = '{v}'")).unwrap(),
        None => c.batch_execute(&format!("ALTER SYSTEM RESET {setting}")).unwrap(),
    }
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
}

/// The plan of a parallel count in a database of its own: how many workers it got.
fn parallel_workers_launched(c: &mut Client) -> (i64, i64) {
    let plan: serde_json::Value =
        c.query_one("EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM parallel_probe", &[]).unwrap().get(0);
    let gather = &plan[0]["Plan"]["Plans"][0];
    assert_eq!(gather["Node Type"], "Gather", "not a parallel plan: {plan}");
    (gather["Workers Planned"].as_i64().unwrap(), gather["Workers Launched"].as_i64().unwrap())
}

#[test]
fn fifty_databases_share_two_workers_and_every_one_is_served() {
    let mut admin = connect();
    let max_workers: i64 =
        admin.query_one("SHOW queue_ext.max_workers", &[]).unwrap().get::<_, String>(0).parse().unwrap();
    let slots: i64 = admin.query_one("SHOW max_worker_processes", &[]).unwrap().get::<_, String>(0).parse().unwrap();
    assert_eq!((max_workers, slots), (2, 8), "scripts/test starts this server with a stock-sized pool");
    let sampler = Sampler::start();

    let dbs = databases("pool", DATABASES);
    let mut clients: Vec<Client> = dbs.iter().map(|d| d.connect()).collect();
    // In each: a schedule firing every second, a job due in three seconds, and a job whose short
    // lease nobody renews.
    for c in clients.iter_mut() {
        c.batch_execute(
            "SELECT queue.create_queue('ticks');
             SELECT queue.create_schedule('every_second', '1 second', 'ticks');
             SELECT queue.create_queue('later');
             SELECT queue.enqueue('later', '{}', run_at => now() + interval '3 seconds');
             SELECT queue.create_queue('leased', max_attempts => 5);
             SELECT queue.enqueue('leased', '{}');
             SELECT id FROM queue.claim('leased', lease => '2 seconds');",
        )
        .unwrap();
    }
    let started = std::time::Instant::now();

    // Every database's schedule fires, its delayed job is promoted and announced by a worker, and
    // its lapsed lease is released by a worker (no claim runs here to take it over). Looked at
    // every quarter of a second: fifty connections asking all the time would load the server.
    let mut served = vec![false; DATABASES];
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while served.iter().any(|s| !s) {
        assert!(
            std::time::Instant::now() < deadline,
            "databases never served: {:?}",
            served.iter().enumerate().filter(|(_, s)| !**s).map(|(i, _)| &dbs[i].name).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(250));
        for (c, s) in clients.iter_mut().zip(served.iter_mut()).filter(|(_, s)| !**s) {
            *s = c
                .query_one(
                    "SELECT schedules_fired >= 3 AND jobs_promoted >= 1 AND leases_released >= 1 FROM queue.worker_status",
                    &[],
                )
                .unwrap()
                .get::<_, bool>(0);
        }
    }
    let served_in = started.elapsed();
    for c in clients.iter_mut() {
        assert_eq!(
            count(c, "SELECT count(*) FROM queue.jobs WHERE queue = 'leased' AND state = 'pending' AND last_error = 'lease expired'", &[]),
            1
        );
    }

    // With fifty databases due every second the pool is busy: a parallel query elsewhere still
    // gets its workers (queue_ext leaves queue_ext.reserved_worker_slots free).
    let probe = TestDb::without_extension("pool_parallel");
    let mut p = probe.connect();
    p.batch_execute(
        "CREATE TABLE parallel_probe AS SELECT g AS n FROM generate_series(1, 200000) g;
         ANALYZE parallel_probe;
         SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
         SET min_parallel_table_scan_size = 0;",
    )
    .unwrap();
    for _ in 0..20 {
        assert_eq!(parallel_workers_launched(&mut p), (2, 2), "a parallel query lost its workers to queue_ext");
    }

    // Cron fires stay on time: lateness is the enqueue's time past the fire's instant (run_at),
    // over the last five seconds, with the server otherwise quiet.
    std::thread::sleep(Duration::from_secs(5));
    let mut lateness: Vec<f64> = Vec::new();
    let mut missed = 0;
    for c in clients.iter_mut() {
        // One-second windows of the last whole seconds without their job: coalesced into the next
        // fire while the pool was elsewhere (reported, not asserted: a 2-core machine under this
        // test's load cannot keep every window of fifty databases; docs/adr/006-worker-pool.md).
        missed += count(
            c,
            "SELECT 4 - count(DISTINCT run_at) FROM queue.jobs WHERE queue = 'ticks'
                AND run_at >= date_trunc('second', now()) - interval '5 seconds'
                AND run_at < date_trunc('second', now()) - interval '1 second'",
            &[],
        );
        for row in c
            .query(
                "SELECT extract(epoch FROM enqueued_at - run_at)::float8 FROM queue.jobs
                  WHERE queue = 'ticks' AND enqueued_at > now() - interval '5 seconds'",
                &[],
            )
            .unwrap()
        {
            lateness.push(row.get(0));
        }
    }
    lateness.sort_by(f64::total_cmp);
    assert!(!lateness.is_empty());
    let p99 = lateness[(lateness.len() - 1) * 99 / 100];
    eprintln!(
        "{DATABASES} databases served within {served_in:?}; cron lateness over the last 5 s: p50 {:.3} s, p99 {p99:.3} s, max {:.3} s ({} fires, {missed} windows missed)",
        lateness[lateness.len() / 2],
        lateness[lateness.len() - 1],
        lateness.len()
    );
    assert!(p99 < 1.0, "cron fires came late: p99 {p99:.3} s");

    assert!(sampler.samples.load(Ordering::Relaxed) > 100, "the sampler hardly ran");
    assert!(
        sampler.most() <= max_workers,
        "queue_ext ran {} workers at once, more than queue_ext.max_workers",
        sampler.most()
    );
    assert_eq!(sampler.most(), max_workers, "the pool never filled up: the test did not load it");
    drop(clients);
    drop(dbs);
}

#[test]
fn a_database_no_worker_can_reach_says_so_and_its_claims_take_over() {
    let mut admin = connect();
    // No background worker slot to spare: the launcher sends no worker anywhere.
    let reserved = Setting::set(&mut admin, "queue_ext.reserved_worker_slots", "1000");
    await_condition("the pool empties", Duration::from_secs(60), || pool_workers(&mut admin) == 0);
    let db = TestDb::new("pool_starved");
    let mut c = db.connect();
    c.batch_execute(
        "SELECT queue.create_queue('q', max_attempts => 5);
         SELECT queue.enqueue('q', '{}');
         SELECT id FROM queue.claim('q', lease => '1 second');",
    )
    .unwrap();
    await_condition("the database reported as not served", Duration::from_secs(30), || {
        c.query_one("SELECT state FROM queue.worker_status", &[]).unwrap().get::<_, String>(0)
            == "not served: every queue_ext worker is busy"
    });
    // Functions that need the worker say so...
    let warned = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let w = warned.clone();
    let mut noticing = config("postgres")
        .dbname(&db.name)
        .notice_callback(move |n| w.lock().unwrap().push(format!("{}: {}", n.message(), n.detail().unwrap_or(""))))
        .connect(NoTls)
        .unwrap();
    noticing.batch_execute("SELECT queue.create_schedule('s', '1 second', 'q')").unwrap();
    let warnings = warned.lock().unwrap().clone();
    assert!(
        warnings.iter().any(|w| w.contains("no queue_ext background worker serves database")
            && w.contains("queue_ext.max_workers")
            && w.contains("schedule \"s\" will not run")),
        "{warnings:?}"
    );
    // ... and a claim takes over the expired lease itself (the job waits out its backoff).
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.claim('q')", &[]), 0);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM queue.jobs WHERE state = 'pending' AND last_error = 'lease expired'", &[]),
        1,
        "the claim did not take over the expired lease"
    );

    // Room again: the pool comes and the database is served.
    drop(reserved);
    await_condition("the database served again", Duration::from_secs(30), || {
        c.query_one(
            "SELECT state IN ('running', 'idle', 'waiting') AND schedules_fired > 0 FROM queue.worker_status",
            &[],
        )
        .unwrap()
        .get::<_, bool>(0)
    });
}

#[test]
fn an_idle_database_costs_no_worker() {
    let admin = connect();
    let db = TestDb::new("pool_idle");
    let mut c = db.connect();
    c.batch_execute("SELECT queue.create_queue('q')").unwrap();
    // After its first visit the worker leaves (nothing is due) and none comes back.
    await_condition("the worker leaves", Duration::from_secs(30), || {
        c.query_one("SELECT ticks > 0 AND state = 'idle' AND next_due_at IS NULL FROM queue.worker_status", &[])
            .unwrap()
            .get::<_, bool>(0)
    });
    let ticks = count(&mut c, "SELECT ticks FROM queue.worker_status", &[]);
    // A job due in a second brings one.
    c.batch_execute("SELECT queue.enqueue('q', '{}', run_at => now() + interval '1 second')").unwrap();
    let due: bool = c.query_one("SELECT next_due_at IS NOT NULL FROM queue.worker_status", &[]).unwrap().get(0);
    assert!(due, "the enqueue did not tell the pool");
    await_condition("the delayed job promoted", Duration::from_secs(10), || {
        count(&mut c, "SELECT jobs_promoted FROM queue.worker_status", &[]) == 1
    });
    assert!(count(&mut c, "SELECT ticks FROM queue.worker_status", &[]) > ticks);
    drop(admin);
}

/// A tenant whose refresh source sleeps holds one worker of the pool, for queue_ext.source_timeout
/// at most, and then not again for the hold after a failure: another tenant's every-second
/// schedule keeps firing on the other worker meanwhile.
#[test]
fn a_tenant_whose_source_sleeps_cannot_hold_the_pool() {
    let mut admin = connect();
    let hostile = TestDb::new("pool_hostile");
    let victim = TestDb::new("pool_victim");
    let mut h = hostile.connect();
    h.batch_execute(&format!(
        "ALTER DATABASE {} SET queue_ext.source_timeout = '2s';
         DO $$ BEGIN
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pool_tenant') THEN CREATE ROLE pool_tenant LOGIN; END IF;
         END $$;
         GRANT queue_admin TO pool_tenant;
         SELECT queue.create_queue('stalled');
         SELECT queue.grant('stalled', 'pool_tenant', 'admin');
         CREATE SCHEMA stall AUTHORIZATION pool_tenant;",
        hostile.name
    ))
    .unwrap();
    // The tenant's trap: a cast that sleeps in the worker (whose application_name is empty).
    let mut tenant = config("pool_tenant").dbname(&hostile.name).connect(NoTls).unwrap();
    tenant
        .batch_execute(
            "CREATE TYPE stall.e AS ENUM ('a', 'b');
             CREATE FUNCTION stall.e_text(stall.e) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $f$
             BEGIN
                 IF pg_catalog.current_setting('application_name') = '' THEN PERFORM pg_catalog.pg_sleep(60); END IF;
                 RETURN pg_catalog.format('%s', $1);
             END $f$;
             CREATE CAST (stall.e AS text) WITH FUNCTION stall.e_text(stall.e);
             CREATE TABLE stall.t (key stall.e PRIMARY KEY);
             INSERT INTO stall.t VALUES ('a'), ('b');
             CREATE INDEX ON stall.t (queue.slot_fraction((key)::text));
             SELECT queue.create_spread_refresh('trap', 'stalled', 'stall.t', 'key', '1 second');",
        )
        .unwrap();
    let mut v = victim.connect();
    v.batch_execute(
        "SELECT queue.create_queue('ticks'); SELECT queue.create_schedule('every_second', '1 second', 'ticks')",
    )
    .unwrap();
    // The trap goes off, is cancelled after 2 s, and is recorded.
    await_condition("the trap cancelled", Duration::from_secs(30), || {
        count(
            &mut h,
            "SELECT count(*) FROM queue.spread_refreshes WHERE name = 'trap' AND last_error LIKE '%statement timeout%'",
            &[],
        ) > 0
    });
    // Over the next 12 s the victim's schedule fires every second, on time.
    let from: chrono::DateTime<chrono::Utc> = v.query_one("SELECT now()", &[]).unwrap().get(0);
    std::thread::sleep(Duration::from_secs(12));
    let late: f64 = v
        .query_one(
            "SELECT coalesce(max(extract(epoch FROM enqueued_at - run_at)), 99)::float8 FROM queue.jobs
              WHERE queue = 'ticks' AND run_at > $1",
            &[&from],
        )
        .unwrap()
        .get(0);
    let fires = count(&mut v, "SELECT count(*) FROM queue.jobs WHERE queue = 'ticks' AND run_at > $1", &[&from]);
    assert!(fires >= 10 && late < 1.0, "the victim's schedule fired {fires} times in 12 s, at most {late:.3} s late");
    // The hostile database never had more than one worker, and sleeps in no worker past its timeout.
    let sleeping = count(
        &mut admin,
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'queue_ext worker' AND wait_event = 'PgSleep'
            AND now() - query_start > interval '4 seconds'",
        &[],
    );
    assert_eq!(sleeping, 0, "a worker slept in the tenant's code past its timeout");
    tenant.batch_execute("SELECT queue.drop_spread_refresh('trap')").unwrap();
}
