//! claim: lease ready jobs under the queue's rules.
//!
//! In order: a paused queue hands out nothing; `max_running` and `max_running_per_group` cap what
//! runs (checked under a per-queue advisory lock, taken only when a cap is set, so that concurrent
//! claimers cannot both take the last slot); the rate limiter (a token bucket in shared memory)
//! grants at most its tokens; then groups are served round-robin. The groups with ready jobs are
//! walked in key order starting after the group the previous claim served last (a cursor in shared
//! memory), skipping groups in backoff; each gets an equal share of the batch, and the batch is
//! handed out round by round, so one tenant with a huge backlog cannot starve the others.

use crate::clock;
use crate::datum::Jsonb;
use crate::error::{internal, QueueError, Result};
use crate::shmem::{self, Grant};
use crate::spi::{exec, exec_one};
use crate::validate::{batch_size, positive_interval, queue_name, required, worker_name};
use pgrx::datum::{DatumWithOid, Interval, TimestampWithTimeZone, Uuid};
use pgrx::heap_tuple::PgHeapTuple;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::{AllocatedByRust, PgTupleDesc};
use std::cell::RefCell;

/// The queue's rate at instant $2: its rate schedule's peak or off-peak rate when it has one.
/// Expects the queue as `q`. Shared by claim and queue.effective_rate.
macro_rules! effective_rate_join {
    () => {
        "LEFT JOIN queue.rate_schedules s ON s.queue = q.name
         CROSS JOIN LATERAL (
             SELECT CASE WHEN s.queue IS NULL THEN q.rate_per_second WHEN p.peak THEN s.peak_rate ELSE s.off_peak_rate END AS rate,
                    CASE WHEN s.queue IS NULL THEN q.burst WHEN p.peak THEN s.peak_burst ELSE s.off_peak_burst END AS burst,
                    p.peak
               FROM (SELECT s.queue IS NOT NULL
                            AND extract(isodow FROM l.local)::int = ANY (s.peak_days)
                            AND CASE WHEN s.peak_start < s.peak_end
                                     THEN extract(hour FROM l.local) >= s.peak_start AND extract(hour FROM l.local) < s.peak_end
                                     ELSE extract(hour FROM l.local) >= s.peak_start OR extract(hour FROM l.local) < s.peak_end END AS peak
                       FROM (SELECT $2::timestamptz AT TIME ZONE coalesce(s.timezone, 'UTC') AS local) AS l) AS p
         ) AS r"
    };
}
pub(crate) use effective_rate_join;

const QUEUE_FOR_CLAIM: &str = concat!(
    "SELECT q.lease, q.paused, q.max_running, q.max_running_per_group, r.rate, r.burst
       FROM queue.queues q ",
    effective_rate_join!(),
    " WHERE q.name = $1"
);

// Both caps are checked under this lock; claimers of uncapped queues never take it.
const LOCK_QUEUE_CAPS: &str = "SELECT pg_advisory_xact_lock(hashtext('queue_ext.caps'), hashtext($1))";

const RUNNING_IN_QUEUE: &str = "SELECT count(*) FROM queue.jobs WHERE queue = $1 AND state = 'running'";

/// The first group of `queue` with pending jobs whose key satisfies `$bound` (e.g. "> $5"), by
/// skip scan of jobs_claim_idx.
macro_rules! next_group {
    ($bound:literal) => {
        concat!(
            "(SELECT coalesce(j.group_key, '') FROM queue.jobs j
               WHERE j.queue = $1 AND j.state = 'pending' AND coalesce(j.group_key, '') ",
            $bound,
            "
               ORDER BY coalesce(j.group_key, '') LIMIT 1)"
        )
    };
}

// $1 queue, $2 worker, $3 jobs wanted, $4 lease, $5 cursor (last group served), $6 per-group cap,
// $7 the claim's instant (after its locks and tokens; claimed_at, and the lease starts there).
// The ring of groups is enumerated lazily: only as many groups as the batch can use are visited.
const CLAIM: &str = concat!(
    "WITH RECURSIVE
     after_cursor(g) AS (
         SELECT ",
    next_group!("> $5"),
    "
         UNION ALL
         SELECT ",
    next_group!("> a.g"),
    " FROM after_cursor a WHERE a.g IS NOT NULL
     ),
     up_to_cursor(g) AS (
         SELECT ",
    next_group!(">= ''"),
    "
         UNION ALL
         SELECT ",
    next_group!("> u.g"),
    " FROM up_to_cursor u WHERE u.g IS NOT NULL AND u.g <= $5
     ),
     ring AS (
         SELECT g, 1 AS lap FROM after_cursor WHERE g IS NOT NULL
         UNION ALL
         SELECT g, 2 AS lap FROM up_to_cursor WHERE g IS NOT NULL AND g <= $5
     ),
     ready AS MATERIALIZED (
         -- LATERAL ... LIMIT 1 probes each group in turn: an EXISTS could be planned as a hash
         -- semi-join that reads every ready job of the queue.
         SELECT r.g, r.lap, room.room
           FROM ring r
          CROSS JOIN LATERAL (
                SELECT FROM queue.jobs x
                 WHERE x.queue = $1 AND x.state = 'pending' AND coalesce(x.group_key, '') = r.g AND x.run_at <= now()
                 LIMIT 1) AS has_ready
          CROSS JOIN LATERAL (
                SELECT CASE WHEN $6::integer IS NULL THEN $3
                            ELSE $6 - (SELECT count(*) FROM queue.jobs x
                                        WHERE x.queue = $1 AND x.state = 'running' AND coalesce(x.group_key, '') = r.g)
                       END AS room) AS room
          WHERE room.room > 0
            AND NOT EXISTS (SELECT FROM queue.group_state b
                             WHERE b.queue = $1 AND b.group_key = r.g AND b.eligible_at > now())
          LIMIT $3
     ),
     share AS (
         SELECT ceil($3::numeric / greatest(count(*), 1))::bigint AS per_group FROM ready
     ),
     picked AS (
         SELECT p.id, p.rn, r.lap, r.g
           FROM ready r CROSS JOIN share
          CROSS JOIN LATERAL (
                SELECT x.id, row_number() OVER () AS rn
                  FROM (SELECT j.id FROM queue.jobs j
                         WHERE j.queue = $1 AND j.state = 'pending' AND coalesce(j.group_key, '') = r.g
                           AND j.run_at <= now()
                         ORDER BY j.priority DESC, j.run_at, j.id
                         LIMIT least(share.per_group, r.room)
                         FOR UPDATE SKIP LOCKED) AS x
          ) AS p
     ),
     chosen AS (
         SELECT id, rn, lap, g FROM picked ORDER BY rn, lap, g LIMIT $3
     ),
     lease AS MATERIALIZED (
         SELECT gen_random_uuid() AS token
     )
     UPDATE queue.jobs j
        SET state = 'running', attempts = j.attempts + 1, lease_token = lease.token,
            lease_expires_at = $7 + $4, locked_by = $2, claimed_at = $7,
            first_claimed_at = coalesce(j.first_claimed_at, $7)
       FROM chosen, lease
      WHERE j.id = chosen.id
     RETURNING j.id, j.queue, j.payload, j.attempts, j.priority, j.group_key, j.run_at,
               j.enqueued_at, j.lease_token, j.lease_expires_at, chosen.rn, chosen.lap, chosen.g"
);

thread_local! {
    /// Rotation cursors of this backend, for servers without queue_ext preloaded.
    static LOCAL_CURSORS: RefCell<std::collections::HashMap<String, String>> = RefCell::new(Default::default());
}

fn cursor(queue: &str) -> String {
    let shared = if shmem::available() { shmem::cursor(queue) } else { None };
    shared.unwrap_or_else(|| LOCAL_CURSORS.with(|c| c.borrow().get(queue).cloned().unwrap_or_default()))
}

fn set_cursor(queue: &str, group: &str) {
    if shmem::available() {
        shmem::set_cursor(queue, group);
    } else {
        LOCAL_CURSORS.with(|c| c.borrow_mut().insert(queue.to_owned(), group.to_owned()));
    }
}

pub(crate) struct ClaimedJob {
    id: i64,
    queue: String,
    payload: Jsonb,
    attempt: i32,
    priority: i32,
    group_key: Option<String>,
    run_at: TimestampWithTimeZone,
    enqueued_at: TimestampWithTimeZone,
    lease_token: Uuid,
    lease_expires_at: TimestampWithTimeZone,
    /// Hand-out order: round, lap of the ring, group.
    order: (i64, i32, String),
}

impl ClaimedJob {
    /// A `queue.claimed_job` row, formed in one go (setting attributes one by one would re-form
    /// the tuple for each of them).
    pub(crate) fn into_tuple(self, row_type: pg_sys::Oid) -> Result<PgHeapTuple<'static, AllocatedByRust>> {
        let desc = PgTupleDesc::for_composite_type_by_oid(row_type)
            .ok_or_else(|| QueueError::invalid("queue.claimed_job is not a composite type"))?;
        let datums = [
            self.id.into_datum(),
            self.queue.into_datum(),
            self.payload.into_datum(),
            self.attempt.into_datum(),
            self.priority.into_datum(),
            self.group_key.into_datum(),
            self.run_at.into_datum(),
            self.enqueued_at.into_datum(),
            self.lease_token.into_datum(),
            self.lease_expires_at.into_datum(),
        ];
        // SAFETY: the datums follow queue.claimed_job's attributes in order and type (sql/schema.sql).
        unsafe { PgHeapTuple::from_datums(desc, datums) }
            .map_err(|e| QueueError::invalid(format!("queue.claimed_job: {e}")).into())
    }
}

/// The row type claim returns, looked up once per call (its OID changes if the extension is re-created).
fn claimed_job_type() -> Result<pg_sys::Oid> {
    PgTupleDesc::for_composite_type("queue.claimed_job")
        .map(|d| d.oid())
        .ok_or_else(|| QueueError::invalid("type queue.claimed_job does not exist").into())
}

fn not_null<T>(v: Option<T>) -> T {
    v.expect("claim returns NOT NULL columns")
}

struct ClaimSettings {
    lease: Interval,
    max_running: Option<i32>,
    max_running_per_group: Option<i32>,
    rate: Option<f64>,
    burst: Option<i32>,
}

fn settings(client: &mut SpiClient<'_>, queue: &str, lease: Option<Interval>) -> Result<Option<ClaimSettings>> {
    let now = clock::timestamp(clock::wall_micros())?;
    let rows = exec(client, QUEUE_FOR_CLAIM, &[queue.into(), now.into()])?;
    if rows.is_empty() {
        return Err(QueueError::UnknownQueue(queue.to_owned()).into());
    }
    let row = rows.first();
    if row.get::<bool>(2).map_err(internal)?.unwrap_or(false) {
        return Ok(None); // paused
    }
    Ok(Some(ClaimSettings {
        lease: match lease {
            Some(l) => l,
            None => not_null(row.get::<Interval>(1).map_err(internal)?),
        },
        max_running: row.get(3).map_err(internal)?,
        max_running_per_group: row.get(4).map_err(internal)?,
        rate: row.get(5).map_err(internal)?,
        burst: row.get(6).map_err(internal)?,
    }))
}

/// The bucket's size: `burst` claims may arrive at once after an idle period (at least one).
fn capacity(rate: f64, burst: Option<i32>) -> f64 {
    (burst.map(f64::from).unwrap_or(rate.ceil())).max(1.0)
}

pub(crate) fn claim_jobs(
    client: &mut SpiClient<'_>,
    queue: &str,
    worker: Option<&str>,
    batch: i32,
    lease: Option<Interval>,
) -> Result<Vec<ClaimedJob>> {
    let Some(s) = settings(client, queue, lease)? else { return Ok(Vec::new()) };
    let mut want = batch as i64;
    let mut claimed_at = clock::wall_micros();
    if s.max_running.is_some() || s.max_running_per_group.is_some() {
        exec(client, LOCK_QUEUE_CAPS, &[queue.into()])?;
        if let Some(max) = s.max_running {
            let running = exec_one::<i64>(client, RUNNING_IN_QUEUE, &[queue.into()])?.unwrap_or(0);
            want = want.min(max as i64 - running);
        }
        // Stamped after the lock was granted, so that no claim appears to start before the
        // completions it saw.
        claimed_at = clock::wall_micros();
    }
    if want <= 0 {
        return Ok(Vec::new());
    }
    let bucket = match s.rate {
        Some(rate) => {
            if !shmem::available() {
                return Err(QueueError::NotInPrerequisiteState(format!(
                    "queue \"{queue}\" has a rate limit, which needs queue_ext in shared_preload_libraries"
                ))
                .into());
            }
            let cap = capacity(rate, s.burst);
            match shmem::take_tokens(queue, rate, cap, want) {
                Grant::Tokens(n, at) => {
                    want = n;
                    claimed_at = at;
                }
                Grant::TableFull => {
                    return Err(QueueError::NotInPrerequisiteState(
                        "queue_ext's shared table of rate-limited queues is full (1024 queues)".into(),
                    )
                    .into())
                }
            }
            Some(cap)
        }
        None => None,
    };
    if want <= 0 {
        return Ok(Vec::new());
    }
    let cursor = cursor(queue);
    let claimed_at = clock::timestamp(claimed_at)?;
    let args: [DatumWithOid; 7] = [
        queue.into(),
        worker.into(),
        want.into(),
        s.lease.into(),
        cursor.as_str().into(),
        s.max_running_per_group.into(),
        claimed_at.into(),
    ];
    let mut jobs = Vec::with_capacity(want as usize);
    for row in exec(client, CLAIM, &args)? {
        jobs.push(ClaimedJob {
            id: not_null(row.get(1).map_err(internal)?),
            queue: not_null(row.get(2).map_err(internal)?),
            payload: not_null(row.get::<Jsonb>(3).map_err(internal)?).transfer_out_of_spi(),
            attempt: not_null(row.get(4).map_err(internal)?),
            priority: not_null(row.get(5).map_err(internal)?),
            group_key: row.get(6).map_err(internal)?,
            run_at: not_null(row.get(7).map_err(internal)?),
            enqueued_at: not_null(row.get(8).map_err(internal)?),
            lease_token: not_null(row.get(9).map_err(internal)?),
            lease_expires_at: not_null(row.get(10).map_err(internal)?),
            order: (
                not_null(row.get(11).map_err(internal)?),
                not_null(row.get(12).map_err(internal)?),
                not_null(row.get(13).map_err(internal)?),
            ),
        });
    }
    if let Some(cap) = bucket {
        shmem::refund_tokens(queue, want - jobs.len() as i64, cap);
    }
    // UPDATE ... RETURNING does not keep the picking order: hand jobs out round by round.
    jobs.sort_by(|a, b| a.order.cmp(&b.order));
    // The next claim starts after the last group this one served in its first round.
    if let Some(last) = jobs.iter().filter(|j| j.order.0 == 1).map(|j| (j.order.1, &j.order.2)).max() {
        set_cursor(queue, last.1);
    }
    Ok(jobs)
}

/// Lease up to `batch` ready jobs of `queue`. With `complete` (ids) and `complete_token`, first
/// completes the caller's previous batch in the same transaction: one round trip per batch.
#[pg_extern(name = "claim", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn claim(
    queue: Option<&str>,
    worker: default!(Option<&str>, NULL),
    batch: default!(Option<i32>, 1),
    lease: default!(Option<Interval>, NULL),
    complete: default!(Option<Vec<Option<i64>>>, NULL),
    complete_token: default!(Option<Uuid>, NULL),
) -> Result<SetOfIterator<'static, pgrx::composite_type!('static, "queue.claimed_job")>> {
    let queue = queue_name(queue)?;
    let worker = worker_name(worker)?;
    let batch = batch_size(required(batch, "batch")?)?;
    let lease = lease.map(|l| positive_interval(l, "lease")).transpose()?;
    if complete.is_some() && complete_token.is_none() {
        return Err(QueueError::NullValue("complete_token (required with complete)").into());
    }
    let jobs = Spi::connect_mut(|client| {
        if let (Some(ids), Some(token)) = (complete, complete_token) {
            crate::api::consume::complete_jobs(client, ids, vec![Some(token)])?;
        }
        claim_jobs(client, queue, worker, batch, lease)
    })?;
    let row_type = claimed_job_type()?;
    let tuples = jobs.into_iter().map(|j| j.into_tuple(row_type)).collect::<Result<Vec<_>>>()?;
    Ok(SetOfIterator::new(tuples))
}

/// The plan of the claim statement for `queue`, exactly as `claim` runs it (EXPLAIN, not executed).
/// For DBAs checking that claims stay on the partial index whatever the history size.
#[pg_extern(name = "explain_claim", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn explain_claim(queue: Option<&str>, batch: default!(Option<i32>, 1)) -> Result<SetOfIterator<'static, String>> {
    let queue = queue_name(queue)?;
    let batch = batch_size(required(batch, "batch")?)? as i64;
    let lines = Spi::connect_mut(|client| {
        let explain = format!("EXPLAIN {CLAIM}");
        let args: [DatumWithOid; 7] = [
            queue.into(),
            None::<&str>.into(),
            batch.into(),
            Interval::from_seconds(30.0).into(),
            "".into(),
            None::<i32>.into(),
            clock::transaction_now().into(),
        ];
        let mut lines = Vec::new();
        for row in client.update(explain.as_str(), None, &args).map_err(internal)? {
            lines.extend(row.get::<String>(1).map_err(internal)?);
        }
        Ok::<_, pgrx::pg_sys::panic::ErrorReport>(lines)
    })?;
    Ok(SetOfIterator::new(lines))
}
