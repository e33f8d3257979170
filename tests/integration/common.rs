//! Connections to the test server and small helpers shared by the tests.

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
