//! The demo's second act: spreading load over time. A spread refresh gives every row of a users
//! table a job once per period, at the user's slot, so the jobs arrive as a steady trickle rather
//! than a burst; a cron schedule fires alongside. While it runs, each second's arrivals are drawn
//! as a bar (the field note's histogram, live).

use postgres::Client;
use std::thread;
use std::time::{Duration, Instant};

const QUEUE: &str = "user_sync";
const USERS: i64 = 6000;
const PERIOD_SECONDS: i64 = 20;

pub fn run(c: &mut Client) {
    c.batch_execute(&format!(
        "SELECT queue.drop_spread_refresh('users', if_exists => true);
         SELECT queue.drop_schedule('report', if_exists => true);
         SELECT queue.drop_queue(name, force => true) FROM queue.queues WHERE name IN ('{QUEUE}', 'reports');
         SELECT queue.create_queue('{QUEUE}');
         SELECT queue.create_queue('reports');
         DROP TABLE IF EXISTS users;
         CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
         INSERT INTO users SELECT g, 'user' || g || '@example.com' FROM generate_series(1, {USERS}) g;
         -- The refresh finds the users due in each tick through this index, whatever the table's size.
         CREATE INDEX users_slot ON users (queue.slot_fraction((id)::text));
         ANALYZE users;"
    ))
    .unwrap();
    println!("\nAct 2: spreading load over time.");
    println!("{USERS} users must each be synced once every {PERIOD_SECONDS} s. One call sets that up:");
    println!("  SELECT queue.create_spread_refresh('users', '{QUEUE}', 'users', 'id', '{PERIOD_SECONDS} seconds');");
    println!("Each user's job comes at the user's slot in the period, the same phase every period, so the");
    println!(
        "jobs arrive evenly (about {} a second) instead of {USERS} at once. A cron schedule fires too:",
        USERS / PERIOD_SECONDS
    );
    println!("  SELECT queue.create_schedule('report', '5 seconds', 'reports', '{{\"report\": \"sync status\"}}');\n");
    c.batch_execute(&format!(
        "SELECT queue.create_spread_refresh('users', '{QUEUE}', 'users', 'id', '{PERIOD_SECONDS} seconds', '{{\"op\": \"sync\"}}');
         SELECT queue.create_schedule('report', '5 seconds', 'reports', '{{\"report\": \"sync status\"}}');"
    ))
    .unwrap();
    let t0: chrono::DateTime<chrono::Utc> =
        c.query_one("SELECT next_due FROM queue.spread_refreshes WHERE name = 'users'", &[]).unwrap().get(0);

    // One bar per second of the period: the jobs that became due in that second.
    let start = Instant::now();
    let mut counts = Vec::new();
    for second in 0..PERIOD_SECONDS {
        let until = start + Duration::from_secs(second as u64 + 1);
        thread::sleep(until.saturating_duration_since(Instant::now()) + Duration::from_millis(300));
        let row = c
            .query_one(
                "SELECT count(*) FILTER (WHERE queue = $1 AND run_at >= $2::timestamptz + make_interval(secs => $3)
                                                      AND run_at < $2::timestamptz + make_interval(secs => $3 + 1)),
                        count(*) FILTER (WHERE queue = 'reports')
                   FROM queue.jobs",
                &[&QUEUE, &t0, &(second as f64)],
            )
            .unwrap();
        let (n, reports): (i64, i64) = (row.get(0), row.get(1));
        counts.push(n);
        println!(
            "{:>4}s {:<52} {n:>4} jobs   reports fired so far: {reports}",
            second + 1,
            "█".repeat((n / 7) as usize)
        );
    }
    let row = c
        .query_one(
            "SELECT count(DISTINCT payload->>'key'), count(*) FROM queue.jobs
              WHERE queue = $1 AND run_at >= $2::timestamptz AND run_at < $2::timestamptz + make_interval(secs => $3)",
            &[&QUEUE, &t0, &(PERIOD_SECONDS as f64)],
        )
        .unwrap();
    let (keys, jobs): (i64, i64) = (row.get(0), row.get(1));
    let mean = counts.iter().sum::<i64>() as f64 / counts.len() as f64;
    let max = *counts.iter().max().unwrap() as f64;
    let fires: i64 = c.query_one("SELECT fires FROM queue.schedules WHERE name = 'report'", &[]).unwrap().get(0);
    println!("\n  users synced this period   {keys} of {USERS} ({jobs} jobs: each user exactly once)");
    println!("  busiest second / mean      {:.2}", max / mean);
    println!("  cron schedule fires        {fires} (every 5 s, once per fire time)");
    println!("  See them: SELECT * FROM queue.spread_refreshes;  SELECT * FROM queue.schedules;");
    c.batch_execute("SELECT queue.pause_spread_refresh('users'); SELECT queue.pause_schedule('report');").unwrap();
}
