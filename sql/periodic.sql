-- Periodic work: cron schedules and spread refreshes. The background worker fires them (see
-- src/periodic/); rows are written only by the queue.* functions and by the worker.

-- A cron schedule: a job into `queue` at every fire time. The fire time a row waits for is
-- next_fire_at (the nominal cron instant); the worker acts at next_run_at = next_fire_at plus the
-- schedule's jitter offset, queue.slot_offset(name, jitter). Each fire enqueues its job and moves
-- next_fire_at in one transaction, so a fire is never lost nor repeated.
CREATE TABLE queue.schedules (
    name          text PRIMARY KEY,
    cron          text NOT NULL,
    timezone      text NOT NULL DEFAULT 'UTC',
    queue         text NOT NULL,
    payload       jsonb NOT NULL DEFAULT '{}',
    priority      integer NOT NULL DEFAULT 0,
    group_key     text,
    max_attempts  integer,
    dedupe_key    text,
    jitter        interval NOT NULL DEFAULT '0',
    catch_up      boolean NOT NULL DEFAULT true,
    paused        boolean NOT NULL DEFAULT false,
    next_fire_at  timestamptz,
    next_run_at   timestamptz,
    last_fire_at  timestamptz,
    last_run_at   timestamptz,
    last_job_id   bigint,
    fires         bigint NOT NULL DEFAULT 0,
    misses        bigint NOT NULL DEFAULT 0,
    last_error    text,
    last_error_at timestamptz,
    owner         regrole NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- A tick reads only the schedules that are due: its cost follows them, not the table's size.
CREATE INDEX schedules_due_idx ON queue.schedules (next_run_at) WHERE NOT paused;
COMMENT ON TABLE queue.schedules IS
    'Cron schedules (queue.create_schedule): each fires a job into its queue at every fire time of its cron pattern, in its time zone, offset by queue.slot_offset(name, jitter). next_fire_at is the next nominal fire time, next_run_at when it fires; fires and misses count fire times enqueued and skipped (while paused windows are not counted). owner is the role whose rights the jobs are enqueued with.';
COMMENT ON COLUMN queue.schedules.misses IS
    'Fire times that passed without a job: all but one of a window missed while the worker was away (catch_up), or all of it (catch_up false, more than a minute late).';

-- A spread refresh: every row of `source` gets a job once per `period`, at its key's slot
-- (queue.next_slot(key, period)). The worker reads the source as `owner`, by an expression index
-- on queue.slot_fraction((key_column)::text), one window of fractions per step: all slots before
-- enqueued_until have been enqueued.
CREATE TABLE queue.refreshes (
    name                 text PRIMARY KEY,
    queue                text NOT NULL,
    source               regclass NOT NULL,
    key_column           name NOT NULL,
    period               interval NOT NULL,
    payload              jsonb NOT NULL DEFAULT '{}',
    batch                integer,
    priority             integer NOT NULL DEFAULT 0,
    group_key            text,
    max_attempts         integer,
    paused               boolean NOT NULL DEFAULT false,
    enqueued_until       timestamptz NOT NULL,
    enqueued_this_period bigint NOT NULL DEFAULT 0,
    enqueued_last_period bigint,
    jobs_enqueued        bigint NOT NULL DEFAULT 0,
    keys_skipped         bigint NOT NULL DEFAULT 0,
    last_step_at         timestamptz,
    last_error           text,
    last_error_at        timestamptz,
    owner                regrole NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE queue.refreshes IS
    'Internal: the spread refreshes and where each got to; read them through queue.spread_refreshes.';

CREATE VIEW queue.spread_refreshes WITH (security_barrier) AS
SELECT r.name, r.queue, r.source, r.key_column, r.period, r.payload, r.batch, r.paused,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS rows_per_period,
       r.enqueued_this_period, r.enqueued_last_period, r.jobs_enqueued, r.keys_skipped,
       CASE WHEN NOT r.paused THEN greatest(now() - r.enqueued_until, interval '0') END AS lag,
       r.enqueued_until AS next_due, r.last_step_at, r.last_error, r.last_error_at,
       r.owner, r.created_at
  FROM queue.refreshes r
  LEFT JOIN pg_catalog.pg_class c ON c.oid = r.source
 WHERE queue_internal.sees(coalesce((SELECT q.id FROM queue.queues q WHERE q.name = r.queue), 0), true);
COMMENT ON VIEW queue.spread_refreshes IS
    'Spread refreshes (queue.create_spread_refresh): source table and key, period, rows per period (the planner''s estimate), jobs enqueued this period and the last, keys skipped because their previous job was still pending or running, lag (how far the worker is behind the slots), and next_due, the slot from which keys are still to be enqueued.';

SELECT pg_catalog.pg_extension_config_dump('queue.schedules', '');
SELECT pg_catalog.pg_extension_config_dump('queue.refreshes', '');

-- A paced backfill: jobs {"backfill": name, "begin_id": a, "end_id": b} over the source's integer
-- key, newest first, each covering batch_size existing rows, due one every 1/rate seconds, enqueued
-- only `lookahead` ahead. `next_end_id` is the highest key not yet covered and `next_due` when the
-- next range is due; both move in the transaction that enqueues the range.
CREATE TABLE queue.backfill_runs (
    name                text PRIMARY KEY,
    queue               text NOT NULL,
    source              regclass NOT NULL,
    key_column          name NOT NULL,
    batch_size          integer NOT NULL,
    per_second          double precision NOT NULL,
    -- On-peak / off-peak rates, as queue.set_rate_schedule's (NULL peak_days: per_second always).
    peak_per_second     double precision,
    off_peak_per_second double precision,
    timezone            text NOT NULL DEFAULT 'UTC',
    peak_days           integer[],
    peak_start          integer,
    peak_end            integer,
    lookahead            interval NOT NULL,
    max_outstanding     integer,
    payload             jsonb NOT NULL DEFAULT '{}',
    priority            integer NOT NULL DEFAULT 0,
    group_key           text NOT NULL,
    max_attempts        integer,
    state               text NOT NULL DEFAULT 'running'
                        CHECK (state IN ('running', 'paused', 'draining', 'done', 'cancelled')),
    next_end_id         bigint NOT NULL DEFAULT 9223372036854775807,
    next_due            timestamptz NOT NULL DEFAULT now(),
    rows_estimate       bigint,
    rows_enqueued       bigint NOT NULL DEFAULT 0,
    ranges_enqueued     bigint NOT NULL DEFAULT 0,
    last_step_at        timestamptz,
    last_error          text,
    last_error_at       timestamptz,
    owner               regrole NOT NULL,
    started_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz
);
COMMENT ON TABLE queue.backfill_runs IS
    'Internal: the backfills and where each got to; read them through queue.backfills.';
SELECT pg_catalog.pg_extension_config_dump('queue.backfill_runs', '');

-- The rate (jobs per second) backfill `b` runs at at instant `at`: per_second, or its on-peak /
-- off-peak rate by the same rule as a queue's rate schedule (queue_internal.rate_in_effect).
CREATE FUNCTION queue_internal.backfill_rate_at(b queue.backfill_runs, at timestamptz) RETURNS double precision
LANGUAGE sql STABLE AS $fn$
    SELECT CASE WHEN b.peak_days IS NULL THEN b.per_second
                WHEN e.peak THEN coalesce(b.peak_per_second, b.per_second)
                ELSE coalesce(b.off_peak_per_second, b.per_second)
           END
      FROM queue_internal.rate_in_effect(NULL, NULL,
               ROW(0, b.timezone, b.peak_days, b.peak_start, b.peak_end, NULL, NULL, NULL, NULL)::queue.queue_rate_schedules,
               at) AS e
$fn$;
COMMENT ON FUNCTION queue_internal.backfill_rate_at IS
    'Internal: the rate a backfill runs at at an instant (its on-peak / off-peak schedule applied).';

-- Progress of each backfill. Its jobs are found by group key (indexed in the ready and running
-- tables) and payload; a range is done when its job left the live and dead tables. The state
-- shown is the worker's (backfill_runs.state) made honest by the ranges: once every range is
-- enqueued, a backfill is done only when none is pending, running or dead; a dead range makes it
-- failed, and a retried one (queue.retry) makes it draining again, even after the worker
-- recorded it done.
CREATE VIEW queue.backfills WITH (security_barrier) AS
SELECT b.name, b.queue, b.source, b.key_column,
       CASE WHEN b.state NOT IN ('draining', 'done') THEN b.state
            WHEN j.pending + j.running > 0 THEN 'draining'
            WHEN j.dead > 0 THEN 'failed'
            ELSE b.state
       END AS state,
       b.batch_size, b.per_second,
       r.rate AS current_rate, b.lookahead, b.max_outstanding,
       nullif(b.next_end_id, 9223372036854775807) AS next_end_id, b.next_due,
       b.rows_estimate, b.rows_enqueued, b.ranges_enqueued,
       j.pending AS ranges_pending, j.running AS ranges_running, j.retrying AS ranges_retrying,
       j.dead AS ranges_dead, b.ranges_enqueued - j.pending - j.running - j.dead AS ranges_done,
       CASE WHEN b.state IN ('running', 'paused') AND r.rate > 0 AND b.rows_estimate IS NOT NULL
            THEN make_interval(secs => greatest(b.rows_estimate - b.rows_enqueued, 0)::float8 / b.batch_size / r.rate)
       END AS eta,
       b.started_at, b.finished_at, b.last_step_at, b.last_error, b.last_error_at, b.owner
  FROM queue.backfill_runs b
  LEFT JOIN queue.queues q ON q.name = b.queue
 CROSS JOIN LATERAL (SELECT queue_internal.backfill_rate_at(b, now()) AS rate) AS r
 CROSS JOIN LATERAL (
       SELECT p.pending, p.retrying,
              (SELECT count(*) FROM queue.running x
                WHERE x.queue_id = q.id AND x.group_key = b.group_key AND x.payload->>'backfill' = b.name) AS running,
              (SELECT count(*) FROM queue.dead x
                WHERE x.queue_id = q.id AND x.group_key = b.group_key AND x.payload->>'backfill' = b.name) AS dead
         FROM (SELECT count(*) AS pending, count(*) FILTER (WHERE x.attempts > 0) AS retrying
                 FROM (SELECT attempts FROM queue.ready x
                        WHERE x.queue_id = q.id AND x.group_key = b.group_key AND x.payload->>'backfill' = b.name
                       UNION ALL
                       SELECT attempts FROM queue.scheduled x
                        WHERE x.queue_id = q.id AND x.group_key = b.group_key AND x.payload->>'backfill' = b.name) AS x
              ) AS p) AS j
 WHERE queue_internal.sees(coalesce(q.id, 0), true);
COMMENT ON VIEW queue.backfills IS
    'Backfills (queue.start_backfill): state (running: enqueuing its ranges; paused; draining: every range enqueued, some pending or running, retried ones included; done: every range completed; failed: every range finished but some are dead, queue.retry sends them round again; cancelled), pacing (per_second, current_rate with its peak schedule, lookahead, max_outstanding), the next range''s end and due time, rows (estimate at start) and ranges enqueued, pending, running, retrying, dead and done, and an ETA.';
