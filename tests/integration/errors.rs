//! Every public function refuses bad input with its documented SQLSTATE, and the refused call
//! changes nothing.

use crate::common::{connect, new_queue};
use postgres::Client;

fn fingerprint(c: &mut Client) -> String {
    c.query_one(
        "SELECT format('%s|%s|%s',
                (SELECT count(*) FROM queue.queues WHERE name LIKE 'err%'),
                (SELECT string_agg(format('%s:%s:%s:%s:%s', name, lease, max_attempts, paused, rate_per_second), ',' ORDER BY name)
                   FROM queue.queues WHERE name LIKE 'err%'),
                (SELECT string_agg(format('%s:%s:%s:%s:%s', id, state, attempts, lease_token, run_at), ',' ORDER BY id) FROM queue.jobs
                  WHERE queue IN (SELECT name FROM queue.queues WHERE name LIKE 'err%')))",
        &[],
    )
    .unwrap()
    .get(0)
}

#[test]
fn bad_input_gets_the_documented_sqlstate_and_changes_nothing() {
    let mut c = connect();
    let q = new_queue(&mut c, "err", "");
    c.execute("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap();
    c.execute("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap();
    let (running, token): (i64, uuid::Uuid) = {
        let r = c.query_one("SELECT id, lease_token FROM queue.claim($1)", &[&q]).unwrap();
        (r.get(0), r.get(1))
    };
    let long = "x".repeat(600);
    let cases: Vec<(String, &str)> = vec![
        // queues
        ("SELECT queue.create_queue('Bad-Name')".into(), "22023"),
        ("SELECT queue.create_queue('1abc')".into(), "22023"),
        (format!("SELECT queue.create_queue('{}')", "a".repeat(49)), "22023"),
        ("SELECT queue.create_queue(NULL)".into(), "22004"),
        (format!("SELECT queue.create_queue('{q}')"), "42710"),
        ("SELECT queue.create_queue('err_new', lease => '0')".into(), "22023"),
        ("SELECT queue.create_queue('err_new', lease => '-5 seconds')".into(), "22023"),
        ("SELECT queue.create_queue('err_new', max_attempts => 0)".into(), "22023"),
        ("SELECT queue.create_queue('err_new', backoff_base => '1 minute', backoff_max => '1 second')".into(), "22023"),
        ("SELECT queue.create_queue('err_new', rate_per_second => 0)".into(), "22023"),
        ("SELECT queue.create_queue('err_new', rate_per_second => 'NaN')".into(), "22023"),
        ("SELECT queue.create_queue('err_new', burst => -1)".into(), "22023"),
        ("SELECT queue.create_queue('err_new', max_running => 0)".into(), "22023"),
        ("SELECT queue.create_queue('err_new', max_running_per_group => 0)".into(), "22023"),
        ("SELECT queue.create_queue('err_new', retention => '-1 day')".into(), "22023"),
        ("SELECT queue.alter_queue('err_missing', lease => '1 minute')".into(), "42704"),
        (format!("SELECT queue.alter_queue('{q}', lease => '0')"), "22023"),
        (format!("SELECT queue.alter_queue('{q}', reset => '{{bogus}}')"), "22023"),
        ("SELECT queue.alter_queue('No Spaces')".into(), "22023"),
        ("SELECT queue.drop_queue('err_missing')".into(), "42704"),
        (format!("SELECT queue.drop_queue('{q}')"), "55006"),
        ("SELECT queue.pause('err_missing')".into(), "42704"),
        ("SELECT queue.resume('err_missing')".into(), "42704"),
        ("SELECT queue.pause(NULL)".into(), "22004"),
        // producing
        ("SELECT queue.enqueue('err_missing', '{}')".into(), "42704"),
        ("SELECT queue.enqueue('BAD', '{}')".into(), "22023"),
        (format!("SELECT queue.enqueue('{q}', NULL)"), "22004"),
        (format!("SELECT queue.enqueue('{q}', '{{}}', max_attempts => 0)"), "22023"),
        (format!("SELECT queue.enqueue('{q}', '{{}}', dedupe_key => '')"), "22023"),
        (format!("SELECT queue.enqueue('{q}', '{{}}', group_key => '{long}')"), "22023"),
        (format!("SELECT queue.enqueue('{q}', '{{}}', run_at => 'infinity')"), "22023"),
        (format!("SELECT queue.enqueue('{q}', '{{}}', spread_key => 'k')"), "22023"),
        (format!("SELECT queue.enqueue('{q}', '{{}}', spread_key => 'k', spread_period => '1 month')"), "22023"),
        (format!("SELECT queue.enqueue('{q}', '{{}}', spread_key => 'k', spread_period => '-1 hour')"), "22023"),
        (format!("SELECT queue.enqueue_many('{q}', NULL)"), "22004"),
        (format!("SELECT queue.enqueue_many('{q}', ARRAY['{{}}', NULL]::jsonb[])"), "22004"),
        (format!("SELECT queue.enqueue_many('{q}', ARRAY[['{{}}'], ['{{}}']]::jsonb[])"), "22023"),
        (format!("SELECT queue.enqueue_many('{q}', ARRAY['{{}}']::jsonb[], dedupe_keys => ARRAY['a', 'b'])"), "22023"),
        ("SELECT queue.enqueue_many('err_missing', ARRAY[]::jsonb[])".into(), "42704"),
        ("SELECT queue.enqueue_many('err_missing', ARRAY['{}']::jsonb[])".into(), "42704"),
        // consuming
        ("SELECT queue.claim('err_missing')".into(), "42704"),
        ("SELECT queue.claim(NULL)".into(), "22004"),
        (format!("SELECT queue.claim('{q}', batch => 0)"), "22023"),
        (format!("SELECT queue.claim('{q}', batch => 100000)"), "22023"),
        (format!("SELECT queue.claim('{q}', batch => NULL)"), "22004"),
        (format!("SELECT queue.claim('{q}', lease => '0')"), "22023"),
        (format!("SELECT queue.claim('{q}', worker => '{long}')"), "22023"),
        (format!("SELECT queue.claim('{q}', complete => ARRAY[{running}]::bigint[])"), "22004"),
        (format!("SELECT queue.complete(NULL, '{token}')"), "22004"),
        (format!("SELECT queue.complete({running}, NULL)"), "22004"),
        (
            format!("SELECT queue.complete_many(ARRAY[{running}, 1], ARRAY['{token}', '{token}', '{token}']::uuid[])"),
            "22023",
        ),
        (format!("SELECT queue.complete_many(ARRAY[{running}, NULL], ARRAY['{token}']::uuid[])"), "22004"),
        (format!("SELECT queue.complete_many(NULL, ARRAY['{token}']::uuid[])"), "22004"),
        (format!("SELECT queue.fail({running}, '{token}', 'x', retry_in => '-1 second')"), "22023"),
        (format!("SELECT queue.fail(NULL, '{token}', 'x')"), "22004"),
        (format!("SELECT queue.heartbeat({running}, '{token}', extend => '0')"), "22023"),
        (format!("SELECT queue.heartbeat({running}, NULL)"), "22004"),
        (format!("SELECT queue.release({running}, '{token}', delay => '-1 second')"), "22023"),
        (format!("SELECT queue.release(NULL, '{token}')"), "22004"),
        // operating
        ("SELECT queue.cancel(NULL)".into(), "22004"),
        ("SELECT queue.retry(NULL::bigint)".into(), "22004"),
        (format!("SELECT queue.retry('{q}', 'done')"), "22023"),
        ("SELECT queue.retry('err_missing')".into(), "42704"),
        ("SELECT queue.release_expired_leases(0)".into(), "22023"),
        ("SELECT queue.explain_claim('Not A Queue')".into(), "22023"),
        // spreading
        ("SELECT queue.slot_offset('k', '1 month')".into(), "22023"),
        ("SELECT queue.slot_offset('k', '0')".into(), "22023"),
        ("SELECT queue.next_slot('k', '0')".into(), "22023"),
        ("SELECT queue.next_slot('k', '1 day', 'infinity')".into(), "22023"),
        ("SELECT queue.bucket('k', 0)".into(), "22023"),
        ("SELECT queue.poll_delay(4, 4, '1 second')".into(), "22023"),
        ("SELECT queue.poll_delay(-1, 4, '1 second')".into(), "22023"),
        ("SELECT queue.poll_delay(0, 0, '1 second')".into(), "22023"),
        ("SELECT queue.poll_delay(0, 4, '0')".into(), "22023"),
        ("SELECT queue.poll_delay(NULL, 4, '1 second')".into(), "22004"),
        (format!("SELECT queue.set_rate_schedule('{q}', 10, 1, peak_days => 'funday')"), "22023"),
        (format!("SELECT queue.set_rate_schedule('{q}', 10, 1, peak_hours => '9')"), "22023"),
        (format!("SELECT queue.set_rate_schedule('{q}', 10, 1, peak_hours => '9-9')"), "22023"),
        (format!("SELECT queue.set_rate_schedule('{q}', 10, 1, timezone => 'Mars/Olympus')"), "22023"),
        (format!("SELECT queue.set_rate_schedule('{q}', 0, 1)"), "22023"),
        (format!("SELECT queue.set_rate_schedule('{q}', 10, 1, peak_burst => -1)"), "22023"),
        ("SELECT queue.set_rate_schedule('err_missing', 10, 1)".into(), "42704"),
        ("SELECT queue.effective_rate('err_missing')".into(), "42704"),
    ];
    let before = fingerprint(&mut c);
    let mut wrong = Vec::new();
    for (sql, expected) in &cases {
        match c.batch_execute(sql) {
            Ok(()) => wrong.push(format!("{sql}: succeeded, expected {expected}")),
            Err(e) => {
                let got = e.code().map(|s| s.code().to_owned()).unwrap_or_else(|| format!("no SQLSTATE ({e})"));
                if got != *expected {
                    wrong.push(format!(
                        "{sql}: got {got} ({}), expected {expected}",
                        e.as_db_error().map(|d| d.message()).unwrap_or("")
                    ));
                } else {
                    let message = e.as_db_error().unwrap().message().to_owned();
                    assert!(
                        !message.is_empty() && !message.contains("internal error"),
                        "{sql}: vague message {message}"
                    );
                }
            }
        }
        assert_eq!(fingerprint(&mut c), before, "{sql} changed something although it failed");
    }
    assert!(wrong.is_empty(), "wrong outcomes:\n{}", wrong.join("\n"));
}

/// Oversized and odd values against every entry point: a precise SQLSTATE (or a documented
/// acceptance), nothing changed, no backend lost.
#[test]
fn huge_and_odd_values_are_refused_cleanly() {
    // A database of its own: the fingerprint must not see the other test's queues.
    let db = crate::common::TestDb::new("huge");
    let mut c = db.connect();
    let q = new_queue(&mut c, "err_huge", "");
    c.execute("SELECT queue.enqueue($1, '{}')", &[&q]).unwrap();
    let (running, token): (i64, uuid::Uuid) = {
        let r = c.query_one("SELECT id, lease_token FROM queue.claim($1)", &[&q]).unwrap();
        (r.get(0), r.get(1))
    };
    let huge = "repeat('x', 10 * 1024 * 1024)";
    let cases: Vec<(String, &str)> = vec![
        // jsonb caps at 256 MB: refused while the argument is built, before queue_ext sees it.
        (format!("SELECT queue.enqueue('{q}', (SELECT jsonb_agg(repeat('x', 1024 * 1024)) FROM generate_series(1, 300)))"), "54000"),
        (format!("SELECT queue.enqueue({huge}, '{{}}')"), "22023"),
        (format!("SELECT queue.create_queue({huge})"), "22023"),
        (format!("SELECT queue.enqueue('{q}', '{{}}', group_key => {huge})"), "22023"),
        (format!("SELECT queue.enqueue('{q}', '{{}}', dedupe_key => {huge})"), "22023"),
        (format!("SELECT queue.enqueue('{q}', '{{}}', spread_key => {huge}, spread_period => '1 day')"), "22023"),
        (format!("SELECT queue.enqueue_many('{q}', ARRAY['{{}}']::jsonb[], dedupe_keys => ARRAY[{huge}])"), "22023"),
        (format!("SELECT queue.claim('{q}', worker => {huge})"), "22023"),
        (format!("SELECT queue.alter_queue('{q}', reset => array_fill('bogus'::text, ARRAY[100000]))"), "22023"),
        (format!("SELECT queue.set_rate_schedule('{q}', 1, 2, timezone => {huge})"), "22023"),
        (format!("SELECT queue.set_rate_schedule('{q}', 1, 2, peak_days => {huge})"), "22023"),
        (format!("SELECT queue.set_rate_schedule('{q}', 'Infinity', 2)"), "22023"),
        (format!("SELECT queue.set_rate_schedule('{q}', 1, 'NaN')"), "22023"),
        (format!("SELECT queue.alter_queue('{q}', rate_per_second => 'Infinity')"), "22023"),
        (format!("SELECT queue.alter_queue('{q}', rate_per_second => '-Infinity')"), "22023"),
        (format!("SELECT queue.grant('{q}', {huge}, 'produce')"), "42704"),
        (format!("SELECT queue.grant('{q}', 'postgres', {huge})"), "22023"),
        ("SELECT queue.bucket('k', -2147483648)".into(), "22023"),
        (r#"SELECT queue.poll_delay(0, 2147483647, '1 microsecond', "offset" => '-1 second')"#.into(), ""),
        (format!("SELECT queue.explain_claim('{q}', batch => 2147483647)"), "22023"),
        (format!("SELECT queue.heartbeat({running}, '{token}', extend => '100000 days')"), "22023"),
    ];
    let before = fingerprint(&mut c);
    let mut wrong = Vec::new();
    for (sql, expected) in &cases {
        let got = match c.batch_execute(sql) {
            Ok(()) => String::new(),
            Err(e) => e.code().map(|s| s.code().to_owned()).unwrap_or_else(|| format!("no SQLSTATE ({e})")),
        };
        if got != *expected {
            wrong.push(format!("{}: got {got:?}, expected {expected:?}", &sql[..sql.len().min(120)]));
        }
        if !expected.is_empty() {
            assert_eq!(
                fingerprint(&mut c),
                before,
                "{} changed something although it failed",
                &sql[..sql.len().min(120)]
            );
        }
    }
    assert!(wrong.is_empty(), "wrong outcomes:\n{}", wrong.join("\n"));
    // A worker's huge stack trace is kept, cut to its first 16 kB.
    assert!(c.query_one(&format!("SELECT queue.fail($1, $2, {huge})"), &[&running, &token]).unwrap().get::<_, bool>(0));
    let kept: i32 = c.query_one("SELECT length(last_error) FROM queue.jobs WHERE id = $1", &[&running]).unwrap().get(0);
    assert!((16_000..17_000).contains(&kept), "last_error kept {kept} characters");
    // The server is fine.
    assert_eq!(c.query_one("SELECT 1", &[]).unwrap().get::<_, i32>(0), 1);
}

fn refusal(c: &mut Client, sql: &str) -> (String, String) {
    match c.batch_execute(sql) {
        Ok(()) => ("succeeded".into(), String::new()),
        Err(e) => match e.as_db_error() {
            Some(db) => (db.code().code().to_owned(), db.message().to_owned()),
            None => (format!("no SQLSTATE ({e})"), String::new()),
        },
    }
}

/// Where a value is needed, NULL is 22004 and the message names the argument, arrays holding a
/// NULL where each element is needed included (these were internal errors, XX000).
#[test]
fn null_where_a_value_is_needed_is_22004_naming_the_argument() {
    let mut c = connect();
    let q = new_queue(&mut c, "nulls", "");
    let cases = [
        (format!("SELECT queue.create_queue('{q}', if_not_exists => NULL)"), "if_not_exists must not be null"),
        (format!("SELECT queue.drop_queue('{q}', force => NULL)"), "force must not be null"),
        (
            format!("SELECT queue.alter_queue('{q}', reset => ARRAY['lease', NULL])"),
            "every element of reset must not be null",
        ),
        (
            "SELECT queue.backfill_alter('err_null_b', reset => ARRAY[NULL]::text[])".into(),
            "every element of reset must not be null",
        ),
        ("SELECT queue.check_enqueue_trigger(NULL)".into(), "trigger_oid must not be null"),
        (
            format!("SELECT queue.enqueue_many('{q}', ARRAY['{{}}', NULL]::jsonb[])"),
            "every element of payloads must not be null",
        ),
        (
            "SELECT queue.complete_many(ARRAY[1, NULL]::bigint[], ARRAY[gen_random_uuid()])".into(),
            "every element of ids must not be null",
        ),
    ];
    for (sql, message) in &cases {
        assert_eq!(refusal(&mut c, sql), ("22004".to_owned(), (*message).to_owned()), "{sql}");
    }
    // The queue is still there, unchanged.
    assert_eq!(crate::common::count(&mut c, "SELECT count(*) FROM queue.queues WHERE name = $1", &[&q]), 1);
}

/// A payload is a JSON object, wherever one is given: 22023 naming what it got (and, in a batch,
/// which element). `priority => NULL` is the default priority, 0, as NULL is for run_at.
#[test]
fn payloads_are_json_objects_and_a_null_priority_is_the_default() {
    let mut c = connect();
    let q = new_queue(&mut c, "objects", "");
    let cases = [
        (format!("SELECT queue.enqueue('{q}', 'null')"), "payload must be a JSON object, got null"),
        (format!("SELECT queue.enqueue('{q}', '\"a string\"')"), "payload must be a JSON object, got string"),
        (format!("SELECT queue.enqueue('{q}', '[{{}}]')"), "payload must be a JSON object, got array"),
        (format!("SELECT queue.enqueue('{q}', '1.5')"), "payload must be a JSON object, got number"),
        (format!("SELECT queue.enqueue('{q}', 'false')"), "payload must be a JSON object, got boolean"),
        (format!("SELECT queue.enqueue_many('{q}', ARRAY['{{}}', '{{}}', 'null']::jsonb[])"), "payloads[3] must be a JSON object, got null"),
        (format!("SELECT queue.enqueue_many('{q}', '[0:1]={{\"{{}}\",\"[]\"}}'::jsonb[])"), "payloads[1] must be a JSON object, got array"),
        (
            format!("SELECT queue.enqueue_many('{q}', ARRAY['\"s\"']::jsonb[], dedupe_keys => ARRAY['k'])"),
            "payloads[1] must be a JSON object, got string",
        ),
        (format!("SELECT queue.schedule('err_payload_s', '@daily', '{q}', payload => '[]')"), "payload must be a JSON object, got array"),
        (
            format!("SELECT queue.spread_refresh('err_payload_r', '{q}', 'pg_catalog.pg_class', 'oid', '1 hour', payload => '1')"),
            "payload must be a JSON object, got number",
        ),
        (
            format!("SELECT queue.backfill_start('err_payload_b', '{q}', 'pg_catalog.pg_class', payload => 'true')"),
            "payload must be a JSON object, got boolean",
        ),
    ];
    for (sql, message) in &cases {
        assert_eq!(refusal(&mut c, sql), ("22023".to_owned(), (*message).to_owned()), "{sql}");
    }
    // Values stored out of line (TOAST) are judged by their first bytes, as those given inline.
    c.batch_execute(
        "CREATE TEMP TABLE err_big (p jsonb);
         INSERT INTO err_big SELECT jsonb_build_object('keys', jsonb_agg(md5(g::text))) FROM generate_series(1, 5000) g;
         INSERT INTO err_big SELECT jsonb_agg(md5(g::text)) FROM generate_series(1, 5000) g;",
    )
    .unwrap();
    let stored: i32 = c.query_one("SELECT min(pg_column_size(p)) FROM err_big", &[]).unwrap().get(0);
    assert!(stored > 2048, "the payloads must be stored out of line, are {stored} bytes");
    assert_eq!(
        refusal(&mut c, &format!("SELECT queue.enqueue('{q}', p) FROM err_big ORDER BY jsonb_typeof(p) DESC")),
        ("22023".to_owned(), "payload must be a JSON object, got array".to_owned())
    );
    assert_eq!(
        refusal(&mut c, &format!("SELECT queue.enqueue('{q}', p) FROM err_big WHERE jsonb_typeof(p) = 'object'")).0,
        "succeeded"
    );
    // NULL priority: the default.
    c.batch_execute(&format!(
        "SELECT queue.enqueue('{q}', '{{}}', priority => NULL);
         SELECT queue.enqueue_many('{q}', ARRAY['{{}}']::jsonb[], priority => NULL);"
    ))
    .unwrap();
    let priorities: Vec<i32> = c
        .query("SELECT priority FROM queue.jobs WHERE queue = $1 AND payload = '{}' ORDER BY id", &[&q])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(priorities, [0, 0]);
}

/// A bad cron pattern is told in queue_ext's words, naming the field and the values it takes;
/// none of the cron parser's own messages shows.
#[test]
fn cron_errors_name_the_field_and_its_range_in_our_words() {
    let mut c = connect();
    let cases = [
        ("61 * * * *", "the minute field \"61\" is not valid: it takes 0-59"),
        ("0 24 * * *", "the hour field \"24\" is not valid: it takes 0-23"),
        ("0 0 32 * *", "the day of month field \"32\" is not valid: it takes 1-31"),
        ("0 0 1 0 *", "the month field \"0\" is not valid: it takes 1-12 or JAN-DEC"),
        ("0 0 * * 9", "the day of week field \"9\" is not valid: it takes 0-7 or SUN-SAT"),
        ("*/0 * * * *", "the minute field \"*/0\" is not valid"),
        ("1 2 3 4 5 6 7", "a pattern has 5 fields (minute hour day-of-month month day-of-week), this one has 7"),
        (
            "@fortnightly",
            "unknown macro; the macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly",
        ),
        ("", "a pattern has 5 fields"),
    ];
    for (cron, says) in cases {
        let (code, message) = refusal(&mut c, &format!("SELECT queue.schedule_fires('{cron}')"));
        assert_eq!(code, "22023", "{cron}: {message}");
        assert!(message.contains(says), "{cron}: {message}");
        for croner in ["Component", "Pattern", "between 5 and 7", "out of bounds", "Invalid", "illegal"] {
            assert!(!message.contains(croner), "{cron}: the parser's own words in {message}");
        }
    }
}

/// A server of this test's own, started with RUST_BACKTRACE=1 in its environment (the shared
/// test server's environment is whatever its starter had, so it cannot prove this): no error
/// carries a Rust backtrace, whether queue_ext raised it, PostgreSQL raised it inside one of
/// queue_ext's functions, or it was one of the panics NULL arguments used to cause.
#[test]
fn errors_never_carry_a_rust_backtrace() {
    let server = OwnServer::start("backtrace", &[("RUST_BACKTRACE", "1")]);
    let environ =
        std::fs::read(format!("/proc/{}/environ", server.postmaster_pid())).expect("postmaster's environment");
    assert!(
        environ.split(|b| *b == 0).any(|v| v == b"RUST_BACKTRACE=1"),
        "the server must run with RUST_BACKTRACE=1 for this test to mean anything"
    );
    let mut c = server.connect();
    c.batch_execute("CREATE EXTENSION queue_ext; SELECT queue.create_queue('bt')").unwrap();
    for (sql, code) in [
        ("SELECT queue.create_queue('Bad-Name')", "22023"),
        ("SELECT queue.enqueue('bt', 'null')", "22023"),
        ("SELECT queue.grant('bt', 'bt_no_such_role', 'produce')", "42704"),
        (
            "SELECT queue.enqueue('bt', '{}', run_at => now() + interval '1 day', dedupe_key => repeat('k', 1000))",
            "22023",
        ),
        ("SELECT queue.create_queue('bt', if_not_exists => NULL)", "22004"),
        ("SELECT queue.schedule('bt_s', '61 * * * *', 'bt')", "22023"),
        ("SELECT queue.spread_refresh('bt_r', 'bt', 'pg_catalog.pg_class', 'no_such_column', '1 hour')", "42703"),
    ] {
        let e = c.batch_execute(sql).expect_err(sql);
        let db = e.as_db_error().expect("a server error");
        assert_eq!(db.code().code(), code, "{sql}: {}", db.message());
        let detail = db.detail().unwrap_or("");
        assert!(
            !detail.lines().any(|l| l.trim_start().split_once(": ").is_some_and(|(n, _)| n.parse::<u32>().is_ok())),
            "{sql}: a backtrace in the DETAIL:\n{detail}"
        );
    }
}

/// A PostgreSQL server of a test's own (Unix socket only, in a directory of its own), started with
/// `env` added to its environment; stopped and removed when the value goes.
struct OwnServer {
    dir: std::path::PathBuf,
}

impl OwnServer {
    const PORT: u16 = 5432;

    fn command(program: &str) -> std::process::Command {
        let bin = format!("{}/{program}", std::env::var("QUEUE_EXT_TEST_PGBIN").expect("QUEUE_EXT_TEST_PGBIN"));
        match std::env::var("QUEUE_EXT_TEST_RUNAS") {
            Ok(user) => {
                let mut c = std::process::Command::new("runuser");
                c.args(["-u", &user, "--", &bin]);
                c
            }
            Err(_) => std::process::Command::new(bin),
        }
    }

    fn start(name: &str, env: &[(&str, &str)]) -> OwnServer {
        let dir = std::env::temp_dir().join(format!("queue_ext_{name}_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if let Ok(user) = std::env::var("QUEUE_EXT_TEST_RUNAS") {
            let status = std::process::Command::new("chown").arg(format!("{user}:")).arg(&dir).status().unwrap();
            assert!(status.success(), "chown {}", dir.display());
        }
        let server = OwnServer { dir };
        let data = server.dir.join("data");
        let quiet = || std::process::Stdio::null();
        let status = Self::command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .stdout(quiet())
            .status()
            .unwrap();
        assert!(status.success(), "initdb");
        let options = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c port={} -c shared_preload_libraries=queue_ext -c fsync=off",
            server.dir.display(),
            Self::PORT
        );
        let status = Self::command("pg_ctl")
            .envs(env.iter().copied())
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(server.dir.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdout(quiet())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl start");
        server
    }

    fn postmaster_pid(&self) -> u32 {
        let pid = std::fs::read_to_string(self.dir.join("data/postmaster.pid")).unwrap();
        pid.lines().next().unwrap().trim().parse().unwrap()
    }

    fn connect(&self) -> Client {
        let mut config = postgres::Config::new();
        config.host_path(&self.dir).port(Self::PORT).user("postgres").dbname("postgres");
        config.connect(postgres::NoTls).expect("connect to the test's own server")
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = Self::command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
