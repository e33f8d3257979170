//! The hot path reads only what it hands out: neither history nor jobs scheduled for later are in
//! any index a claim reads, whatever their number.

use crate::common::{config, connect, count, fill_history, new_queue};
use postgres::NoTls;

#[test]
fn claim_reads_only_ready_jobs_with_100k_finished_and_100k_scheduled() {
    // A database of its own: sizes and plans must not see the other tests' jobs.
    let db = format!("queue_plan_{}", std::process::id());
    let mut admin = connect();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    let mut c = config("postgres").dbname(&db).connect(NoTls).unwrap();
    c.batch_execute("CREATE EXTENSION queue_ext").unwrap();
    let q = new_queue(&mut c, "plan", "");
    // A backend keeps a generic plan for its life: it must be the right one even when it was
    // made while the tables were empty.
    check_claim_plans(&mut c, &q);
    // History written directly (the test role is superuser): 100 000 finished jobs, and 100 000
    // jobs due tomorrow in as many groups (one per user, the spread-refresh workload).
    fill_history(&mut c, &q, 100_000);
    c.execute(
        "SELECT count(queue.enqueue($1, '{}', run_at => now() + interval '1 day', group_key => 'user' || g))
           FROM generate_series(1, 100000) g",
        &[&q],
    )
    .unwrap();
    c.execute("SELECT count(*) FROM queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[1000]))", &[&q]).unwrap();
    c.batch_execute("ANALYZE").unwrap();

    check_claim_plans(&mut c, &q);

    // The claim index holds ready jobs only: far smaller than the history and backlog it ignores.
    let pages = |c: &mut postgres::Client, rel: &str| -> i64 {
        c.query_one("SELECT pg_relation_size($1::text::regclass) / current_setting('block_size')::bigint", &[&rel])
            .unwrap()
            .get(0)
    };
    // 1 000 ready entries fit in a handful of pages; the 200 000 others are elsewhere.
    let claim_pages = pages(&mut c, "queue.ready_claim_idx");
    let backlog_pages = pages(&mut c, "queue.scheduled_due_idx");
    assert!(
        claim_pages <= 12 && backlog_pages > 5 * claim_pages,
        "claim index {claim_pages} pages, backlog index {backlog_pages}"
    );

    let claimed = count(&mut c, "SELECT count(*) FROM queue.claim($1, batch => 10)", &[&q]);
    assert_eq!(claimed, 10);
    drop(c);
    admin.batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)")).unwrap();
}

/// The plans a claim runs (queue.explain_claim): its promotion reads only the queue's due range of
/// scheduled_due_idx; the claim reads ready by ready_claim_idx and nothing of the backlog or
/// history.
fn check_claim_plans(c: &mut postgres::Client, q: &str) {
    let lines: Vec<String> =
        c.query("SELECT * FROM queue.explain_claim($1, 10)", &[&q]).unwrap().iter().map(|r| r.get(0)).collect();
    let plan = lines.join("\n");
    let claim_at = plan.find("-- claim_default.sql").expect("claim_default.sql in explain_claim");
    let (promote, claim) = plan.split_at(claim_at);
    assert!(promote.starts_with("-- promote.sql"), "promote.sql first:\n{plan}");
    assert!(
        promote.contains("Index Scan using scheduled_due_idx") && promote.contains("(queue_id = $1)"),
        "promotion does not read the queue's range of scheduled_due_idx:\n{promote}"
    );
    assert!(!promote.contains("scheduled_run_at_idx"), "promotion walks every queue's due jobs:\n{promote}");
    assert!(claim.contains("ready_claim_idx"), "claim does not use ready_claim_idx:\n{claim}");
    // (queue.running and queue.group_state are empty here: a scan of nothing is fine.)
    assert!(!claim.contains("Seq Scan on ready"), "claim scans queue.ready:\n{claim}");
    for table in ["scheduled", "done", "dead"] {
        assert!(!claim.contains(&format!(" on {table} ")), "claim reads queue.{table}:\n{claim}");
    }
    assert!(claim.contains("claim_default.sql") && claim.contains("claim.sql"), "both claim statements:\n{claim}");
}
