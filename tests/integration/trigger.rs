//! queue.enqueue_trigger(): payloads per operation, transactional, statement level, option errors.

use crate::common::{connect, count, new_queue};
use postgres::Client;
use serde_json::{json, Value};

fn payloads(c: &mut Client, q: &str) -> Vec<Value> {
    c.query("SELECT payload FROM queue.jobs WHERE queue = $1 ORDER BY id", &[&q])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn row_trigger_enqueues_the_documented_payloads_in_the_same_transaction() {
    let mut c = connect();
    let q = new_queue(&mut c, "trig_row", "");
    let t = format!("{q}_users");
    c.batch_execute(&format!(
        "CREATE TABLE {t} (id int PRIMARY KEY, email text, tenant text, secret text);
         CREATE TRIGGER enq AFTER INSERT OR UPDATE OR DELETE ON {t} FOR EACH ROW
             EXECUTE FUNCTION queue.enqueue_trigger('{q}', 'columns=id,email', 'group_key=tenant', 'dedupe_key=id', 'priority=7');"
    ))
    .unwrap();
    c.batch_execute(&format!("INSERT INTO {t} VALUES (1, 'a@x', 'acme', 's1'), (2, 'b@x', 'beta', 's2')")).unwrap();
    c.batch_execute(&format!("UPDATE {t} SET email = 'a2@x' WHERE id = 1")).unwrap();
    let table = format!("public.{t}");
    assert_eq!(
        payloads(&mut c, &q),
        vec![
            json!({"op": "INSERT", "table": table, "new": {"id": 1, "email": "a@x"}}),
            json!({"op": "INSERT", "table": table, "new": {"id": 2, "email": "b@x"}}),
        ],
        "the UPDATE of row 1 dedupes onto its pending job"
    );
    // Once the pending jobs are done, the keys are free again.
    c.batch_execute(&format!(
        "SELECT count(*) FROM queue.claim('{q}', batch => 10) AS j, queue.complete(j.id, j.lease_token)"
    ))
    .unwrap();
    c.batch_execute(&format!("UPDATE {t} SET email = 'a3@x' WHERE id = 1; DELETE FROM {t} WHERE id = 2")).unwrap();
    let rows = c
        .query("SELECT payload, group_key, dedupe_key, priority FROM queue.jobs WHERE queue = $1 AND state = 'pending' ORDER BY id", &[&q])
        .unwrap();
    let got: Vec<(Value, Option<String>, Option<String>, i32)> =
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
    assert_eq!(
        got,
        vec![
            (
                json!({"op": "UPDATE", "table": table, "new": {"id": 1, "email": "a3@x"}, "old": {"id": 1, "email": "a2@x"}}),
                Some("acme".into()),
                Some("1".into()),
                7
            ),
            (
                json!({"op": "DELETE", "table": table, "old": {"id": 2, "email": "b@x"}}),
                Some("beta".into()),
                Some("2".into()),
                7
            ),
        ]
    );

    let before = count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&q]);
    let mut tx = c.transaction().unwrap();
    tx.batch_execute(&format!("INSERT INTO {t} VALUES (3, 'c@x', 'acme', 's3')")).unwrap();
    assert_eq!(
        tx.query_one("SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&q]).unwrap().get::<_, i64>(0),
        before + 1
    );
    tx.rollback().unwrap();
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&q]),
        before,
        "rolled back row left a job"
    );
}

#[test]
fn statement_trigger_enqueues_ten_thousand_updated_rows() {
    let mut c = connect();
    let q = new_queue(&mut c, "trig_stmt", "");
    let t = format!("{q}_items");
    c.batch_execute(&format!(
        "CREATE TABLE {t} (id int PRIMARY KEY, v int);
         INSERT INTO {t} SELECT g, 0 FROM generate_series(1, 10000) g;
         CREATE TRIGGER enq AFTER UPDATE ON {t} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
             FOR EACH STATEMENT EXECUTE FUNCTION queue.enqueue_trigger('{q}');
         UPDATE {t} SET v = id * 2;"
    ))
    .unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&q]), 10_000);
    // Every job pairs a row's old and new image.
    let mismatched = count(
        &mut c,
        "SELECT count(*) FROM queue.jobs WHERE queue = $1
            AND NOT (payload->>'op' = 'UPDATE' AND payload->'old'->>'id' = payload->'new'->>'id'
                     AND (payload->'new'->>'v')::int = 2 * (payload->'old'->>'id')::int AND payload->'old'->>'v' = '0')",
        &[&q],
    );
    assert_eq!(mismatched, 0);
    assert_eq!(
        count(&mut c, "SELECT count(DISTINCT payload->'new'->>'id') FROM queue.jobs WHERE queue = $1", &[&q]),
        10_000
    );
}

#[test]
fn bad_trigger_options_are_refused_at_create_trigger_naming_them() {
    let mut c = connect();
    let q = new_queue(&mut c, "trig_bad", "");
    let t = format!("{q}_t");
    c.batch_execute(&format!("CREATE TABLE {t} (id int, email text)")).unwrap();
    let cases = [
        (format!("'{q}', 'colour=red'"), "ROW", "22023", "unknown option \"colour\""),
        (format!("'{q}', 'columns=id,nope'"), "ROW", "42703", "column \"nope\""),
        (format!("'{q}', 'group_key=missing'"), "ROW", "42703", "column \"missing\""),
        (format!("'{q}', 'priority=high'"), "ROW", "22023", "priority must be an integer"),
        (format!("'{q}', 'spread=id:1 dya'"), "ROW", "22023", "\"spread=id:1 dya\""),
        (format!("'{q}', 'spread=id:1 month'"), "ROW", "22023", "months"),
        (format!("'{q}', 'spread=nope:1 day'"), "ROW", "42703", "column \"nope\""),
        ("'Not A Queue'".to_string(), "ROW", "22023", "invalid queue name"),
        (String::new(), "ROW", "22023", "first argument"),
        (format!("'{q}'"), "STATEMENT", "22023", "transition tables"),
    ];
    for (args, level, code, text) in cases {
        let sql = format!(
            "CREATE TRIGGER bad AFTER INSERT ON {t} FOR EACH {level} EXECUTE FUNCTION queue.enqueue_trigger({args})"
        );
        let err = c.batch_execute(&sql).expect_err(&sql);
        let db = err.as_db_error().expect("database error");
        assert_eq!(db.code().code(), code, "{sql}: {}", db.message());
        assert!(db.message().contains(text), "{sql}: {}", db.message());
    }
    // A queue that does not exist is only known when the trigger fires.
    c.batch_execute(&format!(
        "CREATE TRIGGER later AFTER INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION queue.enqueue_trigger('{q}_gone')"
    ))
    .unwrap();
    let err = c.batch_execute(&format!("INSERT INTO {t} VALUES (1, 'x')")).unwrap_err();
    assert_eq!(err.code().unwrap().code(), "42704");
    assert_eq!(
        count(&mut c, &format!("SELECT count(*) FROM {t}"), &[]),
        0,
        "the failed trigger rolled the insert back"
    );
}
