//! The three roles get exactly their part of the API; PUBLIC gets nothing; tables are read-only.

use crate::common::{config, connect, new_queue};
use postgres::{Client, NoTls};

fn login_as(admin: &mut Client, user: &str, member_of: Option<&str>) -> Client {
    admin
        .batch_execute(&format!(
            "DO $$ BEGIN
                 IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') THEN CREATE ROLE {user} LOGIN; END IF;
             END $$;"
        ))
        .unwrap();
    if let Some(role) = member_of {
        admin.batch_execute(&format!("GRANT {role} TO {user}")).unwrap();
    }
    config(user).connect(NoTls).unwrap()
}

fn sqlstate(c: &mut Client, sql: &str) -> Option<String> {
    c.batch_execute(sql).err().map(|e| e.code().map(|s| s.code().to_owned()).unwrap_or_else(|| e.to_string()))
}

fn allowed(c: &mut Client, sql: &str) {
    assert_eq!(sqlstate(c, sql), None, "refused: {sql}");
}

fn denied(c: &mut Client, sql: &str) {
    assert_eq!(sqlstate(c, sql).as_deref(), Some("42501"), "not refused with insufficient_privilege: {sql}");
}

#[test]
fn each_role_can_do_its_part_and_nothing_else() {
    let mut admin = connect();
    let q = new_queue(&mut admin, "roles", "");
    let mut producer = login_as(&mut admin, "it_producer", Some("queue_producer"));
    let mut worker = login_as(&mut admin, "it_worker", Some("queue_worker"));
    let mut operator = login_as(&mut admin, "it_admin", Some("queue_admin"));
    let mut nobody = login_as(&mut admin, "it_nobody", None);

    allowed(&mut producer, &format!("SELECT queue.enqueue('{q}', '{{}}')"));
    allowed(&mut producer, &format!("SELECT queue.enqueue_many('{q}', ARRAY['{{}}', '{{}}']::jsonb[])"));
    denied(&mut producer, &format!("SELECT queue.claim('{q}')"));
    denied(&mut producer, &format!("SELECT queue.alter_queue('{q}', lease => '1 minute')"));
    denied(
        &mut producer,
        &format!("INSERT INTO queue.ready (queue_id, payload, max_attempts, run_at, enqueued_at) SELECT id, '{{}}', 1, now(), now() FROM queue.queues WHERE name = '{q}'"),
    );
    assert!(sqlstate(
        &mut producer,
        &format!("INSERT INTO queue.jobs (queue, payload, max_attempts) VALUES ('{q}', '{{}}', 1)")
    )
    .is_some());

    allowed(&mut worker, &format!("SELECT queue.claim('{q}', batch => 2)"));
    allowed(&mut worker, "SELECT count(*) FROM queue.jobs");
    denied(&mut worker, &format!("SELECT queue.enqueue('{q}', '{{}}')"));
    denied(&mut worker, &format!("SELECT queue.create_queue('{q}_2')"));
    denied(&mut worker, &format!("SELECT queue.alter_queue('{q}', lease => '1 minute')"));
    denied(&mut worker, &format!("SELECT queue.drop_queue('{q}', force => true)"));
    for table in ["ready", "scheduled", "running", "done", "dead", "dedupe"] {
        denied(&mut worker, &format!("SELECT count(*) FROM queue.{table}"));
        denied(&mut worker, &format!("DELETE FROM queue.{table}"));
    }
    denied(&mut worker, "DELETE FROM queue.queue_grants");

    allowed(&mut operator, &format!("SELECT queue.alter_queue('{q}', lease => '1 minute')"));
    allowed(&mut operator, &format!("SELECT queue.pause('{q}')"));
    allowed(&mut operator, &format!("SELECT queue.resume('{q}')"));
    allowed(&mut operator, &format!("SELECT queue.enqueue('{q}', '{{}}')"));
    denied(&mut operator, "UPDATE queue.queues SET paused = true");

    // Periodic work is queue_admin's: its functions and views.
    for c in [&mut producer, &mut worker, &mut nobody] {
        for sql in [
            format!("SELECT queue.schedule('roles_s', '* * * * *', '{q}')"),
            "SELECT queue.unschedule('roles_s')".to_string(),
            format!("SELECT queue.spread_refresh('roles_r', '{q}', 'pg_catalog.pg_class', 'oid', '1 hour')"),
            format!("SELECT queue.backfill_start('roles_b', '{q}', 'pg_catalog.pg_class')"),
            "SELECT queue.backfill_pause('roles_b')".to_string(),
            "SELECT count(*) FROM queue.schedules".to_string(),
            "SELECT count(*) FROM queue.spread_refreshes".to_string(),
            "SELECT count(*) FROM queue.backfills".to_string(),
        ] {
            denied(c, &sql);
        }
    }
    for view in ["schedules", "spread_refreshes", "backfills"] {
        allowed(&mut operator, &format!("SELECT count(*) FROM queue.{view}"));
    }
    for table in ["refreshes", "backfill_runs"] {
        denied(&mut operator, &format!("SELECT count(*) FROM queue.{table}"));
    }
    denied(&mut operator, "UPDATE queue.schedules SET paused = true");
    allowed(&mut operator, "SELECT * FROM queue.schedule_fires('@daily')");

    for sql in [
        format!("SELECT queue.enqueue('{q}', '{{}}')"),
        format!("SELECT queue.claim('{q}')"),
        format!("SELECT queue.create_queue('{q}_3')"),
        "SELECT count(*) FROM queue.jobs".to_string(),
        "SELECT count(*) FROM queue.queues".to_string(),
        "SELECT queue.release_expired_leases()".to_string(),
    ] {
        denied(&mut nobody, &sql);
    }
}

/// Lease tokens are readable only by the role that claimed the job: another worker can neither
/// read them nor touch the job without one.
#[test]
fn a_lease_token_is_visible_only_to_the_role_that_claimed_it() {
    let mut admin = connect();
    let q = new_queue(&mut admin, "tokens", "");
    let id: i64 = admin.query_one("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap().get(0);
    let mut alice = login_as(&mut admin, "it_worker_alice", Some("queue_worker"));
    let mut bob = login_as(&mut admin, "it_worker_bob", Some("queue_worker"));
    let token: uuid::Uuid = alice.query_one("SELECT lease_token FROM queue.claim($1)", &[&q]).unwrap().get(0);
    let seen = |c: &mut Client| -> Option<uuid::Uuid> {
        c.query_one("SELECT lease_token FROM queue.jobs WHERE id = $1", &[&id]).unwrap().get(0)
    };
    assert_eq!(seen(&mut alice), Some(token));
    assert_eq!(seen(&mut admin), Some(token), "a superuser sees every token");
    assert_eq!(seen(&mut bob), None, "another worker read the token");
    denied(&mut bob, "SELECT lease_token FROM queue.running");
    assert!(bob.query_one("SELECT count(*) FROM queue.jobs WHERE id = $1", &[&id]).unwrap().get::<_, i64>(0) == 1);
    assert!(alice.query_one("SELECT queue.complete($1, $2)", &[&id, &token]).unwrap().get::<_, bool>(0));
}

/// queue.grant restricts a role to the queues granted, for that privilege; errors name the queue.
#[test]
fn grants_restrict_roles_to_their_queues() {
    let mut admin = connect();
    let mine = new_queue(&mut admin, "grant_mine", "");
    let theirs = new_queue(&mut admin, "grant_theirs", "");
    let mut tenant = login_as(&mut admin, "it_tenant", Some("queue_producer"));
    let mut tenant_worker = login_as(&mut admin, "it_tenant_worker", Some("queue_worker"));
    let mut tenant_admin = login_as(&mut admin, "it_tenant_admin", Some("queue_admin"));
    // Unrestricted at first: every queue.
    allowed(&mut tenant, &format!("SELECT queue.enqueue('{theirs}', '{{}}')"));
    allowed(&mut admin, &format!("SELECT queue.grant('{mine}', 'it_tenant', 'produce')"));
    allowed(&mut admin, &format!("SELECT queue.grant('{mine}', 'it_tenant_worker', 'consume')"));
    allowed(&mut admin, &format!("SELECT queue.grant('{mine}', 'it_tenant_admin', 'admin')"));
    allowed(&mut tenant, &format!("SELECT queue.enqueue('{mine}', '{{}}')"));
    let err = tenant.batch_execute(&format!("SELECT queue.enqueue('{theirs}', '{{}}')")).unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code().code(), "42501");
    assert!(db.message().contains(&format!("queue \"{theirs}\"")), "{}", db.message());
    denied(&mut tenant, &format!("SELECT queue.enqueue_many('{theirs}', ARRAY['{{}}']::jsonb[])"));
    // cancel is producer-side and scoped the same way.
    let theirs_job: i64 = admin.query_one("SELECT queue.enqueue($1, '{}')", &[&theirs]).unwrap().get(0);
    // A job of a queue the tenant does not see is answered as no job at all: false, nothing named.
    let cancelled: bool = tenant.query_one(&format!("SELECT queue.cancel({theirs_job})"), &[]).unwrap().get(0);
    assert!(!cancelled, "a job of a queue the tenant may not use was cancelled");
    let mine_job: i64 = tenant.query_one("SELECT queue.enqueue($1, '{}')", &[&mine]).unwrap().get(0);
    allowed(&mut tenant, &format!("SELECT queue.cancel({mine_job})"));
    // Workers and admins alike.
    allowed(&mut tenant_worker, &format!("SELECT * FROM queue.claim('{mine}')"));
    denied(&mut tenant_worker, &format!("SELECT * FROM queue.claim('{theirs}')"));
    allowed(&mut tenant_admin, &format!("SELECT queue.pause('{mine}')"));
    allowed(&mut tenant_admin, &format!("SELECT queue.resume('{mine}')"));
    denied(&mut tenant_admin, &format!("SELECT queue.alter_queue('{theirs}', lease => '1 minute')"));
    denied(&mut tenant_admin, &format!("SELECT queue.drop_queue('{theirs}', force => true)"));
    denied(&mut tenant_admin, &format!("SELECT queue.grant('{theirs}', 'it_tenant_admin', 'admin')"));
    // 'admin' on a queue covers producing into it; a queue the restricted admin creates is its own.
    allowed(&mut tenant_admin, &format!("SELECT queue.enqueue('{mine}', '{{}}')"));
    allowed(&mut tenant_admin, &format!("SELECT queue.create_queue('{mine}_new')"));
    allowed(&mut tenant_admin, &format!("SELECT queue.alter_queue('{mine}_new', lease => '1 minute')"));
    // Revoking the last grant lifts the restriction.
    allowed(&mut admin, &format!("SELECT queue.revoke('{mine}', 'it_tenant', 'produce')"));
    allowed(&mut tenant, &format!("SELECT queue.enqueue('{theirs}', '{{}}')"));
    // Bad arguments.
    for (sql, code) in [
        (format!("SELECT queue.grant('{mine}', 'no_such_role_x', 'produce')"), "42704"),
        (format!("SELECT queue.grant('{mine}', 'it_tenant', 'own')"), "22023"),
        (format!("SELECT queue.grant('{mine}', NULL, 'produce')"), "22004"),
        ("SELECT queue.grant('no_such_queue_x', 'it_tenant', 'produce')".to_string(), "42704"),
    ] {
        assert_eq!(sqlstate(&mut admin, &sql).as_deref(), Some(code), "{sql}");
    }
    for role in ["it_tenant", "it_tenant_worker", "it_tenant_admin"] {
        admin.execute("DELETE FROM queue.queue_grants WHERE grantee = $1::text::regrole", &[&role]).unwrap();
    }
    admin.execute(&format!("SELECT queue.drop_queue('{mine}_new')"), &[]).unwrap();
}

/// The internal functions are no role's to call.
#[test]
fn internal_functions_are_not_callable() {
    let mut admin = connect();
    let mut operator = login_as(&mut admin, "it_admin", Some("queue_admin"));
    for sql in ["SELECT queue_internal.wake_launcher()", "SELECT queue_internal.may(1, 10, 'produce')"] {
        denied(&mut operator, sql);
    }
}
