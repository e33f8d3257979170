-- queue_ext 0.1.0 -> 0.2.0. Released scripts are never edited: later changes go in new ones.
--
-- Storage: the one table queue.jobs becomes ready / scheduled / running / done / dead (plus dedupe),
-- and queue.jobs a view over them with the same columns (docs/adr/001-hot-path-storage.md). Every
-- job moves with everything it had: running jobs keep their lease token and expiry (their holders
-- complete them with the tokens they hold), scheduled ones their run_at, dead and cancelled ones
-- stay retryable, and ids go on from the same sequence.
-- Also: queues get numeric ids; per-queue grants; the background worker's role; the functions move
-- to the 0.2.0 library's symbols (the 0.1.0 ones only raise "run ALTER EXTENSION ... UPDATE").

-- Roles ------------------------------------------------------------------------------------------
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['queue_admin', 'queue_producer', 'queue_worker', 'queue_maintainer'] LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
    -- The worker purges a dropped queue once no transaction that might still add a job to it is
    -- open: it must see every backend's xact_start.
    GRANT pg_read_all_stats TO queue_maintainer;
END
$roles$;

-- Queues -----------------------------------------------------------------------------------------
-- The new column is last, as in a fresh install; existing queues are numbered in name order.
CREATE SEQUENCE queue.queues_id_seq AS integer;
ALTER TABLE queue.queues ADD COLUMN id integer;
UPDATE queue.queues q SET id = n.n FROM (SELECT name, row_number() OVER (ORDER BY name) AS n FROM queue.queues) n
 WHERE n.name = q.name;
SELECT pg_catalog.setval('queue.queues_id_seq', greatest((SELECT max(id) FROM queue.queues), 1),
                         (SELECT max(id) FROM queue.queues) IS NOT NULL);
ALTER TABLE queue.queues ALTER COLUMN id SET DEFAULT nextval('queue.queues_id_seq'),
                         ALTER COLUMN id SET NOT NULL,
                         ADD CONSTRAINT queues_id_key UNIQUE (id);
ALTER SEQUENCE queue.queues_id_seq OWNED BY queue.queues.id;
COMMENT ON TABLE queue.queues IS
    'One row per queue with its settings. Change it only through queue.create_queue, queue.alter_queue, queue.pause, queue.resume and queue.drop_queue.';
COMMENT ON COLUMN queue.queues.id IS 'Internal number the job tables use for the queue; never reused.';
COMMENT ON COLUMN queue.queues.lease IS 'How long a claim holds a job before the lease expires and the job is re-issued.';
COMMENT ON COLUMN queue.queues.max_attempts IS 'Claims a job may receive before a failure makes it dead (per-job override at enqueue).';
COMMENT ON COLUMN queue.queues.backoff_base IS 'First retry delay; each further failure doubles it (with jitter).';
COMMENT ON COLUMN queue.queues.backoff_max IS 'Cap on the retry delay.';
COMMENT ON COLUMN queue.queues.notify IS 'Send NOTIFY on channel queue_<name> when jobs become ready: enqueued due now, come due, released or retried.';
COMMENT ON COLUMN queue.queues.rate_per_second IS 'Token-bucket refill rate for claims; NULL means unlimited.';
COMMENT ON COLUMN queue.queues.burst IS 'Token-bucket size: claims allowed above the steady rate after an idle period.';
COMMENT ON COLUMN queue.queues.max_running IS 'Cap on jobs running at once in this queue; NULL means no cap.';
COMMENT ON COLUMN queue.queues.max_running_per_group IS 'Cap on jobs running at once per group_key; NULL means no cap.';
COMMENT ON COLUMN queue.queues.group_backoff IS 'Defer a group after consecutive failures (circuit breaker); a success resets it.';
COMMENT ON COLUMN queue.queues.retention IS 'How long done and cancelled jobs are kept before the background worker deletes them; 0 keeps no history (a completed job is deleted at once). Dead jobs are kept until retried.';
COMMENT ON COLUMN queue.queues.paused IS 'A paused queue hands out no jobs; producers may still enqueue.';

-- Dropped queues: the background worker deletes their jobs in bounded batches, then the tombstone.
-- drop_queue itself only removes the queue's rows, so it never holds up work on other queues.
-- A producer that read the queue row just before the drop may still add a job: the tombstone
-- stays until every transaction that was open when the queue was found empty has ended.
CREATE TABLE queue.dropped_queues (
    queue_id    integer PRIMARY KEY,
    name        text NOT NULL,
    dropped_at  timestamptz NOT NULL DEFAULT now(),
    empty_since timestamptz
);
COMMENT ON TABLE queue.dropped_queues IS
    'Dropped queues whose jobs the background worker is purging in bounded batches; a row goes once no job and no transaction that could add one is left.';

-- Per-queue allow-lists. A role with no row for a privilege may use it on every queue (as its
-- queue_* role allows); once a role has rows for a privilege, it may use it on those queues only.
-- 'admin' on a queue also allows produce and consume there.
CREATE TABLE queue.queue_grants (
    queue_id   integer NOT NULL,
    grantee    regrole NOT NULL,
    privilege  text NOT NULL CHECK (privilege IN ('produce', 'consume', 'admin')),
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (queue_id, grantee, privilege)
);
CREATE INDEX queue_grants_grantee_idx ON queue.queue_grants (grantee, privilege);
COMMENT ON TABLE queue.queue_grants IS
    'Per-queue privileges set by queue.grant and queue.revoke: a role listed here for a privilege may use it on the listed queues only.';

-- Tables that change shape step aside under another name until their rows have moved. Their CHECK
-- constraints go first: the new tables' constraints take the same names.
CREATE FUNCTION queue.step_aside_0_1(t text) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT conname FROM pg_catalog.pg_constraint
              WHERE conrelid = ('queue.' || t)::regclass AND contype = 'c' LOOP
        EXECUTE format('ALTER TABLE queue.%I DROP CONSTRAINT %I', t, c.conname);
    END LOOP;
    EXECUTE format('ALTER TABLE queue.%I RENAME CONSTRAINT %I TO %I', t, t || '_pkey', t || '_0_1_pkey');
    EXECUTE format('ALTER TABLE queue.%I RENAME TO %I', t, t || '_0_1');
END
$fn$;

-- Group backoff and rate schedules are keyed by the queue's id now.
SELECT queue.step_aside_0_1('group_state');
-- Group backoff (circuit breaker): consecutive failures of a group defer the whole group.
CREATE TABLE queue.group_state (
    queue_id             integer NOT NULL,
    group_key            text NOT NULL CHECK (group_key <> ''),
    consecutive_failures integer NOT NULL CHECK (consecutive_failures >= 1),
    eligible_at          timestamptz NOT NULL,
    PRIMARY KEY (queue_id, group_key)
);
COMMENT ON TABLE queue.group_state IS
    'Groups backing off after consecutive failures: none of their jobs is claimed before eligible_at. A completed job of the group deletes its row.';
INSERT INTO queue.group_state (queue_id, group_key, consecutive_failures, eligible_at)
SELECT q.id, g.group_key, g.consecutive_failures, g.eligible_at
  FROM queue.group_state_0_1 g JOIN queue.queues q ON q.name = g.queue
 WHERE g.group_key <> '';
DROP TABLE queue.group_state_0_1;

SELECT queue.step_aside_0_1('rate_schedules');
-- On-peak / off-peak claim rates. A NULL rate means unlimited in that period.
CREATE TABLE queue.rate_schedules (
    queue_id       integer PRIMARY KEY,
    timezone       text NOT NULL,
    peak_days      integer[] NOT NULL,  -- ISO weekdays, 1 = Monday
    peak_start     integer NOT NULL CHECK (peak_start BETWEEN 0 AND 23),
    peak_end       integer NOT NULL CHECK (peak_end BETWEEN 1 AND 24),  -- exclusive; before start wraps midnight
    peak_rate      double precision CHECK (peak_rate > 0),
    peak_burst     integer CHECK (peak_burst >= 0),
    off_peak_rate  double precision CHECK (off_peak_rate > 0),
    off_peak_burst integer CHECK (off_peak_burst >= 0)
);
COMMENT ON TABLE queue.rate_schedules IS
    'Per-queue rate schedule set by queue.set_rate_schedule: peak hours on peak days in a time zone use peak_rate, other times off_peak_rate.';
INSERT INTO queue.rate_schedules (queue_id, timezone, peak_days, peak_start, peak_end, peak_rate, peak_burst,
                                  off_peak_rate, off_peak_burst)
SELECT q.id, s.timezone, s.peak_days, s.peak_start, s.peak_end, s.peak_rate, s.peak_burst, s.off_peak_rate,
       s.off_peak_burst
  FROM queue.rate_schedules_0_1 s JOIN queue.queues q ON q.name = s.queue;
ALTER EXTENSION queue_ext DROP TABLE queue.rate_schedules_0_1;
DROP TABLE queue.rate_schedules_0_1;

SELECT pg_catalog.pg_extension_config_dump('queue.queues_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('queue.queue_grants', '');
SELECT pg_catalog.pg_extension_config_dump('queue.rate_schedules', '');
SELECT pg_catalog.pg_extension_config_dump('queue.dropped_queues', '');

-- Internal helpers for the queue.* functions (no role may call them directly). They are plain SQL
-- so that the planner inlines them into the statements that use them; those statements run with
-- search_path pinned to pg_catalog, pg_temp.

-- May role `role` use privilege 'produce', 'consume' or 'admin' on queue `queue_id`? Superusers
-- may; a role without queue_grants rows for the privilege (or for 'admin') may use it on every
-- queue; otherwise only on the queues it holds a grant for, directly or through membership.
-- The planner cannot inline it (it has subqueries), so the hot statements call it only when any
-- grant exists at all: (NOT EXISTS (SELECT FROM queue.queue_grants) OR queue._may(...)), whose
-- first half is evaluated once per statement.
CREATE FUNCTION queue._may(queue_id integer, role oid, privilege text) RETURNS boolean
LANGUAGE sql STABLE AS $fn$
    SELECT NOT EXISTS (SELECT FROM queue.queue_grants)
        OR coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = role), false)
        OR NOT EXISTS (SELECT FROM queue.queue_grants g
                        WHERE g.privilege IN (privilege, 'admin')
                          AND pg_catalog.pg_has_role(role, g.grantee::oid, 'USAGE'))
        OR EXISTS (SELECT FROM queue.queue_grants g
                    WHERE g.queue_id = _may.queue_id AND g.privilege IN (privilege, 'admin')
                      AND pg_catalog.pg_has_role(role, g.grantee::oid, 'USAGE'))
$fn$;
COMMENT ON FUNCTION queue._may IS
    'Internal: whether a role may use a privilege on a queue under the per-queue allow-lists of queue.queue_grants.';

-- The claim rate and burst that apply at instant `at`, given the queue's own rate and burst and
-- its rate schedule `s` (all NULL when it has none).
CREATE FUNCTION queue._effective_rate(base_rate double precision, base_burst integer, s queue.rate_schedules,
                                      at timestamptz)
RETURNS TABLE (rate double precision, burst integer, peak boolean)
LANGUAGE sql STABLE AS $fn$
    SELECT CASE WHEN s.queue_id IS NULL THEN base_rate WHEN p.peak THEN s.peak_rate ELSE s.off_peak_rate END,
           CASE WHEN s.queue_id IS NULL THEN base_burst WHEN p.peak THEN s.peak_burst ELSE s.off_peak_burst END,
           CASE WHEN s.queue_id IS NOT NULL THEN p.peak END
      FROM (SELECT s.queue_id IS NOT NULL
                   AND extract(isodow FROM l.local)::integer = ANY (s.peak_days)
                   AND CASE WHEN s.peak_start < s.peak_end
                            THEN extract(hour FROM l.local) >= s.peak_start AND extract(hour FROM l.local) < s.peak_end
                            ELSE extract(hour FROM l.local) >= s.peak_start OR extract(hour FROM l.local) < s.peak_end
                       END AS peak
              FROM (SELECT at AT TIME ZONE coalesce(s.timezone, 'UTC') AS local) AS l) AS p
$fn$;
COMMENT ON FUNCTION queue._effective_rate IS
    'Internal: the rate, burst and peak flag a queue''s rate schedule gives at an instant.';

-- Jobs -------------------------------------------------------------------------------------------
-- The old table steps aside (its sequence stays: the new tables number jobs from it).
ALTER TABLE queue.jobs RENAME TO jobs_0_1;
ALTER SEQUENCE queue.jobs_id_seq OWNED BY NONE;
ALTER TABLE queue.jobs_0_1 ALTER COLUMN id DROP DEFAULT;

CREATE TABLE queue.ready (
    id               bigint NOT NULL DEFAULT nextval('queue.jobs_id_seq'),
    queue_id         integer NOT NULL,
    priority         integer NOT NULL DEFAULT 0,
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL,
    run_at           timestamptz NOT NULL,
    enqueued_at      timestamptz NOT NULL,
    group_key        text NOT NULL DEFAULT '',
    payload          jsonb NOT NULL,
    dedupe_key       text,
    first_claimed_at timestamptz,
    claimed_at       timestamptz,
    locked_by        text,
    last_error       text,
    CONSTRAINT ready_pkey PRIMARY KEY (id)
);
-- Claims: the groups of a queue are enumerated by skip scan over group_key, and within a group
-- jobs come in claim order, priority DESC, run_at, id. Priority is indexed negated, so that the
-- whole claim key ascends and a claim can start at a position: ROW(-priority, run_at, id) >= ...
-- (see src/shmem/head.rs).
CREATE INDEX ready_claim_idx ON queue.ready (queue_id, group_key, (-(priority::bigint)), run_at, id);
COMMENT ON TABLE queue.ready IS 'Pending jobs that are due: what claims hand out. Read jobs through queue.jobs.';

CREATE TABLE queue.scheduled (LIKE queue.ready INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE queue.scheduled ADD CONSTRAINT scheduled_pkey PRIMARY KEY (id);
-- Promotion of jobs that came due, per queue (claims) and across queues (the background worker,
-- which also sleeps until the earliest run_at). Queue ids are positive: the predicate, which only
-- the worker's statements state, keeps a claim's generic plan (queue_id = $1 proves nothing about
-- $1) from ever walking every queue's due jobs by run_at.
CREATE INDEX scheduled_due_idx ON queue.scheduled (queue_id, run_at);
CREATE INDEX scheduled_run_at_idx ON queue.scheduled (run_at) WHERE queue_id > 0;
COMMENT ON TABLE queue.scheduled IS 'Pending jobs due later (delayed at enqueue, or waiting out a retry backoff). Read jobs through queue.jobs.';

CREATE TABLE queue.running (
    LIKE queue.ready INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    lease_token      uuid NOT NULL,
    lease_expires_at timestamptz NOT NULL,
    claimed_by       oid NOT NULL
);
ALTER TABLE queue.running ADD CONSTRAINT running_pkey PRIMARY KEY (id);
ALTER TABLE queue.running ALTER COLUMN first_claimed_at SET NOT NULL, ALTER COLUMN claimed_at SET NOT NULL;
-- Caps count running jobs per queue and group; a claim that takes over expired leases reads the
-- queue's running jobs here. lease_expires_at is in no index, so that a heartbeat is a HOT update.
CREATE INDEX running_queue_idx ON queue.running (queue_id, group_key);
COMMENT ON TABLE queue.running IS 'Leased jobs. Read jobs through queue.jobs, which shows a lease token only to the role that claimed it.';
COMMENT ON COLUMN queue.running.claimed_by IS 'The role that claimed the job: the only one (besides superusers) that queue.jobs shows its lease_token to.';

CREATE TABLE queue.done (
    LIKE queue.ready INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    state            queue.job_state NOT NULL,
    finished_at      timestamptz NOT NULL
);
-- Retention walks each queue's oldest finished jobs. Lookups by id use a BRIN index: ids arrive
-- here roughly in order, and a btree would cost every completion one more index entry.
CREATE INDEX done_finished_idx ON queue.done (queue_id, finished_at);
CREATE INDEX done_id_idx ON queue.done USING brin (id) WITH (pages_per_range = 16);
COMMENT ON TABLE queue.done IS 'Done and cancelled jobs, kept for their queue''s retention. Read jobs through queue.jobs.';

CREATE TABLE queue.dead (
    LIKE queue.ready INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    finished_at      timestamptz NOT NULL
);
ALTER TABLE queue.dead ADD CONSTRAINT dead_pkey PRIMARY KEY (id);
CREATE INDEX dead_queue_idx ON queue.dead (queue_id, finished_at);
COMMENT ON TABLE queue.dead IS 'Jobs whose attempts ran out (the dead letters): kept until queue.retry sends them back. Read jobs through queue.jobs.';

-- Dedupe: one row per live (pending or running) job with a dedupe key. Concurrent producers race
-- on its primary key; a job that finishes deletes its row, which frees the key.
CREATE TABLE queue.dedupe (
    queue_id   integer NOT NULL,
    dedupe_key text NOT NULL,
    job_id     bigint NOT NULL,
    PRIMARY KEY (queue_id, dedupe_key)
);
COMMENT ON TABLE queue.dedupe IS 'The live job holding each (queue, dedupe_key). Maintained by the queue.* functions.';

-- The hot tables churn: every job is inserted and deleted. Vacuum them early and without
-- throttling, so that claims do not wade through dead index entries.
ALTER TABLE queue.ready SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
                             autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE queue.running SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
                               autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE queue.scheduled SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE queue.dedupe SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE queue.done SET (autovacuum_vacuum_insert_scale_factor = 0.1, autovacuum_vacuum_cost_delay = 0);

-- Every job moves to the table of its state. Jobs without a group_key are in group ''.
INSERT INTO queue.ready (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload,
                         dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
SELECT j.id, q.id, j.priority, j.attempts, j.max_attempts, j.run_at, j.enqueued_at, coalesce(j.group_key, ''),
       j.payload, j.dedupe_key, j.first_claimed_at, j.claimed_at, j.locked_by, j.last_error
  FROM queue.jobs_0_1 j JOIN queue.queues q ON q.name = j.queue
 WHERE j.state = 'pending' AND j.run_at <= now();
INSERT INTO queue.scheduled (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload,
                             dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
SELECT j.id, q.id, j.priority, j.attempts, j.max_attempts, j.run_at, j.enqueued_at, coalesce(j.group_key, ''),
       j.payload, j.dedupe_key, j.first_claimed_at, j.claimed_at, j.locked_by, j.last_error
  FROM queue.jobs_0_1 j JOIN queue.queues q ON q.name = j.queue
 WHERE j.state = 'pending' AND j.run_at > now();
-- 0.1.0 did not record which role claimed a job: its token stays readable by superusers only,
-- and the worker holding it completes the job with it as before.
INSERT INTO queue.running (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload,
                           dedupe_key, first_claimed_at, claimed_at, locked_by, last_error, lease_token,
                           lease_expires_at, claimed_by)
SELECT j.id, q.id, j.priority, j.attempts, j.max_attempts, j.run_at, j.enqueued_at, coalesce(j.group_key, ''),
       j.payload, j.dedupe_key, coalesce(j.first_claimed_at, j.claimed_at, now()), coalesce(j.claimed_at, now()),
       j.locked_by, j.last_error, j.lease_token, j.lease_expires_at, 0
  FROM queue.jobs_0_1 j JOIN queue.queues q ON q.name = j.queue
 WHERE j.state = 'running';
INSERT INTO queue.done (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload,
                        dedupe_key, first_claimed_at, claimed_at, locked_by, last_error, state, finished_at)
SELECT j.id, q.id, j.priority, j.attempts, j.max_attempts, j.run_at, j.enqueued_at, coalesce(j.group_key, ''),
       j.payload, j.dedupe_key, j.first_claimed_at, j.claimed_at, j.locked_by, j.last_error, j.state, j.finished_at
  FROM queue.jobs_0_1 j JOIN queue.queues q ON q.name = j.queue
 WHERE j.state IN ('done', 'cancelled');
INSERT INTO queue.dead (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload,
                        dedupe_key, first_claimed_at, claimed_at, locked_by, last_error, finished_at)
SELECT j.id, q.id, j.priority, j.attempts, j.max_attempts, j.run_at, j.enqueued_at, coalesce(j.group_key, ''),
       j.payload, j.dedupe_key, j.first_claimed_at, j.claimed_at, j.locked_by, j.last_error, j.finished_at
  FROM queue.jobs_0_1 j JOIN queue.queues q ON q.name = j.queue
 WHERE j.state = 'dead';
INSERT INTO queue.dedupe (queue_id, dedupe_key, job_id)
SELECT q.id, j.dedupe_key, j.id
  FROM queue.jobs_0_1 j JOIN queue.queues q ON q.name = j.queue
 WHERE j.dedupe_key IS NOT NULL AND j.state IN ('pending', 'running');

ALTER EXTENSION queue_ext DROP TABLE queue.jobs_0_1;
DROP TABLE queue.jobs_0_1;

-- Every job, whichever table holds it, with the columns of 0.1.0's queue.jobs table.
CREATE VIEW queue.jobs AS
SELECT j.id, q.name AS queue, 'pending'::queue.job_state AS state, j.payload, j.priority, j.run_at,
       nullif(j.group_key, '') AS group_key, j.dedupe_key, j.attempts, j.max_attempts,
       NULL::uuid AS lease_token, NULL::timestamptz AS lease_expires_at, j.locked_by, j.last_error,
       j.enqueued_at, j.first_claimed_at, j.claimed_at, NULL::timestamptz AS finished_at
  FROM queue.ready j JOIN queue.queues q ON q.id = j.queue_id
UNION ALL
SELECT j.id, q.name, 'pending', j.payload, j.priority, j.run_at, nullif(j.group_key, ''), j.dedupe_key,
       j.attempts, j.max_attempts, NULL, NULL, j.locked_by, j.last_error, j.enqueued_at, j.first_claimed_at,
       j.claimed_at, NULL
  FROM queue.scheduled j JOIN queue.queues q ON q.id = j.queue_id
UNION ALL
SELECT j.id, q.name, 'running', j.payload, j.priority, j.run_at, nullif(j.group_key, ''), j.dedupe_key,
       j.attempts, j.max_attempts,
       CASE WHEN pg_catalog.pg_has_role(j.claimed_by, 'USAGE') THEN j.lease_token END,
       j.lease_expires_at, j.locked_by, j.last_error, j.enqueued_at, j.first_claimed_at, j.claimed_at, NULL
  FROM queue.running j JOIN queue.queues q ON q.id = j.queue_id
UNION ALL
SELECT j.id, q.name, j.state, j.payload, j.priority, j.run_at, nullif(j.group_key, ''), j.dedupe_key,
       j.attempts, j.max_attempts, NULL, NULL, j.locked_by, j.last_error, j.enqueued_at, j.first_claimed_at,
       j.claimed_at, j.finished_at
  FROM queue.done j JOIN queue.queues q ON q.id = j.queue_id
UNION ALL
SELECT j.id, q.name, 'dead', j.payload, j.priority, j.run_at, nullif(j.group_key, ''), j.dedupe_key,
       j.attempts, j.max_attempts, NULL, NULL, j.locked_by, j.last_error, j.enqueued_at, j.first_claimed_at,
       j.claimed_at, j.finished_at
  FROM queue.dead j JOIN queue.queues q ON q.id = j.queue_id;
COMMENT ON VIEW queue.jobs IS
    'Every job of every existing queue, live and finished, whichever table holds it. lease_token shows only to the role that claimed the job. Write jobs only through the queue.* functions.';
COMMENT ON COLUMN queue.jobs.priority IS 'Higher runs first.';
COMMENT ON COLUMN queue.jobs.run_at IS 'The job is not claimable before this instant (scheduled while in the future).';
COMMENT ON COLUMN queue.jobs.group_key IS 'Tenant, target or domain the job belongs to; NULL is the queue''s default group.';
COMMENT ON COLUMN queue.jobs.dedupe_key IS 'While a job with the same (queue, dedupe_key) is pending or running, enqueue returns that job instead of a new one.';
COMMENT ON COLUMN queue.jobs.attempts IS 'Number of times the job has been claimed (a release gives one back).';
COMMENT ON COLUMN queue.jobs.lease_token IS 'Fencing token of the current lease, shown only to the role that claimed the job: complete, fail, heartbeat and release must present it.';
COMMENT ON COLUMN queue.jobs.locked_by IS 'Worker name given to the claim that holds (or last held) the lease.';

-- pg_dump keeps the jobs.
SELECT pg_catalog.pg_extension_config_dump('queue.jobs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('queue.ready', '');
SELECT pg_catalog.pg_extension_config_dump('queue.scheduled', '');
SELECT pg_catalog.pg_extension_config_dump('queue.running', '');
SELECT pg_catalog.pg_extension_config_dump('queue.done', '');
SELECT pg_catalog.pg_extension_config_dump('queue.dead', '');
SELECT pg_catalog.pg_extension_config_dump('queue.dedupe', '');

-- The background worker's report ----------------------------------------------------------------
SELECT queue.step_aside_0_1('worker_status');
CREATE TABLE queue.worker_status (
    singleton          boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    pid                integer,
    started_at         timestamptz,
    last_tick_at       timestamptz,
    ticks              bigint NOT NULL DEFAULT 0,
    leases_released    bigint NOT NULL DEFAULT 0,
    jobs_promoted      bigint NOT NULL DEFAULT 0,
    notifications_sent bigint NOT NULL DEFAULT 0,
    jobs_pruned        bigint NOT NULL DEFAULT 0,
    jobs_purged        bigint NOT NULL DEFAULT 0,
    schedules_fired    bigint NOT NULL DEFAULT 0,
    refresh_jobs       bigint NOT NULL DEFAULT 0,
    backfill_jobs      bigint NOT NULL DEFAULT 0,
    last_error         text,
    last_error_at      timestamptz
);
INSERT INTO queue.worker_status DEFAULT VALUES;
COMMENT ON TABLE queue.worker_status IS
    'The background worker''s report for this database: its pid and start, last tick, totals of leases released, scheduled jobs promoted when due, notifications sent, finished jobs pruned, jobs of dropped queues purged, cron schedules fired, jobs enqueued by spread refreshes and by backfills, and its last error.';
UPDATE queue.worker_status w
   SET started_at = o.started_at, last_tick_at = o.last_tick_at, ticks = o.ticks, leases_released = o.leases_released,
       notifications_sent = o.notifications_sent, jobs_pruned = o.jobs_pruned, last_error = o.last_error,
       last_error_at = o.last_error_at
  FROM queue.worker_status_0_1 o;
DROP TABLE queue.worker_status_0_1;
DROP FUNCTION queue.step_aside_0_1(text);

-- Periodic work: cron schedules and spread refreshes ----------------------------------------
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
-- off-peak rate by the same rule as a queue's rate schedule (queue._effective_rate).
CREATE FUNCTION queue._backfill_rate(b queue.backfill_runs, at timestamptz) RETURNS double precision
LANGUAGE sql STABLE AS $fn$
    SELECT CASE WHEN b.peak_days IS NULL THEN b.per_second
                WHEN e.peak THEN coalesce(b.peak_per_second, b.per_second)
                ELSE coalesce(b.off_peak_per_second, b.per_second)
           END
      FROM queue._effective_rate(NULL, NULL,
               ROW(0, b.timezone, b.peak_days, b.peak_start, b.peak_end, NULL, NULL, NULL, NULL)::queue.rate_schedules,
               at) AS e
$fn$;
COMMENT ON FUNCTION queue._backfill_rate IS
    'Internal: the rate a backfill runs at at an instant (its on-peak / off-peak schedule applied).';

-- Progress of each backfill. Its jobs are found by group key (indexed in the ready and running
-- tables) and payload; a range is done when its job left the live and dead tables.
CREATE VIEW queue.backfills AS
SELECT b.name, b.queue, b.source, b.key_column, b.state, b.batch_size, b.per_second,
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
 CROSS JOIN LATERAL (SELECT queue._backfill_rate(b, now()) AS rate) AS r
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
              ) AS p) AS j;
COMMENT ON VIEW queue.backfills IS
    'Backfills (queue.backfill_start): state (running, paused, draining: every range enqueued, done, cancelled), pacing (per_second, current_rate with its peak schedule, lookahead, max_outstanding), the next range''s end and due time, rows (estimate at start) and ranges enqueued, pending, running, retrying, dead and done, and an ETA.';

-- Functions --------------------------------------------------------------------------------------
-- Every function moves to the 0.2.0 library's symbols, defined exactly as a fresh install defines
-- it (scripts/function-ddl). CREATE OR REPLACE keeps what users built on them, such as their
-- triggers on queue.enqueue_trigger(), which becomes SECURITY INVOKER.
CREATE OR REPLACE FUNCTION "_stats"(
	"queue_id" INT /* i32 */
) RETURNS TABLE (
	"ready" bigint,  /* Option < i64 > */
	"scheduled" bigint,  /* Option < i64 > */
	"running" bigint,  /* Option < i64 > */
	"dead" bigint,  /* Option < i64 > */
	"done_last_minute" bigint,  /* i64 */
	"done_last_hour" bigint,  /* i64 */
	"throughput" double precision,  /* f64 */
	"failures_last_hour" bigint,  /* i64 */
	"retries_last_hour" bigint,  /* i64 */
	"mean_wait" interval,  /* Option < Interval > */
	"mean_run" interval,  /* Option < Interval > */
	"counted" bool  /* bool */
)
STRICT VOLATILE PARALLEL SAFE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_stats_of_wrapper';

CREATE OR REPLACE FUNCTION "_stats_reset"() RETURNS void
STRICT VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_stats_reset_wrapper';

CREATE OR REPLACE FUNCTION "_wake_launcher"() RETURNS void
STRICT VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_wake_launcher_wrapper';

CREATE OR REPLACE FUNCTION "alter_queue"(
	"name" TEXT, /* Option < & str > */
	"lease" interval DEFAULT NULL, /* Option < Interval > */
	"max_attempts" INT DEFAULT NULL, /* Option < i32 > */
	"backoff_base" interval DEFAULT NULL, /* Option < Interval > */
	"backoff_max" interval DEFAULT NULL, /* Option < Interval > */
	"notify" bool DEFAULT NULL, /* Option < bool > */
	"rate_per_second" double precision DEFAULT NULL, /* Option < f64 > */
	"burst" INT DEFAULT NULL, /* Option < i32 > */
	"max_running" INT DEFAULT NULL, /* Option < i32 > */
	"max_running_per_group" INT DEFAULT NULL, /* Option < i32 > */
	"group_backoff" bool DEFAULT NULL, /* Option < bool > */
	"retention" interval DEFAULT NULL, /* Option < Interval > */
	"reset" TEXT[] DEFAULT NULL /* :: std :: option :: Option < Vec < Option < String > > > */
) RETURNS VOID /* Result < () > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_alter_queue_wrapper';

CREATE OR REPLACE FUNCTION "backfill_alter"(
	"name" TEXT, /* Option < & str > */
	"batch_size" INT DEFAULT NULL, /* Option < i32 > */
	"per_second" double precision DEFAULT NULL, /* Option < f64 > */
	"lookahead" interval DEFAULT NULL, /* Option < Interval > */
	"max_outstanding" INT DEFAULT NULL, /* Option < i32 > */
	"peak_per_second" double precision DEFAULT NULL, /* Option < f64 > */
	"off_peak_per_second" double precision DEFAULT NULL, /* Option < f64 > */
	"timezone" TEXT DEFAULT NULL, /* Option < & str > */
	"peak_days" TEXT DEFAULT NULL, /* Option < & str > */
	"peak_hours" TEXT DEFAULT NULL, /* Option < & str > */
	"reset" TEXT[] DEFAULT NULL /* :: std :: option :: Option < Vec < String > > */
) RETURNS VOID /* Result < () > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_backfill_alter_wrapper';

CREATE OR REPLACE FUNCTION "backfill_cancel"(
	"name" TEXT /* Option < & str > */
) RETURNS bigint /* Result < i64 > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_backfill_cancel_wrapper';

CREATE OR REPLACE FUNCTION "backfill_pause"(
	"name" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_backfill_pause_wrapper';

CREATE OR REPLACE FUNCTION "backfill_rate"(
	"name" TEXT, /* Option < & str > */
	"at" timestamp with time zone DEFAULT now() /* Option < TimestampWithTimeZone > */
) RETURNS double precision /* Result < f64 > */
STABLE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_backfill_rate_wrapper';

CREATE OR REPLACE FUNCTION "backfill_resume"(
	"name" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_backfill_resume_wrapper';

CREATE OR REPLACE FUNCTION "backfill_start"(
	"name" TEXT, /* Option < & str > */
	"queue" TEXT, /* Option < & str > */
	"source" regclass, /* Option < RegClass > */
	"batch_size" INT DEFAULT 100, /* Option < i32 > */
	"per_second" double precision DEFAULT 1.0, /* Option < f64 > */
	"key_column" TEXT DEFAULT NULL, /* Option < & str > */
	"lookahead" interval DEFAULT '10 seconds', /* Option < Interval > */
	"max_outstanding" INT DEFAULT NULL, /* Option < i32 > */
	"payload" jsonb DEFAULT '{}', /* Option < Jsonb > */
	"priority" INT DEFAULT 0, /* Option < i32 > */
	"group_key" TEXT DEFAULT NULL, /* Option < & str > */
	"max_attempts" INT DEFAULT NULL, /* Option < i32 > */
	"peak_per_second" double precision DEFAULT NULL, /* Option < f64 > */
	"off_peak_per_second" double precision DEFAULT NULL, /* Option < f64 > */
	"timezone" TEXT DEFAULT 'UTC', /* Option < & str > */
	"peak_days" TEXT DEFAULT NULL, /* Option < & str > */
	"peak_hours" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS VOID /* Result < () > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_backfill_start_wrapper';

CREATE OR REPLACE FUNCTION "bucket"(
	"key" TEXT, /* & str */
	"buckets" INT /* i32 */
) RETURNS INT /* Result < i32 > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'bucket_wrapper';

CREATE OR REPLACE FUNCTION "cancel"(
	"id" bigint /* Option < i64 > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_cancel_wrapper';

CREATE OR REPLACE FUNCTION "check_enqueue_trigger"(
	"trigger_oid" oid /* pg_sys :: Oid */
) RETURNS VOID /* QResult < () > */
STRICT VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_check_enqueue_trigger_wrapper';

CREATE OR REPLACE FUNCTION "claim"(
	"queue" TEXT, /* Option < & str > */
	"worker" TEXT DEFAULT NULL, /* Option < & str > */
	"batch" INT DEFAULT 1, /* Option < i32 > */
	"lease" interval DEFAULT NULL, /* Option < Interval > */
	"complete" bigint[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < i64 > > > */
	"complete_token" uuid DEFAULT NULL /* Option < Uuid > */
) RETURNS SETOF queue.claimed_job /* :: pgrx :: heap_tuple :: PgHeapTuple < '_, :: pgrx :: pgbox :: AllocatedByRust
> */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_claim_wrapper';

CREATE OR REPLACE FUNCTION "clear_rate_schedule"(
	"queue" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_clear_rate_schedule_wrapper';

CREATE OR REPLACE FUNCTION "complete"(
	"id" bigint, /* Option < i64 > */
	"lease_token" uuid /* Option < Uuid > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_complete_wrapper';

CREATE OR REPLACE FUNCTION "complete_many"(
	"ids" bigint[], /* :: std :: option :: Option < Vec < Option < i64 > > > */
	"lease_tokens" uuid[] /* :: std :: option :: Option < Vec < Option < Uuid > > > */
) RETURNS SETOF bigint /* i64 */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_complete_many_wrapper';

CREATE OR REPLACE FUNCTION "create_queue"(
	"name" TEXT, /* Option < & str > */
	"lease" interval DEFAULT NULL, /* Option < Interval > */
	"max_attempts" INT DEFAULT NULL, /* Option < i32 > */
	"backoff_base" interval DEFAULT NULL, /* Option < Interval > */
	"backoff_max" interval DEFAULT NULL, /* Option < Interval > */
	"notify" bool DEFAULT NULL, /* Option < bool > */
	"rate_per_second" double precision DEFAULT NULL, /* Option < f64 > */
	"burst" INT DEFAULT NULL, /* Option < i32 > */
	"max_running" INT DEFAULT NULL, /* Option < i32 > */
	"max_running_per_group" INT DEFAULT NULL, /* Option < i32 > */
	"group_backoff" bool DEFAULT NULL, /* Option < bool > */
	"retention" interval DEFAULT NULL, /* Option < Interval > */
	"if_not_exists" bool DEFAULT false /* bool */
) RETURNS VOID /* Result < () > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_create_queue_wrapper';

CREATE OR REPLACE FUNCTION "drop_queue"(
	"name" TEXT, /* Option < & str > */
	"force" bool DEFAULT false /* bool */
) RETURNS VOID /* Result < () > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_drop_queue_wrapper';

CREATE OR REPLACE FUNCTION "drop_spread_refresh"(
	"name" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_drop_spread_refresh_wrapper';

CREATE OR REPLACE FUNCTION "effective_rate"(
	"queue" TEXT, /* Option < & str > */
	"at" timestamp with time zone DEFAULT clock_timestamp() /* Option < TimestampWithTimeZone > */
) RETURNS TABLE (
	"rate_per_second" double precision,  /* Option < f64 > */
	"burst" INT,  /* Option < i32 > */
	"peak" bool  /* Option < bool > */
)
STABLE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_effective_rate_wrapper';

CREATE OR REPLACE FUNCTION "enqueue"(
	"queue" TEXT, /* Option < & str > */
	"payload" jsonb, /* Option < Jsonb > */
	"run_at" timestamp with time zone DEFAULT now(), /* Option < TimestampWithTimeZone > */
	"priority" INT DEFAULT 0, /* Option < i32 > */
	"group_key" TEXT DEFAULT NULL, /* Option < & str > */
	"dedupe_key" TEXT DEFAULT NULL, /* Option < & str > */
	"max_attempts" INT DEFAULT NULL, /* Option < i32 > */
	"spread_key" TEXT DEFAULT NULL, /* Option < & str > */
	"spread_period" interval DEFAULT NULL /* Option < Interval > */
) RETURNS bigint /* Result < i64 > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_enqueue_wrapper';

CREATE OR REPLACE FUNCTION "enqueue_many"(
	"queue" TEXT, /* Option < & str > */
	"payloads" jsonb[], /* Option < JsonbArray > */
	"run_at" timestamp with time zone DEFAULT now(), /* Option < TimestampWithTimeZone > */
	"priority" INT DEFAULT 0, /* Option < i32 > */
	"group_key" TEXT DEFAULT NULL, /* Option < & str > */
	"max_attempts" INT DEFAULT NULL, /* Option < i32 > */
	"dedupe_keys" TEXT[] DEFAULT NULL /* :: std :: option :: Option < Vec < Option < String > > > */
) RETURNS SETOF bigint /* i64 */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_enqueue_many_wrapper';

CREATE OR REPLACE FUNCTION "explain_claim"(
	"queue" TEXT, /* Option < & str > */
	"batch" INT DEFAULT 1 /* Option < i32 > */
) RETURNS SETOF TEXT /* String */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_explain_claim_wrapper';

CREATE OR REPLACE FUNCTION "fail"(
	"id" bigint, /* Option < i64 > */
	"lease_token" uuid, /* Option < Uuid > */
	"error" TEXT DEFAULT NULL, /* Option < & str > */
	"retry_in" interval DEFAULT NULL /* Option < Interval > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_fail_wrapper';

CREATE OR REPLACE FUNCTION "grant"(
	"queue" TEXT, /* Option < & str > */
	"role" TEXT, /* Option < & str > */
	"privilege" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_grant_wrapper';

CREATE OR REPLACE FUNCTION "heartbeat"(
	"id" bigint, /* Option < i64 > */
	"lease_token" uuid, /* Option < Uuid > */
	"extend" interval DEFAULT NULL /* Option < Interval > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_heartbeat_wrapper';

CREATE OR REPLACE FUNCTION "histogram"(
	"queue" TEXT, /* Option < & str > */
	"bucket" interval DEFAULT '1 minute', /* Option < Interval > */
	"buckets" INT DEFAULT 30, /* Option < i32 > */
	"width" INT DEFAULT 50, /* Option < i32 > */
	"of" TEXT DEFAULT 'due' /* Option < & str > */
) RETURNS TABLE (
	"bucket_start" timestamp with time zone,  /* TimestampWithTimeZone */
	"jobs" bigint,  /* Option < i64 > */
	"bar" TEXT  /* String */
)
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_histogram_wrapper';

CREATE OR REPLACE FUNCTION "library_version"() RETURNS TEXT /* & '_ str */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_library_version_wrapper';

CREATE OR REPLACE FUNCTION "metrics"() RETURNS TEXT /* Result < String > */
STRICT VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_metrics_wrapper';

CREATE OR REPLACE FUNCTION "next_slot"(
	"key" TEXT, /* & str */
	"period" interval, /* Interval */
	"after" timestamp with time zone DEFAULT now() /* TimestampWithTimeZone */
) RETURNS timestamp with time zone /* Result < TimestampWithTimeZone > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'next_slot_wrapper';

CREATE OR REPLACE FUNCTION "pause"(
	"name" TEXT /* Option < & str > */
) RETURNS VOID /* Result < () > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_pause_wrapper';

CREATE OR REPLACE FUNCTION "pause_schedule"(
	"name" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_pause_schedule_wrapper';

CREATE OR REPLACE FUNCTION "pause_spread_refresh"(
	"name" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_pause_spread_refresh_wrapper';

CREATE OR REPLACE FUNCTION "poll_delay"(
	"worker_index" INT, /* Option < i32 > */
	"worker_count" INT, /* Option < i32 > */
	"spacing" interval, /* Option < Interval > */
	"offset" interval DEFAULT '0', /* Option < Interval > */
	"at" timestamp with time zone DEFAULT clock_timestamp() /* Option < TimestampWithTimeZone > */
) RETURNS interval /* Result < Interval > */
IMMUTABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'poll_delay_wrapper';

CREATE OR REPLACE FUNCTION "recount"() RETURNS bigint /* Result < i64 > */
STRICT VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_recount_wrapper';

CREATE OR REPLACE FUNCTION "release"(
	"id" bigint, /* Option < i64 > */
	"lease_token" uuid, /* Option < Uuid > */
	"delay" interval DEFAULT '0' /* Option < Interval > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_release_wrapper';

CREATE OR REPLACE FUNCTION "release_expired_leases"(
	"max_jobs" INT DEFAULT 1000 /* Option < i32 > */
) RETURNS bigint /* Result < i64 > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_release_expired_leases_wrapper';

CREATE OR REPLACE FUNCTION "resume"(
	"name" TEXT /* Option < & str > */
) RETURNS VOID /* Result < () > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_resume_wrapper';

CREATE OR REPLACE FUNCTION "resume_schedule"(
	"name" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_resume_schedule_wrapper';

CREATE OR REPLACE FUNCTION "resume_spread_refresh"(
	"name" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_resume_spread_refresh_wrapper';

CREATE OR REPLACE FUNCTION "retry"(
	"id" bigint /* Option < i64 > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_retry_job_wrapper';

CREATE OR REPLACE FUNCTION "retry"(
	"queue" TEXT, /* Option < & str > */
	"state" TEXT DEFAULT 'dead' /* Option < & str > */
) RETURNS bigint /* Result < i64 > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_retry_queue_wrapper';

CREATE OR REPLACE FUNCTION "retry_delay"(
	"attempt" INT, /* i32 */
	"backoff_base" interval, /* Interval */
	"backoff_max" interval, /* Interval */
	"job_id" bigint /* i64 */
) RETURNS interval /* Interval */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'retry_delay_wrapper';

CREATE OR REPLACE FUNCTION "revoke"(
	"queue" TEXT, /* Option < & str > */
	"role" TEXT, /* Option < & str > */
	"privilege" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_revoke_wrapper';

CREATE OR REPLACE FUNCTION "schedule"(
	"name" TEXT, /* Option < & str > */
	"cron" TEXT, /* Option < & str > */
	"queue" TEXT, /* Option < & str > */
	"payload" jsonb DEFAULT '{}', /* Option < Jsonb > */
	"jitter" interval DEFAULT '0', /* Option < Interval > */
	"timezone" TEXT DEFAULT 'UTC', /* Option < & str > */
	"priority" INT DEFAULT 0, /* Option < i32 > */
	"group_key" TEXT DEFAULT NULL, /* Option < & str > */
	"max_attempts" INT DEFAULT NULL, /* Option < i32 > */
	"dedupe_key" TEXT DEFAULT NULL, /* Option < & str > */
	"catch_up" bool DEFAULT true /* Option < bool > */
) RETURNS timestamp with time zone /* Result < TimestampWithTimeZone > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_schedule_wrapper';

CREATE OR REPLACE FUNCTION "schedule_fires"(
	"cron" TEXT, /* Option < & str > */
	"timezone" TEXT DEFAULT 'UTC', /* Option < & str > */
	"after" timestamp with time zone DEFAULT now(), /* Option < TimestampWithTimeZone > */
	"count" INT DEFAULT 10 /* Option < i32 > */
) RETURNS SETOF timestamp with time zone /* TimestampWithTimeZone */
STABLE PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_schedule_fires_wrapper';

CREATE OR REPLACE FUNCTION "set_rate_schedule"(
	"queue" TEXT, /* Option < & str > */
	"peak_rate" double precision, /* Option < f64 > */
	"off_peak_rate" double precision, /* Option < f64 > */
	"timezone" TEXT DEFAULT 'UTC', /* Option < & str > */
	"peak_days" TEXT DEFAULT 'mon-fri', /* Option < & str > */
	"peak_hours" TEXT DEFAULT '9-17', /* Option < & str > */
	"peak_burst" INT DEFAULT NULL, /* Option < i32 > */
	"off_peak_burst" INT DEFAULT NULL /* Option < i32 > */
) RETURNS VOID /* Result < () > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_set_rate_schedule_wrapper';

CREATE OR REPLACE FUNCTION "shared_queue_slots"() RETURNS TABLE (
	"used" bigint,  /* Option < i64 > */
	"capacity" bigint  /* i64 */
)
STRICT VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_shared_queue_slots_wrapper';

CREATE OR REPLACE FUNCTION "slot_fraction"(
	"key" TEXT /* & str */
) RETURNS double precision /* f64 */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'slot_fraction_wrapper';

CREATE OR REPLACE FUNCTION "slot_offset"(
	"key" TEXT, /* & str */
	"period" interval /* Interval */
) RETURNS interval /* Result < Interval > */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'slot_offset_wrapper';

CREATE OR REPLACE FUNCTION "spread_refresh"(
	"name" TEXT, /* Option < & str > */
	"queue" TEXT, /* Option < & str > */
	"source" regclass, /* Option < RegClass > */
	"key_column" TEXT, /* Option < & str > */
	"period" interval, /* Option < Interval > */
	"payload" jsonb DEFAULT '{}', /* Option < Jsonb > */
	"batch" INT DEFAULT NULL, /* Option < i32 > */
	"priority" INT DEFAULT 0, /* Option < i32 > */
	"group_key" TEXT DEFAULT NULL, /* Option < & str > */
	"max_attempts" INT DEFAULT NULL /* Option < i32 > */
) RETURNS VOID /* Result < () > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_spread_refresh_wrapper';

CREATE OR REPLACE FUNCTION "unschedule"(
	"name" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE SECURITY DEFINER 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_unschedule_wrapper';

CREATE OR REPLACE FUNCTION queue."_count_jobs"() RETURNS TRIGGER
LANGUAGE c AS 'MODULE_PATHNAME', 'queue_count_jobs_wrapper';

CREATE OR REPLACE FUNCTION queue."enqueue_trigger"() RETURNS TRIGGER
LANGUAGE c AS 'MODULE_PATHNAME', 'queue_enqueue_trigger_wrapper';

-- Statistics: counting triggers, queue.stats and queue.workers (sql/stats.sql) ---------------
-- Every statement that inserts jobs into or deletes them from a job table reports its per-queue
-- row counts (src/stats/counting.rs): statement-level, so a batch of 100 jobs is one call.
CREATE TRIGGER ready_counted_ins AFTER INSERT ON queue.ready
    REFERENCING NEW TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue._count_jobs();
CREATE TRIGGER ready_counted_del AFTER DELETE ON queue.ready
    REFERENCING OLD TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue._count_jobs();
CREATE TRIGGER scheduled_counted_ins AFTER INSERT ON queue.scheduled
    REFERENCING NEW TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue._count_jobs();
CREATE TRIGGER scheduled_counted_del AFTER DELETE ON queue.scheduled
    REFERENCING OLD TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue._count_jobs();
CREATE TRIGGER running_counted_ins AFTER INSERT ON queue.running
    REFERENCING NEW TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue._count_jobs();
CREATE TRIGGER running_counted_del AFTER DELETE ON queue.running
    REFERENCING OLD TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue._count_jobs();
CREATE TRIGGER dead_counted_ins AFTER INSERT ON queue.dead
    REFERENCING NEW TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue._count_jobs();
CREATE TRIGGER dead_counted_del AFTER DELETE ON queue.dead
    REFERENCING OLD TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue._count_jobs();
-- queue_ext never truncates them; should a superuser, every queue is counted again.
CREATE TRIGGER ready_counted_truncate AFTER TRUNCATE ON queue.ready FOR EACH STATEMENT EXECUTE FUNCTION queue._count_jobs();
CREATE TRIGGER scheduled_counted_truncate AFTER TRUNCATE ON queue.scheduled FOR EACH STATEMENT EXECUTE FUNCTION queue._count_jobs();
CREATE TRIGGER running_counted_truncate AFTER TRUNCATE ON queue.running FOR EACH STATEMENT EXECUTE FUNCTION queue._count_jobs();
CREATE TRIGGER dead_counted_truncate AFTER TRUNCATE ON queue.dead FOR EACH STATEMENT EXECUTE FUNCTION queue._count_jobs();

-- One row per queue. Depths and event figures come from shared memory; the lag is the oldest
-- run_at among the jobs at the head of the queue's first 100 groups of ready jobs (each a probe
-- of ready_claim_idx), so reading this costs the same whatever the backlog and the history.
CREATE VIEW queue.stats AS
SELECT q.name AS queue, s.ready, s.scheduled, s.running, s.dead,
       s.done_last_minute, s.done_last_hour, s.throughput, s.failures_last_hour, s.retries_last_hour,
       CASE WHEN h.oldest IS NULL THEN '0'::interval
            ELSE greatest(pg_catalog.now() - h.oldest, '0'::interval) END AS lag,
       s.mean_wait, s.mean_run, q.paused, r.rate AS rate_limit, s.counted
  FROM queue.queues q
 CROSS JOIN LATERAL queue._stats(q.id) s
  LEFT JOIN queue.rate_schedules rs ON rs.queue_id = q.id
 CROSS JOIN LATERAL queue._effective_rate(q.rate_per_second, q.burst, rs, pg_catalog.now()) r
 CROSS JOIN LATERAL (
       WITH RECURSIVE groups(g) AS (
           SELECT (SELECT j.group_key FROM queue.ready j WHERE j.queue_id = q.id ORDER BY j.group_key LIMIT 1)
           UNION ALL
           SELECT (SELECT j.group_key FROM queue.ready j
                    WHERE j.queue_id = q.id AND j.group_key > groups.g ORDER BY j.group_key LIMIT 1)
             FROM groups WHERE groups.g IS NOT NULL
       )
       SELECT min(head.run_at) AS oldest
         FROM (SELECT g FROM groups WHERE g IS NOT NULL LIMIT 100) AS firsts
        CROSS JOIN LATERAL (SELECT j.run_at FROM queue.ready j
                             WHERE j.queue_id = q.id AND j.group_key = firsts.g
                             ORDER BY -(j.priority::bigint), j.run_at, j.id LIMIT 1) AS head
 ) h;
COMMENT ON VIEW queue.stats IS
    'One row per queue, in constant time whatever the backlog and history: jobs by state (NULL with counted = false until the background worker has counted them after a restart), completions in the last minute and hour, throughput (completed per second over the last minute), failures and retries in the last hour, lag, mean wait and run time over the last hour, paused, and the rate limit in force.';
COMMENT ON COLUMN queue.stats.ready IS 'Pending jobs that are due (claimable unless paused, capped or rate limited).';
COMMENT ON COLUMN queue.stats.scheduled IS 'Pending jobs due later (delayed, or waiting out a retry backoff).';
COMMENT ON COLUMN queue.stats.running IS 'Leased jobs.';
COMMENT ON COLUMN queue.stats.dead IS 'Jobs whose attempts ran out, until retried.';
COMMENT ON COLUMN queue.stats.done_last_minute IS 'Jobs completed in the last 60 seconds.';
COMMENT ON COLUMN queue.stats.done_last_hour IS 'Jobs completed in the last hour (since the server started, if later).';
COMMENT ON COLUMN queue.stats.throughput IS 'Completions per second over the last minute.';
COMMENT ON COLUMN queue.stats.failures_last_hour IS 'Failed attempts in the last hour: fail() and expired leases.';
COMMENT ON COLUMN queue.stats.retries_last_hour IS 'Failed attempts in the last hour that were scheduled to run again (the others went dead).';
COMMENT ON COLUMN queue.stats.lag IS 'How long the oldest job at the head of a group of ready jobs has been due (first 100 groups); 0 when none is ready.';
COMMENT ON COLUMN queue.stats.mean_wait IS 'Mean time from when a job could first run (enqueued, or due) to its first claim, over the last hour.';
COMMENT ON COLUMN queue.stats.mean_run IS 'Mean time from claim to completion of the jobs completed in the last hour.';
COMMENT ON COLUMN queue.stats.rate_limit IS 'Jobs per second the queue hands out at most now (its rate schedule applied); NULL without a limit.';
COMMENT ON COLUMN queue.stats.counted IS 'false until the job counts are known (the background worker counts them after a server restart).';

-- The workers that hold leases, as named by claim's worker argument. Reads queue.running only,
-- whose size is bounded by the workers' concurrency.
CREATE VIEW queue.workers AS
SELECT q.name AS queue, r.locked_by AS worker, count(*) AS leases,
       pg_catalog.now() - min(r.claimed_at) AS oldest_lease_age,
       max(greatest(r.claimed_at, r.lease_expires_at - q.lease)) AS last_seen,
       min(r.lease_expires_at) AS next_expiry
  FROM queue.running r
  JOIN queue.queues q ON q.id = r.queue_id
 GROUP BY q.name, r.locked_by;
COMMENT ON VIEW queue.workers IS
    'Workers holding leases, per queue (worker is the claim''s worker argument, NULL when none was given): how many, the oldest lease''s age, when last seen (latest claim, or heartbeat with the queue''s lease) and the next expiry.';

-- Privileges and documentation (sql/finalize.sql of 0.2.0; the event trigger is unchanged) --------

GRANT queue_producer, queue_worker TO queue_admin;

REVOKE ALL ON SCHEMA queue FROM PUBLIC;
GRANT USAGE ON SCHEMA queue TO queue_admin, queue_producer, queue_worker, queue_maintainer;

REVOKE ALL ON ALL TABLES IN SCHEMA queue FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA queue FROM PUBLIC;
GRANT SELECT ON queue.queues, queue.jobs, queue.worker_status, queue.group_state, queue.rate_schedules,
                queue.queue_grants, queue.dropped_queues
   TO queue_admin, queue_producer, queue_worker;
GRANT SELECT ON queue.schedules, queue.spread_refreshes, queue.backfills TO queue_admin;
-- Monitoring: the queue roles and pg_monitor (what exporters usually run as) read the figures.
GRANT USAGE ON SCHEMA queue TO pg_monitor;
GRANT SELECT ON queue.stats, queue.workers TO queue_admin, queue_producer, queue_worker, pg_monitor;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA queue TO queue_maintainer;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA queue TO queue_maintainer;

-- The trigger function is SECURITY INVOKER: it builds each job's payload with the rights of whoever
-- changes the table, and takes the extension owner's rights only for its own INSERT (trigger.rs).
ALTER FUNCTION queue.enqueue_trigger() SET search_path = pg_catalog, pg_temp;


-- 0.1.0's grants, replaced by the ones below (CREATE OR REPLACE kept them).
DO $revoke$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'queue'::regnamespace LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM queue_admin, queue_producer, queue_worker', f);
    END LOOP;
END
$revoke$;
DO $grants$
DECLARE
    f record;
    grantee text;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure AS signature, p.proname::text AS name
          FROM pg_catalog.pg_proc p
         WHERE p.pronamespace = 'queue'::regnamespace
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.signature);
        grantee := CASE
            WHEN f.name IN ('create_queue', 'alter_queue', 'drop_queue', 'pause', 'resume', 'retry',
                            'set_rate_schedule', 'clear_rate_schedule', 'grant', 'revoke',
                            'release_expired_leases', 'explain_claim', 'shared_queue_slots',
                            'schedule', 'unschedule', 'pause_schedule', 'resume_schedule',
                            'spread_refresh', 'drop_spread_refresh', 'pause_spread_refresh',
                            'resume_spread_refresh', 'backfill_start', 'backfill_pause', 'backfill_resume',
                            'backfill_cancel', 'backfill_alter', 'backfill_rate', 'recount') THEN 'queue_admin'
            WHEN f.name IN ('enqueue', 'enqueue_many', 'cancel', 'enqueue_trigger') THEN 'queue_producer'
            WHEN f.name IN ('check_enqueue_trigger', 'enqueue_trigger_ddl') THEN 'queue_admin'
            WHEN f.name IN ('claim', 'complete', 'complete_many', 'fail', 'heartbeat', 'release') THEN 'queue_worker'
            WHEN f.name IN ('slot_fraction', 'slot_offset', 'next_slot', 'bucket', 'poll_delay',
                            'effective_rate', 'library_version', 'schedule_fires') THEN 'queue_admin, queue_producer, queue_worker'
            WHEN f.name = 'retry_delay' THEN 'queue_admin, queue_producer, queue_worker, queue_maintainer'
            -- Internal: called by the queue.* functions and the worker as the extension owner.
            WHEN f.name = '_wake_launcher' THEN ''
            -- queue.backfills (read by queue_admin) and the worker compute backfill rates with them.
            WHEN f.name = '_backfill_rate' THEN 'queue_admin, queue_maintainer'
            -- queue.stats (read by every queue role and pg_monitor) calls these.
            WHEN f.name IN ('_effective_rate', '_stats') THEN 'queue_admin, queue_producer, queue_worker, queue_maintainer, pg_monitor'
            WHEN f.name IN ('metrics', 'histogram') THEN 'queue_admin, queue_producer, queue_worker, pg_monitor'
            -- The counting triggers on the job tables (never called directly).
            WHEN f.name = '_count_jobs' THEN ''
            -- Called by CREATE EXTENSION (below) and the upgrade script only.
            WHEN f.name = '_stats_reset' THEN ''
            -- The worker checks the owners of schedules and refreshes with it.
            WHEN f.name = '_may' THEN 'queue_maintainer'
        END;
        IF grantee IS NULL THEN
            RAISE EXCEPTION 'queue_ext: function % has no role assigned in finalize.sql', f.signature;
        END IF;
        IF grantee <> '' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', f.signature, grantee);
        END IF;
    END LOOP;
END
$grants$;

COMMENT ON SCHEMA queue IS 'queue_ext: a job queue that lives inside PostgreSQL.';
COMMENT ON FUNCTION queue.create_queue IS
    'Create a queue. Settings left NULL take the column defaults of queue.queues; if_not_exists => true makes an existing queue a no-op.';
COMMENT ON FUNCTION queue.alter_queue IS
    'Change a queue''s settings: NULL keeps a setting, reset => ''{setting,...}'' returns settings to their defaults.';
COMMENT ON FUNCTION queue.drop_queue IS
    'Remove a queue and its jobs; refuses (55006) while jobs are pending or running unless force => true. The jobs vanish from queue.jobs at once and are purged by the background worker in bounded batches.';
COMMENT ON FUNCTION queue.pause IS 'Stop handing out jobs from a queue (enqueue still works).';
COMMENT ON FUNCTION queue.resume IS 'Resume handing out jobs from a paused queue.';
COMMENT ON FUNCTION queue.enqueue IS
    'Add a job; visible to workers when the calling transaction commits. With dedupe_key, returns the id of a live job holding that key instead of adding another.';
COMMENT ON FUNCTION queue.enqueue_many IS
    'Add many jobs in one statement; returns their ids in payload order. dedupe_keys, if given, holds one key (or NULL) per payload.';
COMMENT ON FUNCTION queue.claim IS
    'Lease up to batch ready jobs (priority desc, run_at, id) with FOR UPDATE SKIP LOCKED. complete/complete_token first complete the previous batch in the same transaction.';
COMMENT ON FUNCTION queue.complete IS 'Mark a claimed job done; false when the lease token no longer holds the job.';
COMMENT ON FUNCTION queue.complete_many IS
    'Mark claimed jobs done; returns the ids that were. One token per id, or one token for a batch claimed together.';
COMMENT ON FUNCTION queue.fail IS
    'Record a failed attempt: retry after capped exponential backoff with jitter (or retry_in), dead once attempts are used up; false for a stale token.';
COMMENT ON FUNCTION queue.heartbeat IS 'Extend a claimed job''s lease by extend (default: the queue''s lease) from now; false for a stale token.';
COMMENT ON FUNCTION queue.release IS 'Give a claimed job back without counting a failure, claimable again after delay; false for a stale token.';
COMMENT ON FUNCTION queue.cancel IS 'Cancel a pending or running job (needs produce on its queue); false when it already finished.';
COMMENT ON FUNCTION queue.retry(bigint) IS 'Send a dead or cancelled job back to pending with attempts reset; false when it is neither.';
COMMENT ON FUNCTION queue.retry(text, text) IS 'Send every dead (or cancelled) job of a queue back to pending; returns how many.';
COMMENT ON FUNCTION queue.release_expired_leases IS
    'Return jobs whose lease expired to pending with backoff (last_error ''lease expired''), or dead when attempts are used up. Run by the background worker each tick, and by a claim for its queue when no worker runs.';
COMMENT ON FUNCTION queue.retry_delay IS
    'Backoff before retrying after failed attempt n: d = min(max, base * 2^(n-1)); d/2 + jitter(job id, n) * d/2.';
COMMENT ON FUNCTION queue._stats IS
    'Internal: one queue''s figures from shared memory (queue.stats adds its name, lag, pause and rate).';
COMMENT ON FUNCTION queue._count_jobs IS
    'Internal: the statement-level triggers on the job tables report the jobs each statement moved, per queue, for queue.stats.';
COMMENT ON FUNCTION queue.recount IS
    'Have the background worker count every queue''s jobs by state again from the tables (it does after a restart); queue.stats shows NULL depths until it has. Returns the queues it will count.';
COMMENT ON FUNCTION queue._stats_reset IS
    'Internal: forget the figures shared memory holds for this database (run by CREATE EXTENSION, so that a dropped earlier install''s are never added to).';
COMMENT ON FUNCTION queue.metrics IS
    'Every queue''s figures in the Prometheus text exposition format: depths as gauges, events as counters, wait and run times as histograms; for postgres_exporter (contrib/postgres_exporter/queries.yaml) or any scraper.';
COMMENT ON FUNCTION queue.histogram IS
    'Text bars for psql: a queue''s pending jobs by due time (of => ''due''; ready jobs in the first bucket, the last row holds every job due later), or its completions over the last hour (of => ''completed'').';
COMMENT ON FUNCTION queue.explain_claim IS
    'EXPLAIN of the generic plans queue.claim runs for a queue (claims always run them): the promotion of its due jobs by scheduled_due_idx, then the claim by ready_claim_idx.';
COMMENT ON FUNCTION queue.enqueue_trigger IS
    'Trigger function: enqueue a job per changed row into the queue named by the first argument. Options: columns=a,b (payload keeps only these), group_key=<column>, dedupe_key=<column>, spread=<column>:<interval>, priority=<n>. FOR EACH ROW, or FOR EACH STATEMENT with REFERENCING NEW/OLD TABLE. Payloads are built with the rights of whoever changes the table.';
COMMENT ON FUNCTION queue.check_enqueue_trigger IS
    'Check the options of a trigger that runs queue.enqueue_trigger (called at CREATE TRIGGER time).';
COMMENT ON FUNCTION queue.enqueue_trigger_ddl IS
    'Event trigger function: checks queue.enqueue_trigger options when a trigger is created.';
COMMENT ON EVENT TRIGGER queue_enqueue_trigger_check IS
    'Refuses CREATE TRIGGER ... queue.enqueue_trigger(...) with bad options, naming the option.';
COMMENT ON FUNCTION queue.slot_fraction IS
    'A key''s stable phase in [0, 1): (first 8 bytes of md5(utf8(key)) as a big-endian unsigned integer >> 11) / 2^53.';
COMMENT ON FUNCTION queue.slot_offset IS 'slot_fraction(key) × period: where in each period the key''s slot lies.';
COMMENT ON FUNCTION queue.next_slot IS
    'The first instant at or after `after` whose position in the period (counted from the Unix epoch) is the key''s offset.';
COMMENT ON FUNCTION queue.bucket IS
    'The key''s bucket in 0..buckets-1 by jump consistent hash of md5(key): going from n to n+1 buckets moves about 1/(n+1) of the keys.';
COMMENT ON FUNCTION queue.poll_delay IS
    'How long worker i of n should sleep so that polls arrive one every `spacing`, interleaved and without drift.';
COMMENT ON FUNCTION queue.set_rate_schedule IS
    'On-peak / off-peak claim rates: peak_rate during peak_hours (e.g. ''9-17'') on peak_days (e.g. ''mon-fri'') in timezone, off_peak_rate otherwise; NULL = unlimited.';
COMMENT ON FUNCTION queue.clear_rate_schedule IS 'Remove a queue''s rate schedule; its rate_per_second and burst apply again.';
COMMENT ON FUNCTION queue.effective_rate IS 'The claim rate (and burst) that applies to a queue at an instant, and whether it is the schedule''s peak.';
COMMENT ON FUNCTION queue.grant IS
    'Allow a role a privilege (produce, consume or admin) on a queue. A role holding any grant for a privilege may use it on its granted queues only; admin also allows produce and consume.';
COMMENT ON FUNCTION queue.revoke IS 'Take back a grant of queue.grant; a role left with no grant for a privilege may use it on every queue again.';
COMMENT ON FUNCTION queue.shared_queue_slots IS
    'Queues (of every database) holding a token bucket or rotation cursor in shared memory, and the capacity: past three quarters the least recently used is evicted, so claims never fail for lack of room.';
COMMENT ON FUNCTION queue.library_version IS
    'The version of the loaded queue_ext library; differs from pg_extension.extversion until ALTER EXTENSION queue_ext UPDATE has run.';
COMMENT ON FUNCTION queue.schedule IS
    'Create or replace a cron schedule: a job with payload into queue at every fire time of cron (5 fields, @daily-style macros, or ''N seconds'') in timezone, offset by queue.slot_offset(name, jitter). Fires once per fire time; a window missed while the server was down fires once (catch_up) or is skipped. Returns when it fires next.';
COMMENT ON FUNCTION queue.unschedule IS 'Remove a cron schedule; false when there is none.';
COMMENT ON FUNCTION queue.pause_schedule IS 'Stop a cron schedule from firing until resume_schedule.';
COMMENT ON FUNCTION queue.resume_schedule IS
    'Fire a paused cron schedule again from its next fire time after now (the fire times it missed while paused are not caught up).';
COMMENT ON FUNCTION queue.schedule_fires IS
    'The next count fire times of a cron pattern in a time zone after an instant, as queue.schedule fires them (before jitter): a dry run, daylight saving days included.';
COMMENT ON FUNCTION queue.spread_refresh IS
    'Create or replace a spread refresh: every row of source gets a job in queue once per period at queue.next_slot(key_column::text, period), payload plus {"refresh", "key"} (or {"keys": [...]} with batch). Needs an index on queue.slot_fraction((key_column)::text). A key whose previous job is still pending or running is not enqueued again.';
COMMENT ON FUNCTION queue.drop_spread_refresh IS 'Remove a spread refresh; false when there is none. Its jobs stay.';
COMMENT ON FUNCTION queue.pause_spread_refresh IS 'Stop a spread refresh until resume_spread_refresh.';
COMMENT ON FUNCTION queue.resume_spread_refresh IS
    'Resume a paused spread refresh from now: keys whose slots passed meanwhile wait for their next slot.';
COMMENT ON FUNCTION queue.backfill_start IS
    'Start a paced backfill: jobs {"backfill", "begin_id", "end_id"} over the source''s integer key (its primary key, or key_column), newest first, batch_size existing rows each, per_second jobs a second (peak_per_second / off_peak_per_second during and outside peak_hours on peak_days in timezone), enqueued lookahead ahead, none while max_outstanding of its jobs are pending or running.';
COMMENT ON FUNCTION queue.backfill_pause IS
    'Stop a backfill at once: nothing more is enqueued and its pending jobs cannot be claimed until backfill_resume.';
COMMENT ON FUNCTION queue.backfill_resume IS 'Continue a paused backfill exactly where it stopped, at its pace from now.';
COMMENT ON FUNCTION queue.backfill_cancel IS 'End a backfill and delete its pending jobs; returns how many were deleted.';
COMMENT ON FUNCTION queue.backfill_alter IS
    'Retune a backfill while it runs (batch size, rates, lookahead, max_outstanding, peak schedule); NULL keeps a setting, reset drops one. Effective within one lookahead.';
COMMENT ON FUNCTION queue.backfill_rate IS 'The rate (jobs per second) a backfill runs at at an instant: a dry run of its peak schedule.';
COMMENT ON FUNCTION queue._wake_launcher IS
    'Internal: at commit, lets the launcher start this database''s background worker at once (called by CREATE EXTENSION).';

-- The background worker of this database starts as soon as this CREATE EXTENSION commits.
SELECT queue._wake_launcher();
-- What an earlier install of this database left in shared memory (DROP EXTENSION, then CREATE
-- EXTENSION, as pg_restore --clean does) is forgotten: queue ids start over.
SELECT queue._stats_reset();
