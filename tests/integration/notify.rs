//! NOTIFY on queue_<name>: one per queue per committing transaction, none on rollback or with
//! notify off, and one from the background worker when a delayed job comes due.

use crate::common::{connect, new_queue, notifications_until_sentinel, worker_pid};
use postgres::fallible_iterator::FallibleIterator;
use serde_json::json;

fn listen(channels: &[&str]) -> postgres::Client {
    let mut l = connect();
    for ch in channels {
        l.batch_execute(&format!("LISTEN {ch}")).unwrap();
    }
    l
}

#[test]
fn one_notification_for_a_thousand_jobs_in_one_transaction() {
    let mut c = connect();
    let q = new_queue(&mut c, "notify_many", "");
    let sentinel = format!("{q}_sentinel");
    let mut listener = listen(&[&format!("queue_{q}"), &sentinel]);
    let mut tx = c.transaction().unwrap();
    for i in 0..1000 {
        tx.execute("SELECT queue.enqueue($1, $2)", &[&q, &json!({"i": i})]).unwrap();
    }
    tx.commit().unwrap();
    let got = notifications_until_sentinel(&mut listener, &mut c, &sentinel);
    assert_eq!(
        got.iter().map(|(ch, p, _)| (ch.as_str(), p.as_str())).collect::<Vec<_>>(),
        vec![(format!("queue_{q}").as_str(), q.as_str())]
    );
}

#[test]
fn one_notification_per_queue_and_none_on_rollback_or_when_off() {
    let mut c = connect();
    let a = new_queue(&mut c, "notify_a", "");
    let b = new_queue(&mut c, "notify_b", "");
    let quiet = new_queue(&mut c, "notify_off", "notify => false");
    let sentinel = format!("{a}_sentinel");
    let mut listener = listen(&[&format!("queue_{a}"), &format!("queue_{b}"), &format!("queue_{quiet}"), &sentinel]);

    let mut tx = c.transaction().unwrap();
    tx.execute("SELECT count(*) FROM queue.enqueue_many($1, ARRAY['{}', '{}']::jsonb[])", &[&a]).unwrap();
    tx.execute("SELECT queue.enqueue($1, '{}')", &[&b]).unwrap();
    tx.execute("SELECT queue.enqueue($1, '{}')", &[&a]).unwrap();
    tx.execute("SELECT queue.enqueue($1, '{}')", &[&quiet]).unwrap();
    tx.commit().unwrap();
    let mut got: Vec<String> =
        notifications_until_sentinel(&mut listener, &mut c, &sentinel).into_iter().map(|(ch, _, _)| ch).collect();
    got.sort();
    assert_eq!(got, vec![format!("queue_{a}"), format!("queue_{b}")]);

    let mut tx = c.transaction().unwrap();
    tx.execute("SELECT queue.enqueue($1, '{}')", &[&a]).unwrap();
    tx.rollback().unwrap();
    assert!(notifications_until_sentinel(&mut listener, &mut c, &sentinel).is_empty(), "rolled back enqueue notified");
}

#[test]
fn delayed_job_is_notified_by_the_worker_when_due() {
    let mut c = connect();
    let q = new_queue(&mut c, "notify_due", "");
    let channel = format!("queue_{q}");
    let mut listener = listen(&[&channel]);
    let id: i64 = c
        .query_one("SELECT queue.enqueue($1, '{}', run_at => clock_timestamp() + interval '500 ms')", &[&q])
        .unwrap()
        .get(0);
    assert!(c.query("SELECT * FROM queue.claim($1)", &[&q]).unwrap().is_empty());

    // No notification at commit (the job is not due yet); the next one comes from the worker.
    let mut notifications = listener.notifications();
    let n = notifications
        .timeout_iter(std::time::Duration::from_secs(30))
        .next()
        .unwrap()
        .expect("no notification when the delayed job came due");
    assert_eq!(n.channel(), channel);
    assert_eq!(Some(n.process_id()), worker_pid(&mut c), "not sent by the background worker");
    let claimed: Vec<i64> =
        c.query("SELECT id FROM queue.claim($1)", &[&q]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(claimed, vec![id], "woken before the job was claimable");
}

/// Finding 5: a delayed job whose transaction commits after its run_at has passed (and after the
/// background worker looked at that time) is still announced: a listener never waits for a job
/// that is ready.
#[test]
fn a_delayed_job_committed_after_it_came_due_is_announced() {
    let mut c = connect();
    let q = new_queue(&mut c, "notify_late", "");
    let channel = format!("queue_{q}");
    let mut listener = listen(&[&channel]);
    let mut producer = connect();
    producer.batch_execute("BEGIN").unwrap();
    let id: i64 = producer
        .query_one("SELECT queue.enqueue($1, '{}', run_at => clock_timestamp() + interval '20 ms')", &[&q])
        .unwrap()
        .get(0);
    // The job comes due, and the worker ticks past that instant, while the transaction is open.
    let due: String = producer.query_one("SELECT run_at::text FROM queue.jobs WHERE id = $1", &[&id]).unwrap().get(0);
    crate::common::await_condition("run_at to pass", std::time::Duration::from_secs(10), || {
        c.query_one("SELECT clock_timestamp() > $1::text::timestamptz", &[&due]).unwrap().get(0)
    });
    crate::common::await_worker_ticks(&mut c, 2);
    producer.batch_execute("COMMIT").unwrap();
    let n = listener
        .notifications()
        .timeout_iter(std::time::Duration::from_secs(30))
        .next()
        .unwrap()
        .expect("the late-committed delayed job was never announced");
    assert_eq!(n.channel(), channel);
    assert_eq!(c.query("SELECT id FROM queue.claim($1)", &[&q]).unwrap().len(), 1);
}

/// Finding 5: every change that makes a job ready at once notifies in its own transaction:
/// release, fail with retry_in 0 (or no backoff), retry of a dead job.
#[test]
fn release_fail_and_retry_announce_jobs_that_are_ready_at_once() {
    let mut c = connect();
    let q = new_queue(&mut c, "notify_again", "max_attempts => 1");
    let sentinel = format!("{q}_sentinel");
    let channel = format!("queue_{q}");
    let mut listener = listen(&[&channel, &sentinel]);
    c.execute("SELECT count(*) FROM queue.enqueue_many($1, ARRAY['{}', '{}']::jsonb[])", &[&q]).unwrap();
    assert_eq!(notifications_until_sentinel(&mut listener, &mut c, &sentinel).len(), 1);
    let claim = |c: &mut postgres::Client| -> (i64, uuid::Uuid) {
        let r = c.query_one("SELECT id, lease_token FROM queue.claim($1)", &[&q]).unwrap();
        (r.get(0), r.get(1))
    };
    let (id, token) = claim(&mut c);
    c.execute("SELECT queue.release($1, $2)", &[&id, &token]).unwrap();
    assert_eq!(notifications_until_sentinel(&mut listener, &mut c, &sentinel).len(), 1, "release");
    let (id, token) = claim(&mut c);
    c.execute("SELECT queue.fail($1, $2, 'no more attempts')", &[&id, &token]).unwrap();
    assert_eq!(notifications_until_sentinel(&mut listener, &mut c, &sentinel).len(), 0, "a dead job is not ready");
    c.execute("SELECT queue.retry($1::bigint)", &[&id]).unwrap();
    assert_eq!(notifications_until_sentinel(&mut listener, &mut c, &sentinel).len(), 1, "retry");
    // (Jobs keep the max_attempts they were enqueued with: give the ready ones more.)
    c.execute(
        "UPDATE queue.ready SET max_attempts = 5 WHERE queue_id = (SELECT id FROM queue.queues WHERE name = $1)",
        &[&q],
    )
    .unwrap();
    let (id, token) = claim(&mut c);
    c.execute("SELECT queue.fail($1, $2, 'again', retry_in => '0')", &[&id, &token]).unwrap();
    assert_eq!(notifications_until_sentinel(&mut listener, &mut c, &sentinel).len(), 1, "fail with retry_in 0");
}
