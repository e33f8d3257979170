//! enqueue_many hands its ids over in one call (materialize mode, src/srf.rs): the same ids, in
//! payload order, in every context a set-returning function can be called from. (That it is one
//! call is not visible from SQL: track_functions counts a value-per-call set as one call too. The
//! profile in docs/adr/004-enqueue-path.md shows it.)

use crate::common::{connect, new_queue};

#[test]
fn enqueue_many_ids_follow_payload_order_in_every_context() {
    let mut c = connect();
    let q = new_queue(&mut c, "produce_contexts", "");
    let payloads = "ARRAY['{\"n\": 1}', '{\"n\": 2}', '{\"n\": 3}']::jsonb[]";
    // In FROM, with ordinality.
    let rows = c
        .query(&format!("SELECT id, n FROM queue.enqueue_many($1, {payloads}) WITH ORDINALITY AS e(id, n)"), &[&q])
        .unwrap();
    let from: Vec<(i64, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(from.iter().map(|r| r.1).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(from.windows(2).all(|w| w[0].0 < w[1].0), "ids out of payload order: {from:?}");
    // In the select list, beside another set-returning function.
    let rows = c.query(&format!("SELECT queue.enqueue_many($1, {payloads}), generate_series(1, 3)"), &[&q]).unwrap();
    let listed: Vec<(i64, i32)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1), "{listed:?}");
    // Called again for every outer row (a rescan of the materialized result would repeat ids).
    let rows = c
        .query(
            "SELECT g, id FROM generate_series(1, 3) g, LATERAL queue.enqueue_many($1, array_fill('{}'::jsonb, ARRAY[g])) id",
            &[&q],
        )
        .unwrap();
    let lateral: Vec<i64> = rows.iter().map(|r| r.get(1)).collect();
    assert_eq!(lateral.len(), 6);
    assert!(lateral.windows(2).all(|w| w[0] < w[1]), "{lateral:?}");
    // Every id returned is a ready job of the queue with the payload at its position.
    let mut all: Vec<i64> = from.iter().map(|r| r.0).chain(listed.iter().map(|r| r.0)).chain(lateral).collect();
    all.sort_unstable();
    let stored: Vec<i64> = c
        .query("SELECT id FROM queue.jobs WHERE queue = $1 AND state = 'pending' ORDER BY id", &[&q])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored, all);
    let n: Vec<i64> = c
        .query(
            "SELECT (payload->>'n')::bigint FROM queue.jobs WHERE id = ANY($1) ORDER BY id",
            &[&from.iter().map(|r| r.0).collect::<Vec<_>>()],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(n, vec![1, 2, 3]);
}
