//! Connections to the test server and small helpers shared by the tests.

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the integration tests through scripts/test"))
}

pub fn config(user: &str) -> Config {
    let mut c = Config::new();
    c.host_path(env("QUEUE_EXT_TEST_HOST"))
        .port(env("QUEUE_EXT_TEST_PORT").parse().expect("port"))
        .dbname(&env("QUEUE_EXT_TEST_DB"))
        .user(user)
        .application_name("queue_ext-it");
    c
}

static INSTALL: Once = Once::new();

/// A superuser connection to a database with the extension installed.
pub fn connect() -> Client {
    INSTALL.call_once(|| {
        let mut c = config("postgres").connect(NoTls).expect("connect to the test server");
        c.batch_execute("CREATE EXTENSION IF NOT EXISTS queue_ext").expect("create extension");
    });
    config("postgres").connect(NoTls).expect("connect to the test server")
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A queue name no other test uses, created with `options` (SQL named arguments, may be empty).
pub fn new_queue(client: &mut Client, prefix: &str, options: &str) -> String {
    let name = format!("{prefix}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let sep = if options.is_empty() { "" } else { ", " };
    client.execute(&format!("SELECT queue.create_queue($1{sep}{options})"), &[&name]).expect("create_queue");
    name
}

/// Wait until `condition` holds (checked every few milliseconds), failing after `limit`.
pub fn await_condition(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn count(client: &mut Client, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> i64 {
    client.query_one(sql, params).expect(sql).get::<_, i64>(0)
}

/// Notifications received by `listener` until the sentinel NOTIFY on `sentinel_channel` arrives.
/// Postgres delivers notifications in commit order, so everything committed before the sentinel
/// has been delivered by then: "nothing more came" needs no sleep.
pub fn notifications_until_sentinel(
    listener: &mut Client,
    sender: &mut Client,
    sentinel_channel: &str,
) -> Vec<(String, String, i32)> {
    sender.batch_execute(&format!("NOTIFY {sentinel_channel}, 'sentinel'")).unwrap();
    let mut got = Vec::new();
    let mut notifications = listener.notifications();
    let mut iter = notifications.timeout_iter(Duration::from_secs(30));
    loop {
        let n = iter.next().expect("notification stream failed").expect("no sentinel within 30 s");
        if n.channel() == sentinel_channel && n.payload() == "sentinel" {
            return got;
        }
        got.push((n.channel().to_owned(), n.payload().to_owned(), n.process_id()));
    }
}

/// The pid of the queue_ext background worker, once it is running and connected.
pub fn worker_pid(client: &mut Client) -> Option<i32> {
    client
        .query_opt(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'queue_ext worker' AND datname = current_database()",
            &[],
        )
        .unwrap()
        .map(|r| r.get(0))
}

/// Ticks the background worker has recorded in queue.worker_status.
pub fn worker_ticks(client: &mut Client) -> i64 {
    client.query_one("SELECT ticks FROM queue.worker_status", &[]).unwrap().get(0)
}

/// Wait until the background worker has completed `n` more ticks than now.
pub fn await_worker_ticks(client: &mut Client, n: i64) {
    let start = worker_ticks(client);
    await_condition("background worker ticks", Duration::from_secs(30), || worker_ticks(client) >= start + n);
}

/// Run a server control command (pg_ctl, as the cluster's owner).
#[allow(dead_code)] // used by the disruptive suite only
pub fn pg_ctl(args: &[&str]) {
    let bin = format!("{}/pg_ctl", env("QUEUE_EXT_TEST_PGBIN"));
    let data = env("QUEUE_EXT_TEST_PGDATA");
    let log = env("QUEUE_EXT_TEST_LOG");
    let mut cmd = match std::env::var("QUEUE_EXT_TEST_RUNAS") {
        Ok(user) => {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", &user, "--", &bin]);
            c
        }
        Err(_) => std::process::Command::new(&bin),
    };
    let status = cmd.args(args).args(["-s", "-D", &data, "-l", &log, "-w", "-t", "60"]).status().expect("run pg_ctl");
    assert!(status.success(), "pg_ctl {args:?} failed");
}

/// A psql child process for tests that kill a client; stdout is piped.
pub fn psql_child(sql: &[&str]) -> std::process::Child {
    let mut cmd = std::process::Command::new(format!("{}/psql", env("QUEUE_EXT_TEST_PGBIN")));
    cmd.args([
        "-X",
        "-q",
        "-At",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        &env("QUEUE_EXT_TEST_HOST"),
        "-p",
        &env("QUEUE_EXT_TEST_PORT"),
    ])
    .args(["-U", "postgres", "-d", &env("QUEUE_EXT_TEST_DB")]);
    for s in sql {
        cmd.args(["-c", s]);
    }
    cmd.stdout(std::process::Stdio::piped()).spawn().expect("start psql")
}

/// A database of a test's own, with the extension installed; dropped when the value goes.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub fn new(prefix: &str) -> TestDb {
        let db = TestDb::without_extension(prefix);
        db.connect().batch_execute("CREATE EXTENSION queue_ext").expect("create extension");
        db
    }

    pub fn without_extension(prefix: &str) -> TestDb {
        let name = format!("queue_{prefix}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut admin = connect();
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        TestDb { name }
    }

    pub fn connect(&self) -> Client {
        config("postgres").dbname(&self.name).connect(NoTls).expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = config("postgres").connect(NoTls) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// A queue's jobs by table, counted in the tables themselves: (ready, scheduled, running, dead).
pub fn job_table_depths(client: &mut Client, queue: &str) -> [i64; 4] {
    let r = client
        .query_one(
            "SELECT (SELECT count(*) FROM queue.ready j WHERE j.queue_id = q.id),
                    (SELECT count(*) FROM queue.scheduled j WHERE j.queue_id = q.id),
                    (SELECT count(*) FROM queue.running j WHERE j.queue_id = q.id),
                    (SELECT count(*) FROM queue.dead j WHERE j.queue_id = q.id)
               FROM queue.queues q WHERE q.name = $1",
            &[&queue],
        )
        .expect("job table depths");
    [r.get(0), r.get(1), r.get(2), r.get(3)]
}

/// `n` finished jobs in `queue`'s history, written directly (the test role is superuser).
pub fn fill_history(client: &mut Client, queue: &str, n: i64) {
    client
        .execute(
            "INSERT INTO queue.done (queue_id, state, payload, max_attempts, attempts, run_at, enqueued_at, finished_at)
             SELECT q.id, 'done', '{}', 25, 1, now(), now(), now() FROM queue.queues q, generate_series(1::bigint, $2)
              WHERE q.name = $1",
            &[&queue, &n],
        )
        .expect("fill history");
}
