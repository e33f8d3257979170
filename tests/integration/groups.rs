//! pause_group / resume_group (issue 17): one group stops, the others flow, and a claim stays
//! O(batch) however many groups are paused.

use crate::common::{connect, count, new_queue, TestDb};
use postgres::Client;
use std::thread;

fn claimed_groups(c: &mut Client, q: &str, batch: i32) -> Vec<Option<String>> {
    c.query("SELECT group_key FROM queue.claim($1, batch => $2) ORDER BY group_key", &[&q, &batch])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn sqlstate(c: &mut Client, sql: &str) -> String {
    let e = c.batch_execute(sql).expect_err(sql);
    e.code().map(|s| s.code().to_owned()).unwrap_or_else(|| e.to_string())
}

/// queue.stats' ready figure against the table (parked jobs included: they are pending and due).
fn assert_ready_exact(c: &mut Client, q: &str) {
    let r = c
        .query_one(
            "SELECT s.ready, (SELECT count(*) FROM queue.ready j WHERE j.queue_id IN (q.id, -q.id))
               FROM queue.stats s JOIN queue.queues q ON q.name = s.queue WHERE s.queue = $1",
            &[&q],
        )
        .unwrap();
    assert_eq!(r.get::<_, Option<i64>>(0), Some(r.get::<_, i64>(1)), "queue.stats ready");
}

#[test]
fn a_paused_group_is_not_handed_out_while_the_others_flow() {
    let mut c = connect();
    let q = new_queue(&mut c, "grp_pause", "");
    c.execute(
        "SELECT count(*) FROM queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[3]), group_key => 'a')",
        &[&q],
    )
    .unwrap();
    c.execute(
        "SELECT count(*) FROM queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[3]), group_key => 'b')",
        &[&q],
    )
    .unwrap();
    c.execute("SELECT queue.pause_group('a', $1)", &[&q]).unwrap();
    c.execute("SELECT queue.pause_group('a', $1)", &[&q]).unwrap(); // again: nothing changes
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.paused_groups WHERE queue = $1", &[&q]), 1);
    // Jobs of the paused group stay pending in queue.jobs, and counted.
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND group_key = 'a' AND state = 'pending'",
            &[&q]
        ),
        3
    );
    assert_ready_exact(&mut c, &q);
    // Enqueue still works, and a job due later comes due into the paused group: neither is handed out.
    c.execute("SELECT queue.enqueue($1, '{}', group_key => 'a')", &[&q]).unwrap();
    let later: i64 = c
        .query_one("SELECT queue.enqueue($1, '{}', group_key => 'a', run_at => now() + interval '1 hour')", &[&q])
        .unwrap()
        .get(0);
    c.execute("UPDATE queue.scheduled SET run_at = now() WHERE id = $1", &[&later]).unwrap();
    assert_eq!(claimed_groups(&mut c, &q, 10), vec![Some("b".to_string()); 3]);
    assert_eq!(claimed_groups(&mut c, &q, 10), Vec::<Option<String>>::new());
    assert_ready_exact(&mut c, &q);
    // A parked job can be cancelled; the queue cannot be dropped while it holds jobs.
    let one: i64 =
        c.query_one("SELECT min(id) FROM queue.jobs WHERE queue = $1 AND group_key = 'a'", &[&q]).unwrap().get(0);
    assert!(c.query_one("SELECT queue.cancel($1)", &[&one]).unwrap().get::<_, bool>(0));
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM queue.jobs WHERE id = $1 AND state = 'cancelled' AND queue = $2",
            &[&one, &q]
        ),
        1
    );
    assert_eq!(sqlstate(&mut c, &format!("SELECT queue.drop_queue('{q}')")), "55006");
    assert_ready_exact(&mut c, &q);

    c.execute("SELECT queue.resume_group('a', $1)", &[&q]).unwrap();
    c.execute("SELECT queue.resume_group('a', $1)", &[&q]).unwrap(); // not paused: nothing happens
    assert_eq!(claimed_groups(&mut c, &q, 10), vec![Some("a".to_string()); 4]);
    assert_ready_exact(&mut c, &q);
}

#[test]
fn pause_group_and_resume_group_refuse_bad_arguments() {
    let mut c = connect();
    let q = new_queue(&mut c, "grp_args", "");
    for (sql, state) in [
        (format!("SELECT queue.pause_group(NULL, '{q}')"), "22004"),
        ("SELECT queue.pause_group('a', NULL)".to_string(), "22004"),
        (format!("SELECT queue.pause_group('', '{q}')"), "22023"),
        ("SELECT queue.pause_group('a', 'grp_no_such_queue')".to_string(), "42704"),
        (format!("SELECT queue.resume_group(NULL, '{q}')"), "22004"),
        ("SELECT queue.resume_group('a', 'grp_no_such_queue')".to_string(), "42704"),
        (format!("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT queue.resume_group('a', '{q}')"), "0A000"),
    ] {
        assert_eq!(sqlstate(&mut c, &sql), state, "{sql}");
        c.batch_execute("ROLLBACK").unwrap();
    }
}

/// With thousands of paused groups holding jobs, a claim reads as many claim-index entries as
/// with none: the paused groups' jobs are parked where the queue's claims never look. (Parking
/// leaves a dead entry per job under the queue's id, as a claim does for each job it takes: the
/// first claim after a pause steps over them once, marking them dead, and VACUUM removes them.
/// Measured here after the VACUUM that autovacuum would run.)
#[test]
fn a_claim_reads_no_paused_group_whatever_their_number() {
    let db = TestDb::new("grp_scale");
    let mut c = db.connect();
    c.batch_execute(
        "SELECT queue.create_queue('scale');
         SELECT count(queue.enqueue('scale', '{}', group_key => 'p' || g)) FROM generate_series(1, 3000) g, generate_series(1, 2);
         SELECT count(queue.pause_group('p' || g, 'scale')) FROM generate_series(1, 3000) g;
         SELECT count(*) FROM queue.enqueue_many('scale', array_fill('{}'::jsonb, ARRAY[20]), group_key => 'live');
",
    )
    .unwrap();
    c.batch_execute("VACUUM ANALYZE queue.ready").unwrap();
    let reads = |c: &mut Client| -> i64 {
        c.batch_execute("SELECT pg_stat_force_next_flush()").unwrap();
        c.batch_execute("SELECT pg_stat_clear_snapshot()").unwrap();
        c.query_one("SELECT idx_tup_read FROM pg_stat_user_indexes WHERE indexrelname = 'ready_claim_idx'", &[])
            .unwrap()
            .get(0)
    };
    let before = reads(&mut c);
    assert_eq!(claimed_groups(&mut c, "scale", 5), vec![Some("live".to_string()); 5]);
    let read = reads(&mut c) - before;
    assert!(read < 100, "a claim of 5 read {read} claim-index entries with 3000 paused groups");
    // Jobs reaching ready in paused groups after the pause are parked once by the claim that
    // meets them; the next claim reads none of them.
    c.batch_execute("SELECT count(queue.enqueue('scale', '{}', group_key => 'p' || g)) FROM generate_series(1, 10) g")
        .unwrap();
    assert_eq!(claimed_groups(&mut c, "scale", 5), vec![Some("live".to_string()); 5]);
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.ready r JOIN queue.queues q ON r.queue_id = q.id WHERE q.name = 'scale' AND r.group_key <> 'live'", &[]), 0);
    c.batch_execute("VACUUM queue.ready").unwrap();
    let before = reads(&mut c);
    assert_eq!(claimed_groups(&mut c, "scale", 5), vec![Some("live".to_string()); 5]);
    let read = reads(&mut c) - before;
    assert!(read < 100, "a claim of 5 read {read} claim-index entries after parking");
    assert_ready_exact(&mut c, "scale");
}

/// Claims parking late arrivals of a group race its resume: no job stays parked once the group
/// is resumed.
#[test]
fn resume_group_racing_claims_leaves_no_job_parked() {
    let mut c = connect();
    let q = new_queue(&mut c, "grp_race", "");
    for round in 0..5 {
        c.execute("SELECT queue.pause_group('a', $1)", &[&q]).unwrap();
        c.execute(
            "SELECT count(*) FROM queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[50]), group_key => 'a')",
            &[&q],
        )
        .unwrap();
        c.execute(
            "SELECT count(*) FROM queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[50]), group_key => 'b')",
            &[&q],
        )
        .unwrap();
        let claimers: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || {
                    let mut c = connect();
                    for _ in 0..20 {
                        c.query("SELECT * FROM queue.claim($1, batch => 2)", &[&q]).unwrap();
                    }
                })
            })
            .collect();
        c.execute("SELECT queue.resume_group('a', $1)", &[&q]).unwrap();
        for t in claimers {
            t.join().unwrap();
        }
        let parked = count(
            &mut c,
            "SELECT count(*) FROM queue.ready r JOIN queue.queues q ON r.queue_id = -q.id WHERE q.name = $1",
            &[&q],
        );
        assert_eq!(parked, 0, "round {round}: jobs stayed parked after resume_group");
        assert_ready_exact(&mut c, &q);
    }
}
