//! An idle database costs nothing, whatever a burst left behind: each statement the background
//! worker runs every tick reads an index range, and a bounded number of buffers however bloated
//! the job tables are (docs/adr/003-idle-cost.md). Buffer counts from EXPLAIN (ANALYZE, BUFFERS)
//! are deterministic enough for an upper bound; no timing is asserted.

use crate::common::{await_condition, new_queue, TestDb};
use postgres::Client;
use std::time::Duration;

/// What the worker runs every tick, with its parameters' types and the values it passes when
/// nothing is due. Each DELETE deletes nothing here.
const TICK: [(&str, &str, &str, &str); 8] = [
    (
        "tick_due",
        include_str!("../../src/store/sql/tick_due.sql"),
        "timestamptz, timestamptz",
        "NULL, now() + interval '1 second'",
    ),
    ("expired_all", include_str!("../../src/store/sql/expired_all.sql"), "bigint, timestamptz", "1000, NULL"),
    ("promote_all", include_str!("../../src/store/sql/promote_all.sql"), "bigint", "1000"),
    ("schedules_due", include_str!("../../src/store/sql/schedules_due.sql"), "bigint, text[]", "100, '{}'"),
    (
        "schedules_lock",
        include_str!("../../src/store/sql/schedules_lock.sql"),
        "text[], text[], bigint",
        "NULL, '{}', 100",
    ),
    ("prune", include_str!("../../src/store/sql/prune.sql"), "bigint, integer[], timestamptz[]", "1000, '{}', '{}'"),
    ("dropped_queues", include_str!("../../src/store/sql/dropped_queues.sql"), "", ""),
    ("purgeable", include_str!("../../src/store/sql/purgeable.sql"), "", ""),
];

/// Rows each burst table held, all gone now: ~2 000 heap pages of queue.running.
const BURST: i64 = 100_000;
/// Buffers a statement may read when nothing is due: index descents and the small tables, summed
/// over the plan's nodes (pool_due's three levels of nesting count its ~17 reads about four times).
const MAX_BUFFERS: i64 = 100;

/// The plan of statement `name` (prepared as the worker's generic plan, with its settings) run
/// with `args`, the job tables it scans sequentially, and the buffers it read: the sum over its
/// nodes, an upper bound (a node's count includes its children's).
fn explain(c: &mut Client, name: &str, sql: &str, types: &str, args: &str) -> (String, Vec<String>, i64) {
    let types = if types.is_empty() { String::new() } else { format!("({types})") };
    let args = if args.is_empty() { String::new() } else { format!("({args})") };
    c.batch_execute(&format!("DEALLOCATE ALL; PREPARE {name}{types} AS {sql}")).unwrap();
    let row = c.query_one(&format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE {name}{args}"), &[]).unwrap();
    let plan: serde_json::Value = row.get(0);
    fn walk(node: &serde_json::Value, seq: &mut Vec<String>, buffers: &mut i64) {
        *buffers += node["Shared Hit Blocks"].as_i64().unwrap_or(0) + node["Shared Read Blocks"].as_i64().unwrap_or(0);
        let table = node["Relation Name"].as_str().unwrap_or("");
        if node["Node Type"] == "Seq Scan" && ["ready", "scheduled", "running", "done", "dead"].contains(&table) {
            seq.push(table.to_string());
        }
        for child in node["Plans"].as_array().into_iter().flatten() {
            walk(child, seq, buffers);
        }
    }
    let (mut seq, mut buffers) = (Vec::new(), 0);
    walk(&plan[0]["Plan"], &mut seq, &mut buffers);
    (serde_json::to_string_pretty(&plan).unwrap(), seq, buffers)
}

fn assert_bounded(c: &mut Client, name: &str, sql: &str, types: &str, args: &str) {
    let (plan, seq, buffers) = explain(c, name, sql, types, args);
    assert!(seq.is_empty(), "{name} scans {seq:?}:\n{plan}");
    assert!(buffers <= MAX_BUFFERS, "{name} read {buffers} buffers with nothing due:\n{plan}");
}

#[test]
fn a_tick_reads_bounded_buffers_after_a_burst_and_under_a_held_horizon() {
    let db = TestDb::new("idle_plans");
    let mut c = db.connect();
    let q = new_queue(&mut c, "idle", "");
    // What is live: ready jobs, one lease far from expiry, one job due tomorrow, a fresh history.
    c.execute("SELECT count(*) FROM queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[100]))", &[&q]).unwrap();
    c.execute("SELECT count(*) FROM queue.claim($1, lease => '1 hour')", &[&q]).unwrap();
    c.execute("SELECT queue.enqueue($1, '{}', run_at => now() + interval '1 day')", &[&q]).unwrap();
    // A snapshot taken now holds every row of the burst below until it ends: its entries stay.
    let mut pin = db.connect();
    pin.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM queue.queues").unwrap();
    // The burst, written directly (the test role is superuser) and gone in the same transaction, so
    // that the worker never sees it: leases that expired over the last hour, scheduled jobs that
    // came due then, a history past retention.
    let qid: i32 = c.query_one("SELECT id FROM queue.queues WHERE name = $1", &[&q]).unwrap().get(0);
    let mut burst = c.transaction().unwrap();
    burst.execute(
        "INSERT INTO queue.running (queue_id, max_attempts, run_at, enqueued_at, payload, first_claimed_at, claimed_at,
                                    lease_token, lease_expires_at, claimed_by)
         SELECT $1, 25, now(), now(), '{}', now(), now(), gen_random_uuid(),
                now() - interval '1 minute' - g * interval '30 ms', 10
           FROM generate_series(1::bigint, $2) g",
        &[&qid, &BURST],
    )
    .unwrap();
    burst
        .execute(
            "INSERT INTO queue.scheduled (queue_id, max_attempts, run_at, enqueued_at, payload)
         SELECT $1, 25, now() - g * interval '30 ms', now(), '{}' FROM generate_series(1::bigint, $2) g",
            &[&qid, &BURST],
        )
        .unwrap();
    burst
        .execute(
            "INSERT INTO queue.done (queue_id, state, max_attempts, run_at, enqueued_at, payload, finished_at)
         SELECT $1, 'done', 25, now(), now(), '{}', now() - interval '2 days' - g * interval '30 ms'
           FROM generate_series(1::bigint, $2) g",
            &[&qid, &BURST],
        )
        .unwrap();
    burst
        .batch_execute(
            "DELETE FROM queue.running WHERE lease_expires_at < now() - interval '30 seconds';
             DELETE FROM queue.scheduled WHERE run_at < now();
             DELETE FROM queue.done WHERE finished_at < now() - interval '1 day'",
        )
        .unwrap();
    burst.commit().unwrap();
    c.batch_execute("ANALYZE queue.running, queue.scheduled, queue.done").unwrap();
    c.batch_execute("SET enable_seqscan = off; SET jit = off; SET plan_cache_mode = force_generic_plan").unwrap();

    // Under the held horizon, the worker's lease step reads only what expired since its last step.
    let (name, sql, types, _) = TICK[1];
    assert_bounded(&mut c, name, sql, types, "1000, now() - interval '1 second'");
    pin.batch_execute("COMMIT").unwrap();

    // Vacuumed, not truncated: the heaps keep the burst's size, empty (as the issue found them).
    // Other tests' transactions may still hold the horizon for a moment (a backend connected to
    // no database, such as the launcher, holds every database's): vacuum until none is left.
    await_condition("VACUUM to remove the burst", Duration::from_secs(120), || {
        c.batch_execute("VACUUM (TRUNCATE false) queue.running, queue.scheduled, queue.done").unwrap();
        let dead: i64 = c
            .query_one(
                "SELECT coalesce(sum(n_dead_tup), 0)::bigint FROM pg_stat_user_tables
                  WHERE relid IN ('queue.running'::regclass, 'queue.scheduled'::regclass, 'queue.done'::regclass)",
                &[],
            )
            .unwrap()
            .get(0);
        dead == 0
    });
    let pages: i64 = c
        .query_one("SELECT pg_relation_size('queue.running') / current_setting('block_size')::bigint", &[])
        .unwrap()
        .get(0);
    assert!(pages > 1200, "the burst left {pages} pages of queue.running");
    for (name, sql, types, args) in TICK {
        assert_bounded(&mut c, name, sql, types, args);
    }
    // When each kind of work is next due: a statement per kind (the worker's `-- due:` sections).
    let pool_due = include_str!("../../src/store/sql/pool_due.sql");
    let sections: Vec<&str> = pool_due.split("\n-- due: ").skip(1).collect();
    assert_eq!(sections.len(), 7, "pool_due.sql has a statement per kind of work");
    for section in sections {
        let (kind, sql) = section.split_once('\n').unwrap();
        let types = "timestamptz, interval, integer[], timestamptz[]";
        assert_bounded(&mut c, &format!("pool_due_{kind}"), sql, types, "NULL, interval '1 second', '{}', '{}'");
    }
    // A claim taking over its queue's expired leases (when no worker runs) reads the same index.
    let expired_queue = include_str!("../../src/store/sql/expired_queue.sql");
    assert_bounded(&mut c, "expired_queue", expired_queue, "integer, bigint", &format!("{qid}, 1000"));
    // Nothing was due, so nothing moved.
    let live: i64 = c
        .query_one(
            "SELECT (SELECT count(*) FROM queue.running) * 1000000 + (SELECT count(*) FROM queue.scheduled) * 1000
                    + (SELECT count(*) FROM queue.ready)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(live, 1_001_099, "running, scheduled and ready jobs changed");
}
