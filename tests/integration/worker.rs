//! The background worker's duties, observed from clients: lease expiry and retention.

use crate::common::{await_condition, await_worker_ticks, connect, count, new_queue, psql_child};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::time::Duration;
use uuid::Uuid;

#[test]
fn jobs_of_a_killed_worker_are_requeued_and_done_exactly_once() {
    let mut c = connect();
    let q = new_queue(&mut c, "killed", "backoff_base => '0', backoff_max => '0'");
    c.execute("SELECT count(*) FROM queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[20]))", &[&q]).unwrap();

    // A worker process claims 5 jobs under a 1-second lease, prints them, then hangs: kill -9.
    let claim =
        format!("SELECT id || ' ' || lease_token FROM queue.claim('{q}', 'doomed', batch => 5, lease => '1 second')");
    let mut child = psql_child(&[&claim, "SELECT pg_sleep(60)"]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let held: Vec<(i64, Uuid)> = (0..5)
        .map(|_| {
            let line = lines.next().expect("claimed job").unwrap();
            let (id, token) = line.split_once(' ').unwrap();
            (id.parse().unwrap(), token.parse().unwrap())
        })
        .collect();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // Another worker drains the queue; the killed worker's jobs come back once their lease expires.
    let mut done: Vec<i64> = Vec::new();
    await_condition("every job to be done", Duration::from_secs(30), || {
        for row in c.query("SELECT id, lease_token FROM queue.claim($1, 'survivor', batch => 10)", &[&q]).unwrap() {
            let (id, token): (i64, Uuid) = (row.get(0), row.get(1));
            assert!(c.query_one("SELECT queue.complete($1, $2)", &[&id, &token]).unwrap().get::<_, bool>(0));
            done.push(id);
        }
        done.len() >= 20
    });
    let unique: HashSet<i64> = done.iter().copied().collect();
    assert_eq!((done.len(), unique.len()), (20, 20), "a job was done twice");
    for (id, token) in &held {
        assert!(unique.contains(id));
        assert!(
            !c.query_one("SELECT queue.complete($1, $2)", &[id, token]).unwrap().get::<_, bool>(0),
            "late complete accepted"
        );
        let row = c.query_one("SELECT state::text, attempts, last_error FROM queue.jobs WHERE id = $1", &[id]).unwrap();
        assert_eq!(row.get::<_, String>(0), "done");
        assert_eq!(row.get::<_, i32>(1), 2);
        assert_eq!(row.get::<_, Option<String>>(2).as_deref(), Some("lease expired"));
    }
    assert!(c.query_one("SELECT leases_released FROM queue.worker_status", &[]).unwrap().get::<_, i64>(0) >= 5);
}

#[test]
fn expired_lease_of_a_job_out_of_attempts_makes_it_dead() {
    let mut c = connect();
    let q = new_queue(&mut c, "expiredead", "max_attempts => 1");
    let id: i64 = c.query_one("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap().get(0);
    c.execute("SELECT queue.claim($1, lease => '100 ms')", &[&q]).unwrap();
    await_condition("the job to die", Duration::from_secs(30), || {
        c.query_one("SELECT state::text FROM queue.jobs WHERE id = $1", &[&id]).unwrap().get::<_, String>(0) == "dead"
    });
}

#[test]
fn retention_prunes_old_done_and_cancelled_jobs_only() {
    let mut c = connect();
    let q = new_queue(&mut c, "retention", "retention => '1 hour', max_attempts => 1");
    let ids: Vec<i64> = c
        .query("SELECT * FROM queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[6]))", &[&q])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // ids[0], ids[1] done; ids[2] cancelled; ids[3] dead; ids[4] running; ids[5] pending.
    let claimed = c.query("SELECT id, lease_token FROM queue.claim($1, batch => 5)", &[&q]).unwrap();
    let token: Uuid = claimed[0].get(1);
    c.execute("SELECT count(*) FROM queue.complete_many($1, ARRAY[$2]::uuid[])", &[&vec![ids[0], ids[1]], &token])
        .unwrap();
    c.execute("SELECT queue.cancel($1)", &[&ids[2]]).unwrap();
    c.execute("SELECT queue.fail($1, $2, 'x')", &[&ids[3], &token]).unwrap();
    c.execute("SELECT queue.release($1, $2)", &[&claimed[4].get::<_, i64>(0), &token]).unwrap();
    c.execute("SELECT queue.claim($1)", &[&q]).unwrap();

    // Age everything finished past the retention, except ids[1], which stays recent.
    c.execute(
        "UPDATE queue.done SET finished_at = now() - interval '2 hours'
          WHERE queue_id = (SELECT id FROM queue.queues WHERE name = $1) AND id <> $2",
        &[&q, &ids[1]],
    )
    .unwrap();
    // Finished jobs report nothing to the pool: the worker hears of them when it next looks at
    // everything, within FULL_LOOK_EVERY_US (10 s).
    let left = |c: &mut postgres::Client| -> Vec<(i64, String)> {
        c.query("SELECT id, state::text FROM queue.jobs WHERE queue = $1 ORDER BY id", &[&q])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    await_condition("retention to prune the old done and cancelled jobs", Duration::from_secs(30), || {
        !left(&mut c).iter().any(|(id, _)| *id == ids[0] || *id == ids[2])
    });
    await_worker_ticks(&mut c, 2);
    let left = left(&mut c);
    let states: Vec<&str> = left.iter().map(|(_, s)| s.as_str()).collect();
    assert!(!left.iter().any(|(id, _)| *id == ids[0] || *id == ids[2]), "old done/cancelled jobs survived: {left:?}");
    assert_eq!(states.iter().filter(|s| **s == "dead").count(), 1, "{left:?}");
    assert_eq!(states.iter().filter(|s| **s == "done").count(), 1, "recent done job pruned: {left:?}");
    assert_eq!(states.len(), 4, "{left:?}");
    assert!(count(&mut c, "SELECT jobs_pruned FROM queue.worker_status", &[]) >= 2);
}

/// DROP DATABASE and CREATE DATABASE ... TEMPLATE need a database to themselves: its worker leaves
/// in time, without WITH (FORCE).
#[test]
fn a_databases_worker_makes_way_for_drop_and_copy() {
    let db = crate::common::TestDb::new("worker_makes_way");
    let mut admin = connect();
    let connected = |admin: &mut postgres::Client, name: &str| -> bool {
        admin
            .query_one(
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'queue_ext worker' AND datname = $1",
                &[&name],
            )
            .unwrap()
            .get(0)
    };
    await_condition("the worker of the new database", Duration::from_secs(30), || connected(&mut admin, &db.name));
    let copy = format!("{}_copy", db.name);
    admin.batch_execute(&format!("CREATE DATABASE {copy} TEMPLATE {}", db.name)).unwrap();
    await_condition("the worker of the copy", Duration::from_secs(30), || connected(&mut admin, &copy));
    admin.batch_execute(&format!("DROP DATABASE {copy}")).unwrap();
    admin.batch_execute(&format!("DROP DATABASE {}", db.name)).unwrap();
}
