//! The 0.3.0 API's shape: verb_object names, one "not found" rule (42704, `if_exists` on drop_*
//! and cancel_backfill), the 0.2.0 names as working aliases, only the API in schema queue, and a
//! job call's `false` meaning one thing.

use crate::common::{count, new_queue, TestDb};
use crate::hostile::role;
use postgres::Client;
use uuid::Uuid;

fn sqlstate(c: &mut Client, sql: &str) -> Option<String> {
    c.batch_execute(sql).err().map(|e| e.code().map(|s| s.code().to_owned()).unwrap_or_else(|| e.to_string()))
}

fn paused(c: &mut Client, sql: &str, name: &str) -> bool {
    c.query_one(sql, &[&name]).unwrap().get(0)
}

/// A source table a spread refresh and a backfill can read.
fn source(c: &mut Client, table: &str) {
    c.batch_execute(&format!(
        "CREATE TABLE {table} (id bigint PRIMARY KEY);
         INSERT INTO {table} SELECT generate_series(1, 20);
         CREATE INDEX ON {table} (queue.slot_fraction((id)::text));"
    ))
    .unwrap();
}

#[test]
fn every_object_has_create_pause_resume_drop_under_one_scheme() {
    let db = TestDb::new("api_names");
    let mut c = db.connect();
    source(&mut c, "accounts");
    c.batch_execute(
        "SELECT queue.create_queue('q');
         SELECT queue.pause_queue('q'); SELECT queue.pause_queue('q');
         SELECT queue.create_schedule('s', '0 0 1 1 *', 'q');
         SELECT queue.pause_schedule('s'); SELECT queue.pause_schedule('s');
         SELECT queue.create_spread_refresh('r', 'q', 'accounts', 'id', '1 day');
         SELECT queue.pause_spread_refresh('r'); SELECT queue.pause_spread_refresh('r');
         SELECT queue.start_backfill('b', 'q', 'accounts', per_second => 0.001);
         SELECT queue.pause_backfill('b'); SELECT queue.pause_backfill('b');
         SELECT queue.alter_backfill('b', per_second => 0.002);",
    )
    .unwrap();
    assert!(paused(&mut c, "SELECT paused FROM queue.queues WHERE name = $1", "q"));
    assert!(paused(&mut c, "SELECT paused FROM queue.schedules WHERE name = $1", "s"));
    assert!(paused(&mut c, "SELECT paused FROM queue.spread_refreshes WHERE name = $1", "r"));
    assert!(paused(&mut c, "SELECT state = 'paused' FROM queue.backfills WHERE name = $1", "b"));
    c.batch_execute(
        "SELECT queue.resume_queue('q'); SELECT queue.resume_schedule('s');
         SELECT queue.resume_spread_refresh('r'); SELECT queue.resume_backfill('b');",
    )
    .unwrap();
    assert!(!paused(&mut c, "SELECT paused FROM queue.queues WHERE name = $1", "q"));
    assert!(!paused(&mut c, "SELECT paused FROM queue.schedules WHERE name = $1", "s"));
    assert!(!paused(&mut c, "SELECT paused FROM queue.spread_refreshes WHERE name = $1", "r"));
    assert!(paused(&mut c, "SELECT state = 'running' FROM queue.backfills WHERE name = $1", "b"));
    assert!(paused(&mut c, "SELECT per_second = 0.002 FROM queue.backfills WHERE name = $1", "b"));

    // Not found is 42704 for every named object; drop_* and cancel_backfill take if_exists.
    for sql in [
        "SELECT queue.pause_queue('nope')",
        "SELECT queue.resume_queue('nope')",
        "SELECT queue.drop_queue('nope')",
        "SELECT queue.pause_schedule('nope')",
        "SELECT queue.resume_schedule('nope')",
        "SELECT queue.drop_schedule('nope')",
        "SELECT queue.pause_spread_refresh('nope')",
        "SELECT queue.resume_spread_refresh('nope')",
        "SELECT queue.drop_spread_refresh('nope')",
        "SELECT queue.pause_backfill('nope')",
        "SELECT queue.resume_backfill('nope')",
        "SELECT queue.alter_backfill('nope', per_second => 1)",
        "SELECT queue.cancel_backfill('nope')",
    ] {
        assert_eq!(sqlstate(&mut c, sql).as_deref(), Some("42704"), "{sql}");
    }
    c.batch_execute(
        "SELECT queue.drop_queue('nope', if_exists => true);
         SELECT queue.drop_schedule('nope', if_exists => true);
         SELECT queue.drop_spread_refresh('nope', if_exists => true);
         SELECT queue.cancel_backfill('nope', if_exists => true);",
    )
    .unwrap();
    for sql in [
        "SELECT queue.drop_queue(NULL)",
        "SELECT queue.drop_schedule('s', if_exists => NULL)",
        "SELECT queue.cancel_backfill(NULL)",
        "SELECT queue.pause_queue(NULL)",
    ] {
        assert_eq!(sqlstate(&mut c, sql).as_deref(), Some("22004"), "{sql}");
    }

    c.batch_execute(
        "SELECT queue.cancel_backfill('b'); SELECT queue.drop_spread_refresh('r'); SELECT queue.drop_schedule('s');
         SELECT queue.drop_queue('q', force => true);",
    )
    .unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.schedules", &[]), 0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.spread_refreshes", &[]), 0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.backfills WHERE state = 'cancelled'", &[]), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.queues", &[]), 0);
}

/// Every 0.2.0 name 0.3.0 renamed still answers as it did (through 0.3.x).
#[test]
fn the_0_2_0_names_still_work_with_their_0_2_0_answers() {
    let db = TestDb::new("api_aliases");
    let mut c = db.connect();
    source(&mut c, "accounts");
    c.batch_execute("SELECT queue.create_queue('q')").unwrap();
    c.batch_execute("SELECT queue.pause('q')").unwrap();
    assert!(paused(&mut c, "SELECT paused FROM queue.queues WHERE name = $1", "q"));
    c.batch_execute("SELECT queue.resume('q')").unwrap();
    assert!(!paused(&mut c, "SELECT paused FROM queue.queues WHERE name = $1", "q"));

    let next: Option<std::time::SystemTime> =
        c.query_one("SELECT queue.schedule('s', '0 0 1 1 *', 'q', jitter => '1 minute')", &[]).unwrap().get(0);
    let stored: Option<std::time::SystemTime> =
        c.query_one("SELECT next_run_at FROM queue.schedules WHERE name = 's'", &[]).unwrap().get(0);
    assert_eq!(next, stored, "schedule returns when the schedule fires next");
    assert!(c.query_one("SELECT queue.unschedule('s')", &[]).unwrap().get::<_, bool>(0));
    assert!(!c.query_one("SELECT queue.unschedule('s')", &[]).unwrap().get::<_, bool>(0));

    c.batch_execute("SELECT queue.spread_refresh('r', 'q', 'accounts', 'id', '1 day')").unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.spread_refreshes WHERE name = 'r'", &[]), 1);

    c.batch_execute("SELECT queue.backfill_start('b', 'q', 'accounts', per_second => 0.001)").unwrap();
    assert!(c.query_one("SELECT queue.backfill_pause('b')", &[]).unwrap().get::<_, bool>(0));
    assert!(!c.query_one("SELECT queue.backfill_pause('b')", &[]).unwrap().get::<_, bool>(0));
    assert!(c.query_one("SELECT queue.backfill_resume('b')", &[]).unwrap().get::<_, bool>(0));
    assert!(!c.query_one("SELECT queue.backfill_resume('b')", &[]).unwrap().get::<_, bool>(0));
    c.batch_execute("SELECT queue.backfill_alter('b', per_second => 0.002)").unwrap();
    let cancelled: i64 = c.query_one("SELECT queue.backfill_cancel('b')", &[]).unwrap().get(0);
    assert!(cancelled >= 0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.backfills WHERE state = 'cancelled'", &[]), 1);

    // Each is documented as deprecated, naming its replacement.
    for (old, new) in [
        ("pause", "pause_queue"),
        ("resume", "resume_queue"),
        ("schedule", "create_schedule"),
        ("unschedule", "drop_schedule"),
        ("spread_refresh", "create_spread_refresh"),
        ("backfill_start", "start_backfill"),
        ("backfill_alter", "alter_backfill"),
        ("backfill_pause", "pause_backfill"),
        ("backfill_resume", "resume_backfill"),
        ("backfill_cancel", "cancel_backfill"),
    ] {
        let comment: Option<String> = c
            .query_one(
                "SELECT obj_description(p.oid, 'pg_proc') FROM pg_proc p
                  WHERE p.pronamespace = 'queue'::regnamespace AND p.proname = $1",
                &[&old],
            )
            .unwrap()
            .get(0);
        let comment = comment.unwrap_or_default();
        assert!(comment.starts_with("Deprecated") && comment.contains(&format!("queue.{new}")), "{old}: {comment}");
    }
}

/// `\df queue.*` lists the API and nothing else, every function with its comment; internal
/// helpers live in queue_internal, which PUBLIC cannot use.
#[test]
fn schema_queue_holds_the_api_and_every_function_is_documented() {
    let db = TestDb::new("api_schema");
    let mut c = db.connect();
    let internal: Vec<String> = c
        .query(
            "SELECT proname::text FROM pg_proc WHERE pronamespace = 'queue'::regnamespace AND proname LIKE '\\_%'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(internal.is_empty(), "internal functions in schema queue: {internal:?}");
    let undocumented: Vec<String> = c
        .query(
            "SELECT p.oid::regprocedure::text FROM pg_proc p
              WHERE p.pronamespace IN ('queue'::regnamespace, 'queue_internal'::regnamespace)
                AND obj_description(p.oid, 'pg_proc') IS NULL",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(undocumented.is_empty(), "functions without a COMMENT: {undocumented:?}");
    let mut nobody = role(&mut c, "api_nobody", &[]);
    assert_eq!(sqlstate(&mut nobody, "SELECT queue_internal.sees(1, true)").as_deref(), Some("42501"));
    // The views name a queue by its name, never by an internal id.
    let by_id: Vec<String> = c
        .query(
            "SELECT c.relname || '.' || a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
              WHERE c.relnamespace = 'queue'::regnamespace AND c.relkind = 'v' AND a.attname = 'queue_id'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(by_id.is_empty(), "views that show an internal queue id: {by_id:?}");
}

/// A job call's false means one thing: the token does not hold the job. A complete repeated under
/// the token that completed the job (its reply was lost) answers true again.
#[test]
fn complete_is_true_again_for_its_own_token_and_false_for_a_stale_one() {
    let mut c = crate::common::connect();
    let q = new_queue(&mut c, "api_complete", "");
    c.execute("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap();
    let row = c.query_one("SELECT id, lease_token, attempts FROM queue.claim($1)", &[&q]).unwrap();
    let (id, token, attempts): (i64, Uuid, i32) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(attempts, 1, "claim names the attempt count as queue.jobs does: attempts");
    let complete = |c: &mut Client, token: Uuid| -> bool {
        c.query_one("SELECT queue.complete($1, $2)", &[&id, &token]).unwrap().get(0)
    };
    assert!(complete(&mut c, token));
    assert!(complete(&mut c, token), "a repeated complete is not a stale token");
    assert!(!complete(&mut c, Uuid::new_v4()), "a token that never held the job");
    let many: Vec<i64> = c
        .query("SELECT * FROM queue.complete_many(ARRAY[$1]::bigint[], ARRAY[$2]::uuid[])", &[&id, &token])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(many, [id]);

    // Released and claimed again: the first token is stale, the second completes.
    c.execute("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap();
    let row = c.query_one("SELECT id, lease_token FROM queue.claim($1)", &[&q]).unwrap();
    let (id, first): (i64, Uuid) = (row.get(0), row.get(1));
    assert!(c.query_one("SELECT queue.release($1, $2)", &[&id, &first]).unwrap().get::<_, bool>(0));
    let second: Uuid = c.query_one("SELECT lease_token FROM queue.claim($1)", &[&q]).unwrap().get(0);
    let stale =
        |c: &mut Client, t: Uuid| -> bool { c.query_one("SELECT queue.complete($1, $2)", &[&id, &t]).unwrap().get(0) };
    assert!(!stale(&mut c, first), "the released lease's token");
    assert!(stale(&mut c, second));
    assert!(!stale(&mut c, first), "still stale once the job is done under another token");
    // A cancelled job is not done: its token gets false.
    c.execute("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap();
    let row = c.query_one("SELECT id, lease_token FROM queue.claim($1)", &[&q]).unwrap();
    let (id, token): (i64, Uuid) = (row.get(0), row.get(1));
    assert!(c.query_one("SELECT queue.cancel($1)", &[&id]).unwrap().get::<_, bool>(0));
    assert!(!c.query_one("SELECT queue.complete($1, $2)", &[&id, &token]).unwrap().get::<_, bool>(0));
}

/// A rate limit's burst shows as claims use it, also when left NULL.
#[test]
fn the_effective_burst_is_visible() {
    let mut c = crate::common::connect();
    let q = new_queue(&mut c, "api_burst", "rate_per_second => 2.5");
    let row = c.query_one("SELECT burst, effective_burst FROM queue.queues WHERE name = $1", &[&q]).unwrap();
    assert_eq!((row.get::<_, Option<i32>>(0), row.get::<_, Option<i32>>(1)), (None, Some(3)));
    let burst: Option<i32> = c.query_one("SELECT burst FROM queue.effective_rate($1)", &[&q]).unwrap().get(0);
    assert_eq!(burst, Some(3));
    c.execute("SELECT queue.alter_queue($1, burst => 10)", &[&q]).unwrap();
    let burst: Option<i32> = c.query_one("SELECT burst FROM queue.effective_rate($1)", &[&q]).unwrap().get(0);
    assert_eq!(burst, Some(10));
    c.execute("SELECT queue.alter_queue($1, reset => '{rate_per_second}')", &[&q]).unwrap();
    let row = c.query_one("SELECT effective_burst FROM queue.queues WHERE name = $1", &[&q]).unwrap();
    assert_eq!(row.get::<_, Option<i32>>(0), None, "no rate limit, no bucket");
}

/// The new names need what the old ones needed: admin on the queue, which a role restricted to
/// another queue does not have there.
#[test]
fn a_restricted_admin_cannot_manage_another_tenants_objects_under_the_new_names() {
    let db = TestDb::new("api_hostile");
    let mut su = db.connect();
    source(&mut su, "accounts");
    su.batch_execute(
        "SELECT queue.create_queue('mine'); SELECT queue.create_queue('theirs');
         SELECT queue.create_schedule('theirs_s', '0 0 1 1 *', 'theirs');
         SELECT queue.create_spread_refresh('theirs_r', 'theirs', 'accounts', 'id', '1 day');
         SELECT queue.start_backfill('theirs_b', 'theirs', 'accounts', per_second => 0.001);
         GRANT SELECT ON accounts TO PUBLIC;",
    )
    .unwrap();
    let mut admin = role(&mut su, "api_tenant_admin", &["queue_admin"]);
    su.batch_execute("SELECT queue.grant('mine', 'api_tenant_admin', 'admin')").unwrap();
    let mut producer = role(&mut su, "api_plain_producer", &["queue_producer"]);
    for sql in [
        "SELECT queue.pause_queue('theirs')",
        "SELECT queue.resume_queue('theirs')",
        "SELECT queue.drop_queue('theirs', force => true)",
        "SELECT queue.drop_queue('theirs', if_exists => true)",
        "SELECT queue.create_schedule('mine_s', '0 0 1 1 *', 'theirs')",
        "SELECT queue.pause_schedule('theirs_s')",
        "SELECT queue.drop_schedule('theirs_s')",
        "SELECT queue.drop_schedule('theirs_s', if_exists => true)",
        "SELECT queue.create_spread_refresh('mine_r', 'theirs', 'accounts', 'id', '1 day')",
        "SELECT queue.pause_spread_refresh('theirs_r')",
        "SELECT queue.drop_spread_refresh('theirs_r', if_exists => true)",
        "SELECT queue.start_backfill('mine_b', 'theirs', 'accounts')",
        "SELECT queue.pause_backfill('theirs_b')",
        "SELECT queue.alter_backfill('theirs_b', per_second => 5)",
        "SELECT queue.cancel_backfill('theirs_b', if_exists => true)",
    ] {
        let err = admin.batch_execute(sql).unwrap_err();
        let e = err.as_db_error().unwrap_or_else(|| panic!("{sql}: {err}"));
        assert_eq!(e.code().code(), "42501", "{sql}: {err}");
        assert!(e.message().contains("theirs"), "{sql}: the refusal names the queue: {}", e.message());
    }
    // A producer holds none of the admin verbs at all.
    for sql in ["SELECT queue.pause_queue('mine')", "SELECT queue.create_schedule('p', '0 0 1 1 *', 'mine')"] {
        assert_eq!(sqlstate(&mut producer, sql).as_deref(), Some("42501"), "{sql}");
    }
    // Nothing changed, and its own queue is its to manage.
    assert_eq!(count(&mut su, "SELECT count(*) FROM queue.queues WHERE paused", &[]), 0);
    assert_eq!(count(&mut su, "SELECT count(*) FROM queue.schedules WHERE NOT paused", &[]), 1);
    assert_eq!(
        count(&mut su, "SELECT count(*) FROM queue.backfills WHERE state NOT IN ('paused', 'cancelled')", &[]),
        1
    );
    admin.batch_execute("SELECT queue.pause_queue('mine'); SELECT queue.resume_queue('mine')").unwrap();
    drop((admin, producer));
    su.batch_execute(
        "DROP OWNED BY api_tenant_admin, api_plain_producer; DROP ROLE api_tenant_admin, api_plain_producer",
    )
    .ok();
}

/// A restricted role's own conditions on a view are never evaluated on another tenant's rows (the
/// views are security barriers): a failing cast cannot print another tenant's payload, group or
/// grant in its error message, and a by-id call on a job it does not see answers as for no job.
#[test]
fn a_restricted_role_cannot_make_a_view_leak_another_tenants_rows() {
    let db = TestDb::new("api_leak");
    let mut su = db.connect();
    su.batch_execute(
        "SELECT queue.create_queue('mine'); SELECT queue.create_queue('theirs', rate_per_second => 1);
         SELECT queue.set_rate_schedule('theirs', 5, 1, timezone => 'Asia/Tokyo');
         SELECT queue.enqueue('theirs', '{\"secret\": \"s3cr3t-payload\"}', group_key => 's3cr3t-group');
         SELECT queue.enqueue('mine', '{\"secret\": \"12\"}', group_key => '12');
         INSERT INTO queue.group_state (queue_id, group_key, consecutive_failures, eligible_at)
              SELECT id, 's3cr3t-group', 1, now() + interval '1 hour' FROM queue.queues WHERE name = 'theirs';",
    )
    .unwrap();
    let mut tenant = role(&mut su, "api_leaky_tenant", &["queue_producer", "queue_worker"]);
    su.batch_execute(
        "SELECT queue.grant('mine', 'api_leaky_tenant', 'produce');
         SELECT queue.grant('mine', 'api_leaky_tenant', 'consume');",
    )
    .unwrap();
    for sql in [
        "SELECT * FROM queue.jobs WHERE (payload->>'secret')::int = 0",
        "SELECT * FROM queue.jobs WHERE group_key::int = 0",
        "SELECT * FROM queue.groups WHERE group_key::int = 0",
        "SELECT * FROM queue.rate_schedules WHERE timezone::int = 0",
        "SELECT * FROM queue.grants WHERE role::int = 0",
    ] {
        match tenant.batch_execute(sql) {
            Ok(()) => {}
            Err(e) => {
                let m = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_else(|| e.to_string());
                assert!(!m.contains("s3cr3t") && !m.contains("Tokyo") && !m.contains("postgres"), "{sql}: {m}");
            }
        }
    }
    let theirs: i64 = su.query_one("SELECT id FROM queue.jobs WHERE queue = 'theirs'", &[]).unwrap().get(0);
    for sql in [format!("SELECT queue.cancel({theirs})"), format!("SELECT queue.alter_job({theirs}, priority => 5)")] {
        assert!(!tenant.query_one(&sql, &[]).unwrap().get::<_, bool>(0), "{sql}");
    }
    assert_eq!(sqlstate(&mut tenant, "SELECT * FROM queue.effective_rate('theirs')").as_deref(), Some("42501"));
    assert_eq!(
        count(
            &mut su,
            "SELECT count(*) FROM queue.jobs WHERE queue = 'theirs' AND state = 'pending' AND priority = 0",
            &[]
        ),
        1
    );
    drop(tenant);
    su.batch_execute("DROP OWNED BY api_leaky_tenant; DROP ROLE api_leaky_tenant").ok();
}
