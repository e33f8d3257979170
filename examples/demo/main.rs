//! The newcomer's demo, run by scripts/demo against a throwaway local server.
//!
//! A producer signs users up in bursts of transactions. It only inserts rows: a trigger on the
//! signups table (queue.enqueue_trigger) enqueues each welcome email in the same transaction.
//! Four workers claim batches, "send" the emails, and sometimes fail: flaky addresses fail once
//! and succeed on retry, broken ones fail every time and end up dead. An idle worker does not
//! poll: it sleeps on LISTEN queue_welcome_emails and is woken by the producer's commits, or by the
//! background worker when a retry comes due. Progress is printed while it runs, then a summary.
//! The second act (spread.rs) spreads a periodic refresh of every user over time.

mod spread;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, NoTls};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const QUEUE: &str = "welcome_emails";
const SIGNUPS: u64 = 3000;
const WORKERS: usize = 4;

fn connect() -> Client {
    let var =
        |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set: run the demo through scripts/demo"));
    Config::new()
        .host_path(var("DEMO_HOST"))
        .port(var("DEMO_PORT").parse().expect("DEMO_PORT"))
        .dbname(&var("DEMO_DB"))
        .user("postgres")
        .application_name("queue_ext-demo")
        .connect(NoTls)
        .expect("connect to the demo server")
}

/// A cheap deterministic "random" number from n (the demo needs no RNG dependency).
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^ (z >> 31)
}

#[derive(Default)]
struct Counters {
    enqueued: AtomicU64,
    done: AtomicU64,
    retried: AtomicU64,
    dead: AtomicU64,
    wakeups: AtomicU64,
}

fn producer(counters: Arc<Counters>) {
    let mut c = connect();
    let mut n = 0;
    while n < SIGNUPS {
        // One transaction per burst: the signup rows and (through the trigger) their jobs commit
        // or vanish together.
        let burst = (1 + mix(n) % 40).min(SIGNUPS - n);
        let mut tx = c.transaction().unwrap();
        for _ in 0..burst {
            n += 1;
            tx.execute("INSERT INTO signups (email) VALUES ($1)", &[&format!("user{n}@example.com")]).unwrap();
        }
        tx.commit().unwrap();
        counters.enqueued.fetch_add(burst, Ordering::Relaxed);
        thread::sleep(Duration::from_millis(5 + mix(n) % 20));
    }
}

fn worker(index: usize, counters: Arc<Counters>, producing: Arc<AtomicBool>) {
    let mut c = connect();
    c.batch_execute(&format!("LISTEN queue_{QUEUE}")).unwrap();
    let name = format!("worker-{index}");
    loop {
        let jobs = c
            .query("SELECT id, payload, attempts, lease_token FROM queue.claim($1, $2, batch => 10)", &[&QUEUE, &name])
            .unwrap();
        if jobs.is_empty() {
            let live: i64 = c
                .query_one(
                    "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state IN ('pending', 'running')",
                    &[&QUEUE],
                )
                .unwrap()
                .get(0);
            if !producing.load(Ordering::Relaxed) && live == 0 {
                return;
            }
            // Sleep until a commit or a due retry notifies the queue (the timeout is a safety net).
            let mut notifications = c.notifications();
            if notifications.timeout_iter(Duration::from_secs(5)).next().ok().flatten().is_some() {
                counters.wakeups.fetch_add(1, Ordering::Relaxed);
            }
            continue;
        }
        let mut sent = Vec::new();
        let mut token = None;
        for job in &jobs {
            let (id, payload, attempt): (i64, serde_json::Value, i32) = (job.get(0), job.get(1), job.get(2));
            let lease: uuid::Uuid = job.get(3);
            token = Some(lease);
            thread::sleep(Duration::from_micros(500 + mix(id as u64) % 2000)); // "sending"
            let signup = payload["new"]["id"].as_i64().unwrap_or(0);
            let fails = signup % 150 == 0 || (signup % 10 == 0 && attempt == 1);
            if fails {
                c.execute("SELECT queue.fail($1, $2, 'SMTP 451: try again later')", &[&id, &lease]).unwrap();
                let state: String =
                    c.query_one("SELECT state::text FROM queue.jobs WHERE id = $1", &[&id]).unwrap().get(0);
                if state == "dead" {
                    counters.dead.fetch_add(1, Ordering::Relaxed);
                } else {
                    counters.retried.fetch_add(1, Ordering::Relaxed);
                }
            } else {
                sent.push(id);
            }
        }
        if let Some(token) = token {
            let done =
                c.query("SELECT * FROM queue.complete_many($1, ARRAY[$2]::uuid[])", &[&sent, &token]).unwrap().len();
            counters.done.fetch_add(done as u64, Ordering::Relaxed);
        }
    }
}

fn main() {
    let mut c = connect();
    c.execute("SELECT queue.drop_queue($1, force => true) FROM queue.queues WHERE name = $1", &[&QUEUE]).unwrap();
    c.execute(
        "SELECT queue.create_queue($1, max_attempts => 3, backoff_base => '100 ms', backoff_max => '1 second', lease => '10 seconds')",
        &[&QUEUE],
    )
    .unwrap();
    c.batch_execute(&format!(
        "DROP TABLE IF EXISTS signups;
         CREATE TABLE signups (id bigserial PRIMARY KEY, email text NOT NULL, at timestamptz DEFAULT now());
         CREATE TRIGGER welcome AFTER INSERT ON signups FOR EACH ROW
             EXECUTE FUNCTION queue.enqueue_trigger('{QUEUE}', 'columns=id,email');"
    ))
    .unwrap();
    println!("{SIGNUPS} signups are inserted in bursts of transactions; a trigger on signups enqueues a welcome");
    println!("email into queue '{QUEUE}' with each row. {WORKERS} workers claim batches of 10 and sleep on");
    println!("LISTEN queue_{QUEUE} when idle. Every 10th address fails once, every 150th always fails.\n");

    let counters = Arc::new(Counters::default());
    let producing = Arc::new(AtomicBool::new(true));
    let start = Instant::now();
    let producer_handle = {
        let counters = counters.clone();
        thread::spawn(move || producer(counters))
    };
    let workers: Vec<_> = (0..WORKERS)
        .map(|i| {
            let (counters, producing) = (counters.clone(), producing.clone());
            thread::spawn(move || worker(i, counters, producing))
        })
        .collect();

    let report = |c: &mut Client| {
        // queue.stats answers from shared memory: as cheap with a million jobs as with ten.
        let row = c
            .query_one(
                "SELECT coalesce(ready + scheduled, 0), coalesce(running, 0) FROM queue.stats WHERE queue = $1",
                &[&QUEUE],
            )
            .unwrap();
        let (pending, running): (i64, i64) = (row.get(0), row.get(1));
        println!(
            "{:>5.1}s  enqueued {:>5}  pending {:>5}  running {:>3}  done {:>5}  retried {:>4}  dead {:>3}",
            start.elapsed().as_secs_f64(),
            counters.enqueued.load(Ordering::Relaxed),
            pending,
            running,
            counters.done.load(Ordering::Relaxed),
            counters.retried.load(Ordering::Relaxed),
            counters.dead.load(Ordering::Relaxed)
        );
    };
    while !producer_handle.is_finished() {
        report(&mut c);
        thread::sleep(Duration::from_millis(500));
    }
    producer_handle.join().unwrap();
    producing.store(false, Ordering::Relaxed);
    while workers.iter().any(|w| !w.is_finished()) {
        report(&mut c);
        // Once nothing is live, wake the idle workers so that they see it and stop.
        let live: i64 = c
            .query_one(
                "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state IN ('pending', 'running')",
                &[&QUEUE],
            )
            .unwrap()
            .get(0);
        if live == 0 {
            c.batch_execute(&format!("NOTIFY queue_{QUEUE}")).unwrap();
        }
        thread::sleep(Duration::from_millis(500));
    }
    for w in workers {
        w.join().unwrap();
    }
    report(&mut c);
    let elapsed = start.elapsed().as_secs_f64();

    let row = c
        .query_one(
            "SELECT count(*) FILTER (WHERE state = 'done'), count(*) FILTER (WHERE state = 'dead'),
                    count(*) FILTER (WHERE attempts > 1 AND state = 'done'), (SELECT count(*) FROM signups)
               FROM queue.jobs WHERE queue = $1",
            &[&QUEUE],
        )
        .unwrap();
    let (done, dead, done_after_retry, signups): (i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    println!("\nSummary");
    println!("  signups committed       {signups}");
    println!("  emails sent (done)      {done}   ({done_after_retry} of them after a retry)");
    println!("  failed attempts retried {}", counters.retried.load(Ordering::Relaxed));
    println!("  dead (gave up)          {dead}");
    println!("  idle workers woken      {} times by NOTIFY (no polling)", counters.wakeups.load(Ordering::Relaxed));
    println!(
        "  throughput              {:.0} jobs/s over {elapsed:.1}s (workers simulate ~1.5 ms of sending per job)",
        (done + dead) as f64 / elapsed
    );
    assert_eq!(done + dead, signups, "every signup's email is done or dead, none lost");
    println!("  check                   done + dead = signups: nothing lost, nothing done twice");

    let row = c
        .query_one(
            "SELECT done_last_hour, failures_last_hour, retries_last_hour, dead,
                    (extract(epoch FROM mean_wait) * 1000)::float8, (extract(epoch FROM mean_run) * 1000)::float8
               FROM queue.stats WHERE queue = $1",
            &[&QUEUE],
        )
        .unwrap();
    let (stats_done, failures, retries, stats_dead): (i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let (wait_ms, run_ms): (Option<f64>, Option<f64>) = (row.get(4), row.get(5));
    println!("\nSELECT * FROM queue.stats WHERE queue = '{QUEUE}' (no table scanned)");
    println!(
        "  done in the last hour   {stats_done}   failed attempts {failures}, retried {retries}, dead {stats_dead}"
    );
    println!(
        "  mean wait {:.1} ms (enqueue to first claim), mean run {:.1} ms (claim to completion)",
        wait_ms.unwrap_or(0.0),
        run_ms.unwrap_or(0.0)
    );
    assert_eq!((stats_done, stats_dead), (done, dead), "queue.stats agrees with the jobs");

    spread::run(&mut c);
}
