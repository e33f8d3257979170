//! Hostile tenants of one database (issue 16, sections 2 and 3): roles confined to their queues
//! with queue.grant try to stall, confine or read past the others. Each test has a database of
//! its own, so its grants and queue ids (1, 2, ...: the ones 0.2.0's advisory keys used) are its.

use crate::common::{await_condition, count, TestDb};
use crate::hostile::role;
use postgres::Client;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The message of the 42501 that `sql` must fail with.
fn refused(c: &mut Client, sql: &str) -> String {
    let e = c.batch_execute(sql).expect_err(sql);
    let db = e.as_db_error().unwrap_or_else(|| panic!("{sql}: {e}"));
    assert_eq!(db.code().code(), "42501", "{sql}: {}", db.message());
    db.message().to_owned()
}

fn queue_id(c: &mut Client, q: &str) -> i32 {
    c.query_one("SELECT id FROM queue.queues WHERE name = $1", &[&q]).unwrap().get(0)
}

/// 3.1: the caps lock was an advisory key anybody could take. Now it is the queue's row, which no
/// role but the extension's own can lock, and a claim waits a bounded time for it.
#[test]
fn no_outsider_can_stall_capped_claims_and_every_wait_is_bounded() {
    let db = TestDb::new("tn_caps");
    let mut admin = db.connect();
    admin.batch_execute("SELECT queue.create_queue('capped', max_running => 2)").unwrap();
    admin.batch_execute("SELECT queue.create_queue('grouped', max_running_per_group => 1)").unwrap();
    admin.batch_execute("SELECT queue.enqueue_many('capped', array_fill('{}'::jsonb, ARRAY[6]))").unwrap();
    admin.batch_execute("SELECT queue.enqueue_many('grouped', ARRAY['{}', '{}']::jsonb[], group_key => 'g')").unwrap();
    let ids = [queue_id(&mut admin, "capped"), queue_id(&mut admin, "grouped")];

    // An outsider (no queue_ext role) takes every key 0.2.0 used, for ids 1 to 100, and holds them.
    let mut outsider = role(&mut admin, "tn_outsider", &[]);
    outsider
        .batch_execute("SELECT pg_advisory_lock(hashtext('queue_ext.caps'), id) FROM generate_series(1, 100) AS id")
        .unwrap();
    // Neither it nor a member of every queue role can lock a queue's row: that needs UPDATE.
    let mut tenant = role(&mut admin, "tn_all_roles", &["queue_admin", "queue_producer", "queue_worker"]);
    for strength in ["UPDATE", "NO KEY UPDATE", "SHARE", "KEY SHARE"] {
        let sql = format!("SELECT 1 FROM queue.queues WHERE id = {} FOR {strength}", ids[0]);
        refused(&mut outsider, &sql);
        refused(&mut tenant, &sql);
    }

    // Claims on the capped queues return at once, within their caps.
    let mut worker = role(&mut admin, "tn_caps_worker", &["queue_worker"]);
    worker.batch_execute("SET statement_timeout = '10s'").unwrap();
    let started = Instant::now();
    let first = worker.query("SELECT id, lease_token FROM queue.claim('capped', batch => 5)", &[]).unwrap();
    assert_eq!(first.len(), 2, "max_running => 2");
    assert_eq!(worker.query("SELECT * FROM queue.claim('grouped', batch => 5)", &[]).unwrap().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(5), "claims waited {:?}", started.elapsed());

    // A claimer that holds the lock in an open transaction (or an admin altering the queue) makes
    // another claim wait a bounded time, then hand out nothing: its completion in the same call
    // stands, and the caller's transaction goes on.
    let done: Vec<i64> = first.iter().map(|r| r.get(0)).collect();
    let token: Uuid = first[0].get(1);
    let mut holder = role(&mut admin, "tn_caps_holder", &["queue_worker"]);
    holder.batch_execute("BEGIN").unwrap();
    assert_eq!(holder.query("SELECT * FROM queue.claim('capped')", &[]).unwrap().len(), 0, "still capped");
    worker.batch_execute("BEGIN").unwrap();
    let started = Instant::now();
    let got = worker
        .query(
            "SELECT * FROM queue.claim('capped', batch => 5, complete => $1, complete_token => $2)",
            &[&done, &token],
        )
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(got.len(), 0, "the claim could not check the caps: it hands out nothing");
    assert!(waited < Duration::from_secs(5), "the claim waited {waited:?}");
    worker.batch_execute("COMMIT").unwrap();
    let running =
        "SELECT count(*) FROM queue.running r JOIN queue.queues q ON q.id = r.queue_id WHERE q.name = 'capped'";
    assert_eq!(count(&mut admin, running, &[]), 0, "the completion stood");
    holder.batch_execute("COMMIT").unwrap();
    // Once the holder is gone, claims get the freed slots.
    assert_eq!(worker.query("SELECT * FROM queue.claim('capped', batch => 5)", &[]).unwrap().len(), 2);
    // An admin's alter_queue holds the row until it commits: the claim is bounded the same way.
    let mut altering = db.connect();
    altering.batch_execute("BEGIN; SELECT queue.alter_queue('capped', lease => '1 minute')").unwrap();
    let started = Instant::now();
    assert_eq!(worker.query("SELECT * FROM queue.claim('capped')", &[]).unwrap().len(), 0);
    assert!(started.elapsed() < Duration::from_secs(5), "the claim waited {:?}", started.elapsed());
    altering.batch_execute("ROLLBACK").unwrap();
    assert_eq!(worker.query("SELECT * FROM queue.claim('capped')", &[]).unwrap().len(), 0, "capped again");
    outsider.batch_execute("SELECT pg_advisory_unlock_all()").unwrap();
}

/// 3.2: a restricted admin granted on the base roles and confined every other tenant's roles.
/// Granting is bounded by what the granter manages, revoking by what it may give.
#[test]
fn grants_and_revokes_reach_only_roles_the_granter_manages() {
    let db = TestDb::new("tn_grants");
    let mut admin = db.connect();
    for q in ["a", "b"] {
        admin.batch_execute(&format!("SELECT queue.create_queue('{q}')")).unwrap();
        admin.batch_execute(&format!("SELECT queue.enqueue_many('{q}', array_fill('{{}}'::jsonb, ARRAY[4]))")).unwrap();
    }
    let mut tenant_admin = role(&mut admin, "tn_a_admin", &["queue_admin"]);
    let mut tenant_worker = role(&mut admin, "tn_a_worker", &["queue_worker"]);
    // Another tenant's worker, confined to nothing, and a group that it belongs to and that the
    // tenant admin can hand out (ADMIN OPTION on the group, not on its members).
    let mut other_worker = role(&mut admin, "tn_b_worker", &["queue_worker"]);
    admin
        .batch_execute(
            "DO $$ BEGIN
                 IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tn_group') THEN CREATE ROLE tn_group; END IF;
             END $$;
             GRANT tn_group TO tn_b_worker;
             GRANT tn_group TO tn_a_admin WITH ADMIN OPTION;
             GRANT tn_a_worker TO tn_a_admin WITH ADMIN OPTION;
             SELECT queue.grant('a', 'tn_a_admin', 'admin');",
        )
        .unwrap();

    // Never a base role (nor PUBLIC, nor a superuser, nor a role it does not manage).
    for base in ["queue_worker", "queue_producer", "queue_admin", "queue_maintainer", "pg_monitor"] {
        let m = refused(&mut tenant_admin, &format!("SELECT queue.grant('a', '{base}', 'consume')"));
        assert!(m.contains(&format!("role \"{base}\"")), "{m}");
        // Not even by a superuser: it would confine every role that holds it.
        let m = refused(&mut admin, &format!("SELECT queue.grant('a', '{base}', 'consume')"));
        assert!(m.contains(&format!("role \"{base}\"")), "{m}");
    }
    let m = refused(&mut tenant_admin, "SELECT queue.grant('a', 'public', 'consume')");
    assert!(m.contains("PUBLIC"), "{m}");
    for (grantee, privilege) in [("tn_b_worker", "consume"), ("postgres", "consume"), ("tn_b_worker", "admin")] {
        let m = refused(&mut tenant_admin, &format!("SELECT queue.grant('a', '{grantee}', '{privilege}')"));
        assert!(m.contains(&format!("role \"{grantee}\"")) && m.contains("does not manage"), "{m}");
    }
    // A group it manages, but whose member is another tenant's role that no grant confines yet.
    let m = refused(&mut tenant_admin, "SELECT queue.grant('a', 'tn_group', 'consume')");
    assert!(m.contains("role \"tn_b_worker\""), "{m}");
    // None of that confined anybody: the other tenant's worker still claims on its queue.
    assert_eq!(count(&mut admin, "SELECT count(*) FROM queue.queue_grants", &[]), 1);
    assert_eq!(other_worker.query("SELECT * FROM queue.claim('b')", &[]).unwrap().len(), 1);

    // Its own worker it may confine to its queue, and give more of its queues.
    tenant_admin.batch_execute("SELECT queue.grant('a', 'tn_a_worker', 'consume')").unwrap();
    assert_eq!(tenant_worker.query("SELECT * FROM queue.claim('a')", &[]).unwrap().len(), 1);
    refused(&mut tenant_worker, "SELECT queue.claim('b')");
    // Taking back its own last admin grant would free it on every queue.
    let m = refused(&mut tenant_admin, "SELECT queue.revoke('a', 'tn_a_admin', 'admin')");
    assert!(m.contains("role \"tn_a_admin\"") && m.contains("every queue"), "{m}");
    tenant_admin.batch_execute("SELECT queue.create_queue('a2')").unwrap();
    tenant_admin.batch_execute("SELECT queue.grant('a2', 'tn_a_worker', 'consume')").unwrap();
    // Taking back a grant that leaves the role confined is fine.
    tenant_admin.batch_execute("SELECT queue.revoke('a2', 'tn_a_worker', 'consume')").unwrap();
    // Taking back the last one would free the role on every queue (and the admin could act as it):
    // only a role free on every queue may do that.
    let m = refused(&mut tenant_admin, "SELECT queue.revoke('a', 'tn_a_worker', 'consume')");
    assert!(m.contains("role \"tn_a_worker\"") && m.contains("every queue"), "{m}");
    refused(&mut tenant_worker, "SELECT queue.claim('b')");
    refused(&mut tenant_admin, "SELECT queue.alter_queue('b', lease => '1 minute')");
    // A grant the DBA gave another tenant's role is not the tenant admin's to take back.
    admin.batch_execute("SELECT queue.grant('b', 'tn_b_worker', 'consume')").unwrap();
    let m = refused(&mut tenant_admin, "SELECT queue.revoke('a', 'tn_b_worker', 'consume')");
    assert!(m.contains("role \"tn_b_worker\""), "{m}");

    // A superuser may do all of it, and clean up what 0.2.0 let a tenant grant to a base role.
    admin
        .batch_execute(
            "INSERT INTO queue.queue_grants (queue_id, grantee, privilege)
             SELECT id, 'queue_producer'::regrole, 'produce' FROM queue.queues WHERE name = 'a'",
        )
        .unwrap();
    assert!(admin.query_one("SELECT queue.revoke('a', 'queue_producer', 'produce')", &[]).unwrap().get::<_, bool>(0));
    assert!(admin.query_one("SELECT queue.revoke('a', 'tn_a_worker', 'consume')", &[]).unwrap().get::<_, bool>(0));
    assert!(admin.query_one("SELECT queue.revoke('a', 'tn_a_admin', 'admin')", &[]).unwrap().get::<_, bool>(0));
    assert!(admin.query_one("SELECT queue.revoke('a2', 'tn_a_admin', 'admin')", &[]).unwrap().get::<_, bool>(0));
    assert_eq!(tenant_worker.query("SELECT * FROM queue.claim('b')", &[]).unwrap().len(), 1, "free again");
    admin.batch_execute("REVOKE tn_group FROM tn_b_worker").unwrap();
}

/// 3.4: queue.recount() forgets the depths it recounts, so a restricted admin blanked every
/// tenant's figures; it recounts the queues the caller administers only.
#[test]
fn a_restricted_admin_recounts_only_its_own_queues() {
    let db = TestDb::new("tn_recount");
    let mut admin = db.connect();
    for q in ["mine", "theirs"] {
        admin.batch_execute(&format!("SELECT queue.create_queue('{q}')")).unwrap();
        admin.batch_execute(&format!("SELECT queue.enqueue_many('{q}', array_fill('{{}}'::jsonb, ARRAY[3]))")).unwrap();
    }
    let counted = |c: &mut Client, q: &str| -> bool {
        c.query_one("SELECT counted FROM queue.stats WHERE queue = $1", &[&q]).unwrap().get(0)
    };
    await_condition("the figures to be known", Duration::from_secs(30), || {
        counted(&mut admin, "mine") && counted(&mut admin, "theirs")
    });
    let mut tenant_admin = role(&mut admin, "tn_recount_admin", &["queue_admin"]);
    admin.batch_execute("SELECT queue.grant('mine', 'tn_recount_admin', 'admin')").unwrap();
    // A writer holds the ready table, so the worker counts nothing meanwhile: what the recount
    // forgot stays unknown.
    let mut writer = db.connect();
    writer.batch_execute("BEGIN; SELECT queue.enqueue('mine', '{}')").unwrap();
    assert_eq!(count(&mut tenant_admin, "SELECT queue.recount()", &[]), 1, "its own queue only");
    assert!(!counted(&mut admin, "mine"), "its own queue is being recounted");
    assert!(counted(&mut admin, "theirs"), "another tenant's figures were forgotten");
    writer.batch_execute("COMMIT").unwrap();
    await_condition("the recount", Duration::from_secs(30), || counted(&mut admin, "mine"));
    let ready: i64 = admin.query_one("SELECT ready FROM queue.stats WHERE queue = 'mine'", &[]).unwrap().get(0);
    assert_eq!(ready, 4);
    // An unrestricted admin recounts every queue.
    assert_eq!(count(&mut admin, "SELECT queue.recount()", &[]), 2);
}

/// 2 (last sentences): a token alone let a worker confined to queue A complete, fail, extend or
/// release a job of queue B; it needs `consume` on B too, and a refused call changes nothing.
#[test]
fn a_token_of_another_tenants_job_is_refused_without_consume_on_its_queue() {
    let db = TestDb::new("tn_tokens");
    let mut admin = db.connect();
    for q in ["a", "b"] {
        admin.batch_execute(&format!("SELECT queue.create_queue('{q}')")).unwrap();
    }
    admin.batch_execute("SELECT queue.enqueue_many('b', array_fill('{}'::jsonb, ARRAY[8]))").unwrap();
    admin.batch_execute("SELECT queue.enqueue('a', '{}')").unwrap();
    let mut thief = role(&mut admin, "tn_a_consumer", &["queue_worker"]);
    let mut owner = role(&mut admin, "tn_b_consumer", &["queue_worker"]);
    admin.batch_execute("SELECT queue.grant('a', 'tn_a_consumer', 'consume')").unwrap();
    admin.batch_execute("SELECT queue.grant('b', 'tn_b_consumer', 'consume')").unwrap();
    // B's worker claims a batch and its token is handed over (leaked, logged, guessed...).
    let claimed = owner.query("SELECT id, lease_token FROM queue.claim('b', batch => 8)", &[]).unwrap();
    let ids: Vec<i64> = claimed.iter().map(|r| r.get(0)).collect();
    let token: Uuid = claimed[0].get(1);
    let own = thief.query_one("SELECT id, lease_token FROM queue.claim('a')", &[]).unwrap();
    let (own_id, own_token): (i64, Uuid) = (own.get(0), own.get(1));
    let before = |c: &mut Client| -> Vec<(i64, i32, String)> {
        c.query(
            "SELECT r.id, r.attempts, r.lease_expires_at::text FROM queue.running r
               JOIN queue.queues q ON q.id = r.queue_id WHERE q.name = 'b' ORDER BY r.id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
    };
    let running = before(&mut admin);
    assert_eq!(running.len(), 8);
    let t = token;
    for sql in [
        format!("SELECT queue.complete({}, '{t}')", ids[0]),
        format!("SELECT queue.complete_many(ARRAY[{}], ARRAY['{t}']::uuid[])", ids[1]),
        // Its own job alongside: nothing is completed.
        format!("SELECT queue.complete_many(ARRAY[{own_id}, {}], ARRAY['{own_token}', '{t}']::uuid[])", ids[2]),
        format!("SELECT queue.fail({}, '{t}', 'boom')", ids[3]),
        format!("SELECT queue.heartbeat({}, '{t}', '1 hour')", ids[4]),
        format!("SELECT queue.release({}, '{t}')", ids[5]),
        format!("SELECT queue.claim('a', complete => ARRAY[{}], complete_token => '{t}')", ids[6]),
    ] {
        let m = refused(&mut thief, &sql);
        assert!(m.contains("queue \"b\""), "{sql}: {m}");
    }
    assert_eq!(before(&mut admin), running, "a refused call changed B's jobs");
    assert!(thief.query_one("SELECT queue.complete($1, $2)", &[&own_id, &own_token]).unwrap().get::<_, bool>(0));
    // The owner's calls go through, and without grants anywhere no check stands in the way.
    assert!(owner.query_one("SELECT queue.heartbeat($1, $2)", &[&ids[4], &token]).unwrap().get::<_, bool>(0));
    assert!(owner.query_one("SELECT queue.release($1, $2)", &[&ids[5], &token]).unwrap().get::<_, bool>(0));
    assert!(owner.query_one("SELECT queue.fail($1, $2)", &[&ids[3], &token]).unwrap().get::<_, bool>(0));
    let first = &ids[..3];
    assert_eq!(owner.query("SELECT queue.complete_many($1, ARRAY[$2]::uuid[])", &[&first, &token]).unwrap().len(), 3);
    admin.batch_execute("DELETE FROM queue.queue_grants").unwrap();
    assert!(thief.query_one("SELECT queue.complete($1, $2)", &[&ids[6], &token]).unwrap().get::<_, bool>(0));
}

/// An admin restricted to queue A releases A's expired leases only: another tenant's workers keep
/// theirs until the worker (or their own admin) acts. In one transaction, which the background
/// worker cannot see, so that it releases nothing meanwhile.
#[test]
fn a_restricted_admin_releases_only_its_own_queues_expired_leases() {
    let db = TestDb::new("tn_leases");
    let mut admin = db.connect();
    let _tenant = role(&mut admin, "tn_leases_admin", &["queue_admin"]);
    for q in ["mine", "theirs"] {
        admin.batch_execute(&format!("SELECT queue.create_queue('{q}')")).unwrap();
    }
    admin.batch_execute("SELECT queue.grant('mine', 'tn_leases_admin', 'admin')").unwrap();
    admin
        .batch_execute(
            "BEGIN;
             SELECT queue.enqueue_many(q, array_fill('{}'::jsonb, ARRAY[3])) FROM unnest(ARRAY['mine', 'theirs']) q;
             SELECT count(*) FROM queue.claim('mine', batch => 3);
             SELECT count(*) FROM queue.claim('theirs', batch => 3);
             UPDATE queue.running SET lease_expires_at = now() - interval '1 minute';
             SET LOCAL ROLE tn_leases_admin;",
        )
        .unwrap();
    assert_eq!(count(&mut admin, "SELECT queue.release_expired_leases()", &[]), 3);
    admin.batch_execute("RESET ROLE").unwrap();
    let running = |c: &mut Client, q: &str| {
        count(c, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state = 'running'", &[&q])
    };
    assert_eq!(running(&mut admin, "mine"), 0);
    assert_eq!(running(&mut admin, "theirs"), 3, "another tenant's leases were released");
    // An unrestricted admin (the superuser here) releases every queue's.
    assert_eq!(count(&mut admin, "SELECT queue.release_expired_leases()", &[]), 3);
    admin.batch_execute("ROLLBACK").unwrap();
}
