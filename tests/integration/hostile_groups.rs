//! Hostile roles against issue 17's entry points: pause_group, resume_group, and enqueue's
//! on_duplicate (a refusal must not tell an outsider which job holds a key).

use crate::common::{count, TestDb};
use crate::hostile::role;
use postgres::Client;

/// The message of the 42501 that `sql` must fail with.
fn refused(c: &mut Client, sql: &str) -> String {
    let e = c.batch_execute(sql).expect_err(sql);
    let db = e.as_db_error().unwrap_or_else(|| panic!("{sql}: {e}"));
    assert_eq!(db.code().code(), "42501", "{sql}: {}", db.message());
    db.message().to_owned()
}

#[test]
fn only_the_queues_admin_pauses_its_groups_and_sees_them() {
    let db = TestDb::new("hg_groups");
    let mut admin = db.connect();
    admin
        .batch_execute(
            "SELECT queue.create_queue('mine'); SELECT queue.create_queue('theirs');
             SELECT queue.enqueue('theirs', '{\"secret\": 1}', group_key => 'g', dedupe_key => 'k');
             SELECT queue.pause_group('g', 'theirs');",
        )
        .unwrap();
    // Without queue_admin: no EXECUTE at all.
    let mut producer = role(&mut admin, "hg_producer", &["queue_producer"]);
    for f in ["pause_group", "resume_group"] {
        refused(&mut producer, &format!("SELECT queue.{f}('g', 'theirs')"));
    }
    // An admin restricted by queue.grant to 'mine': refused on 'theirs', naming it; it sees
    // neither the paused group nor its parked job.
    let mut tenant = role(&mut admin, "hg_tenant_admin", &["queue_admin"]);
    admin.batch_execute("SELECT queue.grant('mine', 'hg_tenant_admin', 'admin')").unwrap();
    for f in ["pause_group", "resume_group"] {
        let m = refused(&mut tenant, &format!("SELECT queue.{f}('g', 'theirs')"));
        assert!(m.contains("queue \"theirs\""), "{m}");
    }
    assert_eq!(count(&mut tenant, "SELECT count(*) FROM queue.paused_groups", &[]), 0);
    refused(&mut tenant, "SELECT count(*) FROM queue.group_pauses");
    assert_eq!(count(&mut tenant, "SELECT count(*) FROM queue.jobs", &[]), 0);
    tenant.batch_execute("SELECT queue.pause_group('g', 'mine'); SELECT queue.resume_group('g', 'mine')").unwrap();
    // Its refused calls changed nothing.
    assert_eq!(count(&mut admin, "SELECT count(*) FROM queue.paused_groups", &[]), 1);
    // Nor can it claim the parked job, or cancel it.
    let mut worker = role(&mut admin, "hg_tenant_worker", &["queue_worker", "queue_producer"]);
    admin
        .batch_execute(
            "SELECT queue.grant('mine', 'hg_tenant_worker', 'consume'); SELECT queue.grant('mine', 'hg_tenant_worker', 'produce')",
        )
        .unwrap();
    refused(&mut worker, "SELECT * FROM queue.claim('theirs')");
    let parked: i64 = admin.query_one("SELECT id FROM queue.jobs WHERE queue = 'theirs'", &[]).unwrap().get(0);
    // A job of a queue it does not see is answered as no job (false), its queue unnamed.
    let cancelled: bool = worker.query_one(&format!("SELECT queue.cancel({parked})"), &[]).unwrap().get(0);
    assert!(!cancelled, "the other tenant's parked job was cancelled");
    // on_duplicate cannot probe another tenant's keys: refused before any dedupe lookup.
    for mode in ["raise", "replace", "skip"] {
        let m = refused(
            &mut worker,
            &format!("SELECT queue.enqueue('theirs', '{{}}', dedupe_key => 'k', on_duplicate => '{mode}')"),
        );
        assert!(m.contains("queue \"theirs\"") && !m.contains(&parked.to_string()), "{m}");
    }
    let payload: serde_json::Value =
        admin.query_one("SELECT payload FROM queue.jobs WHERE id = $1", &[&parked]).unwrap().get(0);
    assert_eq!(payload, serde_json::json!({"secret": 1}), "the refused replace changed nothing");
}
