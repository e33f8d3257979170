//! The background worker's step of a backfill: enqueue its next ranges, paced and a lookahead
//! ahead, reading the source as the backfill's owner (the definitions and their verbs are in
//! backfill.rs).

use super::backfill::{rates_at, MAX_RANGES_PER_STEP, SOURCE_LOCK_TIMEOUT_MS};
use super::{owner_may_produce, owner_refused};
use crate::api::produce::notify_ready;
use crate::catalog;
use crate::clock;
use crate::datum::Jsonb;
use crate::error::{internal, Result};
use crate::security::as_role;
use crate::spi::{exec, exec_one};
use crate::store;
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// A backfill as a step reads it (backfill_due.sql).
struct Backfill {
    name: String,
    queue: String,
    key_column: String,
    batch_size: i32,
    lookahead_us: i64,
    max_outstanding: Option<i32>,
    payload: Jsonb,
    priority: i32,
    group_key: String,
    max_attempts: Option<i32>,
    state: String,
    next_end_id: i64,
    next_due_us: i64,
    owner: pg_sys::Oid,
    table: Option<String>,
}

fn read(client: &mut SpiClient<'_>, name: &str) -> Result<Option<Backfill>> {
    let rows = exec(client, store::BACKFILL_DUE, &[name.into()])?;
    if rows.is_empty() {
        return Ok(None);
    }
    let row = rows.first();
    let lookahead: Interval = row.get(5).map_err(internal)?.expect("lookahead");
    let next_due: TimestampWithTimeZone = row.get(13).map_err(internal)?.expect("next_due");
    Ok(Some(Backfill {
        name: row.get(1).map_err(internal)?.expect("name"),
        queue: row.get(2).map_err(internal)?.expect("queue"),
        key_column: row.get(3).map_err(internal)?.expect("key_column"),
        batch_size: row.get(4).map_err(internal)?.expect("batch_size"),
        lookahead_us: lookahead.as_micros() as i64,
        max_outstanding: row.get(6).map_err(internal)?,
        payload: row.get(7).map_err(internal)?.expect("payload"),
        priority: row.get(8).map_err(internal)?.expect("priority"),
        group_key: row.get(9).map_err(internal)?.expect("group_key"),
        max_attempts: row.get(10).map_err(internal)?,
        state: row.get(11).map_err(internal)?.expect("state"),
        next_end_id: row.get(12).map_err(internal)?.expect("next_end_id"),
        next_due_us: crate::spread::to_unix_micros(next_due)?,
        owner: row.get(14).map_err(internal)?.expect("owner"),
        table: row.get(15).map_err(internal)?,
    }))
}

/// The backfills that may have work now (running or draining), least recently stepped first.
pub fn active(client: &mut SpiClient<'_>, held: Vec<String>) -> Result<Vec<String>> {
    crate::spi::exec_column::<String>(
        client,
        "SELECT name FROM queue.backfill_runs
          WHERE state IN ('running', 'draining') AND next_due <= now() + lookahead AND name <> ALL ($1::text[])
            AND coalesce(last_error_at, '-infinity') < now() - interval '10 seconds'
          ORDER BY last_step_at NULLS FIRST LIMIT 1000",
        &[held.into()],
    )
}

/// The next `count` ranges below `next_end_id` (inclusive), newest first, `batch` rows each (the
/// last may have fewer): (begin, end, rows). Read as the backfill's owner.
fn ranges(client: &mut SpiClient<'_>, b: &Backfill, table: &str, count: i64) -> Result<Vec<(i64, i64, i64)>> {
    let key = pgrx::spi::quote_identifier(&b.key_column);
    // Identifiers are quoted; values are bound. The keyset walks the key's index backwards.
    let sql = format!(
        "SELECT min(k)::bigint, max(k)::bigint, count(*)
           FROM (SELECT k, (row_number() OVER (ORDER BY k DESC) - 1) / $2 AS chunk
                   FROM (SELECT {key} AS k FROM {table}
                          WHERE {key} OPERATOR(pg_catalog.<=) $1
                          ORDER BY {key} DESC LIMIT $2 * $3) AS s) AS c
          GROUP BY chunk ORDER BY chunk"
    );
    // Its code runs: bounded by queue_ext.source_timeout, and SIGTERM ends it (worker/signals.rs).
    let _bounded = crate::worker::user_code(|| format!("the source of backfill \"{}\"", b.name));
    let _owner = as_role(b.owner);
    let mut out = Vec::new();
    let args = [b.next_end_id.into(), (b.batch_size as i64).into(), count.into()];
    for row in client.update(&sql, None, &args).map_err(internal)? {
        out.push((
            row.get::<i64>(1).map_err(internal)?.expect("begin"),
            row.get::<i64>(2).map_err(internal)?.expect("end"),
            row.get::<i64>(3).map_err(internal)?.expect("rows"),
        ));
    }
    Ok(out)
}

/// What a step did.
#[derive(Default, Debug)]
pub struct Stepped {
    pub jobs: i64,
    /// More ranges are due within the lookahead than one step enqueues.
    pub behind: bool,
}

/// One step of backfill `name`, in the caller's transaction: enqueue the ranges due within its
/// lookahead (at most MAX_RANGES_PER_STEP, none beyond max_outstanding), move its cursor, or find out
/// that it is done. None when it is not running or another step holds it.
pub fn step(client: &mut SpiClient<'_>, name: &str) -> Result<Option<Stepped>> {
    let Some(b) = read(client, name)? else { return Ok(None) };
    let Some(table) = b.table.clone() else {
        record_failure(client, &b.name, "its source table was dropped")?;
        return Ok(Some(Stepped::default()));
    };
    if let Some(refused) = owner_refused(&b.queue, owner_may_produce(client, b.owner, &b.queue)?) {
        record_failure(client, &b.name, &refused)?;
        return Ok(Some(Stepped::default()));
    }
    let (info, _) = catalog::queue(client, &b.queue)?;
    let Some(info) = info else { return Ok(Some(Stepped::default())) };
    let now_us = crate::spread::to_unix_micros(clock::transaction_now())?;

    let live = |client: &mut SpiClient<'_>| -> Result<i64> {
        Ok(exec_one::<i64>(
            client,
            store::BACKFILL_OUTSTANDING,
            &[info.id.into(), b.group_key.as_str().into(), b.name.as_str().into()],
        )?
        .unwrap_or(0))
    };
    if b.state == "draining" {
        // Every range is enqueued: done once none is pending or running.
        if live(client)? == 0 {
            exec(
                client,
                store::BACKFILL_STEPPED,
                &[
                    b.name.as_str().into(),
                    b.next_end_id.into(),
                    crate::spread::from_unix_micros(b.next_due_us)?.into(),
                    0i64.into(),
                    0i64.into(),
                    "done".into(),
                ],
            )?;
        }
        return Ok(Some(Stepped::default()));
    }

    // Due times: one every 1/rate, from next_due (never in the past: a late backfill does not
    // burst to catch up), up to (not including) now + lookahead.
    let horizon = now_us + b.lookahead_us;
    let mut room = MAX_RANGES_PER_STEP;
    if let Some(max) = b.max_outstanding {
        room = room.min(max as i64 - live(client)?);
    }
    let mut due = Vec::new();
    let mut t = b.next_due_us.max(now_us);
    // Rates change on the hour (in some time zones, on the half or quarter hour): look them up
    // once per quarter hour.
    let mut rate_cache: Option<(i64, f64)> = None;
    while t < horizon && (due.len() as i64) < room {
        due.push(t);
        let quarter = t.div_euclid(900_000_000);
        let rate = match rate_cache {
            Some((q, r)) if q == quarter => r,
            _ => {
                let r = rates_at(client, &b.name, &[crate::spread::from_unix_micros(t)?])?[0];
                rate_cache = Some((quarter, r));
                r
            }
        };
        t += ((1e6 / rate).round() as i64).max(1);
    }
    if due.is_empty() {
        return Ok(Some(Stepped::default()));
    }
    exec(client, "SELECT pg_catalog.set_config('lock_timeout', $1, true)", &[SOURCE_LOCK_TIMEOUT_MS.into()])?;
    let found = ranges(client, &b, &table, due.len() as i64)?;
    let exhausted = (found.len() < due.len()) || found.last().is_some_and(|r| r.2 < b.batch_size as i64);
    let n = found.len();
    let mut next_due = b.next_due_us;
    let mut next_end = b.next_end_id;
    let mut rows = 0;
    if n > 0 {
        let begins: Vec<i64> = found.iter().map(|r| r.0).collect();
        let ends: Vec<i64> = found.iter().map(|r| r.1).collect();
        let at = due[..n].iter().map(|t| crate::spread::from_unix_micros(*t)).collect::<Result<Vec<_>>>()?;
        let row = crate::heads::first_row(exec(
            client,
            store::BACKFILL_ENQUEUE,
            &[
                info.id.into(),
                b.name.as_str().into(),
                b.payload.into(),
                begins.clone().into(),
                ends.into(),
                at.into(),
                b.priority.into(),
                b.group_key.as_str().into(),
                b.max_attempts.unwrap_or(info.max_attempts).into(),
            ],
        )?)?;
        if row.get::<i64>(1).map_err(internal)?.unwrap_or(0) > 0 {
            notify_ready(&info);
        }
        next_end = begins[n - 1].saturating_sub(1);
        next_due = if n < due.len() { due[n] } else { t };
        rows = found.iter().map(|r| r.2).sum();
    }
    let state = if exhausted { "draining" } else { "running" };
    exec(
        client,
        store::BACKFILL_STEPPED,
        &[
            b.name.as_str().into(),
            next_end.into(),
            crate::spread::from_unix_micros(next_due)?.into(),
            rows.into(),
            (n as i64).into(),
            state.into(),
        ],
    )?;
    Ok(Some(Stepped { jobs: n as i64, behind: !exhausted && n as i64 == MAX_RANGES_PER_STEP }))
}

/// A step of backfill `name` failed (`error`): record it; it stays where it was.
pub fn record_failure(client: &mut SpiClient<'_>, name: &str, error: &str) -> Result<()> {
    exec(
        client,
        "UPDATE queue.backfill_runs SET last_error = $2, last_error_at = now(), last_step_at = now() WHERE name = $1",
        &[name.into(), crate::validate::error_text(error).into()],
    )?;
    Ok(())
}
