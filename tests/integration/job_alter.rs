//! alter_job (issue 17): a pending job takes a new run_at, priority and payload; a finished one
//! a new payload only; a running or unknown one nothing, and the call says false.

use crate::common::{connect, new_queue};
use crate::jobs_bulk::{assert_exact, claim, dead_jobs, one, sqlstate};
use postgres::Client;

fn alter(c: &mut Client, args: &str) -> bool {
    c.query_one(&format!("SELECT queue.alter_job({args})"), &[]).unwrap().get(0)
}

fn job(c: &mut Client, id: i64) -> (String, i32, serde_json::Value, bool) {
    let r = c
        .query_one("SELECT state::text, priority, payload, run_at > now() FROM queue.jobs WHERE id = $1", &[&id])
        .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3))
}

#[test]
fn alter_job_reschedules_reprioritises_and_edits_payloads_while_it_may() {
    let mut c = connect();
    let q = new_queue(&mut c, "alter", "max_attempts => 1");
    // Claims move past a ready job, then a scheduled job is moved to the past: it is ready, sorts
    // before what claims moved past, and the next claim takes it.
    c.batch_execute(&format!("SELECT queue.enqueue('{q}', '{{}}')")).unwrap();
    assert_eq!(claim(&mut c, &q, 1).0.len(), 1);
    let later = one(&mut c, &format!("SELECT queue.enqueue('{q}', '{{}}', run_at => now() + interval '1 hour')"));
    let other = one(&mut c, &format!("SELECT queue.enqueue('{q}', '{{}}')"));
    assert_exact(&mut c, &q, [1, 1, 1, 0], "setup");
    assert!(alter(&mut c, &format!("{later}, run_at => now() - interval '1 hour'")));
    assert_exact(&mut c, &q, [2, 0, 1, 0], "moving a scheduled job to the past");
    let (next, _) = claim(&mut c, &q, 1);
    assert_eq!(next, vec![later], "the rescheduled job was not claimable at once");

    // Priority and payload of a ready job; then into the future: scheduled.
    let low = one(&mut c, &format!("SELECT queue.enqueue('{q}', '{{}}', priority => -1)"));
    assert!(alter(&mut c, &format!("{low}, priority => 9, payload => '{{\"v\": 2}}'")));
    assert_eq!(job(&mut c, low), ("pending".into(), 9, serde_json::json!({"v": 2}), false));
    let (next, _) = claim(&mut c, &q, 1);
    assert_eq!(next, vec![low], "the reprioritised job was not first");
    assert!(alter(&mut c, &format!("{other}, run_at => now() + interval '1 day'")));
    assert!(job(&mut c, other).3, "the job is scheduled");
    assert_exact(&mut c, &q, [0, 1, 3, 0], "moving a ready job to the future");

    // Running: nothing changes, payload included.
    let (running, token) = claim(&mut c, &q, 1);
    assert!(running.is_empty(), "a scheduled job was claimed");
    assert!(!alter(&mut c, &format!("{low}, payload => '{{\"v\": 3}}'")));
    assert!(!alter(&mut c, &format!("{low}, priority => 1")));
    assert_eq!(job(&mut c, low), ("running".into(), 9, serde_json::json!({"v": 2}), false));
    assert!(token.is_none());

    // Dead: a new payload (for a retry to run with), but no run_at or priority, not even with one.
    let dead = dead_jobs(&mut c, &q, 1, ", priority => 3")[0];
    assert!(!alter(&mut c, &format!("{dead}, priority => 1, payload => '{{\"fixed\": true}}'")));
    assert_eq!(job(&mut c, dead).2, serde_json::json!({}));
    assert!(alter(&mut c, &format!("{dead}, payload => '{{\"fixed\": true}}'")));
    assert_eq!(one(&mut c, &format!("SELECT queue.retry_jobs('{q}', min_id => {dead}, max_id => {dead})")), 1);
    assert_eq!(job(&mut c, dead), ("pending".into(), 3, serde_json::json!({"fixed": true}), false));
    // Unknown job: false, as for cancel and retry.
    assert!(!alter(&mut c, "-1, priority => 1"));

    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.alter_job({dead})")), "22023");
    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.alter_job({dead}, payload => '[1]')")), "22023");
    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.alter_job({dead}, run_at => 'infinity')")), "22023");
    assert_eq!(sqlstate(&mut c, "SELECT queue.alter_job(NULL, priority => 1)"), "22004");
    assert_eq!(job(&mut c, dead), ("pending".into(), 3, serde_json::json!({"fixed": true}), false));
}
