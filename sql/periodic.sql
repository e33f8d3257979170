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
    'Cron schedules (queue.schedule): each fires a job into its queue at every fire time of its cron pattern, in its time zone, offset by queue.slot_offset(name, jitter). next_fire_at is the next nominal fire time, next_run_at when it fires; fires and misses count fire times enqueued and skipped (while paused windows are not counted). owner is the role whose rights the jobs are enqueued with.';
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

CREATE VIEW queue.spread_refreshes AS
SELECT r.name, r.queue, r.source, r.key_column, r.period, r.payload, r.batch, r.paused,
       CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS rows_per_period,
       r.enqueued_this_period, r.enqueued_last_period, r.jobs_enqueued, r.keys_skipped,
       CASE WHEN NOT r.paused THEN greatest(now() - r.enqueued_until, interval '0') END AS lag,
       r.enqueued_until AS next_due, r.last_step_at, r.last_error, r.last_error_at,
       r.owner, r.created_at
  FROM queue.refreshes r
  LEFT JOIN pg_catalog.pg_class c ON c.oid = r.source;
COMMENT ON VIEW queue.spread_refreshes IS
    'Spread refreshes (queue.spread_refresh): source table and key, period, rows per period (the planner''s estimate), jobs enqueued this period and the last, keys skipped because their previous job was still pending or running, lag (how far the worker is behind the slots), and next_due, the slot from which keys are still to be enqueued.';

SELECT pg_catalog.pg_extension_config_dump('queue.schedules', '');
SELECT pg_catalog.pg_extension_config_dump('queue.refreshes', '');
