//! pg_dump keeps queues and jobs: the extension marks its tables as configuration tables.

use crate::common::{config, connect, count, new_queue};
use postgres::NoTls;
use std::process::Command;

pub fn pg_tool(tool: &str, args: &[&str]) {
    let bin = format!("{}/{tool}", std::env::var("QUEUE_EXT_TEST_PGBIN").unwrap());
    let status = Command::new(bin)
        .args([
            "-h",
            &std::env::var("QUEUE_EXT_TEST_HOST").unwrap(),
            "-p",
            &std::env::var("QUEUE_EXT_TEST_PORT").unwrap(),
            "-U",
            "postgres",
        ])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "{tool} {args:?} failed");
}

#[test]
fn pg_dump_and_restore_keep_queues_jobs_and_schedules() {
    let source = format!("queue_dump_src_{}", std::process::id());
    let target = format!("queue_dump_dst_{}", std::process::id());
    let mut admin = connect();
    for db in [&source, &target] {
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}")).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    }
    let mut c = config("postgres").dbname(&source).connect(NoTls).unwrap();
    c.batch_execute("CREATE EXTENSION queue_ext").unwrap();
    let q = new_queue(&mut c, "dumped", "max_attempts => 7, rate_per_second => 5");
    c.execute(
        "SELECT count(*) FROM queue.enqueue_many($1, array_fill('{\"k\": 1}'::jsonb, ARRAY[10]), group_key => 'g')",
        &[&q],
    )
    .unwrap();
    c.execute("SELECT count(*) FROM queue.claim($1, batch => 3)", &[&q]).unwrap();
    // After the claim: off-peak (rate 1) would otherwise let one job through.
    c.execute("SELECT queue.set_rate_schedule($1, 10, 1)", &[&q]).unwrap();
    // Periodic work refers to a table and a role by name (regclass, regrole): both survive.
    c.batch_execute(&format!(
        "CREATE TABLE dump_users (id bigint PRIMARY KEY);
         CREATE INDEX ON dump_users (queue.slot_fraction((id)::text));
         SELECT queue.schedule('dumped_schedule', '0 3 * * *', '{q}', '{{\"job\": \"nightly\"}}', jitter => '5 minutes');
         SELECT queue.pause_schedule('dumped_schedule');
         SELECT queue.spread_refresh('dumped_refresh', '{q}', 'dump_users', 'id', '1 hour');
         SELECT queue.pause_spread_refresh('dumped_refresh');
         SELECT queue.backfill_start('dumped_backfill', '{q}', 'dump_users', per_second => 3);
         SELECT queue.backfill_pause('dumped_backfill');"
    ))
    .unwrap();
    let dump = std::env::temp_dir().join(format!("{source}.dump"));
    pg_tool("pg_dump", &["-Fc", "-d", &source, "-f", dump.to_str().unwrap()]);
    pg_tool("pg_restore", &["-d", &target, "--exit-on-error", dump.to_str().unwrap()]);
    drop(c);

    let mut r = config("postgres").dbname(&target).connect(NoTls).unwrap();
    assert_eq!(
        count(
            &mut r,
            "SELECT count(*) FROM queue.queues WHERE name = $1 AND max_attempts = 7 AND rate_per_second = 5",
            &[&q]
        ),
        1
    );
    assert_eq!(count(&mut r, "SELECT count(*) FROM queue.rate_schedules WHERE queue = $1", &[&q]), 1);
    assert_eq!(
        count(
            &mut r,
            "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state = 'pending' AND payload = '{\"k\": 1}'",
            &[&q]
        ),
        7
    );
    assert_eq!(count(&mut r, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state = 'running'", &[&q]), 3);
    for (sql, what) in [
        (
            "SELECT count(*) FROM queue.schedules WHERE name = 'dumped_schedule' AND cron = '0 3 * * *' AND paused
                AND payload = '{\"job\": \"nightly\"}' AND owner = 'postgres'::regrole",
            "the schedule",
        ),
        (
            "SELECT count(*) FROM queue.spread_refreshes WHERE name = 'dumped_refresh' AND source = 'dump_users'::regclass
                AND period = '1 hour' AND paused",
            "the spread refresh",
        ),
        (
            "SELECT count(*) FROM queue.backfills WHERE name = 'dumped_backfill' AND source = 'dump_users'::regclass
                AND state = 'paused' AND per_second = 3",
            "the backfill",
        ),
    ] {
        assert_eq!(count(&mut r, sql, &[]), 1, "{what} did not survive the dump");
    }
    // The restored queue works, and new ids do not collide with restored ones.
    let id: i64 = r.query_one("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap().get(0);
    assert_eq!(count(&mut r, "SELECT count(*) FROM queue.jobs WHERE id = $1", &[&id]), 1);
    assert!(id > r.query_one("SELECT max(id) FROM queue.jobs WHERE id <> $1", &[&id]).unwrap().get::<_, i64>(0));
    drop(r);
    std::fs::remove_file(dump).ok();
    for db in [&source, &target] {
        admin.batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)")).unwrap();
    }
}
