//! Every function of schema queue, found in pg_proc, called with generated arguments: NULL in each
//! position, empty and huge strings, extreme and negative numbers, odd and malformed intervals,
//! infinite timestamps, arrays holding NULLs or of two dimensions, JSON values of every type.
//! Each call runs in a transaction of its own that is rolled back, as a superuser and as a role
//! restricted to one queue. Whatever the outcome: never an internal error (or another class of
//! error no input should cause), never a backtrace in an error, the backend still answers, and
//! the committed state (tables and the figures shared memory keeps) is what it was.

use crate::common::{config, TestDb};
use postgres::{Client, NoTls, SimpleQueryMessage};
use std::collections::BTreeMap;
use std::time::Instant;

/// SQLSTATE classes bad input may cause: data exceptions (22), integrity (23), access and
/// undefined objects (42), prerequisite state (55), unsupported (0A), program limits (54).
const EXPECTED_CLASSES: [&str; 6] = ["22", "23", "42", "55", "0A", "54"];
const TENANT: &str = "it_fuzz_tenant";

struct Arg {
    name: String,
    ty: String,
    has_default: bool,
}

struct Function {
    name: String,
    signature: String,
    args: Vec<Arg>,
}

/// What the fixture created, for valid arguments.
struct Fixture {
    queue_id: i32,
    job: i64,
    token: String,
    trigger: u32,
}

fn functions(c: &mut Client) -> Vec<Function> {
    let rows = c
        .query(
            "SELECT p.proname::text, p.oid::regprocedure::text, p.pronargdefaults::int,
                    coalesce(array_agg(a.name ORDER BY a.n) FILTER (WHERE a.n IS NOT NULL), '{}'),
                    coalesce(array_agg(pg_catalog.format_type(a.t, NULL) ORDER BY a.n) FILTER (WHERE a.n IS NOT NULL), '{}')
               FROM pg_proc p
               LEFT JOIN LATERAL (
                    SELECT u.t, coalesce(u.name, '') AS name, u.n
                      FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]),
                                  coalesce(p.proargmodes, array_fill('i'::\"char\", ARRAY[p.pronargs::int])),
                                  p.proargnames) WITH ORDINALITY AS u(t, m, name, n)
                     WHERE u.m IN ('i', 'b')) a ON true
              WHERE p.pronamespace = 'queue'::regnamespace
                AND p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
              GROUP BY p.oid
              ORDER BY 1, 2",
            &[],
        )
        .unwrap();
    rows.iter()
        .map(|r| {
            let defaults: i32 = r.get(2);
            let names: Vec<String> = r.get(3);
            let types: Vec<String> = r.get(4);
            let first_default = names.len() - defaults as usize;
            Function {
                name: r.get(0),
                signature: r.get(1),
                args: names
                    .into_iter()
                    .zip(types)
                    .enumerate()
                    .map(|(i, (name, ty))| Arg { name, ty, has_default: i >= first_default })
                    .collect(),
            }
        })
        .collect()
}

/// A valid value for argument `arg` of function `f`, as SQL.
fn valid(f: &str, arg: &Arg, fx: &Fixture) -> String {
    let named = match (f, arg.name.as_str()) {
        ("create_queue", "name") => "'fz_new'".to_owned(),
        (_, "name") if f.contains("backfill") => {
            if f == "backfill_start" {
                "'fz_backfill_new'".into()
            } else {
                "'fz_backfill'".into()
            }
        }
        (_, "name") if f.contains("refresh") => "'fz_refresh'".into(),
        (_, "name") if f.contains("schedule") => "'fz_sched'".into(),
        (_, "name" | "queue") => "'fz'".into(),
        (_, "cron") => "'0 0 1 1 *'".into(),
        (_, "id") => fx.job.to_string(),
        (_, "ids") => format!("ARRAY[{}]::bigint[]", fx.job),
        (_, "lease_token" | "complete_token") => format!("'{}'::uuid", fx.token),
        (_, "lease_tokens") => format!("ARRAY['{}']::uuid[]", fx.token),
        (_, "source") => "'public.fz_source'::regclass".into(),
        (_, "key_column") => "'id'".into(),
        (_, "period") => "'1 day'::interval".into(),
        (_, "role") if arg.ty == "oid" => format!("'{TENANT}'::regrole::oid"),
        (_, "role") => format!("'{TENANT}'"),
        (_, "privilege") => "'produce'".into(),
        (_, "queue_id") => fx.queue_id.to_string(),
        (_, "trigger_oid") => format!("{}::oid", fx.trigger),
        (_, "worker_count") => "2".into(),
        (_, "worker_index") => "0".into(),
        (_, "timezone") => "'UTC'".into(),
        (_, "b") => "(SELECT b FROM queue.backfill_runs b LIMIT 1)".into(),
        (_, "s") => "(SELECT s FROM queue.queue_rate_schedules s LIMIT 1)".into(),
        // Optional arguments, for the calls that give every argument.
        ("alter_queue", "reset") => "ARRAY['burst']".into(),
        (_, "reset") => "ARRAY['max_outstanding']".into(),
        (_, "dedupe_keys") => "ARRAY['dk']".into(),
        (_, "complete") => format!("ARRAY[{}]::bigint[]", fx.job),
        (_, "peak_days") => "'mon-fri'".into(),
        (_, "peak_hours") => "'9-17'".into(),
        (_, "of") => "'due'".into(),
        (_, "state") => "'dead'".into(),
        (_, "spread_period" | "jitter" | "bucket" | "lookahead" | "lease" | "backoff_max" | "extend") => {
            "'1 minute'::interval".into()
        }
        (_, "buckets" | "width" | "count" | "batch" | "batch_size" | "max_attempts" | "max_outstanding") => "3".into(),
        _ => String::new(),
    };
    if !named.is_empty() {
        return named;
    }
    match arg.ty.as_str() {
        "text" => "'k'".into(),
        "integer" | "smallint" => "1".into(),
        "bigint" => "1::bigint".into(),
        "double precision" => "10::float8".into(),
        "boolean" => "true".into(),
        "interval" => "'1 second'::interval".into(),
        "timestamp with time zone" => "now()".into(),
        "jsonb" => "'{\"k\": 1}'::jsonb".into(),
        "jsonb[]" => "ARRAY['{}']::jsonb[]".into(),
        "uuid" => format!("'{}'::uuid", fx.token),
        "oid" => "1::oid".into(),
        other => format!("NULL::{other}"),
    }
}

/// Odd values for an argument: those of its type, and those its name calls for.
fn odd(arg: &Arg) -> Vec<String> {
    let ty = arg.ty.as_str();
    let mut v: Vec<String> = match ty {
        "text" => vec!["''", "repeat('x', 100000)", "'Bad Name'", "'é'", "'-'", "' '"],
        "integer" => vec!["0", "-1", "(-2147483648)", "2147483647"],
        "smallint" => vec!["0", "(-32768)::smallint", "32767::smallint"],
        "bigint" => vec!["0::bigint", "(-1)::bigint", "(-9223372036854775808)::bigint", "9223372036854775807::bigint"],
        "double precision" => vec![
            "0::float8",
            "(-1)::float8",
            "'NaN'::float8",
            "'Infinity'::float8",
            "'-Infinity'::float8",
            "1e308::float8",
            "1e-308::float8",
        ],
        "boolean" => vec!["false"],
        "interval" => vec![
            "'0'::interval",
            "'-1 second'::interval",
            "'1 month'::interval",
            "'1 month -30 days'::interval",
            "'1 day -86400 seconds'::interval",
            "'-178000000 years'::interval",
            "'178000000 years'::interval",
            "'2147483647 days'::interval",
            "'1 microsecond'::interval",
            "'not an interval'::interval",
        ],
        "timestamp with time zone" => vec![
            "'infinity'::timestamptz",
            "'-infinity'::timestamptz",
            "'4714-11-24 00:00:00+00 BC'::timestamptz",
            "'294276-12-31 23:59:59+00'::timestamptz",
        ],
        "jsonb" => vec![
            "'null'::jsonb",
            "'\"a string\"'::jsonb",
            "'[]'::jsonb",
            "'[{}]'::jsonb",
            "'1'::jsonb",
            "'true'::jsonb",
            "'{}'::jsonb",
        ],
        "jsonb[]" => vec![
            "'{}'::jsonb[]",
            "ARRAY[NULL]::jsonb[]",
            "ARRAY['{}', NULL]::jsonb[]",
            "ARRAY[ARRAY['{}'::jsonb]]",
            "ARRAY['null', '\"s\"', '1', '[]']::jsonb[]",
            "'[0:0]={\"{}\"}'::jsonb[]",
        ],
        "text[]" => vec![
            "'{}'::text[]",
            "ARRAY[NULL]::text[]",
            "ARRAY['k', NULL]::text[]",
            "ARRAY['']",
            "ARRAY[ARRAY['k']]",
            "ARRAY['bogus']",
        ],
        "bigint[]" => vec![
            "'{}'::bigint[]",
            "ARRAY[NULL]::bigint[]",
            "ARRAY[1, NULL]::bigint[]",
            "ARRAY[ARRAY[1::bigint]]",
            "ARRAY[-1]::bigint[]",
        ],
        "uuid[]" => vec![
            "'{}'::uuid[]",
            "ARRAY[NULL]::uuid[]",
            "ARRAY[gen_random_uuid(), NULL]",
            "ARRAY[ARRAY[gen_random_uuid()]]",
        ],
        "uuid" => vec!["'00000000-0000-0000-0000-000000000000'::uuid"],
        "regclass" => vec![
            "'pg_class'::regclass",
            "'queue.queues'::regclass",
            "'queue.jobs'::regclass",
            "999999::oid::regclass",
            "0::oid::regclass",
        ],
        "oid" => vec!["0::oid", "4294967295::oid"],
        _ => vec![],
    }
    .into_iter()
    .map(str::to_owned)
    .collect();
    let by_name: &[&str] = match arg.name.as_str() {
        "queue" | "name" => &["'fz_other'", "'fz_missing'", "'Bad-Name'"],
        "cron" => &[
            "'61 * * * *'",
            "'* 24 * * *'",
            "'* * 0 * *'",
            "'* * * 13 *'",
            "'* * * * 8'",
            "'* * *'",
            "'0 0 1 1 * 2030'",
            "'1 2 3 4 5 6 7'",
            "'@fortnightly'",
            "'90 seconds'",
            "'0 seconds'",
            "'0 0 30 2 *'",
            "'*/0 * * * *'",
            "'5-1 * * * *'",
            "'L * * * *'",
            "'? * * * *'",
        ],
        "timezone" => &["'Mars/Olympus'", "'+25'"],
        "privilege" => &["'bogus'", "'ADMIN'"],
        "role" if arg.ty == "text" => {
            &["'it_fuzz_no_such_role'", "'postgres'", "'public'", "'queue_admin'", "'queue_worker'"]
        }
        "state" => &["'bogus'", "'done'"],
        "of" => &["'bogus'", "'completed'"],
        "key_column" => &["'nope'", "'v'"],
        "peak_days" => &["'funday'", "'mon-'", "','"],
        "peak_hours" => &["'25-3'", "'9-9'", "'-'"],
        "reset" => &["ARRAY['lease', 'lease']", "ARRAY['peak_schedule']"],
        _ => &[],
    };
    v.extend(by_name.iter().map(|s| (*s).to_owned()));
    v
}

fn named_call(f: &Function, values: &[(usize, String)]) -> String {
    let args: Vec<String> = values
        .iter()
        .map(|(i, v)| {
            let a = &f.args[*i];
            if a.name.is_empty() {
                v.clone()
            } else {
                format!("\"{}\" => {v}", a.name)
            }
        })
        .collect();
    format!("SELECT count(*) FROM queue.\"{}\"({}) AS f", f.name, args.join(", "))
}

/// Calls for `f`: its required arguments valid, and each argument in turn odd or NULL.
fn calls(f: &Function, fx: &Fixture) -> Vec<(String, Option<String>)> {
    let unnamed = f.args.iter().any(|a| a.name.is_empty());
    let all: Vec<(usize, String)> = f.args.iter().enumerate().map(|(i, a)| (i, valid(&f.name, a, fx))).collect();
    // The required arguments alone (defaults for the others), and every argument given: an
    // optional argument may only be looked at along with another (spread_period with spread_key).
    let required: Vec<(usize, String)> =
        all.iter().filter(|(i, _)| unnamed || !f.args[*i].has_default).cloned().collect();
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for base in [required, all] {
        let mut push = |sql: String, arg: Option<String>| {
            if seen.insert(sql.clone()) {
                out.push((sql, arg));
            }
        };
        push(named_call(f, &base), None);
        for (i, arg) in f.args.iter().enumerate() {
            let mut values = vec![format!("NULL::{}", arg.ty)];
            values.extend(odd(arg));
            for value in values {
                let mut args: Vec<(usize, String)> = base.iter().filter(|(j, _)| *j != i).cloned().collect();
                args.push((i, value));
                args.sort_by_key(|(j, _)| *j);
                // A 22004 (a NULL, or an array holding one) must name the argument.
                push(named_call(f, &args), Some(arg.name.clone()));
            }
        }
    }
    out
}

/// The committed state a call must leave as it was: settings, jobs, definitions, grants, and the
/// depths and event counts shared memory keeps.
const SNAPSHOT: &str = "SELECT concat_ws(E'\\n',
            (SELECT string_agg(q::text, ',' ORDER BY name) FROM queue.queues q),
            (SELECT string_agg(j::text, ',' ORDER BY id) FROM queue.jobs j),
            (SELECT string_agg(s::text, ',' ORDER BY name) FROM queue.schedules s),
            (SELECT string_agg(r::text, ',' ORDER BY name) FROM queue.refreshes r),
            (SELECT string_agg(b::text, ',' ORDER BY name) FROM queue.backfill_runs b),
            (SELECT string_agg(g::text, ',' ORDER BY g::text) FROM queue.queue_grants g),
            (SELECT string_agg(r::text, ',' ORDER BY queue_id) FROM queue.queue_rate_schedules r),
            (SELECT string_agg(g::text, ',' ORDER BY g::text) FROM queue.group_state g),
            (SELECT string_agg(d::text, ',' ORDER BY d::text) FROM queue.dedupe d),
            (SELECT count(*) FROM queue.dropped_queues),
            (SELECT string_agg(format('%s %s %s %s %s %s %s %s', queue, ready, scheduled, running, dead, done_last_hour,
                                      failures_last_hour, retries_last_hour), ',' ORDER BY queue) FROM queue.stats),
            (SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname LIKE 'it_fuzz%' OR rolsuper))";

fn snapshot(c: &mut Client, statement: &postgres::Statement) -> String {
    c.query_one(statement, &[]).unwrap().get(0)
}

fn fixture(c: &mut Client) -> Fixture {
    c.batch_execute(&format!(
        "DO $$ BEGIN
             IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{TENANT}') THEN CREATE ROLE {TENANT} LOGIN; END IF;
         END $$;
         GRANT queue_admin TO {TENANT};
         SELECT queue.create_queue('fz'), queue.create_queue('fz_other');
         CREATE TABLE public.fz_source (id bigint PRIMARY KEY, v text);
         CREATE INDEX ON public.fz_source ((queue.slot_fraction(id::text)));
         INSERT INTO public.fz_source SELECT g, 'x' FROM generate_series(1, 20) g;
         GRANT SELECT ON public.fz_source TO {TENANT};
         CREATE TABLE public.fz_trigger (id bigint PRIMARY KEY);
         CREATE TRIGGER fz_trigger AFTER INSERT ON public.fz_trigger FOR EACH ROW EXECUTE FUNCTION queue.enqueue_trigger('fz');
         SELECT queue.enqueue('fz', '{{\"dies\": 1}}', max_attempts => 1);
         SELECT queue.fail(id, lease_token, 'boom') FROM queue.claim('fz', lease => '1 hour');
         SELECT queue.enqueue('fz', '{{\"ready\": 1}}', priority => 5, group_key => 'g1', dedupe_key => 'd1');
         SELECT queue.enqueue('fz', '{{\"later\": 1}}', run_at => now() + interval '1 day');
         SELECT queue.enqueue('fz_other', '{{\"other\": 1}}');
         SELECT queue.cancel(queue.enqueue('fz', '{{\"cancelled\": 1}}'));
         SELECT queue.enqueue('fz', '{{\"runs\": 1}}', priority => 100);
         SELECT queue.schedule('fz_sched', '0 0 1 1 *', 'fz');
         BEGIN;
         SELECT queue.spread_refresh('fz_refresh', 'fz', 'public.fz_source', 'id', '1 day');
         SELECT queue.pause_spread_refresh('fz_refresh');
         SELECT queue.backfill_start('fz_backfill', 'fz', 'public.fz_source');
         SELECT queue.backfill_pause('fz_backfill');
         COMMIT;
         SELECT queue.set_rate_schedule('fz', 1000, 500);
         SELECT queue.grant('fz', '{TENANT}', p) FROM unnest(ARRAY['produce', 'consume', 'admin']) p;"
    ))
    .unwrap();
    let claimed = c.query_one("SELECT id, lease_token::text FROM queue.claim('fz', lease => '1 hour')", &[]).unwrap();
    let queue_id: i32 = c.query_one("SELECT id FROM queue.queues WHERE name = 'fz'", &[]).unwrap().get(0);
    let trigger: u32 = c.query_one("SELECT oid FROM pg_trigger WHERE tgname = 'fz_trigger'", &[]).unwrap().get(0);
    Fixture { queue_id, job: claimed.get(0), token: claimed.get(1), trigger }
}

/// One call in a transaction of its own, rolled back: its outcome (`ok`, or the SQLSTATE and
/// message) and what went wrong, if anything.
fn try_call(c: &mut Client, sql: &str, arg: Option<&str>) -> (String, Option<String>) {
    let (outcome, problem) = match c.simple_query(&format!("BEGIN; {sql}")) {
        Ok(_) => ("ok".to_owned(), None),
        Err(e) => match e.as_db_error() {
            None => (format!("{e}"), Some(format!("no SQLSTATE: {e}"))),
            Some(db) => {
                let code = db.code().code();
                let detail = db.detail().unwrap_or("");
                let problem = if !EXPECTED_CLASSES.contains(&&code[..2]) {
                    Some(format!("{code} {}", db.message()))
                } else if detail.contains("  0: ") || detail.contains("backtrace") {
                    Some(format!("{code} {} with a backtrace in its DETAIL", db.message()))
                } else if let (Some(arg), "22004") = (arg, code) {
                    (!arg.is_empty() && !db.message().contains(arg))
                        .then(|| format!("22004 not naming argument {arg}: {}", db.message()))
                } else {
                    None
                };
                (format!("{code} {}", db.message()), problem)
            }
        },
    };
    // The backend is still there, and the call is undone.
    let problem = match c.simple_query("ROLLBACK; SELECT 1") {
        Ok(m) if m.iter().any(|m| matches!(m, SimpleQueryMessage::Row(_))) => problem,
        Ok(_) => Some("no answer after the call".into()),
        Err(e) => Some(format!("the backend is gone after the call: {e}")),
    };
    (outcome, problem)
}

#[test]
fn every_function_refuses_odd_input_precisely_and_changes_nothing() {
    let started = Instant::now();
    let db = TestDb::new("fuzz");
    let mut su = db.connect();
    let fx = fixture(&mut su);
    let mut tenant = config(TENANT).dbname(&db.name).connect(NoTls).unwrap();
    let mut caller = db.connect();
    for c in [&mut caller, &mut tenant] {
        c.batch_execute("SET statement_timeout = '10s'; SET lock_timeout = '5s'; SET client_min_messages = error")
            .unwrap();
    }
    let functions = functions(&mut su);
    assert!(functions.len() >= 50, "found {} functions in schema queue", functions.len());
    // Prepared once: planning it again for each of thousands of calls would cost most of the run.
    let state = su.prepare(SNAPSHOT).unwrap();
    let mut before = snapshot(&mut su, &state);
    let mut findings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut n = 0;
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut time: BTreeMap<String, std::time::Duration> = BTreeMap::new();
    // QUEUE_EXT_FUZZ_VERBOSE=1 prints every call and its outcome.
    let verbose = std::env::var_os("QUEUE_EXT_FUZZ_VERBOSE").is_some();
    for f in &functions {
        for (sql, arg) in calls(f, &fx) {
            for (who, c) in [("postgres", &mut caller), (TENANT, &mut tenant)] {
                n += 1;
                let call_started = Instant::now();
                let (outcome, mut problem) = try_call(c, &sql, arg.as_deref());
                *time.entry(f.signature.clone()).or_default() += call_started.elapsed();
                *outcomes.entry(outcome[..outcome.len().min(5)].to_owned()).or_default() += 1;
                if verbose {
                    eprintln!(
                        "as {who}: {sql}\n    {:?} {}",
                        call_started.elapsed(),
                        &outcome[..outcome.len().min(300)]
                    );
                }
                // Looked at after every failed call (a call that succeeded was rolled back all the
                // same: what it might have left shows at the next failure).
                let after = if outcome == "ok" { before.clone() } else { snapshot(&mut su, &state) };
                if problem.is_none() && after != before {
                    let changed: Vec<String> = before
                        .lines()
                        .zip(after.lines())
                        .filter(|(b, a)| b != a)
                        .map(|(b, a)| format!("{b}\n         became {a}"))
                        .collect();
                    problem = Some(format!(
                        "changed the committed state (this failed call, or one that succeeded just before it, \
                         both rolled back):\n{}",
                        changed.join("\n")
                    ));
                }
                if let Some(p) = problem {
                    findings.entry(f.signature.clone()).or_default().push(format!("as {who}: {sql}\n      -> {p}"));
                    // Later calls are judged against the state as it is now.
                    before = snapshot(&mut su, &state);
                }
            }
        }
    }
    if snapshot(&mut su, &state) != before {
        findings.entry("the last calls".into()).or_default().push("changed the committed state".into());
    }
    let mut slowest: Vec<_> = time.into_iter().collect();
    slowest.sort_by_key(|(_, t)| std::cmp::Reverse(*t));
    slowest.truncate(5);
    eprintln!(
        "{n} calls of {} functions in {:?}: {outcomes:?}; slowest: {slowest:?}",
        functions.len(),
        started.elapsed()
    );
    let report: Vec<String> =
        findings.iter().map(|(f, v)| format!("{f}:\n    {}", v.join("\n    "))).collect::<Vec<_>>();
    assert!(
        findings.is_empty(),
        "{} of {n} calls went wrong, in {} functions:\n{}",
        findings.values().map(Vec::len).sum::<usize>(),
        findings.len(),
        report.join("\n")
    );
}
