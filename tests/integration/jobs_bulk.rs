//! Managing jobs in bulk (issue 17): cancel_jobs, purge_jobs, retry_jobs, move_jobs and the
//! dead_retention setting. Each call is bounded by max_jobs and says how many jobs it touched;
//! the queue's figures stay exact and moved or revived jobs are claimable at once.

use crate::common::{await_condition, connect, count, job_table_depths, new_queue};
use postgres::Client;
use std::time::Duration;
use uuid::Uuid;

/// The SQLSTATE `sql` fails with.
pub fn sqlstate(c: &mut Client, sql: &str) -> String {
    let e = c.batch_execute(sql).expect_err(sql);
    e.code().map(|s| s.code().to_owned()).unwrap_or_else(|| e.to_string())
}

/// queue.stats' depths equal the tables' own (ready, scheduled, running, dead), which are `expected`.
pub fn assert_exact(c: &mut Client, queue: &str, expected: [i64; 4], step: &str) {
    assert_eq!(job_table_depths(c, queue), expected, "the tables after {step}");
    let r = c
        .query_one("SELECT ready, scheduled, running, dead, counted FROM queue.stats WHERE queue = $1", &[&queue])
        .unwrap();
    assert!(r.get::<_, bool>(4), "depths of {queue} are known");
    let stats: [i64; 4] = [r.get(0), r.get(1), r.get(2), r.get(3)];
    assert_eq!(stats, expected, "queue.stats after {step}");
}

pub fn one(c: &mut Client, sql: &str) -> i64 {
    count(c, sql, &[])
}

/// Claim `batch` jobs: (ids, token).
pub fn claim(c: &mut Client, queue: &str, batch: i32) -> (Vec<i64>, Option<Uuid>) {
    let rows = c.query("SELECT id, lease_token FROM queue.claim($1, batch => $2)", &[&queue, &batch]).unwrap();
    (rows.iter().map(|r| r.get(0)).collect(), rows.first().map(|r| r.get(1)))
}

/// `n` dead jobs in `queue` (created with max_attempts => 1, and group_backoff => false for jobs
/// of one group), each enqueued with `options`.
pub fn dead_jobs(c: &mut Client, queue: &str, n: usize, options: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    for _ in 0..n {
        c.batch_execute(&format!("SELECT queue.enqueue('{queue}', '{{}}'{options})")).unwrap();
        let (claimed, token) = claim(c, queue, 1);
        c.execute("SELECT queue.fail($1, $2, 'boom')", &[&claimed[0], &token.unwrap()]).unwrap();
        ids.push(claimed[0]);
    }
    ids
}

#[test]
fn cancel_jobs_cancels_by_filter_in_bounded_batches() {
    let mut c = connect();
    let q = new_queue(&mut c, "bulk_cancel", "");
    c.batch_execute(&format!(
        "SELECT queue.enqueue('{q}', '{{}}', group_key => 'a') FROM generate_series(1, 3);
         SELECT queue.enqueue('{q}', '{{}}', group_key => 'a', dedupe_key => 'k1');
         SELECT queue.enqueue('{q}', '{{}}', group_key => 'a', run_at => now() + interval '1 hour') FROM generate_series(1, 2);
         SELECT queue.enqueue('{q}', '{{}}', group_key => 'b') FROM generate_series(1, 2);"
    ))
    .unwrap();
    assert_exact(&mut c, &q, [6, 2, 0, 0], "enqueue");
    // Nothing enqueued an hour ago; no id in an empty range.
    assert_eq!(one(&mut c, &format!("SELECT queue.cancel_jobs('{q}', older_than => '1 hour')")), 0);
    assert_eq!(one(&mut c, &format!("SELECT queue.cancel_jobs('{q}', min_id => 2, max_id => 1)")), 0);
    // Group a holds 6 pending jobs: batches of 4 take 4, then 2, then none.
    let batch = format!("SELECT queue.cancel_jobs('{q}', group_key => 'a', max_jobs => 4)");
    assert_eq!(one(&mut c, &batch), 4);
    assert_eq!(one(&mut c, &batch), 2);
    assert_eq!(one(&mut c, &batch), 0);
    assert_exact(&mut c, &q, [2, 0, 0, 0], "cancelling group a");
    assert_eq!(one(&mut c, &format!("SELECT count(*) FROM queue.jobs WHERE queue = '{q}' AND state = 'cancelled'")), 6);
    // The cancelled job's dedupe key is free again.
    let held: i64 = one(&mut c, &format!("SELECT id FROM queue.jobs WHERE queue = '{q}' AND dedupe_key = 'k1'"));
    let again = one(&mut c, &format!("SELECT queue.enqueue('{q}', '{{}}', dedupe_key => 'k1')"));
    assert_ne!(again, held, "the cancelled job still held its dedupe key");

    // Running jobs: their workers get false from complete afterwards (fenced).
    let (ids, token) = claim(&mut c, &q, 2);
    assert_eq!(ids.len(), 2);
    assert_exact(&mut c, &q, [1, 0, 2, 0], "claim");
    assert_eq!(one(&mut c, &format!("SELECT queue.cancel_jobs('{q}', state => 'running')")), 2);
    for id in &ids {
        let done: bool = c.query_one("SELECT queue.complete($1, $2)", &[id, &token.unwrap()]).unwrap().get(0);
        assert!(!done, "a cancelled job was completed");
    }
    assert_exact(&mut c, &q, [1, 0, 0, 0], "cancelling running jobs");
    // By id range: only the job in range goes.
    let last = one(&mut c, &format!("SELECT max(id) FROM queue.jobs WHERE queue = '{q}' AND state = 'pending'"));
    c.batch_execute(&format!("SELECT queue.enqueue('{q}', '{{}}')")).unwrap();
    assert_eq!(one(&mut c, &format!("SELECT queue.cancel_jobs('{q}', min_id => {last}, max_id => {last})")), 1);
    assert_exact(&mut c, &q, [1, 0, 0, 0], "cancelling by id");

    // A failed call changes nothing.
    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.cancel_jobs('{q}', state => 'dead')")), "22023");
    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.cancel_jobs('{q}', max_jobs => 0)")), "22023");
    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.cancel_jobs('{q}', max_jobs => NULL)")), "22004");
    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.cancel_jobs('{q}', group_key => '')")), "22023");
    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.cancel_jobs('{q}', older_than => '-1 day')")), "22023");
    assert_eq!(sqlstate(&mut c, "SELECT queue.cancel_jobs('no_such_queue_17')"), "42704");
    assert_eq!(sqlstate(&mut c, "SELECT queue.cancel_jobs(NULL)"), "22004");
    assert_exact(&mut c, &q, [1, 0, 0, 0], "refused calls");
}

#[test]
fn purge_jobs_deletes_finished_jobs_by_age_and_state() {
    let mut c = connect();
    let q = new_queue(&mut c, "bulk_purge", "max_attempts => 1, group_backoff => false");
    dead_jobs(&mut c, &q, 3, ", group_key => 'a'");
    dead_jobs(&mut c, &q, 1, "");
    c.batch_execute(&format!("SELECT queue.enqueue('{q}', '{{}}')")).unwrap();
    let (ids, token) = claim(&mut c, &q, 1);
    c.execute("SELECT queue.complete($1, $2)", &[&ids[0], &token.unwrap()]).unwrap();
    c.batch_execute(&format!("SELECT queue.cancel(queue.enqueue('{q}', '{{}}'))")).unwrap();
    c.batch_execute(&format!("SELECT queue.enqueue('{q}', '{{}}')")).unwrap();
    assert_exact(&mut c, &q, [1, 0, 0, 4], "setup");
    let finished = |c: &mut Client| {
        one(c, &format!("SELECT count(*) FROM queue.jobs WHERE queue = '{q}' AND finished_at IS NOT NULL"))
    };
    assert_eq!(finished(&mut c), 6);

    // Too young for an hour; group a's dead jobs in batches of 2; then the rest by state.
    assert_eq!(one(&mut c, &format!("SELECT queue.purge_jobs('{q}', '1 hour')")), 0);
    let batch = format!("SELECT queue.purge_jobs('{q}', '0', state => 'dead', group_key => 'a', max_jobs => 2)");
    assert_eq!(one(&mut c, &batch), 2);
    assert_eq!(one(&mut c, &batch), 1);
    assert_eq!(one(&mut c, &batch), 0);
    assert_exact(&mut c, &q, [1, 0, 0, 1], "purging group a's dead jobs");
    assert_eq!(one(&mut c, &format!("SELECT queue.purge_jobs('{q}', '0', state => 'cancelled')")), 1);
    assert_eq!(one(&mut c, &format!("SELECT count(*) FROM queue.jobs WHERE queue = '{q}' AND state = 'cancelled'")), 0);
    // Any finished state: the done job and the last dead one; the pending job stays.
    assert_eq!(one(&mut c, &format!("SELECT queue.purge_jobs('{q}', '0')")), 2);
    assert_eq!(finished(&mut c), 0);
    assert_exact(&mut c, &q, [1, 0, 0, 0], "purging every finished job");

    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.purge_jobs('{q}', '0', state => 'pending')")), "22023");
    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.purge_jobs('{q}', NULL)")), "22004");
    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.purge_jobs('{q}', '0', max_jobs => 100001)")), "22023");
    assert_eq!(sqlstate(&mut c, "SELECT queue.purge_jobs('no_such_queue_17', '0')"), "42704");
}

#[test]
fn retry_jobs_revives_by_filter_keeps_dedupe_and_is_claimable_at_once() {
    let mut c = connect();
    let q = new_queue(&mut c, "bulk_retry", "max_attempts => 1, group_backoff => false");
    let plain = dead_jobs(&mut c, &q, 2, ", group_key => 'a'");
    let shared = dead_jobs(&mut c, &q, 2, ", dedupe_key => 'd'");
    let held = dead_jobs(&mut c, &q, 1, ", dedupe_key => 'h'");
    let urgent = dead_jobs(&mut c, &q, 1, ", priority => 5");
    // A live job holds key h.
    let live = one(&mut c, &format!("SELECT queue.enqueue('{q}', '{{}}', dedupe_key => 'h')"));
    assert_exact(&mut c, &q, [1, 0, 0, 6], "setup");

    assert_eq!(one(&mut c, &format!("SELECT queue.retry_jobs('{q}', group_key => 'a', max_jobs => 1)")), 1);
    assert_eq!(one(&mut c, &format!("SELECT queue.retry_jobs('{q}', group_key => 'a')")), 1);
    assert_exact(&mut c, &q, [3, 0, 0, 4], "retrying group a");
    let pending = |c: &mut Client, id: i64| {
        one(c, &format!("SELECT count(*) FROM queue.jobs WHERE id = {id} AND state = 'pending' AND attempts = 0"))
    };
    assert!(plain.iter().all(|id| pending(&mut c, *id) == 1));

    // Of two dead jobs sharing key d the newest comes back and takes the key; the job whose key
    // a live job holds stays dead, and is not picked again.
    assert_eq!(one(&mut c, &format!("SELECT queue.retry_jobs('{q}', dedupe_key => 'd')")), 1);
    assert_eq!(pending(&mut c, shared[1]), 1);
    assert_eq!(pending(&mut c, shared[0]), 0);
    assert_eq!(one(&mut c, &format!("SELECT queue.enqueue('{q}', '{{}}', dedupe_key => 'd')")), shared[1]);
    assert_eq!(one(&mut c, &format!("SELECT queue.retry_jobs('{q}', dedupe_key => 'h')")), 0);
    assert_eq!(pending(&mut c, held[0]), 0);
    assert_exact(&mut c, &q, [4, 0, 0, 3], "retrying by dedupe key");

    // Claims have moved past every ready job; the revived urgent job sorts before them all and
    // the next claim takes it.
    let (ids, _) = claim(&mut c, &q, 4);
    assert_eq!(ids.len(), 4);
    assert!(ids.contains(&live));
    assert_eq!(one(&mut c, &format!("SELECT queue.retry_jobs('{q}', max_id => {})", urgent[0])), 1);
    let (next, _) = claim(&mut c, &q, 1);
    assert_eq!(next, urgent, "the revived job was not claimable at once");

    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.retry_jobs('{q}', state => 'pending')")), "22023");
    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.retry_jobs('{q}', state => NULL)")), "22004");
    assert_eq!(sqlstate(&mut c, "SELECT queue.retry_jobs('no_such_queue_17')"), "42704");
}

#[test]
fn move_jobs_moves_pending_jobs_with_their_dedupe_keys() {
    let mut c = connect();
    let from = new_queue(&mut c, "bulk_from", "");
    let to = new_queue(&mut c, "bulk_to", "");
    // The target's claims have moved past its only job.
    c.batch_execute(&format!("SELECT queue.enqueue('{to}', '{{}}')")).unwrap();
    assert_eq!(claim(&mut c, &to, 1).0.len(), 1);
    let early =
        one(&mut c, &format!("SELECT queue.enqueue('{from}', '{{\"n\": 1}}', run_at => now() - interval '1 hour')"));
    let keyed = one(&mut c, &format!("SELECT queue.enqueue('{from}', '{{}}', dedupe_key => 'x')"));
    let later = one(&mut c, &format!("SELECT queue.enqueue('{from}', '{{}}', run_at => now() + interval '1 hour')"));
    let clash = one(&mut c, &format!("SELECT queue.enqueue('{from}', '{{}}', dedupe_key => 'y')"));
    let holder = one(&mut c, &format!("SELECT queue.enqueue('{to}', '{{}}', dedupe_key => 'y')"));
    assert_exact(&mut c, &from, [3, 1, 0, 0], "setup (source)");
    assert_exact(&mut c, &to, [1, 0, 1, 0], "setup (target)");

    assert_eq!(one(&mut c, &format!("SELECT queue.move_jobs('{from}', '{to}', max_jobs => 2)")), 2);
    assert_eq!(one(&mut c, &format!("SELECT queue.move_jobs('{from}', '{to}')")), 1);
    // The job whose key the target's live job holds stays, and is not picked again.
    assert_eq!(one(&mut c, &format!("SELECT queue.move_jobs('{from}', '{to}')")), 0);
    assert_exact(&mut c, &from, [1, 0, 0, 0], "moving (source)");
    assert_exact(&mut c, &to, [3, 1, 1, 0], "moving (target)");
    let queue_of = |c: &mut Client, id: i64| -> String {
        c.query_one("SELECT queue FROM queue.jobs WHERE id = $1", &[&id]).unwrap().get(0)
    };
    for id in [early, keyed, later] {
        assert_eq!(queue_of(&mut c, id), to);
    }
    assert_eq!(queue_of(&mut c, clash), from);
    // The dedupe key moved with its job.
    assert_eq!(one(&mut c, &format!("SELECT queue.enqueue('{to}', '{{}}', dedupe_key => 'x')")), keyed);
    assert_ne!(one(&mut c, &format!("SELECT queue.enqueue('{from}', '{{}}', dedupe_key => 'x')")), keyed);
    assert_ne!(holder, clash);
    // The moved early job sorts before the job the target's claims moved past: claimable at once.
    let (next, _) = claim(&mut c, &to, 1);
    assert_eq!(next, vec![early], "the moved job was not claimable at once");

    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.move_jobs('{from}', '{from}')")), "22023");
    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.move_jobs('{from}', 'no_such_queue_17')")), "42704");
    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.move_jobs('{from}', NULL)")), "22004");
    assert_exact(&mut c, &from, [2, 0, 0, 0], "refused moves");
}

#[test]
fn the_worker_deletes_dead_jobs_past_dead_retention_only() {
    let mut c = connect();
    let kept = new_queue(&mut c, "dead_kept", "max_attempts => 1");
    let pruned = new_queue(&mut c, "dead_pruned", "max_attempts => 1, dead_retention => '0'");
    let interval = |c: &mut Client, q: &str| -> Option<String> {
        c.query_one("SELECT dead_retention::text FROM queue.queues WHERE name = $1", &[&q]).unwrap().get(0)
    };
    assert_eq!(interval(&mut c, &kept), None, "dead jobs are kept by default");
    dead_jobs(&mut c, &kept, 1, "");
    dead_jobs(&mut c, &pruned, 2, "");
    await_condition("the worker to prune dead jobs", Duration::from_secs(20), || {
        job_table_depths(&mut c, &pruned)[3] == 0
    });
    // The same statement passed over the queue that keeps its dead jobs.
    assert_exact(&mut c, &kept, [0, 0, 0, 1], "pruning (keeping queue)");
    assert_exact(&mut c, &pruned, [0, 0, 0, 0], "pruning");

    c.batch_execute(&format!("SELECT queue.alter_queue('{kept}', dead_retention => '7 days')")).unwrap();
    assert_eq!(interval(&mut c, &kept).as_deref(), Some("7 days"));
    c.batch_execute(&format!("SELECT queue.alter_queue('{kept}', reset => '{{dead_retention}}')")).unwrap();
    assert_eq!(interval(&mut c, &kept), None);
    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.alter_queue('{kept}', dead_retention => '-1 day')")), "22023");
}
