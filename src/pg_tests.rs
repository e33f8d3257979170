//! In-database tests (`cargo pgrx test`): validation, backoff arithmetic and state transitions.
//! Each runs in a transaction that is rolled back; concurrency, commit visibility and roles are
//! covered by the client-side tests in tests/integration.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn one<T: pgrx::FromDatum + pgrx::IntoDatum>(sql: &str) -> Option<T> {
        Spi::get_one::<T>(sql).expect("query failed")
    }

    fn run(sql: &str) {
        Spi::run(sql).expect("statement failed")
    }

    fn state(id: i64) -> String {
        one::<String>(&format!("SELECT state::text FROM queue.jobs WHERE id = {id}")).unwrap()
    }

    fn token(id: i64) -> String {
        one::<String>(&format!("SELECT lease_token::text FROM queue.jobs WHERE id = {id}")).unwrap()
    }

    fn setup(queue: &str, options: &str) {
        run(&format!("SELECT queue.create_queue('{queue}'{options})"));
    }

    #[pg_test]
    fn create_queue_takes_defaults_and_overrides() {
        setup("q", ", lease => '5 seconds', max_attempts => 3");
        assert_eq!(one::<String>("SELECT lease::text FROM queue.queues WHERE name = 'q'").unwrap(), "00:00:05");
        assert_eq!(one::<i32>("SELECT max_attempts FROM queue.queues WHERE name = 'q'"), Some(3));
        assert_eq!(one::<String>("SELECT retention::text FROM queue.queues WHERE name = 'q'").unwrap(), "1 day");
        run("SELECT queue.create_queue('q', if_not_exists => true)");
    }

    #[pg_test]
    fn alter_queue_changes_and_resets() {
        setup("q", ", rate_per_second => 5, max_running => 2");
        run("SELECT queue.alter_queue('q', lease => '1 minute')");
        assert_eq!(one::<f64>("SELECT rate_per_second FROM queue.queues WHERE name = 'q'"), Some(5.0));
        run("SELECT queue.alter_queue('q', reset => '{rate_per_second,lease}')");
        assert_eq!(one::<f64>("SELECT rate_per_second FROM queue.queues WHERE name = 'q'"), None);
        assert_eq!(one::<String>("SELECT lease::text FROM queue.queues WHERE name = 'q'").unwrap(), "00:00:30");
        assert_eq!(one::<i32>("SELECT max_running FROM queue.queues WHERE name = 'q'"), Some(2));
    }

    #[pg_test(
        error = "invalid queue name \"Bad-Name\": queue names must match ^[a-z_][a-z0-9_]{0,47}$ (lower-case letters, digits and underscores, at most 48 characters, not starting with a digit)"
    )]
    fn queue_name_rule_is_enforced() {
        run("SELECT queue.create_queue('Bad-Name')");
    }

    #[pg_test(error = "backoff_max (00:00:01) must not be less than backoff_base (00:00:10)")]
    fn backoff_bounds_are_checked_against_each_other() {
        setup("q", ", backoff_base => '10 seconds', backoff_max => '1 second'");
    }

    #[pg_test(error = "queue \"q\" still has 1 pending or running jobs; drop it with force => true to discard them")]
    fn drop_queue_refuses_live_jobs() {
        setup("q", "");
        run("SELECT queue.enqueue('q', '{}')");
        run("SELECT queue.drop_queue('q')");
    }

    #[pg_test]
    fn drop_queue_force_removes_jobs() {
        setup("q", "");
        run("SELECT queue.enqueue('q', '{}')");
        run("SELECT queue.drop_queue('q', force => true)");
        assert_eq!(one::<i64>("SELECT count(*) FROM queue.jobs WHERE queue = 'q'"), Some(0));
        assert_eq!(one::<i64>("SELECT count(*) FROM queue.queues WHERE name = 'q'"), Some(0));
    }

    #[pg_test(error = "payload must not be null")]
    fn null_payload_is_refused() {
        setup("q", "");
        run("SELECT queue.enqueue('q', NULL)");
    }

    #[pg_test(error = "every element of payloads must not be null")]
    fn null_payload_in_batch_is_refused() {
        setup("q", "");
        run("SELECT queue.enqueue_many('q', ARRAY['{}', NULL]::jsonb[])");
    }

    #[pg_test]
    fn claim_order_is_priority_then_run_at_then_id() {
        setup("q", "");
        run("SELECT queue.enqueue('q', '{\"n\":1}', run_at => now() - interval '1 minute')");
        run("SELECT queue.enqueue('q', '{\"n\":2}', priority => 10)");
        run("SELECT queue.enqueue('q', '{\"n\":3}', run_at => now() - interval '2 minutes')");
        run("SELECT queue.enqueue('q', '{\"n\":4}', run_at => now() + interval '1 hour', priority => 99)");
        let order = one::<String>("SELECT string_agg(payload->>'n', ',') FROM queue.claim('q', batch => 10)").unwrap();
        assert_eq!(order, "2,3,1");
    }

    #[pg_test]
    fn paused_queue_hands_out_nothing() {
        setup("q", "");
        run("SELECT queue.enqueue('q', '{}')");
        run("SELECT queue.pause_queue('q')");
        assert_eq!(one::<i64>("SELECT count(*) FROM queue.claim('q')"), Some(0));
        run("SELECT queue.resume_queue('q')");
        assert_eq!(one::<i64>("SELECT count(*) FROM queue.claim('q')"), Some(1));
    }

    #[pg_test]
    fn fail_backs_off_then_goes_dead() {
        setup("q", ", max_attempts => 2, backoff_base => '10 seconds', backoff_max => '1 minute'");
        let id = one::<i64>("SELECT queue.enqueue('q', '{}')").unwrap();
        run("SELECT queue.claim('q')");
        assert!(one::<bool>(&format!("SELECT queue.fail({id}, '{}', 'first')", token(id))).unwrap());
        assert_eq!(state(id), "pending");
        // attempt 1: d = 10 s, delay in [5 s, 10 s)
        let delay =
            one::<f64>(&format!("SELECT extract(epoch FROM run_at - now())::float8 FROM queue.jobs WHERE id = {id}"))
                .unwrap();
        assert!((5.0..10.0).contains(&delay), "delay {delay}");
        run(&format!("UPDATE queue.scheduled SET run_at = now() WHERE id = {id}"));
        run("SELECT queue.claim('q')");
        assert!(one::<bool>(&format!("SELECT queue.fail({id}, '{}', 'second')", token(id))).unwrap());
        assert_eq!(state(id), "dead");
        assert_eq!(one::<String>(&format!("SELECT last_error FROM queue.jobs WHERE id = {id}")).unwrap(), "second");
        assert!(one::<bool>(&format!("SELECT finished_at IS NOT NULL FROM queue.jobs WHERE id = {id}")).unwrap());
    }

    #[pg_test]
    fn retry_delay_doubles_and_caps() {
        for (attempt, lo, hi) in [(1, 0.5, 1.0), (2, 1.0, 2.0), (3, 2.0, 4.0), (8, 30.0, 60.0), (30, 30.0, 60.0)] {
            let d = one::<f64>(&format!(
                "SELECT extract(epoch FROM queue.retry_delay({attempt}, '1 second', '1 minute', 7))::float8"
            ))
            .unwrap();
            assert!(d >= lo && d < hi, "attempt {attempt}: {d}");
        }
    }

    #[pg_test]
    fn stale_token_changes_nothing() {
        setup("q", "");
        let id = one::<i64>("SELECT queue.enqueue('q', '{}')").unwrap();
        run("SELECT queue.claim('q')");
        let first = token(id);
        run(&format!("UPDATE queue.running SET lease_expires_at = now() - interval '1 second' WHERE id = {id}"));
        assert_eq!(one::<i64>("SELECT queue.release_expired_leases()"), Some(1));
        assert_eq!(
            one::<String>(&format!("SELECT last_error FROM queue.jobs WHERE id = {id}")).unwrap(),
            "lease expired"
        );
        run(&format!("UPDATE queue.scheduled SET run_at = now() WHERE id = {id}"));
        run("SELECT queue.claim('q')");
        let second = token(id);
        assert_ne!(first, second);
        for call in
            ["complete({id}, '{t}')", "fail({id}, '{t}', 'x')", "heartbeat({id}, '{t}')", "release({id}, '{t}')"]
        {
            let sql = format!("SELECT queue.{}", call.replace("{id}", &id.to_string()).replace("{t}", &first));
            assert_eq!(one::<bool>(&sql), Some(false), "{sql}");
        }
        assert_eq!(state(id), "running");
        assert!(one::<bool>(&format!("SELECT queue.complete({id}, '{second}')")).unwrap());
        let finished = one::<String>(&format!("SELECT finished_at::text FROM queue.done WHERE id = {id}"));
        // Repeated with the token that completed it, complete answers true again and changes nothing.
        assert!(one::<bool>(&format!("SELECT queue.complete({id}, '{second}')")).unwrap(), "a repeated complete");
        assert_eq!(one::<i64>(&format!("SELECT count(*) FROM queue.done WHERE id = {id}")), Some(1), "completed twice");
        assert_eq!(one::<String>(&format!("SELECT finished_at::text FROM queue.done WHERE id = {id}")), finished);
    }

    #[pg_test]
    fn release_does_not_count_an_attempt() {
        setup("q", "");
        let id = one::<i64>("SELECT queue.enqueue('q', '{}')").unwrap();
        run("SELECT queue.claim('q')");
        assert!(one::<bool>(&format!("SELECT queue.release({id}, '{}', delay => '1 hour')", token(id))).unwrap());
        assert_eq!(one::<i32>(&format!("SELECT attempts FROM queue.jobs WHERE id = {id}")), Some(0));
        assert_eq!(one::<i64>("SELECT count(*) FROM queue.claim('q')"), Some(0), "delayed by release");
    }

    #[pg_test]
    fn heartbeat_extends_the_lease() {
        setup("q", ", lease => '10 seconds'");
        let id = one::<i64>("SELECT queue.enqueue('q', '{}')").unwrap();
        run("SELECT queue.claim('q')");
        assert!(one::<bool>(&format!("SELECT queue.heartbeat({id}, '{}', extend => '1 hour')", token(id))).unwrap());
        assert!(one::<bool>(&format!(
            "SELECT lease_expires_at > now() + interval '59 minutes' FROM queue.jobs WHERE id = {id}"
        ))
        .unwrap());
    }

    #[pg_test]
    fn cancel_and_retry() {
        setup("q", ", max_attempts => 1");
        let a = one::<i64>("SELECT queue.enqueue('q', '{}')").unwrap();
        assert!(one::<bool>(&format!("SELECT queue.cancel({a})")).unwrap());
        assert!(!one::<bool>(&format!("SELECT queue.cancel({a})")).unwrap());
        assert_eq!(state(a), "cancelled");
        assert!(one::<bool>(&format!("SELECT queue.retry({a})")).unwrap());
        assert_eq!(state(a), "pending");
        run("SELECT queue.claim('q')");
        run(&format!("SELECT queue.fail({a}, '{}', 'bad')", token(a)));
        assert_eq!(state(a), "dead");
        assert_eq!(one::<i64>("SELECT queue.retry('q')"), Some(1));
        assert_eq!(state(a), "pending");
        assert_eq!(one::<i32>(&format!("SELECT attempts FROM queue.jobs WHERE id = {a}")), Some(0));
    }

    #[pg_test]
    fn retry_keeps_one_live_job_per_dedupe_key() {
        setup("q", "");
        let a = one::<i64>("SELECT queue.enqueue('q', '{}', dedupe_key => 'k')").unwrap();
        run(&format!("SELECT queue.cancel({a})"));
        let b = one::<i64>("SELECT queue.enqueue('q', '{}', dedupe_key => 'k')").unwrap();
        assert_ne!(a, b);
        assert_eq!(one::<i64>("SELECT queue.retry('q', 'cancelled')"), Some(0));
        run(&format!("SELECT queue.cancel({b})"));
        assert_eq!(one::<i64>("SELECT queue.retry('q', 'cancelled')"), Some(1));
        assert_eq!(state(b), "pending", "the newest of the key comes back");
        assert_eq!(state(a), "cancelled");
    }

    #[pg_test]
    fn dedupe_returns_the_live_job_and_frees_the_key_when_done() {
        setup("q", "");
        let a = one::<i64>("SELECT queue.enqueue('q', '{}', dedupe_key => 'k')").unwrap();
        assert_eq!(one::<i64>("SELECT queue.enqueue('q', '{\"other\":1}', dedupe_key => 'k')"), Some(a));
        run("SELECT queue.claim('q')");
        assert_eq!(
            one::<i64>("SELECT queue.enqueue('q', '{}', dedupe_key => 'k')"),
            Some(a),
            "running still holds the key"
        );
        run(&format!("SELECT queue.complete({a}, '{}')", token(a)));
        assert_ne!(one::<i64>("SELECT queue.enqueue('q', '{}', dedupe_key => 'k')"), Some(a));
    }

    #[pg_test]
    fn enqueue_many_returns_ids_in_order_and_dedupes() {
        setup("q", "");
        let ids = one::<Vec<i64>>(
            "SELECT array_agg(i) FROM queue.enqueue_many('q', ARRAY['{\"n\":1}','{\"n\":2}','{\"n\":3}']::jsonb[]) i",
        )
        .unwrap();
        let ns = one::<Vec<String>>(&format!("SELECT array_agg(payload->>'n' ORDER BY array_position(ARRAY{ids:?}::bigint[], id)) FROM queue.jobs WHERE id = ANY(ARRAY{ids:?}::bigint[])")).unwrap();
        assert_eq!(ns, vec!["1", "2", "3"]);
        let deduped = one::<Vec<i64>>("SELECT array_agg(i) FROM queue.enqueue_many('q', ARRAY['{}','{}','{}']::jsonb[], dedupe_keys => ARRAY['x', NULL, 'x']) i").unwrap();
        assert_eq!(deduped.len(), 3);
        assert_eq!(deduped[0], deduped[2]);
        assert_ne!(deduped[0], deduped[1]);
    }

    #[pg_test]
    fn one_round_trip_completes_previous_batch() {
        setup("q", "");
        run("SELECT queue.enqueue_many('q', array_fill('{}'::jsonb, ARRAY[4]))");
        let (ids, tok) = Spi::get_two::<Vec<i64>, String>(
            "SELECT array_agg(id), min(lease_token::text) FROM queue.claim('q', batch => 2)",
        )
        .unwrap();
        let (ids, tok) = (ids.unwrap(), tok.unwrap());
        let next = one::<i64>(&format!("SELECT count(*) FROM queue.claim('q', batch => 2, complete => ARRAY{ids:?}::bigint[], complete_token => '{tok}')")).unwrap();
        assert_eq!(next, 2);
        assert_eq!(one::<i64>("SELECT count(*) FROM queue.jobs WHERE state = 'done'"), Some(2));
    }

    #[pg_test]
    fn complete_many_with_per_job_tokens() {
        setup("q", "");
        run("SELECT queue.enqueue_many('q', array_fill('{}'::jsonb, ARRAY[3]))");
        run("CREATE TEMP TABLE c AS SELECT * FROM queue.claim('q', batch => 3)");
        let done = one::<i64>("SELECT count(*) FROM queue.complete_many((SELECT array_agg(id) FROM c), (SELECT array_agg(lease_token) FROM c))").unwrap();
        assert_eq!(done, 3);
    }

    #[pg_test]
    fn retention_zero_forgets_jobs_as_they_complete() {
        setup("q", ", retention => '0'");
        let id = one::<i64>("SELECT queue.enqueue('q', '{}')").unwrap();
        run("SELECT queue.claim('q')");
        assert!(one::<bool>(&format!("SELECT queue.complete({id}, '{}')", token(id))).unwrap());
        assert_eq!(one::<i64>(&format!("SELECT count(*) FROM queue.jobs WHERE id = {id}")), Some(0));
        assert!(!one::<bool>(&format!("SELECT queue.complete({id}, gen_random_uuid())")).unwrap());
    }
}
