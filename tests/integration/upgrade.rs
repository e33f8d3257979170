//! Upgrading from every released version (their install scripts are kept in sql/released/; scripts/test
//! puts them where PostgreSQL finds them): 0.1.0 filled with jobs in every state, updated to 0.2.0
//! where 0.2.0's kinds of objects are added, then to the current version; and a database that
//! installed 0.2.0 itself. Each keeps every job and object, and the result is exactly a fresh
//! install (catalog snapshot, tests/upgrade/schema_snapshot.sql).

use crate::common::{await_condition, await_worker_ticks, config, connect, count, TestDb};
use postgres::{Client, NoTls};
use std::collections::BTreeSet;
use std::time::Duration;
use uuid::Uuid;

/// Every job as queue.jobs shows it, one text line each (the columns of 0.1.0's table).
fn jobs(c: &mut Client) -> Vec<String> {
    c.query(
        "SELECT format('%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s', id, queue, state, payload, priority,
                       run_at, group_key, dedupe_key, attempts, max_attempts, lease_token, lease_expires_at, locked_by,
                       last_error, enqueued_at, first_claimed_at, claimed_at, finished_at)
           FROM queue.jobs ORDER BY id",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn snapshot(c: &mut Client) -> Vec<String> {
    let sql = include_str!("../upgrade/schema_snapshot.sql");
    c.query(sql, &[]).unwrap().iter().map(|r| r.get(0)).collect()
}

/// A database with queue_ext at `version`, without its background worker getting in the way.
fn database_at(prefix: &str, version: &str) -> (TestDb, Client) {
    let db = TestDb::without_extension(prefix);
    let mut c = db.connect();
    c.batch_execute(&format!("CREATE EXTENSION queue_ext VERSION '{version}'")).unwrap();
    (db, c)
}

#[test]
fn upgrading_from_0_1_0_keeps_every_job_and_matches_a_fresh_install() {
    let (db, mut c) = database_at("upgrade", "0.1.0");
    // The 0.1.0 functions now answer with what to do.
    let err = c.batch_execute("SELECT queue.create_queue('nope')").unwrap_err();
    let e = err.as_db_error().unwrap();
    assert_eq!(e.code().code(), "55000", "{err}");
    assert_eq!(e.hint(), Some("run ALTER EXTENSION queue_ext UPDATE"));

    // Jobs in every state, written as 0.1.0 wrote them.
    let token = Uuid::new_v4();
    c.batch_execute(&format!(
        "INSERT INTO queue.queues (name, max_attempts, rate_per_second, retention) VALUES ('mail', 3, 100, '7 days'), ('sync', 25, NULL, '1 day');
         INSERT INTO queue.rate_schedules (queue, timezone, peak_days, peak_start, peak_end, peak_rate, off_peak_rate)
              VALUES ('mail', 'Europe/Paris', '{{1,2,3,4,5}}', 9, 17, 10, 100);
         INSERT INTO queue.group_state (queue, group_key, consecutive_failures, eligible_at) VALUES ('sync', 'acme', 2, now() - interval '1 minute');
         INSERT INTO queue.jobs (queue, state, payload, priority, run_at, group_key, dedupe_key, attempts, max_attempts,
                                 lease_token, lease_expires_at, locked_by, last_error, enqueued_at, first_claimed_at,
                                 claimed_at, finished_at) VALUES
           ('mail', 'pending', '{{\"n\": 1}}', 5, now() - interval '1 minute', NULL, NULL, 0, 3, NULL, NULL, NULL, NULL, now() - interval '1 minute', NULL, NULL, NULL),
           ('mail', 'pending', '{{\"n\": 2}}', 0, now() + interval '2 seconds', 'acme', 'k-scheduled', 1, 3, NULL, NULL, 'w1', 'boom', now() - interval '1 minute', now() - interval '30 seconds', now() - interval '30 seconds', NULL),
           ('mail', 'running', '{{\"n\": 3}}', 0, now() - interval '1 minute', 'beta', 'k-running', 1, 3, '{token}', now() + interval '1 hour', 'w2', NULL, now() - interval '1 minute', now() - interval '10 seconds', now() - interval '10 seconds', NULL),
           ('mail', 'running', '{{\"n\": 4}}', 0, now() - interval '1 minute', NULL, NULL, 1, 3, '{token}', now() + interval '1 hour', 'w2', NULL, now() - interval '1 minute', now() - interval '10 seconds', now() - interval '10 seconds', NULL),
           ('mail', 'done', '{{\"n\": 5}}', 0, now() - interval '1 hour', NULL, 'k-done', 1, 3, NULL, NULL, 'w1', NULL, now() - interval '1 hour', now() - interval '50 minutes', now() - interval '50 minutes', now() - interval '49 minutes'),
           ('mail', 'dead', '{{\"n\": 6}}', 0, now() - interval '1 hour', NULL, 'k-dead', 3, 3, NULL, NULL, 'w1', 'gave up', now() - interval '1 hour', now() - interval '50 minutes', now() - interval '40 minutes', now() - interval '40 minutes'),
           ('sync', 'cancelled', '{{\"n\": 7}}', 0, now() - interval '1 hour', 'acme', NULL, 0, 25, NULL, NULL, NULL, NULL, now() - interval '1 hour', NULL, NULL, now() - interval '30 minutes'),
           ('sync', 'pending', '{{\"n\": 8}}', 0, now() - interval '5 minutes', 'acme', 'k-pending', 0, 25, NULL, NULL, NULL, NULL, now() - interval '5 minutes', NULL, NULL, NULL);
         CREATE TABLE signups (id int, email text);
         -- (0.1.0's CREATE TRIGGER check calls a 0.1.0 function, which this library no longer has.)
         SET session_replication_role = replica;
         CREATE TRIGGER welcome AFTER INSERT ON signups FOR EACH ROW EXECUTE FUNCTION queue.enqueue_trigger('mail', 'columns=email');
         RESET session_replication_role;"
    ))
    .unwrap();
    let before = jobs(&mut c);
    assert_eq!(before.len(), 8);
    let max_id: i64 = c.query_one("SELECT max(id) FROM queue.jobs", &[]).unwrap().get(0);

    // The chain: 0.1.0 -> 0.2.0, where a 0.2.0 object is made as 0.2.0 stored it (a schedule that
    // will not fire during the test; this library's functions refuse until the update), then ->
    // the current version.
    c.batch_execute("ALTER EXTENSION queue_ext UPDATE TO '0.2.0'").unwrap();
    assert_eq!(jobs(&mut c), before, "0.1.0 -> 0.2.0 changed the jobs");
    c.batch_execute(
        "INSERT INTO queue.schedules (name, cron, queue, payload, next_fire_at, next_run_at, owner)
              VALUES ('yearly', '0 0 1 1 *', 'mail', '{\"kind\": \"yearly\"}', date_trunc('year', now()) + interval '1 year',
                      date_trunc('year', now()) + interval '1 year', current_user::regrole);",
    )
    .unwrap();
    let schedules_before: Vec<String> = c
        .query("SELECT format('%s|%s|%s|%s|%s', name, cron, queue, payload, next_fire_at) FROM queue.schedules", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(schedules_before.len(), 1);

    c.batch_execute("ALTER EXTENSION queue_ext UPDATE").unwrap();
    let schedules_after: Vec<String> = c
        .query("SELECT format('%s|%s|%s|%s|%s', name, cron, queue, payload, next_fire_at) FROM queue.schedules", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(schedules_after, schedules_before, "the 0.2.0 schedule was not kept");

    let version: String =
        c.query_one("SELECT extversion FROM pg_extension WHERE extname = 'queue_ext'", &[]).unwrap().get(0);
    assert_eq!(version, env!("CARGO_PKG_VERSION"));

    // Nothing lost, nothing duplicated, nothing changed.
    assert_eq!(jobs(&mut c), before);
    // Running jobs complete with the tokens their workers hold.
    let ids: Vec<i64> = c
        .query("SELECT id FROM queue.jobs WHERE state = 'running' ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let done: Vec<i64> = c
        .query("SELECT * FROM queue.complete_many($1, ARRAY[$2]::uuid[])", &[&ids, &token])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(done.len(), 2, "running jobs did not complete with their old token");
    // Dedupe keys of live jobs still hold; those of finished jobs are free.
    let held: i64 = c.query_one("SELECT queue.enqueue('mail', '{}', dedupe_key => 'k-scheduled')", &[]).unwrap().get(0);
    assert!(held <= max_id, "the dedupe key of the scheduled job was lost");
    let fresh: i64 = c.query_one("SELECT queue.enqueue('mail', '{}', dedupe_key => 'k-done')", &[]).unwrap().get(0);
    assert!(fresh > max_id, "ids must go on from where 0.1.0 left them");
    // The dead job can be retried, the pending ones are claimable, the scheduled one comes due.
    let dead: i64 = c.query_one("SELECT id FROM queue.jobs WHERE state = 'dead'", &[]).unwrap().get(0);
    assert!(c.query_one("SELECT queue.retry($1::bigint)", &[&dead]).unwrap().get::<_, bool>(0));
    let mut claimed = BTreeSet::new();
    await_condition("every pending job of the upgrade to be claimable", Duration::from_secs(30), || {
        for q in ["mail", "sync"] {
            for r in c.query("SELECT id FROM queue.claim($1, batch => 10)", &[&q]).unwrap() {
                claimed.insert(r.get::<_, i64>(0));
            }
        }
        claimed.len() >= 5 // n=1, n=2 (scheduled), n=6 (retried), n=8, and the new k-done job
    });
    // The user's trigger, made under 0.1.0, now runs the 0.2.0 code.
    c.batch_execute("INSERT INTO signups VALUES (1, 'ada@example.com')").unwrap();
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM queue.jobs WHERE payload->'new'->>'email' = 'ada@example.com'", &[]),
        1
    );
    // The rate schedule and group state came along, keyed by the queue's new id.
    let peak: Option<bool> =
        c.query_one("SELECT peak FROM queue.effective_rate('mail', '2026-11-23 10:00+00')", &[]).unwrap().get(0);
    assert_eq!(peak, Some(true));
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.group_state", &[]), 1);
    // The background worker serves the upgraded database.
    await_worker_ticks(&mut c, 2);

    assert_matches_a_fresh_install(&mut c);
    drop(db);
}

/// The upgraded database's catalog is exactly a fresh install's.
fn assert_matches_a_fresh_install(c: &mut Client) {
    let fresh_db = TestDb::without_extension("upgrade_fresh");
    let mut f = fresh_db.connect();
    f.batch_execute("CREATE EXTENSION queue_ext").unwrap();
    let (upgraded, installed) = (snapshot(c), snapshot(&mut f));
    let only_upgraded: Vec<&String> = upgraded.iter().filter(|l| !installed.contains(l)).collect();
    let only_installed: Vec<&String> = installed.iter().filter(|l| !upgraded.contains(l)).collect();
    assert!(
        only_upgraded.is_empty() && only_installed.is_empty(),
        "the upgraded schema differs from a fresh install:\nonly after the upgrade:\n{}\nonly in a fresh install:\n{}",
        only_upgraded.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"),
        only_installed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );
}

/// One text line per object a 0.2.0 user makes besides jobs, as the current version reads them.
fn objects(c: &mut Client) -> Vec<String> {
    c.query(
        "SELECT 'schedule ' || format('%s|%s|%s|%s|%s', name, cron, queue, payload, next_fire_at) FROM queue.schedules
         UNION ALL SELECT 'refresh ' || format('%s|%s|%s|%s', name, queue, source, period) FROM queue.spread_refreshes
         UNION ALL SELECT 'backfill ' || format('%s|%s|%s|%s', name, queue, source, per_second) FROM queue.backfills
         UNION ALL SELECT 'grant ' || format('%s|%s|%s', queue_id, grantee, privilege) FROM queue.queue_grants g
         ORDER BY 1",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// A database that installed 0.2.0 itself (from the copy in sql/released/, not through 0.1.0)
/// upgrades with everything its users made, and to exactly a fresh install.
#[test]
fn upgrading_a_0_2_0_install_keeps_its_jobs_and_objects_and_matches_a_fresh_install() {
    let (db, mut c) = database_at("upgrade020", "0.2.0");
    let role = format!("{}_producer", db.name);
    // This library's functions answer with what to do until the update has run.
    let err = c.batch_execute("SELECT queue.create_queue('nope')").unwrap_err();
    let e = err.as_db_error().unwrap();
    assert_eq!(e.code().code(), "55000", "{err}");
    assert_eq!(e.hint(), Some("run ALTER EXTENSION queue_ext UPDATE"));
    // What 0.2.0's functions would have written: two queues, jobs ready, running (claimed under
    // one token), scheduled with a dedupe key, a schedule, a paused spread refresh, a paused
    // backfill and a grant.
    let token = Uuid::new_v4();
    c.batch_execute(&format!(
        "CREATE TABLE accounts (id bigint PRIMARY KEY);
         INSERT INTO accounts SELECT generate_series(1, 50);
         CREATE INDEX ON accounts (queue.slot_fraction((id)::text));
         INSERT INTO queue.queues (name) VALUES ('mail');
         INSERT INTO queue.queues (name, max_running) VALUES ('sync', 4);
         INSERT INTO queue.running (queue_id, attempts, max_attempts, run_at, enqueued_at, payload, first_claimed_at,
                                    claimed_at, locked_by, lease_token, lease_expires_at, claimed_by)
              SELECT q.id, 1, 25, now(), now(), jsonb_build_object('n', g), now(), now(), 'w', '{token}',
                     now() + interval '1 hour', (SELECT oid FROM pg_roles WHERE rolname = current_user)
                FROM queue.queues q, generate_series(1, 2) g WHERE q.name = 'mail';
         INSERT INTO queue.ready (queue_id, max_attempts, run_at, enqueued_at, payload)
              SELECT q.id, 25, now(), now(), jsonb_build_object('n', g) FROM queue.queues q, generate_series(3, 6) g
               WHERE q.name = 'mail';
         WITH j AS (INSERT INTO queue.scheduled (queue_id, max_attempts, run_at, enqueued_at, payload, dedupe_key)
                         SELECT id, 25, now() + interval '1 day', now(), '{{\"later\": true}}', 'k-later'
                           FROM queue.queues WHERE name = 'mail' RETURNING id, queue_id)
         INSERT INTO queue.dedupe (queue_id, dedupe_key, job_id) SELECT queue_id, 'k-later', id FROM j;
         INSERT INTO queue.schedules (name, cron, queue, payload, next_fire_at, next_run_at, owner)
              VALUES ('yearly', '0 0 1 1 *', 'mail', '{{\"kind\": \"yearly\"}}', date_trunc('year', now()) + interval '1 year',
                      date_trunc('year', now()) + interval '1 year', current_user::regrole);
         INSERT INTO queue.refreshes (name, queue, source, key_column, period, payload, paused, enqueued_until, owner)
              VALUES ('accounts', 'sync', 'accounts', 'id', '1 day', '{{\"op\": \"sync\"}}', true, now(), current_user::regrole);
         INSERT INTO queue.backfill_runs (name, queue, source, key_column, batch_size, per_second, lookahead, group_key,
                                          state, owner)
              VALUES ('reindex', 'sync', 'accounts', 'id', 10, 0.001, '10 seconds', 'backfill:reindex', 'paused',
                      current_user::regrole);
         CREATE ROLE {role} IN ROLE queue_producer;
         INSERT INTO queue.queue_grants (queue_id, grantee, privilege)
              SELECT id, '{role}', 'produce' FROM queue.queues WHERE name = 'mail';"
    ))
    .unwrap();
    let (jobs_before, objects_before) = (jobs(&mut c), objects(&mut c));
    assert_eq!(objects_before.len(), 4, "{objects_before:?}");

    c.batch_execute("ALTER EXTENSION queue_ext UPDATE").unwrap();
    let version: String =
        c.query_one("SELECT extversion FROM pg_extension WHERE extname = 'queue_ext'", &[]).unwrap().get(0);
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    assert_eq!(jobs(&mut c), jobs_before, "the upgrade changed the jobs");
    assert_eq!(objects(&mut c), objects_before, "the upgrade changed the schedules, refreshes, backfills or grants");
    // The running jobs complete with their tokens; the dedupe key of the scheduled job holds.
    let done = count(
        &mut c,
        "SELECT count(*) FROM (SELECT queue.complete(id, lease_token) FROM queue.jobs WHERE state = 'running') c",
        &[],
    );
    assert_eq!(done, 2);
    let later: i64 = c.query_one("SELECT id FROM queue.jobs WHERE dedupe_key = 'k-later'", &[]).unwrap().get(0);
    let again: i64 = c.query_one("SELECT queue.enqueue('mail', '{}', dedupe_key => 'k-later')", &[]).unwrap().get(0);
    assert_eq!(again, later, "the dedupe key of the scheduled job was lost");
    // The grant still confines its role.
    c.batch_execute(&format!("SET ROLE {role}")).unwrap();
    let err = c.query_one("SELECT queue.enqueue('sync', '{}')", &[]).unwrap_err();
    assert_eq!(err.as_db_error().map(|e| e.code().code()), Some("42501"), "{err}");
    c.batch_execute("RESET ROLE").unwrap();
    // Code written for 0.2.0 keeps working: every renamed function answers under its old name.
    c.batch_execute(
        "SELECT queue.pause('sync'); SELECT queue.resume('sync');
         SELECT queue.backfill_resume('reindex'); SELECT queue.backfill_pause('reindex');
         SELECT queue.backfill_alter('reindex', per_second => 0.002);
         SELECT queue.backfill_cancel('reindex');
         SELECT queue.unschedule('yearly');
         SELECT queue.drop_spread_refresh('accounts');",
    )
    .unwrap();
    let next: Option<std::time::SystemTime> =
        c.query_one("SELECT queue.schedule('again', '0 0 1 1 *', 'mail')", &[]).unwrap().get(0);
    assert!(next.is_some());
    assert!(!c.query_one("SELECT queue.unschedule('never-made')", &[]).unwrap().get::<_, bool>(0));
    await_worker_ticks(&mut c, 2);
    assert_matches_a_fresh_install(&mut c);
    c.batch_execute(&format!("DROP ROLE {role}")).ok();
    drop(db);
}

/// Every C symbol any shipped install or upgrade script names exists in this library: installing
/// an old version (to upgrade from it) and every step of the upgrade chain need them.
#[test]
fn the_library_has_every_symbol_any_script_names() {
    // The server's own pg_config: the tests may run against another installation than Debian's.
    let pg_config =
        std::env::var("QUEUE_EXT_TEST_PGBIN").map_or("/usr/bin/pg_config".to_owned(), |b| format!("{b}/pg_config"));
    let pkglibdir =
        String::from_utf8(std::process::Command::new(pg_config).arg("--pkglibdir").output().unwrap().stdout).unwrap();
    let so = format!("{}/queue_ext.so", pkglibdir.trim());
    let nm = std::process::Command::new("nm").args(["-D", "--defined-only", &so]).output().expect("nm");
    let exported = String::from_utf8_lossy(&nm.stdout).into_owned();
    let root = env!("CARGO_MANIFEST_DIR");
    let mut scripts = Vec::new();
    for dir in ["sql", "sql/released"] {
        for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap().to_string_lossy().starts_with("queue_ext--") {
                scripts.push(path);
            }
        }
    }
    assert!(scripts.len() >= 2);
    let mut missing = Vec::new();
    for path in scripts {
        let text = std::fs::read_to_string(&path).unwrap();
        for piece in text.split('\'') {
            if piece.ends_with("_wrapper") && !exported.lines().any(|l| l.ends_with(&format!(" {piece}"))) {
                missing.push(format!("{}: {piece}", path.display()));
            }
        }
    }
    assert!(missing.is_empty(), "symbols missing from {so}:\n{}", missing.join("\n"));
}

/// The upgraded database survives pg_dump and pg_restore like a fresh one.
#[test]
fn an_upgraded_database_dumps_and_restores() {
    let (db, mut c) = database_at("upgrade_dump", "0.1.0");
    c.batch_execute(
        "INSERT INTO queue.queues (name) VALUES ('dumped');
         INSERT INTO queue.jobs (queue, payload, max_attempts) VALUES ('dumped', '{\"a\": 1}', 25);
         ALTER EXTENSION queue_ext UPDATE;
         SELECT queue.enqueue('dumped', '{\"a\": 2}');",
    )
    .unwrap();
    // The upgrade's jobs were never counted: the background worker counts them.
    let ready = |c: &mut Client| {
        c.query_one("SELECT ready FROM queue.stats WHERE queue = 'dumped' AND counted", &[])
            .ok()
            .map(|r| r.get::<_, i64>(0))
    };
    crate::common::await_condition(
        "the worker to count the upgraded queue",
        std::time::Duration::from_secs(30),
        || ready(&mut c) == Some(2),
    );
    let target = TestDb::without_extension("upgrade_dump_restored");
    let dump = std::env::temp_dir().join(format!("{}.dump", db.name));
    crate::dump::pg_tool("pg_dump", &["-Fc", "-d", &db.name, "-f", dump.to_str().unwrap()]);
    crate::dump::pg_tool("pg_restore", &["-d", &target.name, "--exit-on-error", dump.to_str().unwrap()]);
    let mut r = config("postgres").dbname(&target.name).connect(NoTls).unwrap();
    assert_eq!(count(&mut r, "SELECT count(*) FROM queue.jobs WHERE queue = 'dumped'", &[]), 2);
    crate::common::await_condition(
        "the worker to count the restored queue",
        std::time::Duration::from_secs(30),
        || ready(&mut r) == Some(2),
    );
    assert_eq!(r.query("SELECT * FROM queue.claim('dumped', batch => 5)", &[]).unwrap().len(), 2);
    std::fs::remove_file(dump).ok();
    let _ = connect();
}
