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
