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
