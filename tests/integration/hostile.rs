//! A hostile tenant's attempts, each a regression test for a finding of the 0.1.0 review (issue 8).
//! The attacker holds one queue_* role (or none) and CREATE on a schema of its own: it writes
//! casts, operators and functions shadowing built-ins, and calls every entry point with them in
//! place. Pass: no privilege gained, no attacker code run with anybody else's rights, a precise
//! SQLSTATE, nothing changed, no backend crash.

use crate::common::{await_condition, await_worker_ticks, config, connect, count, new_queue, TestDb};
use postgres::{Client, NoTls};
use std::time::Duration;
use uuid::Uuid;

/// A login role that is a member of `member_of` (when given), recreated fresh.
pub fn role(admin: &mut Client, name: &str, member_of: &[&str]) -> Client {
    admin
        .batch_execute(&format!(
            "DO $$ BEGIN
                 IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN CREATE ROLE {name} LOGIN; END IF;
             END $$;
             ALTER ROLE {name} NOSUPERUSER;"
        ))
        .unwrap();
    for r in member_of {
        admin.batch_execute(&format!("GRANT {r} TO {name}")).unwrap();
    }
    config(name).dbname(&admin_db(admin)).connect(NoTls).unwrap()
}

fn admin_db(c: &mut Client) -> String {
    c.query_one("SELECT current_database()", &[]).unwrap().get(0)
}

fn is_superuser(c: &mut Client, name: &str) -> bool {
    c.query_one("SELECT rolsuper FROM pg_roles WHERE rolname = $1", &[&name]).unwrap().get(0)
}

/// Finding 1: a producer's cast, run by `to_jsonb` inside the trigger, must run as the producer.
#[test]
fn a_producer_cannot_become_superuser_through_a_cast_in_a_triggered_row() {
    let mut admin = connect();
    let q = new_queue(&mut admin, "hostile_cast", "");
    admin.batch_execute("CREATE SCHEMA IF NOT EXISTS evil_cast AUTHORIZATION CURRENT_USER").unwrap();
    let mut evil = role(&mut admin, "evil_caster", &["queue_producer"]);
    admin.batch_execute("GRANT ALL ON SCHEMA evil_cast TO evil_caster").unwrap();
    evil.batch_execute(&format!(
        "SET search_path = evil_cast;
         DROP TABLE IF EXISTS evil_cast.t; DROP TYPE IF EXISTS evil_cast.e CASCADE;
         CREATE TABLE IF NOT EXISTS evil_cast.seen (who text);
         CREATE TYPE evil_cast.e AS ENUM ('x');
         CREATE FUNCTION evil_cast.ej(evil_cast.e) RETURNS json LANGUAGE plpgsql AS $f$
         BEGIN
             INSERT INTO evil_cast.seen VALUES (current_user);
             BEGIN
                 ALTER ROLE evil_caster SUPERUSER;
             EXCEPTION WHEN insufficient_privilege THEN NULL;
             END;
             RETURN '\"x\"'::json;
         END $f$;
         CREATE CAST (evil_cast.e AS json) WITH FUNCTION evil_cast.ej(evil_cast.e);
         CREATE TABLE evil_cast.t (v evil_cast.e);
         CREATE TRIGGER enq AFTER INSERT ON evil_cast.t FOR EACH ROW EXECUTE FUNCTION queue.enqueue_trigger('{q}');
         INSERT INTO evil_cast.t VALUES ('x');"
    ))
    .unwrap();
    assert!(!is_superuser(&mut admin, "evil_caster"), "the producer became superuser");
    let who: Vec<String> =
        admin.query("SELECT DISTINCT who FROM evil_cast.seen", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(who, vec!["evil_caster".to_string()], "the cast ran as someone else");
    // The job was enqueued all the same, with the payload the cast produced.
    let payload: serde_json::Value =
        admin.query_one("SELECT payload FROM queue.jobs WHERE queue = $1", &[&q]).unwrap().get(0);
    assert_eq!(payload["new"]["v"], serde_json::json!("x"));
}

/// Findings 2 and the hostile-tenant suite: user-defined operators in public and functions that
/// shadow built-ins never run with the extension owner's, the maintainer's or a superuser's rights,
/// whatever path a call takes (API, trigger, background worker), even with public first on the
/// database's search_path.
#[test]
fn shadowing_operators_and_functions_never_run_with_anyone_elses_rights() {
    let db = TestDb::new("hostile_shadow");
    let mut admin = db.connect();
    admin.batch_execute("GRANT CREATE ON SCHEMA public TO PUBLIC").unwrap();
    let mut evil = role(&mut admin, "evil_shadow", &["queue_producer", "queue_worker"]);
    // The trap records who runs it; each shadow calls it, then behaves like the built-in.
    evil.batch_execute(
        "CREATE TABLE public.trap (who text, what text);
         GRANT INSERT ON public.trap TO PUBLIC;
         CREATE FUNCTION public.trap(what text) RETURNS void LANGUAGE sql AS
             $f$ INSERT INTO public.trap VALUES (current_user, what) $f$;
         CREATE FUNCTION public.evil_state_eq(queue.job_state, queue.job_state) RETURNS boolean LANGUAGE sql AS
             $f$ SELECT public.trap('job_state ='); SELECT $1::text = $2::text $f$;
         CREATE OPERATOR public.= (LEFTARG = queue.job_state, RIGHTARG = queue.job_state, FUNCTION = public.evil_state_eq);
         CREATE FUNCTION public.evil_text_eq(text, varchar) RETURNS boolean LANGUAGE sql AS
             $f$ SELECT public.trap('text = varchar'); SELECT $1 = $2::text $f$;
         CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = varchar, FUNCTION = public.evil_text_eq);
         CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql AS
             $f$ SELECT public.trap('now'); SELECT pg_catalog.now() $f$;
         CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz LANGUAGE sql AS
             $f$ SELECT public.trap('clock_timestamp'); SELECT pg_catalog.clock_timestamp() $f$;
         CREATE FUNCTION public.md5(text) RETURNS text LANGUAGE sql AS
             $f$ SELECT public.trap('md5'); SELECT pg_catalog.md5($1) $f$;
         CREATE FUNCTION public.gen_random_uuid() RETURNS uuid LANGUAGE sql AS
             $f$ SELECT public.trap('gen_random_uuid'); SELECT pg_catalog.gen_random_uuid() $f$;
         CREATE FUNCTION public.hashtext(text) RETURNS integer LANGUAGE sql AS
             $f$ SELECT public.trap('hashtext'); SELECT pg_catalog.hashtext($1) $f$;
         CREATE FUNCTION public.pg_notify(text, text) RETURNS void LANGUAGE sql AS
             $f$ SELECT public.trap('pg_notify'); SELECT pg_catalog.pg_notify($1, $2) $f$;
         CREATE FUNCTION public.count(anyelement) RETURNS bigint LANGUAGE sql AS
             $f$ SELECT public.trap('count'); SELECT 1::bigint $f$;
         CREATE FUNCTION public.coalesce_text(text, text) RETURNS text LANGUAGE sql AS $f$ SELECT $1 $f$;",
    )
    .unwrap();
    // A careless DBA puts public first for everyone.
    admin.batch_execute(&format!("ALTER DATABASE {} SET search_path = public, pg_catalog", db.name)).unwrap();
    let mut admin = db.connect();
    let mut evil = config("evil_shadow").dbname(&db.name).connect(NoTls).unwrap();
    admin
        .batch_execute(
            "SELECT queue.create_queue('shadowed', lease => '200 ms', backoff_base => '0', backoff_max => '0',
                                        retention => '0', max_running => 100, max_running_per_group => 50,
                                        rate_per_second => 1000);
             SELECT queue.create_queue('shadowed_kept', retention => '1 hour');
             CREATE TABLE public.items (id int, tenant text);
             CREATE TRIGGER enq AFTER INSERT ON public.items FOR EACH ROW
                 EXECUTE FUNCTION queue.enqueue_trigger('shadowed', 'group_key=tenant', 'dedupe_key=id', 'spread=id:1 second');
             GRANT INSERT ON public.items TO evil_shadow;",
        )
        .unwrap();
    // Every entry point, from the attacker's session (its search_path has public first too).
    evil.batch_execute(
        "SELECT queue.enqueue('shadowed', '{}', group_key => 'g', dedupe_key => 'd');
         SELECT queue.enqueue('shadowed', '{}', run_at => clock_timestamp() + interval '50 ms');
         SELECT count(*) FROM queue.enqueue_many('shadowed', ARRAY['{}', '{}']::jsonb[], dedupe_keys => ARRAY['a', NULL]);
         INSERT INTO public.items VALUES (1, 'acme'), (2, 'beta');
         SELECT queue.slot_fraction('k'), queue.next_slot('k', '1 hour'), queue.bucket('k', 7), queue.poll_delay(0, 2, '1 second');",
    )
    .unwrap();
    let jobs = evil.query("SELECT id, lease_token FROM queue.claim('shadowed', 'evil', batch => 3)", &[]).unwrap();
    assert!(!jobs.is_empty());
    let (id, token): (i64, Uuid) = (jobs[0].get(0), jobs[0].get(1));
    evil.execute("SELECT queue.heartbeat($1, $2)", &[&id, &token]).unwrap();
    evil.execute("SELECT queue.fail($1, $2, 'x')", &[&id, &token]).unwrap();
    let (id, token): (i64, Uuid) = (jobs[1].get(0), jobs[1].get(1));
    evil.execute("SELECT queue.release($1, $2)", &[&id, &token]).unwrap();
    // The third lease runs out: the background worker releases it.
    let (id, _token): (i64, Uuid) = (jobs[2].get(0), jobs[2].get(1));
    await_condition("the lease to be released", Duration::from_secs(30), || {
        admin.query_one("SELECT state::text FROM queue.jobs WHERE id = $1", &[&id]).unwrap().get::<_, String>(0)
            != "running"
    });
    let done = evil.query("SELECT id, lease_token FROM queue.claim('shadowed', batch => 10)", &[]).unwrap();
    for r in &done {
        evil.execute("SELECT queue.complete($1, $2)", &[&r.get::<_, i64>(0), &r.get::<_, Uuid>(1)]).unwrap();
    }
    evil.batch_execute("SELECT queue.enqueue('shadowed_kept', '{}')").unwrap();
    admin.batch_execute("SELECT queue.cancel(id) FROM queue.jobs WHERE queue = 'shadowed_kept'").unwrap();
    admin.batch_execute("SELECT queue.alter_queue('shadowed_kept', retention => '0')").unwrap();
    await_worker_ticks(&mut admin, 3);
    admin
        .batch_execute("SELECT queue.release_expired_leases(); SELECT * FROM queue.explain_claim('shadowed')")
        .unwrap();
    admin.batch_execute("SELECT queue.drop_queue('shadowed_kept', force => true)").unwrap();
    await_worker_ticks(&mut admin, 3);
    // Periodic work: a schedule fires and a refresh reads public.items (as its owner), with the
    // shadows in place on everyone's search_path.
    admin
        .batch_execute(
            "CREATE INDEX ON public.items (queue.slot_fraction((id)::text));
             SELECT queue.schedule('shadowed_every_second', '1 seconds', 'shadowed', jitter => '100 ms');
             SELECT queue.spread_refresh('shadowed_items', 'shadowed', 'public.items', 'id', '1 second', batch => 10);
             CREATE INDEX ON public.items (id);
             SELECT queue.backfill_start('shadowed_backfill', 'shadowed', 'public.items', key_column => 'id',
                                         batch_size => 1, per_second => 50);",
        )
        .unwrap();
    await_condition("the schedule and the refresh at work", Duration::from_secs(30), || {
        count(&mut admin, "SELECT fires FROM queue.schedules WHERE name = 'shadowed_every_second'", &[]) >= 2
            && count(&mut admin, "SELECT jobs_enqueued FROM queue.spread_refreshes WHERE name = 'shadowed_items'", &[])
                >= 2
            && count(&mut admin, "SELECT ranges_enqueued FROM queue.backfills WHERE name = 'shadowed_backfill'", &[])
                >= 2
    });
    admin
        .batch_execute(
            "SELECT queue.unschedule('shadowed_every_second'); SELECT queue.drop_spread_refresh('shadowed_items');
             SELECT queue.backfill_cancel('shadowed_backfill')",
        )
        .unwrap();

    let ran: Vec<(String, String)> = admin
        .query("SELECT DISTINCT who, what FROM public.trap ORDER BY 1, 2", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let foreign: Vec<&(String, String)> = ran.iter().filter(|(who, _)| who != "evil_shadow").collect();
    assert!(foreign.is_empty(), "attacker code ran with someone else's rights: {foreign:?}");
    assert!(!is_superuser(&mut admin, "evil_shadow"));
}

/// Finding 3: retention must not delete a job that a concurrent retry() revived.
#[test]
fn retention_never_deletes_a_job_that_retry_revived_meanwhile() {
    let mut c = connect();
    let q = new_queue(&mut c, "hostile_prune", "retention => '1 hour'");
    let id: i64 = c.query_one("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap().get(0);
    assert!(c.query_one("SELECT queue.cancel($1)", &[&id]).unwrap().get::<_, bool>(0));
    // T1 revives the job and holds on to it; meanwhile the job becomes prunable and the
    // background worker's prune runs into T1's row lock.
    let mut t1 = connect();
    t1.batch_execute("BEGIN").unwrap();
    assert!(t1.query_one("SELECT queue.retry($1::bigint)", &[&id]).unwrap().get::<_, bool>(0));
    c.execute("SELECT queue.alter_queue($1, retention => '0')", &[&q]).unwrap();
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    await_condition("the worker's prune to wait for the retry", Duration::from_secs(30), || {
        c.query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'queue_ext worker' AND datname = $1
                AND wait_event_type = 'Lock'",
            &[&db],
        )
        .unwrap()
        .get::<_, i64>(0)
            == 1
    });
    t1.batch_execute("COMMIT").unwrap();
    await_worker_ticks(&mut c, 2);
    let state: Option<String> =
        c.query_opt("SELECT state::text FROM queue.jobs WHERE id = $1", &[&id]).unwrap().map(|r| r.get(0));
    assert_eq!(state.as_deref(), Some("pending"), "retention deleted a job that retry had revived");
    assert_eq!(c.query("SELECT * FROM queue.claim($1)", &[&q]).unwrap().len(), 1);
}

/// Finding 4: queues' shared-memory state is reclaimed; a claim never fails for lack of room.
#[test]
fn a_thousand_dropped_rate_limited_queues_leave_no_shared_memory_behind() {
    let mut c = connect();
    let slots =
        |c: &mut Client| -> i64 { c.query_one("SELECT used FROM queue.shared_queue_slots()", &[]).unwrap().get(0) };
    let before = slots(&mut c);
    for i in 0..1030 {
        let q = format!("hostile_slot_{}_{i}", std::process::id());
        c.batch_execute(&format!(
            "SELECT queue.create_queue('{q}', rate_per_second => 5); SELECT queue.enqueue('{q}', '{{}}');
             SELECT count(*) FROM queue.claim('{q}'); SELECT queue.drop_queue('{q}', force => true);"
        ))
        .unwrap();
    }
    let after = slots(&mut c);
    assert!(after - before < 50, "shared memory slots went from {before} to {after} over 1030 dropped queues");
    let q = new_queue(&mut c, "hostile_slot_last", "rate_per_second => 5");
    c.execute("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.claim($1)", &[&q]), 1);
}

/// Finding 6: caps counted in an old snapshot could be exceeded; such claims are refused.
#[test]
fn capped_claims_under_repeatable_read_are_refused_and_caps_hold() {
    let mut c = connect();
    let q = new_queue(&mut c, "hostile_rr", "max_running => 1");
    c.execute("SELECT count(*) FROM queue.enqueue_many($1, ARRAY['{}', '{}']::jsonb[])", &[&q]).unwrap();
    for level in ["REPEATABLE READ", "SERIALIZABLE"] {
        let mut t = connect();
        t.batch_execute(&format!("BEGIN ISOLATION LEVEL {level}")).unwrap();
        let err = t.query("SELECT * FROM queue.claim($1)", &[&q]).unwrap_err();
        assert_eq!(err.code().unwrap().code(), "0A000", "{level}: {err}");
        t.batch_execute("ROLLBACK").unwrap();
    }
    // Under READ COMMITTED, two claimers in open transactions never both get a job.
    let mut a = connect();
    let mut b = connect();
    a.batch_execute("BEGIN").unwrap();
    assert_eq!(a.query("SELECT * FROM queue.claim($1)", &[&q]).unwrap().len(), 1);
    let handle = std::thread::spawn(move || {
        b.batch_execute("BEGIN").unwrap();
        let n = b.query("SELECT * FROM queue.claim($1)", &[&q]).unwrap().len();
        b.batch_execute("COMMIT").unwrap();
        n
    });
    a.batch_execute("COMMIT").unwrap();
    assert_eq!(handle.join().unwrap(), 0, "the cap of 1 was exceeded");
}

/// Finding 7: dropping a queue must not hold up work on other queues.
#[test]
fn dropping_a_queue_blocks_nothing_on_other_queues_and_its_jobs_vanish() {
    let mut c = connect();
    let doomed = new_queue(&mut c, "hostile_drop", "");
    let other = new_queue(&mut c, "hostile_other", "");
    c.execute("SELECT count(*) FROM queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[5000]))", &[&doomed]).unwrap();
    let mut dropper = connect();
    dropper.batch_execute("BEGIN").unwrap();
    dropper.execute("SELECT queue.drop_queue($1, force => true)", &[&doomed]).unwrap();
    // While the drop is open: enqueue, claim and complete on another queue go through at once.
    let mut w = connect();
    w.batch_execute("SET statement_timeout = '2s'").unwrap();
    w.execute("SELECT queue.enqueue($1, '{}')", &[&other]).unwrap();
    let r = w.query_one("SELECT id, lease_token FROM queue.claim($1)", &[&other]).unwrap();
    assert!(w
        .query_one("SELECT queue.complete($1, $2)", &[&r.get::<_, i64>(0), &r.get::<_, Uuid>(1)])
        .unwrap()
        .get::<_, bool>(0));
    // A producer that still sees the queue may add a job to it; it goes with the queue.
    w.execute("SELECT queue.enqueue($1, '{}')", &[&doomed]).unwrap();
    dropper.batch_execute("COMMIT").unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&doomed]), 0);
    // A queue of the same name starts empty, and the background worker purges the old jobs.
    c.execute("SELECT queue.create_queue($1)", &[&doomed]).unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&doomed]), 0);
    assert_eq!(c.query("SELECT * FROM queue.claim($1)", &[&doomed]).unwrap().len(), 0);
    await_condition("the dropped queue's jobs to be purged", Duration::from_secs(60), || {
        count(&mut c, "SELECT count(*) FROM queue.ready WHERE queue_id NOT IN (SELECT id FROM queue.queues)", &[]) == 0
            && count(&mut c, "SELECT count(*) FROM queue.dropped_queues", &[]) == 0
    });
}

/// Finding 8: every database with the extension is served, not one named database.
#[test]
fn a_second_database_gets_its_own_worker() {
    let db = TestDb::new("hostile_second");
    let mut c = db.connect();
    c.batch_execute("SELECT queue.create_queue('second', backoff_base => '0', backoff_max => '0')").unwrap();
    let id: i64 = c.query_one("SELECT queue.enqueue('second', '{}')", &[]).unwrap().get(0);
    c.execute("SELECT queue.claim('second', lease => '100 ms')", &[]).unwrap();
    await_condition("the expired lease to be released in the second database", Duration::from_secs(30), || {
        c.query_one("SELECT state::text FROM queue.jobs WHERE id = $1", &[&id]).unwrap().get::<_, String>(0)
            == "pending"
    });
    let pid: Option<i32> = c
        .query_opt(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'queue_ext worker' AND datname = current_database()",
            &[],
        )
        .unwrap()
        .map(|r| r.get(0));
    assert!(pid.is_some(), "no worker in the second database");
}

/// Finding 9: the background worker's statistics reach autovacuum.
#[test]
fn the_workers_deletes_show_in_the_statistics() {
    let db = TestDb::new("hostile_stats");
    let mut c = db.connect();
    c.batch_execute(
        "SELECT queue.create_queue('stats', retention => '1 hour');
         SELECT count(*) FROM queue.enqueue_many('stats', array_fill('{}'::jsonb, ARRAY[100]));
         SELECT count(queue.complete(id, lease_token)) FROM queue.claim('stats', batch => 100);
         UPDATE queue.done SET finished_at = now() - interval '2 hours';",
    )
    .unwrap();
    await_condition("the worker's deletes to be counted", Duration::from_secs(30), || {
        c.batch_execute("SELECT pg_stat_clear_snapshot()").unwrap();
        c.query_one("SELECT n_tup_del FROM pg_stat_user_tables WHERE relid = 'queue.done'::regclass", &[])
            .unwrap()
            .get::<_, i64>(0)
            >= 100
    });
}

/// Finding 9: trigger options are parsed alike at CREATE TRIGGER and when firing (an empty
/// argument), and keys taken from rows obey enqueue's rules.
#[test]
fn trigger_arguments_and_row_keys_are_checked_like_enqueue_arguments() {
    let mut c = connect();
    let q = new_queue(&mut c, "hostile_trig", "");
    let t = format!("{q}_t");
    c.batch_execute(&format!("CREATE TABLE {t} (id int, tenant text, \"we\"\"ird\" text)")).unwrap();
    let err = c
        .batch_execute(&format!(
            "CREATE TRIGGER empty AFTER INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION queue.enqueue_trigger('{q}', '')"
        ))
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "22023", "{err}");
    assert!(err.as_db_error().unwrap().message().contains("the argument is empty"), "{err}");
    for arg in ["columns=id); DROP TABLE x; --", "group_key=\" OR 1=1 --"] {
        let err = c
            .batch_execute(&format!(
                "CREATE TRIGGER inj AFTER INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION queue.enqueue_trigger('{q}', '{}')",
                arg.replace('\'', "''")
            ))
            .unwrap_err();
        assert_eq!(err.code().unwrap().code(), "42703", "{arg}: {err}");
    }
    c.batch_execute(&format!(
        "CREATE TRIGGER keys AFTER INSERT ON {t} FOR EACH ROW
             EXECUTE FUNCTION queue.enqueue_trigger('{q}', 'group_key=tenant', 'dedupe_key=we\"ird')"
    ))
    .unwrap();
    for (tenant, code) in [("x".repeat(3000), "22023"), ("ok".into(), "")] {
        let r = c.execute(&format!("INSERT INTO {t} VALUES (1, $1, 'k')"), &[&tenant]);
        match r {
            Ok(_) => assert_eq!(code, "", "a 3000-byte group key was accepted"),
            Err(e) => assert_eq!(e.code().unwrap().code(), code, "{e}"),
        }
    }
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND dedupe_key = 'k'", &[&q]), 1);
}

/// Finding 9: values at the edges of the timestamp range give precise errors, never wrapped ones.
#[test]
fn timestamps_and_intervals_near_the_range_limits_fail_cleanly() {
    let mut c = connect();
    let q = new_queue(&mut c, "hostile_range", "");
    let cases = [
        "SELECT queue.next_slot('k', '1 day', '294276-12-31 12:00:00+00')",
        "SELECT queue.poll_delay(0, 2, '1 second', at => '294276-12-31 23:00:00+00')",
        "SELECT queue.poll_delay(0, 2147483647, '100 years')",
        "SELECT queue.create_queue('hostile_range_x', lease => '1000 years')",
        "SELECT queue.create_queue('hostile_range_x', retention => '1000000 years')",
        "SELECT queue.create_queue('hostile_range_x', backoff_max => '1000000 years')",
    ];
    let mut wrong = Vec::new();
    for sql in cases {
        match c.batch_execute(sql) {
            Ok(()) => wrong.push(format!("{sql}: succeeded")),
            Err(e) => {
                let code = e.code().unwrap().code().to_owned();
                if code != "22023" && code != "22008" {
                    wrong.push(format!("{sql}: {code} {e}"));
                }
            }
        }
    }
    let run: Vec<(String, &str)> = vec![
        (format!("SELECT queue.enqueue('{q}', '{{}}', run_at => '294276-12-31 23:00:00+00', spread_key => 'k', spread_period => '1 day')"), "22008"),
        (format!("SELECT queue.claim('{q}', lease => '300000 years')"), "22023"),
    ];
    for (sql, _) in &run {
        if let Ok(()) = c.batch_execute(sql) {
            wrong.push(format!("{sql}: succeeded"));
        }
    }
    // At the other end of the range, results are right, not wrapped.
    let ok: bool = c
        .query_one(
            "SELECT queue.next_slot('k', '1 day', t) BETWEEN t AND t + interval '1 day'
               FROM (SELECT '4713-01-01 00:00:00+00 BC'::timestamptz AS t) AS a",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(ok, "next_slot near the start of the timestamp range");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
