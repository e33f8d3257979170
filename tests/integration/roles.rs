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
    assert!(sqlstate(&mut producer, &format!("INSERT INTO queue.jobs (queue, payload, max_attempts) VALUES ('{q}', '{{}}', 1)")).is_some());

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
