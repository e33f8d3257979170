//! What a live duplicate does (issue 17): on_duplicate => 'skip' | 'replace' | 'raise', debounce,
//! for enqueue, enqueue_many and the trigger; replace against claims and other producers.

use crate::common::{connect, count, new_queue};
use postgres::Client;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use uuid::Uuid;

fn sqlstate(c: &mut Client, sql: &str) -> String {
    let e = c.batch_execute(sql).expect_err(sql);
    e.code().map(|s| s.code().to_owned()).unwrap_or_else(|| e.to_string())
}

fn enqueue(c: &mut Client, q: &str, payload: Value, mode: &str) -> i64 {
    c.query_one("SELECT queue.enqueue($1, $2, dedupe_key => 'k', on_duplicate => $3)", &[&q, &payload, &mode])
        .unwrap()
        .get(0)
}

/// Pending jobs of `q` with their payloads and whether they are due later, by id.
fn pending(c: &mut Client, q: &str) -> Vec<(i64, Value, bool)> {
    c.query(
        "SELECT id, payload, run_at > now() FROM queue.jobs WHERE queue = $1 AND state = 'pending' ORDER BY id",
        &[&q],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

/// queue.stats' ready, scheduled and running agree with the tables (a paused group's jobs, parked
/// in ready under -id, count as ready).
fn assert_stats_exact(c: &mut Client, q: &str) {
    let r = c
        .query_one(
            "SELECT s.ready, s.scheduled, s.running,
                    (SELECT count(*) FROM queue.ready j WHERE j.queue_id IN (q.id, -q.id)),
                    (SELECT count(*) FROM queue.scheduled j WHERE j.queue_id = q.id),
                    (SELECT count(*) FROM queue.running j WHERE j.queue_id = q.id)
               FROM queue.stats s JOIN queue.queues q ON q.name = s.queue WHERE s.queue = $1",
            &[&q],
        )
        .unwrap();
    let shown: [Option<i64>; 3] = [r.get(0), r.get(1), r.get(2)];
    let truth: [i64; 3] = [r.get(3), r.get(4), r.get(5)];
    assert_eq!(shown, truth.map(Some), "queue.stats (ready, scheduled, running) against the tables");
}

#[test]
fn replace_gives_the_pending_job_the_new_payload_and_keeps_its_id() {
    let mut c = connect();
    let q = new_queue(&mut c, "dd_replace", "");
    let first = enqueue(&mut c, &q, json!({"v": 1}), "replace");
    assert_eq!(enqueue(&mut c, &q, json!({"v": 2}), "replace"), first);
    assert_eq!(enqueue(&mut c, &q, json!({"v": 3}), "skip"), first, "skip keeps the payload");
    assert_eq!(pending(&mut c, &q), vec![(first, json!({"v": 2}), false)]);
    // A job due later keeps its run_at without debounce.
    let later: i64 = c
        .query_one(
            "SELECT queue.enqueue($1, '{\"v\": 1}', run_at => now() + interval '1 hour', dedupe_key => 'later')",
            &[&q],
        )
        .unwrap()
        .get(0);
    let again: i64 = c
        .query_one("SELECT queue.enqueue($1, '{\"v\": 2}', dedupe_key => 'later', on_duplicate => 'replace')", &[&q])
        .unwrap()
        .get(0);
    assert_eq!(again, later);
    let r = c
        .query_one("SELECT payload, run_at > now() + interval '59 minutes' FROM queue.jobs WHERE id = $1", &[&later])
        .unwrap();
    assert_eq!((r.get::<_, Value>(0), r.get::<_, bool>(1)), (json!({"v": 2}), true));
    // The claim hands out the replaced payload.
    let got: Value = c.query_one("SELECT payload FROM queue.claim($1)", &[&q]).unwrap().get(0);
    assert_eq!(got, json!({"v": 2}));
    assert_stats_exact(&mut c, &q);
}

#[test]
fn raise_names_the_queue_the_key_and_the_live_job_and_changes_nothing() {
    let mut c = connect();
    let q = new_queue(&mut c, "dd_raise", "");
    let id = enqueue(&mut c, &q, json!({"v": 1}), "raise");
    let e = c
        .query_one("SELECT queue.enqueue($1, '{\"v\": 2}', dedupe_key => 'k', on_duplicate => 'raise')", &[&q])
        .unwrap_err();
    let db = e.as_db_error().unwrap();
    assert_eq!(db.code().code(), "23505");
    assert_eq!(db.message(), format!("queue \"{q}\" already has live job {id} with dedupe_key \"k\""));
    assert_eq!(pending(&mut c, &q), vec![(id, json!({"v": 1}), false)]);
    // A running holder is a live duplicate too.
    c.query("SELECT * FROM queue.claim($1)", &[&q]).unwrap();
    assert_eq!(
        sqlstate(&mut c, &format!("SELECT queue.enqueue('{q}', '{{}}', dedupe_key => 'k', on_duplicate => 'raise')")),
        "23505"
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&q]), 1);
}

#[test]
fn debounce_pushes_the_job_back_moving_it_from_ready_to_scheduled() {
    let mut c = connect();
    let q = new_queue(&mut c, "dd_debounce", "");
    let id = enqueue(&mut c, &q, json!({"v": 1}), "replace");
    assert_eq!(pending(&mut c, &q), vec![(id, json!({"v": 1}), false)], "due now: in ready");
    let again: i64 = c
        .query_one(
            "SELECT queue.enqueue($1, '{\"v\": 2}', dedupe_key => 'k', on_duplicate => 'replace', debounce => '10 minutes')",
            &[&q],
        )
        .unwrap()
        .get(0);
    assert_eq!(again, id);
    let r = c
        .query_one(
            "SELECT (SELECT count(*) FROM queue.ready WHERE id = $1), (SELECT count(*) FROM queue.scheduled WHERE id = $1),
                    (SELECT run_at - now() BETWEEN interval '9 minutes' AND interval '10 minutes' FROM queue.scheduled WHERE id = $1)",
            &[&id],
        )
        .unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, i64>(1), r.get::<_, bool>(2)), (0, 1, true));
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.claim($1)", &[&q]), 0, "not due any more");
    // A new job with debounce is due after it too; a later run_at wins.
    let fresh: i64 = c
        .query_one(
            "SELECT queue.enqueue($1, '{}', dedupe_key => 'other', on_duplicate => 'replace', debounce => '1 minute',
                                  run_at => now() + interval '1 hour')",
            &[&q],
        )
        .unwrap()
        .get(0);
    let due_in = "SELECT count(*) FROM queue.scheduled WHERE id = $1 AND run_at - now() BETWEEN interval '59 minutes' AND interval '1 hour'";
    assert_eq!(count(&mut c, due_in, &[&fresh]), 1, "the later run_at wins");
    let soon: i64 = c
        .query_one(
            "SELECT queue.enqueue($1, '{}', dedupe_key => 'third', on_duplicate => 'replace', debounce => '1 hour')",
            &[&q],
        )
        .unwrap()
        .get(0);
    assert_eq!(count(&mut c, due_in, &[&soon]), 1, "a new job waits out the debounce too");
    assert_stats_exact(&mut c, &q);
}

#[test]
fn replace_of_a_running_job_enqueues_one_job_behind_it() {
    let mut c = connect();
    let q = new_queue(&mut c, "dd_running", "");
    let first = enqueue(&mut c, &q, json!({"v": 1}), "replace");
    let claimed = c.query_one("SELECT id, lease_token FROM queue.claim($1)", &[&q]).unwrap();
    let token: Uuid = claimed.get(1);
    assert_eq!(claimed.get::<_, i64>(0), first);
    let second = enqueue(&mut c, &q, json!({"v": 2}), "replace");
    assert_ne!(second, first, "the running job is not touched: a new one follows it");
    assert_eq!(enqueue(&mut c, &q, json!({"v": 3}), "replace"), second, "at most one pending job per key");
    assert_eq!(enqueue(&mut c, &q, json!({"v": 4}), "skip"), second, "the new job holds the key");
    let running: Value = c.query_one("SELECT payload FROM queue.jobs WHERE id = $1", &[&first]).unwrap().get(0);
    assert_eq!(running, json!({"v": 1}));
    assert_eq!(pending(&mut c, &q), vec![(second, json!({"v": 3}), false)]);
    // Completing the old job leaves the key with the new one.
    assert!(c.query_one("SELECT queue.complete($1, $2)", &[&first, &token]).unwrap().get::<_, bool>(0));
    assert_eq!(enqueue(&mut c, &q, json!({"v": 5}), "replace"), second);
    assert_eq!(pending(&mut c, &q), vec![(second, json!({"v": 5}), false)]);
    assert_stats_exact(&mut c, &q);
}

#[test]
fn enqueue_many_and_bad_arguments() {
    let mut c = connect();
    let q = new_queue(&mut c, "dd_many", "");
    let ids: Vec<i64> = c
        .query(
            "SELECT * FROM queue.enqueue_many($1, ARRAY['{\"v\": 1}', '{\"v\": 1}']::jsonb[], dedupe_keys => ARRAY['a', 'b'])",
            &[&q],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let again: Vec<i64> = c
        .query(
            "SELECT * FROM queue.enqueue_many($1, ARRAY['{\"v\": 2}', '{\"v\": 2}', '{\"v\": 2}']::jsonb[],
                                             dedupe_keys => ARRAY['a', NULL, 'b'], on_duplicate => 'replace')",
            &[&q],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!((again[0], again[2]), (ids[0], ids[1]));
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND payload = '{\"v\": 2}'", &[&q]), 3);
    for (sql, state) in [
        (format!("SELECT queue.enqueue('{q}', '{{}}', dedupe_key => 'a', on_duplicate => NULL)"), "22004"),
        (format!("SELECT queue.enqueue('{q}', '{{}}', dedupe_key => 'a', on_duplicate => 'merge')"), "22023"),
        (format!("SELECT queue.enqueue('{q}', '{{}}', dedupe_key => 'a', debounce => '1 minute')"), "22023"),
        (
            format!(
                "SELECT queue.enqueue('{q}', '{{}}', dedupe_key => 'a', on_duplicate => 'replace', debounce => '0')"
            ),
            "22023",
        ),
        (format!("SELECT queue.enqueue_many('{q}', ARRAY['{{}}']::jsonb[], on_duplicate => 'replace')"), "22023"),
    ] {
        assert_eq!(sqlstate(&mut c, &sql), state, "{sql}");
    }
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&q]),
        3,
        "failed calls changed nothing"
    );
}

#[test]
fn a_trigger_with_replace_keeps_the_latest_row_image() {
    let mut c = connect();
    let q = new_queue(&mut c, "dd_trigger", "");
    c.batch_execute(&format!(
        "CREATE TABLE dd_trigger_t (id int PRIMARY KEY, v int);
         CREATE TRIGGER dd_t AFTER INSERT OR UPDATE ON dd_trigger_t FOR EACH ROW
             EXECUTE FUNCTION queue.enqueue_trigger('{q}', 'dedupe_key=id', 'on_duplicate=replace', 'columns=id,v');
         INSERT INTO dd_trigger_t VALUES (1, 1);
         UPDATE dd_trigger_t SET v = 2;
         UPDATE dd_trigger_t SET v = 3;"
    ))
    .unwrap();
    let jobs = pending(&mut c, &q);
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].1["new"], json!({"id": 1, "v": 3}));
    // Options are checked at CREATE TRIGGER time.
    for (args, state) in [
        ("'dedupe_key=id', 'on_duplicate=replace', 'debounce=soon'", "22023"),
        ("'dedupe_key=id', 'on_duplicate=replace', 'debounce=-1 minute'", "22023"),
        ("'on_duplicate=raise'", "22023"),
        ("'dedupe_key=id', 'debounce=1 minute'", "22023"),
    ] {
        let sql = format!(
            "CREATE TRIGGER dd_bad AFTER INSERT ON dd_trigger_t FOR EACH ROW EXECUTE FUNCTION queue.enqueue_trigger('{q}', {args})"
        );
        assert_eq!(sqlstate(&mut c, &sql), state, "{sql}");
    }
    c.batch_execute("DROP TABLE dd_trigger_t").unwrap();
}

/// Four producers replace one key while a worker claims and completes: never two pending jobs of
/// the key, every job handed out whole, and the last replacement is the last payload processed.
#[test]
fn concurrent_replacements_and_claims_lose_nothing() {
    let mut c = connect();
    let q = new_queue(&mut c, "dd_race", "");
    let producing = Arc::new(AtomicBool::new(true));
    let producers: Vec<_> = (0..4)
        .map(|p| {
            let q = q.clone();
            thread::spawn(move || {
                let mut c = connect();
                for i in 0..150 {
                    enqueue(&mut c, &q, json!({"a": p * 1000 + i, "b": p * 1000 + i}), "replace");
                }
            })
        })
        .collect();
    let worker = {
        let (q, producing) = (q.clone(), producing.clone());
        thread::spawn(move || {
            let mut c = connect();
            let mut last = None;
            loop {
                // Read before the claim: once it is false, the final replacement has committed.
                let finished = !producing.load(Ordering::SeqCst);
                let rows = c.query("SELECT id, lease_token, payload FROM queue.claim($1, batch => 5)", &[&q]).unwrap();
                if rows.is_empty() && finished {
                    return last;
                }
                for r in rows {
                    let payload: Value = r.get(2);
                    assert_eq!(payload["a"], payload["b"], "a job was handed out half-replaced");
                    c.execute("SELECT queue.complete($1, $2)", &[&r.get::<_, i64>(0), &r.get::<_, Uuid>(1)]).unwrap();
                    last = Some(payload);
                }
                let live =
                    count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state = 'pending'", &[&q]);
                assert!(live <= 1, "{live} pending jobs hold one key");
            }
        })
    };
    for p in producers {
        p.join().unwrap();
    }
    // The last replacement, committed after every other: it must be processed.
    enqueue(&mut c, &q, json!({"a": -1, "b": -1}), "replace");
    producing.store(false, Ordering::SeqCst);
    let last = worker.join().unwrap();
    assert_eq!(last, Some(json!({"a": -1, "b": -1})), "the last replacement was lost");
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state IN ('pending', 'running')", &[&q]),
        0
    );
    assert_stats_exact(&mut c, &q);
}
