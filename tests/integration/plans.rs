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

    let plan: Vec<String> =
        c.query("SELECT * FROM queue.explain_claim($1, 10)", &[&q]).unwrap().iter().map(|r| r.get(0)).collect();
    let plan = plan.join("\n");
    assert!(plan.contains("ready_claim_idx"), "claim does not use ready_claim_idx:\n{plan}");
    // (queue.running and queue.group_state are empty here: a scan of nothing is fine.)
    assert!(!plan.contains("Seq Scan on ready"), "claim scans queue.ready:\n{plan}");
    for table in ["scheduled", "done", "dead"] {
        assert!(!plan.contains(&format!(" on {table} ")), "claim reads queue.{table}:\n{plan}");
    }
    assert!(plan.contains("claim_default.sql") && plan.contains("claim.sql"), "both claim statements:\n{plan}");

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
