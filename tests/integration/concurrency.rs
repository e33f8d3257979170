//! Many workers and producers at once: nothing lost, nothing done twice, no duplicates.

use crate::common::{connect, count, new_queue};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::thread;
use uuid::Uuid;

const JOBS: i64 = 20_000;
const WORKERS: usize = 8;

#[test]
fn eight_workers_drain_twenty_thousand_jobs_exactly_once() {
    let mut c = connect();
    let q = new_queue(&mut c, "drain", "");
    for chunk in 0..(JOBS / 1000) {
        let payloads: Vec<serde_json::Value> = (0..1000).map(|i| json!({"n": chunk * 1000 + i})).collect();
        c.execute("SELECT count(*) FROM queue.enqueue_many($1, $2)", &[&q, &payloads]).unwrap();
    }

    // Half the workers use the plain flow (claim, then complete_many), half the one-round-trip
    // flow (each claim completes the previous batch). Every id a completion reports is recorded.
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let q = q.clone();
            thread::spawn(move || {
                let mut c = connect();
                let worker = format!("w{w}");
                let mut completed: Vec<i64> = Vec::new();
                let mut previous: Option<(Vec<i64>, Uuid)> = None;
                loop {
                    let rows = match (w % 2, previous.take()) {
                        (1, Some((ids, token))) => {
                            let rows = c
                                .query(
                                    "SELECT id, lease_token FROM queue.claim($1, $2, batch => 50, complete => $3, complete_token => $4)",
                                    &[&q, &worker, &ids, &token],
                                )
                                .unwrap();
                            completed.extend(ids); // verified against the table below
                            rows
                        }
                        _ => c.query("SELECT id, lease_token FROM queue.claim($1, $2, batch => 50)", &[&q, &worker]).unwrap(),
                    };
                    if rows.is_empty() {
                        break;
                    }
                    let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
                    let token: Uuid = rows[0].get(1);
                    assert!(rows.iter().all(|r| r.get::<_, Uuid>(1) == token), "one token per batch");
                    if w % 2 == 1 {
                        previous = Some((ids, token));
                    } else {
                        let done: Vec<i64> = c
                            .query("SELECT * FROM queue.complete_many($1, ARRAY[$2]::uuid[])", &[&ids, &token])
                            .unwrap()
                            .iter()
                            .map(|r| r.get(0))
                            .collect();
                        assert_eq!(done.len(), ids.len(), "fresh leases must complete");
                        completed.extend(done);
                    }
                }
                if let Some((ids, token)) = previous {
                    let n = c.query("SELECT * FROM queue.complete_many($1, ARRAY[$2]::uuid[])", &[&ids, &token]).unwrap().len();
                    assert_eq!(n, ids.len());
                    completed.extend(ids);
                }
                completed
            })
        })
        .collect();

    let mut seen: HashMap<i64, usize> = HashMap::new();
    for h in handles {
        for id in h.join().expect("worker panicked") {
            *seen.entry(id).or_default() += 1;
        }
    }
    assert_eq!(seen.len() as i64, JOBS, "every job completed");
    assert!(seen.values().all(|&n| n == 1), "a job was completed twice");
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state = 'done' AND attempts = 1", &[&q]),
        JOBS
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state <> 'done'", &[&q]), 0);
}

#[test]
fn concurrent_producers_never_duplicate_a_dedupe_key() {
    let mut c = connect();
    let q = new_queue(&mut c, "dedupe", "");
    const PRODUCERS: usize = 8;
    const KEYS: usize = 200;
    let barrier = Arc::new(Barrier::new(PRODUCERS));
    let handles: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (q, barrier) = (q.clone(), barrier.clone());
            thread::spawn(move || {
                let mut c = connect();
                barrier.wait();
                let mut ids = Vec::new();
                // Each producer walks the keys in its own order, one transaction per enqueue.
                for i in 0..KEYS {
                    let k = (i * (p + 1) * 7919) % KEYS;
                    let key = format!("key-{k}");
                    let id: i64 = c
                        .query_one("SELECT queue.enqueue($1, $2, dedupe_key => $3)", &[&q, &json!({"p": p}), &key])
                        .unwrap()
                        .get(0);
                    ids.push((key, id));
                }
                ids
            })
        })
        .collect();
    let mut by_key: HashMap<String, i64> = HashMap::new();
    for h in handles {
        for (key, id) in h.join().unwrap() {
            let first = *by_key.entry(key.clone()).or_insert(id);
            assert_eq!(first, id, "producers got different jobs for {key}");
        }
    }
    assert_eq!(by_key.len(), KEYS);
    assert_eq!(count(&mut c, "SELECT count(*) FROM queue.jobs WHERE queue = $1", &[&q]), KEYS as i64);
}

#[test]
fn concurrent_claimers_never_share_a_job() {
    let mut c = connect();
    let q = new_queue(&mut c, "share", "");
    c.execute("SELECT count(*) FROM queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[2000]))", &[&q]).unwrap();
    let barrier = Arc::new(Barrier::new(WORKERS));
    let handles: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (q, barrier) = (q.clone(), barrier.clone());
            thread::spawn(move || {
                let mut c = connect();
                barrier.wait();
                let mut mine = Vec::new();
                loop {
                    // Hold every claim open (no completion): overlap is what we look for.
                    let rows = c.query("SELECT id FROM queue.claim($1, batch => 7)", &[&q]).unwrap();
                    if rows.is_empty() {
                        return mine;
                    }
                    mine.extend(rows.iter().map(|r| r.get::<_, i64>(0)));
                }
            })
        })
        .collect();
    let mut all: Vec<i64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let claimed = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), claimed, "a job was handed to two claimers");
    assert_eq!(claimed, 2000);
}
