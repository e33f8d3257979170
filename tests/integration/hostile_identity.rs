//! Hostile tenants against the identity rule and read isolation (issue 16, findings 1, 2 and 6).
//! A tenant holds one queue_* role restricted by queue.grant to its queue A; another tenant's
//! queue B must be out of its reach for writes and reads, whatever path its code takes: an index
//! expression evaluated by a DBA's ANALYZE / VACUUM / REINDEX or by autovacuum, a cast or a
//! row-level security policy evaluated by the background worker. On 0.2.0 each of these acted
//! for the outer user (the superuser running the session), so every test here failed.

use crate::common::{await_condition, await_worker_ticks, config, connect, count, new_queue, worker_pid, TestDb};
use crate::hostile::role;
use postgres::{Client, NoTls};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn sqlstate(c: &mut Client, sql: &str) -> Option<String> {
    c.batch_execute(sql).err().map(|e| e.code().map(|s| s.code().to_owned()).unwrap_or_else(|| e.to_string()))
}

fn is_superuser(c: &mut Client, name: &str) -> bool {
    c.query_one("SELECT rolsuper FROM pg_roles WHERE rolname = $1", &[&name]).unwrap().get(0)
}

/// Login role `name`, a member of `member_of`, restricted to `queue` with `privilege`, owning a
/// fresh schema of the same name.
fn tenant(su: &mut Client, name: &str, member_of: &[&str], queue: &str, privilege: &str) -> Client {
    let c = role(su, name, member_of);
    su.batch_execute(&format!(
        "SELECT queue.grant('{queue}', '{name}', '{privilege}');
         DROP SCHEMA IF EXISTS {name} CASCADE;
         CREATE SCHEMA {name} AUTHORIZATION {name};"
    ))
    .unwrap();
    c
}

/// The attacker's trap, `<schema>.attack()`: tries each (name, PL/pgSQL statement) and records in
/// `<schema>.log` its SQLSTATE ('00000' when the call went through), the role it ran as and the
/// backend's pid (pg_stat_activity would not show it another session's backend type). It acts
/// only inside someone else's session (a DBA's ANALYZE, autovacuum, the background worker: where
/// 0.2.0 lent it that session's rights), never in the attacker's own, so that building the table
/// and its index does not set it off.
fn trap_sql(schema: &str, attacker: &str, attempts: &[(&str, String)]) -> String {
    let mut body = String::new();
    for (what, statement) in attempts {
        body.push_str(&format!(
            "BEGIN
                 {statement};
                 INSERT INTO {schema}.log VALUES ('{what}', '00000', current_user, pg_catalog.pg_backend_pid());
             EXCEPTION WHEN OTHERS THEN
                 INSERT INTO {schema}.log VALUES ('{what}', SQLSTATE, current_user, pg_catalog.pg_backend_pid());
             END;
             "
        ));
    }
    format!(
        "CREATE TABLE {schema}.log (what text, state text, acting text, pid integer);
         CREATE FUNCTION {schema}.attack() RETURNS void LANGUAGE plpgsql AS $f$
         BEGIN
             IF session_user OPERATOR(pg_catalog.=) '{attacker}' THEN RETURN; END IF;
             {body}
         END $f$;"
    )
}

/// The trap's log: (what, SQLSTATE, acting role, backend pid).
fn trap_log(su: &mut Client, schema: &str) -> Vec<(String, String, String, i32)> {
    su.query(&format!("SELECT what, state, acting, pid FROM {schema}.log ORDER BY what, state"), &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// Every call in `whats` was attempted (by backend `pid`, when given) and every attempt anywhere
/// was refused with 42501.
fn assert_all_refused(su: &mut Client, schema: &str, whats: &[&str], pid: Option<i32>) {
    let log = trap_log(su, schema);
    for what in whats {
        assert!(
            log.iter().any(|(w, _, _, p)| w == what && pid.is_none_or(|k| *p == k)),
            "the trap never tried {what} (in backend {pid:?}): {log:?}"
        );
    }
    let through: Vec<_> = log.iter().filter(|(_, state, _, _)| state != "42501").collect();
    assert!(through.is_empty(), "calls not refused with 42501 inside a borrowed identity: {through:?}");
}

/// Queue B as its tenant left it: exactly its job `b_job`, pending, and no grant on B to `attacker`.
fn assert_b_untouched(su: &mut Client, b: &str, b_job: i64, attacker: &str) {
    let jobs: Vec<(i64, String)> = su
        .query("SELECT id, state::text FROM queue.jobs WHERE queue = $1 ORDER BY id", &[&b])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(jobs, [(b_job, "pending".to_string())], "queue {b} was changed by the attacker");
    let grants = count(
        su,
        "SELECT count(*) FROM queue.queue_grants g JOIN queue.queues q ON q.id = g.queue_id
          WHERE q.name = $1 AND g.grantee::text = $2",
        &[&b, &attacker],
    );
    assert_eq!(grants, 0, "the attacker granted itself a privilege on {b}");
}

/// A table of `attacker`'s (restricted to a new queue A) whose index expression calls its trap
/// with `attempts(b, b_job)` against another new queue B holding one job. Returns (b, b_job).
fn trapped_index(
    su: &mut Client,
    attacker: &str,
    member_of: &[&str],
    privilege: &str,
    reloptions: &str,
    attempts: impl Fn(&str, i64) -> Vec<(&'static str, String)>,
) -> (String, i64) {
    let a = new_queue(su, "hid_a", "");
    let b = new_queue(su, "hid_b", "");
    let b_job: i64 = su.query_one("SELECT queue.enqueue($1, '{\"tenant\": \"b\"}')", &[&b]).unwrap().get(0);
    let mut evil = tenant(su, attacker, member_of, &a, privilege);
    let attempts = attempts(&b, b_job);
    // Called directly, each is refused: the grant restricts the attacker to A.
    for (what, statement) in &attempts {
        let sql = format!("DO $$ BEGIN {statement}; END $$");
        assert_eq!(sqlstate(&mut evil, &sql).as_deref(), Some("42501"), "{what} was allowed directly");
    }
    let s = attacker;
    evil.batch_execute(&format!(
        "{trap}
         CREATE FUNCTION {s}.key(integer) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS
             $f$ BEGIN PERFORM {s}.attack(); RETURN $1; END $f$;
         CREATE TABLE {s}.t (id integer) {reloptions};
         CREATE INDEX t_key ON {s}.t ({s}.key(id));
         INSERT INTO {s}.t SELECT generate_series(1, 3);",
        trap = trap_sql(s, attacker, &attempts)
    ))
    .unwrap();
    assert!(trap_log(su, s).is_empty(), "the trap went off in the attacker's own session");
    (b, b_job)
}

fn producer_attempts(b: &str, b_job: i64) -> Vec<(&'static str, String)> {
    vec![
        ("enqueue", format!("PERFORM queue.enqueue('{b}', '{{\"forged\": true}}')")),
        // A job of a queue the caller does not see is answered as unknown (false): counted as refused.
        ("cancel", format!("IF NOT queue.cancel({b_job}) THEN RAISE insufficient_privilege; END IF")),
    ]
}

fn admin_attempts(attacker: &'static str) -> impl Fn(&str, i64) -> Vec<(&'static str, String)> {
    move |b, _| {
        vec![
            ("grant", format!("PERFORM queue.grant('{b}', '{attacker}', 'admin')")),
            ("claim", format!("PERFORM queue.claim('{b}', batch => 10)")),
        ]
    }
}

/// ANALYZE, VACUUM ANALYZE and REINDEX by a superuser, as a DBA runs them.
fn maintain(su: &mut Client, table: &str) {
    for sql in [format!("ANALYZE {table}"), format!("VACUUM ANALYZE {table}"), format!("REINDEX TABLE {table}")] {
        su.batch_execute(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Finding 1: index expressions run by a DBA's maintenance run as the table's owner inside the
/// DBA's session; a producer's cannot enqueue into or cancel in another tenant's queue.
#[test]
fn a_producers_index_expression_cannot_act_on_another_queue_during_a_dbas_maintenance() {
    let mut su = connect();
    let attacker = "hid_analyze_producer";
    let (b, b_job) = trapped_index(&mut su, attacker, &["queue_producer"], "produce", "", producer_attempts);
    maintain(&mut su, &format!("{attacker}.t"));
    let dba = su.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    assert_all_refused(&mut su, attacker, &["enqueue", "cancel"], Some(dba));
    assert_b_untouched(&mut su, &b, b_job, attacker);
}

/// Finding 1: the same for an admin restricted to A: it cannot grant itself B or claim B's jobs.
#[test]
fn an_admins_index_expression_cannot_grant_or_claim_during_a_dbas_maintenance() {
    let mut su = connect();
    let attacker = "hid_analyze_admin";
    let (b, b_job) = trapped_index(&mut su, attacker, &["queue_admin"], "admin", "", admin_attempts(attacker));
    maintain(&mut su, &format!("{attacker}.t"));
    let dba = su.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    assert_all_refused(&mut su, attacker, &["grant", "claim"], Some(dba));
    assert_b_untouched(&mut su, &b, b_job, attacker);
}

/// Finding 1, with nobody acting: autovacuum analyzes the table (it evaluates the index
/// expression as the owner inside its own superuser session).
#[test]
fn an_index_expression_cannot_act_on_another_queue_when_autovacuum_analyzes_its_table() {
    let mut su = connect();
    let attacker = "hid_autovacuum_admin";
    let (b, b_job) = trapped_index(
        &mut su,
        attacker,
        &["queue_admin"],
        "admin",
        "WITH (autovacuum_analyze_threshold = 0, autovacuum_analyze_scale_factor = 0)",
        |b, b_job| {
            let mut all = producer_attempts(b, b_job);
            all.extend(admin_attempts("hid_autovacuum_admin")(b, b_job));
            all
        },
    );
    // The launcher visits each database once per naptime (scripts/test sets a short one).
    let naptime: String =
        su.query_one("SELECT setting FROM pg_settings WHERE name = 'autovacuum_naptime'", &[]).unwrap().get(0);
    let limit = Duration::from_secs(60.max(naptime.parse::<u64>().unwrap() * 3 / 2));
    let (log, table) = (format!("SELECT count(*) FROM {attacker}.log"), format!("{attacker}.t"));
    let analyzes = |su: &mut Client| -> (i64, i64) {
        let r = su
            .query_one(
                "SELECT autoanalyze_count, analyze_count FROM pg_stat_user_tables WHERE relid = $1::text::regclass",
                &[&table],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    await_condition("autovacuum to analyze the table", limit, || {
        count(&mut su, &log, &[]) > 0 && analyzes(&mut su).0 > 0
    });
    // Only autovacuum evaluated the index expression: nobody analyzed the table by hand.
    assert_eq!(analyzes(&mut su).1, 0);
    assert_all_refused(&mut su, attacker, &["enqueue", "cancel", "grant", "claim"], None);
    assert_b_untouched(&mut su, &b, b_job, attacker);
}

/// Finding 1, the superuser escalation: the worker reads a spread refresh's source as its owner;
/// a cast in it tried to create a second refresh (recorded with the worker's superuser as owner on
/// 0.2.0, whose read then ran the cast as superuser) and to make its author a superuser.
#[test]
fn a_cast_in_a_refresh_source_cannot_act_with_the_workers_rights() {
    let mut su = connect();
    let a = new_queue(&mut su, "hid_cast", "");
    let attacker = "hid_cast_admin";
    let mut evil = tenant(&mut su, attacker, &["queue_admin"], &a, "admin");
    let s = attacker;
    let (first, second) = (format!("hid_first_{a}"), format!("hid_second_{a}"));
    let trap = trap_sql(
        s,
        attacker,
        &[
            (
                "spread_refresh",
                format!("PERFORM queue.spread_refresh('{second}', '{a}', '{s}.t'::regclass, 'key', '1 second')"),
            ),
            ("superuser", format!("ALTER ROLE {attacker} SUPERUSER")),
        ],
    );
    evil.batch_execute(&format!(
        "{trap}
         CREATE TYPE {s}.k AS ENUM ('k1', 'k2', 'k3');
         CREATE FUNCTION {s}.k_text({s}.k) RETURNS text LANGUAGE plpgsql IMMUTABLE AS
             $f$ BEGIN PERFORM {s}.attack(); RETURN pg_catalog.format('%s', $1); END $f$;
         CREATE CAST ({s}.k AS text) WITH FUNCTION {s}.k_text({s}.k);
         CREATE TABLE {s}.t (key {s}.k PRIMARY KEY);
         INSERT INTO {s}.t VALUES ('k1'), ('k2'), ('k3');
         CREATE INDEX ON {s}.t (queue.slot_fraction((key)::text));"
    ))
    .unwrap();
    evil.execute(
        "SELECT queue.spread_refresh($1, $2, $3::text::regclass, 'key', '1 second')",
        &[&first, &a, &format!("{s}.t")],
    )
    .unwrap();
    let worker = worker_pid(&mut su).expect("the database's background worker");
    let log = format!("SELECT count(DISTINCT what) FROM {s}.log WHERE pid = $1");
    await_condition("the worker to read the source", Duration::from_secs(30), || count(&mut su, &log, &[&worker]) == 2);
    // On 0.2.0 the second refresh's first read came a tick later: give it time.
    await_worker_ticks(&mut su, 5);
    let escalated = is_superuser(&mut su, attacker);
    let refreshes: Vec<(String, String, bool)> = su
        .query(
            "SELECT r.name, r.owner::text, o.rolsuper FROM queue.spread_refreshes r JOIN pg_roles o ON o.oid = r.owner
              WHERE r.queue = $1 ORDER BY r.name",
            &[&a],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    // Clean up before judging, a forged refresh included (it would keep running the cast).
    evil.execute("SELECT queue.drop_spread_refresh($1, if_exists => true)", &[&first]).unwrap();
    su.execute("SELECT queue.drop_spread_refresh($1, if_exists => true)", &[&second]).unwrap();
    su.execute(&format!("ALTER ROLE {attacker} NOSUPERUSER"), &[]).unwrap();
    assert!(!escalated, "the restricted admin became a superuser");
    assert_eq!(refreshes, [(first.clone(), attacker.to_string(), false)], "a refresh was forged in the worker");
    assert_all_refused(&mut su, s, &["spread_refresh", "superuser"], Some(worker));
}

/// Finding 1: a row-level security policy on a backfill's source, evaluated by the worker, cannot
/// claim another tenant's jobs for a role that claim refuses directly; the step fails and says so.
#[test]
fn a_policy_on_a_backfill_source_cannot_claim_another_tenants_jobs() {
    let mut su = connect();
    let a = new_queue(&mut su, "hid_rls_a", "");
    let b = new_queue(&mut su, "hid_rls_b", "");
    su.execute(
        "SELECT count(*) FROM queue.enqueue_many($1, ARRAY['{\"card\": \"4111\"}', '{\"card\": \"4222\"}', '{\"card\": \"4333\"}']::jsonb[])",
        &[&b],
    )
    .unwrap();
    let attacker = "hid_rls_admin";
    let mut evil = tenant(&mut su, attacker, &["queue_admin"], &a, "admin");
    assert_eq!(sqlstate(&mut evil, &format!("SELECT queue.claim('{b}', batch => 10)")).as_deref(), Some("42501"));
    let s = attacker;
    evil.batch_execute(&format!(
        "CREATE FUNCTION {s}.peek() RETURNS boolean LANGUAGE plpgsql AS $f$
         BEGIN
             IF session_user OPERATOR(pg_catalog.<>) '{attacker}' THEN
                 PERFORM queue.claim('{b}', batch => 10);
             END IF;
             RETURN true;
         END $f$;
         CREATE TABLE {s}.src (id bigint PRIMARY KEY);
         INSERT INTO {s}.src SELECT generate_series(1, 20);
         ALTER TABLE {s}.src ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
         CREATE POLICY peek ON {s}.src USING ({s}.peek());"
    ))
    .unwrap();
    let name = format!("hid_rls_{a}");
    evil.execute(
        "SELECT queue.backfill_start($1, $2, $3::text::regclass, batch_size => 5, per_second => 100)",
        &[&name, &a, &format!("{s}.src")],
    )
    .unwrap();
    // The worker's first step: it fails (or, on 0.2.0, claims B's jobs and enqueues ranges).
    await_condition("the worker to step the backfill", Duration::from_secs(30), || {
        count(
            &mut su,
            "SELECT count(*) FROM queue.backfills WHERE name = $1 AND (last_error IS NOT NULL OR ranges_enqueued > 0)",
            &[&name],
        ) == 1
            || count(&mut su, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state = 'pending'", &[&b]) < 3
    });
    let row = su
        .query_one("SELECT last_error, ranges_enqueued::bigint FROM queue.backfills WHERE name = $1", &[&name])
        .unwrap();
    let (error, ranges): (Option<String>, i64) = (row.get(0), row.get(1));
    let error = error.unwrap_or_default();
    let pending = count(&mut su, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state = 'pending'", &[&b]);
    evil.execute("SELECT queue.backfill_cancel($1)", &[&name]).unwrap();
    assert_eq!(pending, 3, "the other tenant's jobs were claimed by the policy");
    assert!(error.contains("security-restricted operation"), "the backfill recorded: {error}");
    assert_eq!(ranges, 0, "a source that could not be read was enqueued");
}

fn names(c: &mut Client, sql: &str) -> BTreeSet<String> {
    c.query(sql, &[]).unwrap_or_else(|e| panic!("{sql}: {e}")).iter().map(|r| r.get(0)).collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Finding 2: a role restricted to queue A reads A only, in every view, table and function;
/// pg_monitor reads every queue's figures but no job; unrestricted roles read every queue.
#[test]
fn a_restricted_role_reads_only_its_queues_everywhere() {
    let db = TestDb::new("hid_read");
    let mut su = db.connect();
    su.batch_execute(
        "CREATE TABLE src (id bigint PRIMARY KEY);
         INSERT INTO src SELECT generate_series(1, 10);
         CREATE INDEX ON src (queue.slot_fraction((id)::text));",
    )
    .unwrap();
    for q in ["a", "b"] {
        // A failed job of a group (group_state), a running one (workers), a pending one, a rate
        // schedule, a schedule, a spread refresh and a backfill, in each queue.
        su.batch_execute(&format!(
            "SELECT queue.create_queue('{q}', lease => '1 hour');
             SELECT queue.enqueue('{q}', '{{\"n\": 1}}', group_key => 'g');
             SELECT queue.enqueue('{q}', '{{\"n\": 2}}');
             SELECT queue.fail(c.id, c.lease_token, 'boom')
               FROM queue.claim('{q}', 'worker_{q}', batch => 10) c WHERE c.payload->>'n' = '1';
             SELECT queue.enqueue('{q}', '{{\"n\": 3}}');
             SELECT queue.set_rate_schedule('{q}', 100, 200);
             SELECT queue.schedule('schedule_{q}', '0 0 1 1 *', '{q}');
             SELECT queue.spread_refresh('refresh_{q}', '{q}', 'src', 'id', '1 hour');
             SELECT queue.backfill_start('backfill_{q}', '{q}', 'src', per_second => 1);"
        ))
        .unwrap();
    }
    let mut producer = role(&mut su, "hid_read_producer", &["queue_producer"]);
    let mut worker = role(&mut su, "hid_read_worker", &["queue_worker"]);
    let mut admin = role(&mut su, "hid_read_admin", &["queue_admin"]);
    let mut b_tenant = role(&mut su, "hid_read_b_tenant", &["queue_producer"]);
    let mut free = role(&mut su, "hid_read_free", &["queue_producer"]);
    let mut monitor = role(&mut su, "hid_read_monitor", &["pg_monitor"]);
    su.batch_execute(
        "SELECT queue.grant('a', 'hid_read_producer', 'produce');
         SELECT queue.grant('a', 'hid_read_worker', 'consume');
         SELECT queue.grant('a', 'hid_read_admin', 'admin');
         SELECT queue.grant('b', 'hid_read_b_tenant', 'produce');",
    )
    .unwrap();

    // What each table and view holds, as the superuser sees it: both queues everywhere.
    let both = set(&["a", "b"]);
    let per_queue = [
        "SELECT DISTINCT queue FROM queue.jobs",
        "SELECT queue FROM queue.stats",
        "SELECT DISTINCT queue FROM queue.workers",
        "SELECT name FROM queue.queues",
        "SELECT DISTINCT queue FROM queue.groups",
        "SELECT DISTINCT queue FROM queue.grants",
        "SELECT queue FROM queue.rate_schedules",
    ];
    let admin_views = [
        "SELECT queue FROM queue.schedules",
        "SELECT queue FROM queue.spread_refreshes",
        "SELECT queue FROM queue.backfills",
    ];
    for sql in per_queue {
        assert_eq!(names(&mut su, sql), both, "superuser: {sql}");
    }
    for sql in admin_views {
        assert_eq!(names(&mut su, sql), both, "superuser: {sql}");
    }
    let metrics = |c: &mut Client| -> String { c.query_one("SELECT queue.metrics()", &[]).unwrap().get(0) };
    let m = metrics(&mut su);
    assert!(m.contains("queue=\"a\"") && m.contains("queue=\"b\""), "superuser's metrics: {m}");

    // Restricted to A: A only.
    for (who, c) in [("producer", &mut producer), ("worker", &mut worker), ("admin", &mut admin)] {
        for sql in per_queue {
            assert_eq!(names(c, sql), set(&["a"]), "{who} restricted to a: {sql}");
        }
        // The tables behind those views, keyed by internal ids, are not theirs to read.
        for table in ["group_state", "queue_grants", "queue_rate_schedules", "dropped_queues"] {
            let sql = format!("SELECT count(*) FROM queue.{table}");
            assert_eq!(sqlstate(c, &sql).as_deref(), Some("42501"), "{who}: {sql}");
        }
        let m = metrics(c);
        assert!(m.contains("queue=\"a\""), "{who}'s metrics miss its own queue: {m}");
        assert!(!m.contains("queue=\"b\""), "{who}'s metrics show queue b: {m}");
        assert_eq!(sqlstate(c, "SELECT * FROM queue.histogram('b')").as_deref(), Some("42501"), "{who}: histogram");
        assert_eq!(sqlstate(c, "SELECT * FROM queue.histogram('a')"), None, "{who}: histogram of its own queue");
    }
    for sql in admin_views {
        assert_eq!(names(&mut admin, sql), set(&["a"]), "admin restricted to a: {sql}");
    }
    // The other tenant, restricted to B, sees B's jobs only.
    assert_eq!(names(&mut b_tenant, "SELECT DISTINCT queue FROM queue.jobs"), set(&["b"]));

    // pg_monitor: every queue's figures, never a job.
    assert_eq!(names(&mut monitor, "SELECT queue FROM queue.stats"), both, "pg_monitor: queue.stats");
    assert_eq!(names(&mut monitor, "SELECT DISTINCT queue FROM queue.workers"), both, "pg_monitor: queue.workers");
    let m = metrics(&mut monitor);
    assert!(m.contains("queue=\"a\"") && m.contains("queue=\"b\""), "pg_monitor's metrics: {m}");
    assert_eq!(sqlstate(&mut monitor, "SELECT count(*) FROM queue.jobs").as_deref(), Some("42501"));

    // A queue role without any grant is unrestricted: both queues.
    for sql in
        ["SELECT DISTINCT queue FROM queue.jobs", "SELECT queue FROM queue.stats", "SELECT name FROM queue.queues"]
    {
        assert_eq!(names(&mut free, sql), both, "unrestricted producer: {sql}");
    }
    let m = metrics(&mut free);
    assert!(m.contains("queue=\"a\"") && m.contains("queue=\"b\""), "unrestricted producer's metrics: {m}");
}

/// Finding 6: with PostgreSQL's default JIT settings, no read path is JIT compiled, neither its
/// own statement nor the statements queue_ext runs inside it (on a server without JIT, the
/// planner's estimate stays under jit_above_cost).
#[test]
fn read_paths_are_not_jit_compiled_with_stock_settings() {
    let db = TestDb::new("hid_jit");
    let notices: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = notices.clone();
    let mut c = config("postgres")
        .dbname(&db.name)
        .notice_callback(move |n| sink.lock().unwrap().push(n.message().to_owned()))
        .connect(NoTls)
        .unwrap();
    for i in 0..5 {
        c.batch_execute(&format!(
            "SELECT queue.create_queue('jit_{i}', lease => '1 hour');
             SELECT count(*) FROM queue.enqueue_many('jit_{i}',
                 (SELECT array_agg(jsonb_build_object('n', g)) FROM generate_series(1, 200) g));
             SELECT count(*) FROM queue.enqueue_many('jit_{i}',
                 (SELECT array_agg(jsonb_build_object('n', g)) FROM generate_series(1, 50) g), group_key => 'g');
             SELECT count(queue.complete(id, lease_token)) FROM queue.claim('jit_{i}', 'w', batch => 20);
             SELECT count(*) FROM queue.claim('jit_{i}', 'w{i}', batch => 5);"
        ))
        .unwrap();
    }
    c.batch_execute(
        "SET jit = on; SET jit_above_cost = 100000; RESET jit_inline_above_cost; RESET jit_optimize_above_cost",
    )
    .unwrap();
    let jit_available: bool = c.query_one("SELECT pg_jit_available()", &[]).unwrap().get(0);
    let statements = [
        "SELECT * FROM queue.stats",
        "SELECT * FROM queue.workers",
        "SELECT * FROM queue.jobs WHERE queue = 'jit_0' LIMIT 10",
        "SELECT queue.metrics()",
        "SELECT * FROM queue.histogram('jit_0')",
    ];
    for sql in statements {
        let plan: serde_json::Value =
            c.query_one(&format!("EXPLAIN (ANALYZE, FORMAT JSON) {sql}"), &[]).unwrap().get(0);
        let top = &plan[0];
        assert!(top.get("JIT").is_none(), "{sql} was JIT compiled: {}", top["JIT"]);
        if !jit_available {
            let cost = top["Plan"]["Total Cost"].as_f64().unwrap();
            assert!(cost < 100000.0, "{sql}: the planner's estimate {cost} passes jit_above_cost");
        }
    }
    // The statements inside: auto_explain shows each nested plan, with its JIT section if any.
    c.batch_execute(
        "LOAD 'auto_explain';
         SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on;
         SET auto_explain.log_nested_statements = on; SET auto_explain.log_format = json;
         SET auto_explain.log_level = notice;",
    )
    .unwrap();
    for sql in statements {
        notices.lock().unwrap().clear();
        c.batch_execute(sql).unwrap();
        let plans: Vec<serde_json::Value> = notices
            .lock()
            .unwrap()
            .iter()
            .filter_map(|m| {
                m.find('{').filter(|_| m.starts_with("duration:")).map(|i| serde_json::from_str(&m[i..]).unwrap())
            })
            .collect();
        assert!(!plans.is_empty(), "auto_explain showed no plan of {sql}");
        for p in &plans {
            assert!(p.get("JIT").is_none(), "{sql}: a statement was JIT compiled: {}", p["Query Text"]);
        }
    }
}
