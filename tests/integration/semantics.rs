//! Transactional visibility, fenced leases, delays, priorities and retries, seen from clients.

use crate::common::{await_condition, connect, count, new_queue};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

#[test]
fn rolled_back_enqueue_leaves_no_job() {
    let mut c = connect();
    let q = new_queue(&mut c, "rollback", "");
    let mut tx = c.transaction().unwrap();
    tx.execute("SELECT queue.enqueue($1, $2)", &[&q, &json!({"a": 1})]).unwrap();
    tx.execute("SELECT count(*) FROM queue.enqueue_many($1, ARRAY['{}', '{}']::jsonb[])", &[&q]).unwrap();
    tx.rollback().unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&q]), 0);
    assert_eq!(c.query("SELECT * FROM queue.claim($1)", &[&q]).unwrap().len(), 0);
}

#[test]
fn uncommitted_job_is_not_claimable_until_commit() {
    let mut producer = connect();
    let mut worker = connect();
    let q = new_queue(&mut producer, "visibility", "");
    let mut tx = producer.transaction().unwrap();
    let id: i64 = tx.query_one("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap().get(0);
    assert_eq!(worker.query("SELECT * FROM queue.claim($1)", &[&q]).unwrap().len(), 0, "claimed before commit");
    tx.commit().unwrap();
    let rows = worker.query("SELECT id FROM queue.claim($1)", &[&q]).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, i64>(0), id);
}

#[test]
fn stale_lease_token_is_refused_after_reissue() {
    let mut c = connect();
    let q = new_queue(&mut c, "stale", "backoff_base => '0', backoff_max => '0'");
    let id: i64 = c.query_one("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap().get(0);
    let mut slow = connect();
    let old: Uuid =
        slow.query_one("SELECT lease_token FROM queue.claim($1, 'slow', lease => '200 ms')", &[&q]).unwrap().get(0);

    // Whoever comes first, the background worker or this explicit call, re-queues the job. The
    // call is repeated: it takes at most max_jobs expired leases of any queue per call, and other
    // tests' leases may come first.
    await_condition("the expired lease to be re-queued", Duration::from_secs(30), || {
        c.execute("SELECT queue.release_expired_leases()", &[]).unwrap();
        let state: String = c.query_one("SELECT state::text FROM queue.jobs WHERE id = $1", &[&id]).unwrap().get(0);
        assert!(state == "running" || state == "pending", "the expired job went {state}");
        state == "pending"
    });
    let mut fast = connect();
    let new: Uuid = fast.query_one("SELECT lease_token FROM queue.claim($1, 'fast')", &[&q]).unwrap().get(0);
    assert_ne!(old, new);

    for sql in [
        "SELECT queue.complete($1, $2)",
        "SELECT queue.fail($1, $2, 'late')",
        "SELECT queue.heartbeat($1, $2)",
        "SELECT queue.release($1, $2)",
    ] {
        assert!(!slow.query_one(sql, &[&id, &old]).unwrap().get::<_, bool>(0), "{sql} accepted a stale token");
    }
    let olds = vec![old];
    assert_eq!(slow.query("SELECT * FROM queue.complete_many(ARRAY[$1::bigint], $2)", &[&id, &olds]).unwrap().len(), 0);
    assert!(fast.query_one("SELECT queue.complete($1, $2)", &[&id, &new]).unwrap().get::<_, bool>(0));
    let row = c
        .query_one("SELECT state::text, attempts, locked_by, last_error FROM queue.jobs WHERE id = $1", &[&id])
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "done");
    assert_eq!(row.get::<_, i32>(1), 2);
    assert_eq!(row.get::<_, String>(2), "fast");
    assert_eq!(row.get::<_, String>(3), "lease expired");
}

#[test]
fn delayed_job_is_claimable_only_from_run_at() {
    let mut c = connect();
    let q = new_queue(&mut c, "delayed", "");
    let id: i64 = c
        .query_one("SELECT queue.enqueue($1, '{}', run_at => clock_timestamp() + interval '300 ms')", &[&q])
        .unwrap()
        .get(0);
    assert_eq!(c.query("SELECT * FROM queue.claim($1)", &[&q]).unwrap().len(), 0, "claimed before run_at");
    await_condition("run_at to pass", Duration::from_secs(10), || {
        c.query_one("SELECT run_at <= clock_timestamp() FROM queue.jobs WHERE id = $1", &[&id]).unwrap().get(0)
    });
    // The claim promotes the job itself, unless the background worker (which wakes at run_at) is
    // promoting it at that instant: then it is claimable once that commits.
    let mut claimed = Vec::new();
    await_condition("the due job to be claimed", Duration::from_secs(10), || {
        claimed =
            c.query("SELECT id FROM queue.claim($1)", &[&q]).unwrap().iter().map(|r| r.get::<_, i64>(0)).collect();
        !claimed.is_empty()
    });
    assert_eq!(claimed, vec![id]);
}

#[test]
fn priorities_run_highest_first() {
    let mut c = connect();
    let q = new_queue(&mut c, "prio", "");
    for p in [0, 5, -3, 10, 5] {
        c.execute("SELECT queue.enqueue($1, $2, priority => $3)", &[&q, &json!({"p": p}), &p]).unwrap();
    }
    let mut order = Vec::new();
    loop {
        let rows = c.query("SELECT priority FROM queue.claim($1, batch => 2)", &[&q]).unwrap();
        if rows.is_empty() {
            break;
        }
        order.extend(rows.iter().map(|r| r.get::<_, i32>(0)));
    }
    assert_eq!(order, vec![10, 5, 5, 0, -3]);
}

#[test]
fn failing_job_retries_then_goes_dead_and_can_be_redriven() {
    let mut c = connect();
    let q = new_queue(&mut c, "dead", "max_attempts => 3, backoff_base => '0', backoff_max => '0'");
    let id: i64 = c.query_one("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap().get(0);
    for attempt in 1..=3 {
        let row = c.query_one("SELECT attempts, lease_token FROM queue.claim($1)", &[&q]).unwrap();
        assert_eq!(row.get::<_, i32>(0), attempt);
        let token: Uuid = row.get(1);
        assert!(c
            .query_one("SELECT queue.fail($1, $2, $3)", &[&id, &token, &format!("boom {attempt}")])
            .unwrap()
            .get::<_, bool>(0));
    }
    let row = c.query_one("SELECT state::text, attempts, last_error FROM queue.jobs WHERE id = $1", &[&id]).unwrap();
    assert_eq!(
        (row.get::<_, String>(0).as_str(), row.get::<_, i32>(1), row.get::<_, String>(2).as_str()),
        ("dead", 3, "boom 3")
    );
    assert_eq!(c.query("SELECT * FROM queue.claim($1)", &[&q]).unwrap().len(), 0, "dead jobs are not claimable");
    assert_eq!(c.query_one("SELECT queue.retry($1)", &[&q]).unwrap().get::<_, i64>(0), 1);
    assert_eq!(c.query("SELECT * FROM queue.claim($1)", &[&q]).unwrap().len(), 1, "redriven job is claimable");
}

#[test]
fn retry_in_overrides_the_backoff() {
    let mut c = connect();
    let q = new_queue(&mut c, "retryin", "backoff_base => '1 hour', backoff_max => '1 hour'");
    let id: i64 = c.query_one("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap().get(0);
    let token: Uuid = c.query_one("SELECT lease_token FROM queue.claim($1)", &[&q]).unwrap().get(0);
    c.execute("SELECT queue.fail($1, $2, 'soon', retry_in => '0')", &[&id, &token]).unwrap();
    assert_eq!(c.query("SELECT * FROM queue.claim($1)", &[&q]).unwrap().len(), 1);
}
