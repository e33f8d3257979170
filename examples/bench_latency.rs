//! W3 of the benchmark (bench/run): end-to-end latency, enqueue → claim, at a fixed offered rate,
//! with a worker woken by NOTIFY. Prints one JSON line: offered rate, jobs, p50/p99/max in ms.
//!
//! usage: bench_latency <host dir> <port> <database> <jobs per second> <seconds>

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls};
use std::thread;
use std::time::{Duration, Instant};

fn connect(args: &[String]) -> Client {
    Config::new()
        .host_path(&args[1])
        .port(args[2].parse().expect("port"))
        .dbname(&args[3])
        .user("postgres")
        .connect(NoTls)
        .expect("connect")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rate: f64 = args[4].parse().expect("jobs per second");
    let seconds: f64 = args[5].parse().expect("seconds");
    let total = (rate * seconds) as usize;

    let mut setup = connect(&args);
    setup
        .batch_execute(
            "SELECT queue.drop_queue('bench_latency', force => true) FROM queue.queues WHERE name = 'bench_latency';
             SELECT queue.create_queue('bench_latency');",
        )
        .unwrap();

    let worker_args = args.clone();
    let worker = thread::spawn(move || {
        let mut c = connect(&worker_args);
        c.batch_execute("LISTEN queue_bench_latency").unwrap();
        let mut latencies = Vec::with_capacity(total);
        while latencies.len() < total {
            let rows = c
                .query(
                    "SELECT id, lease_token, extract(epoch FROM clock_timestamp() - enqueued_at)::float8 * 1000
                       FROM queue.claim('bench_latency', batch => 100)",
                    &[],
                )
                .unwrap();
            if rows.is_empty() {
                // Sleep until a commit notifies the queue; the timeout only guards the end.
                let _ = c.notifications().timeout_iter(Duration::from_secs(1)).next();
                continue;
            }
            let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
            let token: uuid::Uuid = rows[0].get(1);
            latencies.extend(rows.iter().map(|r| r.get::<_, f64>(2)));
            c.execute("SELECT count(*) FROM queue.complete_many($1, ARRAY[$2]::uuid[])", &[&ids, &token]).unwrap();
        }
        latencies
    });

    // The producer keeps an absolute schedule, so the offered rate does not sag under load.
    let mut producer = connect(&args);
    let start = Instant::now();
    for i in 0..total {
        let due = Duration::from_secs_f64(i as f64 / rate);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            thread::sleep(wait);
        }
        producer.execute("SELECT queue.enqueue('bench_latency', '{\"n\": 1}')", &[]).unwrap();
    }
    let mut latencies = worker.join().unwrap();
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{{\"offered_per_second\": {rate}, \"jobs\": {}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"max_ms\": {:.3}}}",
        latencies.len(),
        pct(0.50),
        pct(0.99),
        latencies.last().unwrap()
    );
}
