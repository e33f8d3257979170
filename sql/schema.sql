-- queue_ext storage: tables, types and indexes.
-- Loaded first (bootstrap) so that the Rust functions can name these types.
-- Every object lives in schema `queue` (the control file pins it; the extension is not relocatable).

-- Roles are cluster-wide and may already exist from an install in another database.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'queue_admin') THEN
        CREATE ROLE queue_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'queue_producer') THEN
        CREATE ROLE queue_producer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'queue_worker') THEN
        CREATE ROLE queue_worker NOLOGIN;
    END IF;
END
$roles$;

CREATE TYPE queue.job_state AS ENUM ('pending', 'running', 'done', 'dead', 'cancelled');
COMMENT ON TYPE queue.job_state IS
    'Life cycle of a job: pending (possibly scheduled for later), running (leased), then one of the finished states done, dead (attempts exhausted or discarded) or cancelled.';

CREATE TABLE queue.queues (
    name                  text PRIMARY KEY
                          CONSTRAINT queue_name_rule CHECK (name ~ '^[a-z_][a-z0-9_]{0,47}$'),
    lease                 interval NOT NULL DEFAULT '30 seconds' CHECK (lease > '0'),
    max_attempts          integer NOT NULL DEFAULT 25 CHECK (max_attempts >= 1),
    backoff_base          interval NOT NULL DEFAULT '1 second' CHECK (backoff_base >= '0'),
    backoff_max           interval NOT NULL DEFAULT '1 hour' CHECK (backoff_max >= backoff_base),
    notify                boolean NOT NULL DEFAULT true,
    rate_per_second       double precision CHECK (rate_per_second > 0),
    burst                 integer CHECK (burst >= 0),
    max_running           integer CHECK (max_running >= 1),
    max_running_per_group integer CHECK (max_running_per_group >= 1),
    group_backoff         boolean NOT NULL DEFAULT true,
    retention             interval NOT NULL DEFAULT '1 day' CHECK (retention >= '0'),
    paused                boolean NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE queue.queues IS
    'One row per queue with its settings. Change it only through queue.create_queue, queue.alter_queue, queue.pause, queue.resume and queue.drop_queue.';
COMMENT ON COLUMN queue.queues.lease IS 'How long a claim holds a job before the lease expires and the job is re-issued.';
COMMENT ON COLUMN queue.queues.max_attempts IS 'Claims a job may receive before a failure makes it dead (per-job override at enqueue).';
COMMENT ON COLUMN queue.queues.backoff_base IS 'First retry delay; each further failure doubles it (with jitter).';
COMMENT ON COLUMN queue.queues.backoff_max IS 'Cap on the retry delay.';
COMMENT ON COLUMN queue.queues.notify IS 'Send NOTIFY on channel queue_<name> when a transaction enqueues into this queue.';
COMMENT ON COLUMN queue.queues.rate_per_second IS 'Token-bucket refill rate for claims; NULL means unlimited.';
COMMENT ON COLUMN queue.queues.burst IS 'Token-bucket size: claims allowed above the steady rate after an idle period.';
COMMENT ON COLUMN queue.queues.max_running IS 'Cap on jobs running at once in this queue; NULL means no cap.';
COMMENT ON COLUMN queue.queues.max_running_per_group IS 'Cap on jobs running at once per group_key; NULL means no cap.';
COMMENT ON COLUMN queue.queues.group_backoff IS 'Defer a group after consecutive failures (circuit breaker); a success resets it.';
COMMENT ON COLUMN queue.queues.retention IS 'How long done and cancelled jobs are kept before the background worker deletes them; 0 deletes jobs as they complete. Dead jobs are kept until retried.';
COMMENT ON COLUMN queue.queues.paused IS 'A paused queue hands out no jobs; producers may still enqueue.';

-- One table holds every job. The hot path never scans history: claims use a partial index over
-- pending rows only, lease expiry a partial index over running rows only, so their size tracks the
-- live work whatever the number of finished rows kept for retention.
-- No foreign key to queue.queues on purpose: a per-row FK check would take a KEY SHARE lock on the
-- queue row for every enqueue and serialise producers on it. The functions validate the queue name.
CREATE TABLE queue.jobs (
    id               bigserial PRIMARY KEY,
    queue            text NOT NULL,
    state            queue.job_state NOT NULL DEFAULT 'pending',
    payload          jsonb NOT NULL,
    priority         integer NOT NULL DEFAULT 0,
    run_at           timestamptz NOT NULL DEFAULT now(),
    group_key        text,
    dedupe_key       text,
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts     integer NOT NULL CHECK (max_attempts >= 1),
    lease_token      uuid,
    lease_expires_at timestamptz,
    locked_by        text,
    last_error       text,
    enqueued_at      timestamptz NOT NULL DEFAULT now(),
    first_claimed_at timestamptz,
    claimed_at       timestamptz,
    finished_at      timestamptz,
    CONSTRAINT running_has_lease CHECK (state <> 'running' OR (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CONSTRAINT finished_has_time CHECK ((state IN ('done', 'dead', 'cancelled')) = (finished_at IS NOT NULL))
);
-- A queue table churns: every job is inserted, updated twice and deleted. Vacuum it early and
-- without throttling, so that claims do not wade through dead index entries.
ALTER TABLE queue.jobs SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
                            autovacuum_vacuum_insert_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 0);
COMMENT ON TABLE queue.jobs IS
    'Every job, live and finished. Read it freely; write it only through the queue.* functions.';
COMMENT ON COLUMN queue.jobs.priority IS 'Higher runs first.';
COMMENT ON COLUMN queue.jobs.run_at IS 'The job is not claimable before this instant (scheduled while in the future).';
COMMENT ON COLUMN queue.jobs.group_key IS 'Tenant, target or domain the job belongs to; NULL is the queue''s default group.';
COMMENT ON COLUMN queue.jobs.dedupe_key IS 'While a job with the same (queue, dedupe_key) is pending or running, enqueue returns that job instead of a new one.';
COMMENT ON COLUMN queue.jobs.attempts IS 'Number of times the job has been claimed (a release gives one back).';
COMMENT ON COLUMN queue.jobs.lease_token IS 'Fencing token of the current lease: complete, fail, heartbeat and release must present it.';
COMMENT ON COLUMN queue.jobs.locked_by IS 'Worker name given to the claim that holds the lease.';

-- Claims: groups of a queue are enumerated by skip scan over the second column (the default group
-- is ''), and within a group jobs come in claim order, priority DESC, run_at, id.
CREATE INDEX jobs_claim_idx ON queue.jobs (queue, (coalesce(group_key, '')), priority DESC, run_at, id)
    WHERE state = 'pending';
-- Running jobs per queue and group (caps) and lease expiry: the running set is bounded by the
-- workers' concurrency.
CREATE INDEX jobs_running_idx ON queue.jobs (queue, (coalesce(group_key, '')), lease_expires_at)
    WHERE state = 'running';
-- Dedupe: at most one live job per (queue, dedupe_key); also what concurrent producers race on.
CREATE UNIQUE INDEX jobs_dedupe_idx ON queue.jobs (queue, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('pending', 'running');
-- Scheduled jobs (delayed at enqueue, or waiting out a retry backoff): the background worker finds
-- the ones that came due since its last tick here. Jobs due at once never enter this index.
CREATE INDEX jobs_scheduled_idx ON queue.jobs (queue, run_at) WHERE state = 'pending' AND run_at > enqueued_at;
-- Retention and redrive walk finished jobs by queue and age, away from the hot path.
CREATE INDEX jobs_finished_idx ON queue.jobs (queue, finished_at) WHERE state IN ('done', 'dead', 'cancelled');

-- Group backoff (circuit breaker): consecutive failures of a group defer the whole group.
CREATE TABLE queue.group_state (
    queue                text NOT NULL,
    group_key            text NOT NULL,  -- '' is the default group (jobs without group_key)
    consecutive_failures integer NOT NULL CHECK (consecutive_failures >= 1),
    eligible_at          timestamptz NOT NULL,
    PRIMARY KEY (queue, group_key)
);
COMMENT ON TABLE queue.group_state IS
    'Groups backing off after consecutive failures: none of their jobs is claimed before eligible_at. A completed job of the group deletes its row.';

-- On-peak / off-peak claim rates. A NULL rate means unlimited in that period.
CREATE TABLE queue.rate_schedules (
    queue          text PRIMARY KEY,
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

-- What queue.claim returns for each job.
CREATE TYPE queue.claimed_job AS (
    id               bigint,
    queue            text,
    payload          jsonb,
    attempt          integer,
    priority         integer,
    group_key        text,
    run_at           timestamptz,
    enqueued_at      timestamptz,
    lease_token      uuid,
    lease_expires_at timestamptz
);
COMMENT ON TYPE queue.claimed_job IS
    'A job handed to a worker: pass id and lease_token back to complete, fail, heartbeat or release.';

-- What the background worker did: one row, updated each tick. Totals accumulate across restarts.
CREATE TABLE queue.worker_status (
    singleton          boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    pid                integer,
    started_at         timestamptz,
    last_tick_at       timestamptz,
    ticks              bigint NOT NULL DEFAULT 0,
    leases_released    bigint NOT NULL DEFAULT 0,
    notifications_sent bigint NOT NULL DEFAULT 0,
    jobs_pruned        bigint NOT NULL DEFAULT 0,
    last_error         text,
    last_error_at      timestamptz,
    due_checked_until  timestamptz
);
INSERT INTO queue.worker_status DEFAULT VALUES;
COMMENT ON TABLE queue.worker_status IS
    'The background worker''s report: its pid and start, last tick, totals of leases released, due notifications sent and finished jobs pruned, and its last error.';
COMMENT ON COLUMN queue.worker_status.due_checked_until IS 'Scheduled jobs due up to this instant have been notified.';

-- pg_dump keeps queue definitions and jobs.
SELECT pg_catalog.pg_extension_config_dump('queue.queues', '');
SELECT pg_catalog.pg_extension_config_dump('queue.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('queue.jobs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('queue.rate_schedules', '');
