//! Hostile roles against the job management calls of issue 17. For each: a role without the
//! queue_* role that grants the function is refused (42501); a role restricted by queue.grant to
//! queue `mine` is refused on queue `theirs` with 42501 naming it, changes nothing there, and its
//! calls on `mine` touch and count `mine`'s jobs only. Each test has a database of its own, so
//! that its grants are its own.

use crate::common::{count, job_table_depths, TestDb};
use crate::hostile::role;
use crate::jobs_bulk::{claim, dead_jobs};
use postgres::Client;

/// The message of the 42501 that `sql` must fail with.
fn refused(c: &mut Client, sql: &str) -> String {
    let e = c.batch_execute(sql).expect_err(sql);
    let db = e.as_db_error().unwrap_or_else(|| panic!("{sql}: {e}"));
    assert_eq!(db.code().code(), "42501", "{sql}: {}", db.message());
    db.message().to_owned()
}

/// Queues `mine` and `theirs` with the same jobs in each (max_attempts 1: a failure is dead):
/// two pending, one running, one dead, one cancelled. `tenant` is restricted to `mine` with
/// `privilege`; `outsider` holds no queue_* role.
fn setup(prefix: &str, privilege: &str) -> (TestDb, Client, Client, Client) {
    let db = TestDb::new(prefix);
    let mut admin = db.connect();
    let base = if privilege == "admin" { "queue_admin" } else { "queue_producer" };
    let tenant = role(&mut admin, &format!("{prefix}_tenant"), &[base]);
    let outsider = role(&mut admin, &format!("{prefix}_outsider"), &[]);
    for q in ["mine", "theirs"] {
        admin.batch_execute(&format!("SELECT queue.create_queue('{q}', max_attempts => 1)")).unwrap();
        dead_jobs(&mut admin, q, 1, "");
        admin.batch_execute(&format!("SELECT queue.cancel(queue.enqueue('{q}', '{{}}'))")).unwrap();
        admin.batch_execute(&format!("SELECT queue.enqueue('{q}', '{{}}', dedupe_key => 'k')")).unwrap();
        assert_eq!(claim(&mut admin, q, 1).0.len(), 1);
        admin.batch_execute(&format!("SELECT queue.enqueue_many('{q}', ARRAY['{{}}', '{{}}']::jsonb[])")).unwrap();
    }
    admin.batch_execute(&format!("SELECT queue.grant('mine', '{prefix}_tenant', '{privilege}')")).unwrap();
    (db, admin, tenant, outsider)
}

/// Every job of `theirs`, as (id, state, payload, run_at, priority) text, to compare before and after.
fn theirs(admin: &mut Client) -> Vec<String> {
    admin
        .query("SELECT format('%s %s %s %s %s', id, state, payload, run_at, priority) FROM queue.jobs WHERE queue = 'theirs' ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// `on_theirs` are refused, naming theirs, and change nothing; `on_mine` (after `prepare`, run by
/// the tenant) return the counts given.
fn check(prefix: &str, privilege: &str, prepare: &str, on_theirs: &[String], on_mine: &[(String, i64)]) {
    let (_db, mut admin, mut tenant, mut outsider) = setup(prefix, privilege);
    tenant.batch_execute(prepare).unwrap();
    let before = theirs(&mut admin);
    let depths = job_table_depths(&mut admin, "theirs");
    for sql in on_theirs {
        let m = refused(&mut tenant, sql);
        assert!(m.contains("\"theirs\""), "{sql}: the refusal does not name the queue: {m}");
        refused(&mut outsider, sql);
    }
    for (sql, _) in on_mine {
        refused(&mut outsider, sql);
    }
    assert_eq!(theirs(&mut admin), before, "a refused call changed the other tenant's jobs");
    for (sql, expected) in on_mine {
        assert_eq!(count(&mut tenant, sql, &[]), *expected, "{sql}");
    }
    assert_eq!(theirs(&mut admin), before, "a call on its own queue changed the other tenant's jobs");
    assert_eq!(job_table_depths(&mut admin, "theirs"), depths);
}

fn sql(s: &str) -> String {
    s.to_owned()
}

#[test]
fn a_restricted_producer_cancels_only_its_own_queues_jobs() {
    check(
        "hj_cancel",
        "produce",
        "",
        &[sql("SELECT queue.cancel_jobs('theirs')"), sql("SELECT queue.cancel_jobs('theirs', state => 'running')")],
        &[(sql("SELECT queue.cancel_jobs('mine')"), 3)],
    );
}

#[test]
fn a_restricted_admin_purges_only_its_own_queues_jobs() {
    check(
        "hj_purge",
        "admin",
        "",
        &[sql("SELECT queue.purge_jobs('theirs', '0')")],
        &[(sql("SELECT queue.purge_jobs('mine', '0')"), 2)],
    );
}

#[test]
fn a_restricted_admin_retries_only_its_own_queues_jobs() {
    check(
        "hj_retry",
        "admin",
        "",
        &[sql("SELECT queue.retry_jobs('theirs')"), sql("SELECT queue.retry_jobs('theirs', state => 'cancelled')")],
        &[(sql("SELECT queue.retry_jobs('mine')"), 1)],
    );
}

#[test]
fn a_restricted_admin_moves_jobs_only_between_queues_it_may_use() {
    // Out of theirs (admin needed) or into theirs (produce needed): refused, naming theirs. A
    // restricted admin administers the queues it creates: between its own it moves.
    check(
        "hj_move",
        "admin",
        "SELECT queue.create_queue('mine_too')",
        &[sql("SELECT queue.move_jobs('theirs', 'mine')"), sql("SELECT queue.move_jobs('mine', 'theirs')")],
        &[(sql("SELECT queue.move_jobs('mine', 'mine_too')"), 2)],
    );
}

#[test]
fn a_restricted_producer_alters_only_its_own_queues_jobs() {
    let (_db, mut admin, mut tenant, mut outsider) = setup("hj_alter", "produce");
    let ids = |c: &mut Client, q: &str| -> Vec<i64> {
        c.query("SELECT id FROM queue.jobs WHERE queue = $1 ORDER BY id", &[&q])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let before = theirs(&mut admin);
    for id in ids(&mut admin, "theirs") {
        // A job of a queue the tenant does not see is answered as unknown: false, its queue unnamed.
        let sql = format!("SELECT queue.alter_job({id}, payload => '{{\"x\": 1}}')");
        assert!(!tenant.query_one(&sql, &[]).unwrap().get::<_, bool>(0), "{sql}");
        assert!(!tenant.query_one(&format!("SELECT queue.cancel({id})"), &[]).unwrap().get::<_, bool>(0));
        refused(&mut outsider, &format!("SELECT queue.alter_job({id}, priority => 1)"));
    }
    assert_eq!(theirs(&mut admin), before, "a refused alter changed the other tenant's jobs");
    // Its own pending jobs it may change; the restricted role sees its own jobs only.
    let mine = ids(&mut admin, "mine");
    let changed: i64 = mine
        .iter()
        .map(|id| {
            tenant.query_one(&format!("SELECT queue.alter_job({id}, priority => 7)"), &[]).unwrap().get::<_, bool>(0)
                as i64
        })
        .sum();
    assert_eq!(changed, 2, "the two pending jobs of mine");
    assert_eq!(count(&mut tenant, "SELECT count(*) FROM queue.jobs WHERE queue = 'theirs'", &[]), 0);
}
