//! The hot path stays on an index sized by live work, whatever the history.

use crate::common::{config, connect, count, new_queue};
use postgres::NoTls;

#[test]
fn claim_uses_the_partial_index_with_100k_finished_jobs() {
    // A database of its own: index sizes must not see the other tests' jobs.
    let db = format!("queue_plan_{}", std::process::id());
    let mut admin = connect();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    let mut c = config("postgres").dbname(&db).connect(NoTls).unwrap();
    c.batch_execute("CREATE EXTENSION queue_ext").unwrap();
    let q = new_queue(&mut c, "plan", "");
    // History written directly (the test role is superuser): 100 000 finished jobs.
    c.execute(
        "INSERT INTO queue.jobs (queue, state, payload, max_attempts, attempts, finished_at)
         SELECT $1, 'done', '{}', 25, 1, now() FROM generate_series(1, 100000)",
        &[&q],
    )
    .unwrap();
    c.execute("SELECT count(*) FROM queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[1000]))", &[&q]).unwrap();
    c.batch_execute("ANALYZE queue.jobs").unwrap();

    let plan: Vec<String> =
        c.query("SELECT * FROM queue.explain_claim($1, 10)", &[&q]).unwrap().iter().map(|r| r.get(0)).collect();
    let plan = plan.join("\n");
    assert!(plan.contains("jobs_claim_idx"), "claim does not use jobs_claim_idx:\n{plan}");
    assert!(!plan.contains("Seq Scan on jobs"), "claim scans the table:\n{plan}");

    // The claim index holds pending rows only: far smaller than the history it ignores.
    let pages = |c: &mut postgres::Client, rel: &str| -> i64 {
        c.query_one("SELECT pg_relation_size($1::text::regclass) / current_setting('block_size')::bigint", &[&rel])
            .unwrap()
            .get(0)
    };
    let claim_pages = pages(&mut c, "queue.jobs_claim_idx");
    let pkey_pages = pages(&mut c, "queue.jobs_pkey");
    assert!(claim_pages * 20 < pkey_pages, "claim index {claim_pages} pages vs primary key {pkey_pages}");

    let claimed = count(&mut c, "SELECT count(*) FROM queue.claim($1, batch => 10)", &[&q]);
    assert_eq!(claimed, 10);
    drop(c);
    admin.batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)")).unwrap();
}
