-- queue_ext 0.2.0 -> 0.3.0. Released scripts are never edited: later changes go in new ones.
--
-- Trust in a shared cluster: one identity rule (the acting role is the current user at the call;
-- the functions are SECURITY INVOKER and take the extension owner's rights only for their own
-- statements), per-queue grants restrict reads too, and nothing an outsider can lock stalls a claim.
-- Each section below names the change it carries; the function definitions at the end are the
-- 0.3.0 library's, exactly as a fresh install makes them.

-- The operator's API (api) -----------------------------------------------------------------------
-- Internal functions leave schema queue, so that \df queue.* lists the API and nothing else: they
-- move to schema queue_internal under plain names (their callers, views, policies and triggers
-- follow, by oid), and are redefined below as a fresh install makes them.
CREATE SCHEMA queue_internal;
COMMENT ON SCHEMA queue_internal IS 'queue_ext''s internal functions: not an API, they change without notice.';
REVOKE ALL ON SCHEMA queue_internal FROM PUBLIC;
GRANT USAGE ON SCHEMA queue_internal TO queue_admin, queue_producer, queue_worker, queue_maintainer, pg_monitor;
ALTER FUNCTION queue._stats(integer) SET SCHEMA queue_internal;
ALTER FUNCTION queue_internal._stats(integer) RENAME TO stats;
ALTER FUNCTION queue._stats_reset() SET SCHEMA queue_internal;
ALTER FUNCTION queue_internal._stats_reset() RENAME TO stats_reset;
ALTER FUNCTION queue._wake_launcher() SET SCHEMA queue_internal;
ALTER FUNCTION queue_internal._wake_launcher() RENAME TO wake_launcher;
-- Once this update commits, the worker pool looks at this database at once (its worker waited for
-- the library and the database to agree on the version).
SELECT queue_internal.wake_launcher();
ALTER FUNCTION queue._count_jobs() SET SCHEMA queue_internal;
ALTER FUNCTION queue_internal._count_jobs() RENAME TO count_jobs;
ALTER FUNCTION queue._may(integer, oid, text) SET SCHEMA queue_internal;
ALTER FUNCTION queue_internal._may(integer, oid, text) RENAME TO may;
ALTER FUNCTION queue._effective_rate(double precision, integer, queue.rate_schedules, timestamptz) SET SCHEMA queue_internal;
ALTER FUNCTION queue_internal._effective_rate(double precision, integer, queue.rate_schedules, timestamptz) RENAME TO rate_in_effect;
ALTER FUNCTION queue._backfill_rate(queue.backfill_runs, timestamptz) SET SCHEMA queue_internal;
ALTER FUNCTION queue_internal._backfill_rate(queue.backfill_runs, timestamptz) RENAME TO backfill_rate_at;

-- The rate-schedule table is internal (keyed by the queue's id); queue.rate_schedules becomes a
-- view that names the queue, like queue.grants and queue.groups (created below).
ALTER TABLE queue.rate_schedules RENAME TO queue_rate_schedules;
ALTER TABLE queue.queue_rate_schedules RENAME CONSTRAINT rate_schedules_pkey TO queue_rate_schedules_pkey;
ALTER TABLE queue.queue_rate_schedules RENAME CONSTRAINT rate_schedules_peak_start_check TO queue_rate_schedules_peak_start_check;
ALTER TABLE queue.queue_rate_schedules RENAME CONSTRAINT rate_schedules_peak_end_check TO queue_rate_schedules_peak_end_check;
ALTER TABLE queue.queue_rate_schedules RENAME CONSTRAINT rate_schedules_peak_rate_check TO queue_rate_schedules_peak_rate_check;
ALTER TABLE queue.queue_rate_schedules RENAME CONSTRAINT rate_schedules_peak_burst_check TO queue_rate_schedules_peak_burst_check;
ALTER TABLE queue.queue_rate_schedules RENAME CONSTRAINT rate_schedules_off_peak_rate_check TO queue_rate_schedules_off_peak_rate_check;
ALTER TABLE queue.queue_rate_schedules RENAME CONSTRAINT rate_schedules_off_peak_burst_check TO queue_rate_schedules_off_peak_burst_check;
COMMENT ON TABLE queue.queue_rate_schedules IS
    'Per-queue rate schedule set by queue.set_rate_schedule: peak hours on peak days in a time zone use peak_rate, other times off_peak_rate.';
REVOKE SELECT ON queue.group_state, queue.queue_rate_schedules, queue.queue_grants, queue.dropped_queues
    FROM queue_admin, queue_producer, queue_worker;

-- The SQL helpers, as sql/queues.sql and sql/periodic.sql define them (a burst left NULL shows as
-- the one claims use).
CREATE OR REPLACE FUNCTION queue_internal.may(queue_id integer, role oid, privilege text) RETURNS boolean
LANGUAGE sql STABLE AS $fn$
    SELECT NOT EXISTS (SELECT FROM queue.queue_grants)
        OR coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = role), false)
        OR NOT EXISTS (SELECT FROM queue.queue_grants g
                        WHERE g.privilege IN (privilege, 'admin')
                          AND pg_catalog.pg_has_role(role, g.grantee::oid, 'USAGE'))
        OR EXISTS (SELECT FROM queue.queue_grants g
                    WHERE g.queue_id = may.queue_id AND g.privilege IN (privilege, 'admin')
                      AND pg_catalog.pg_has_role(role, g.grantee::oid, 'USAGE'))
$fn$;
COMMENT ON FUNCTION queue_internal.may IS
    'Internal: whether a role may use a privilege on a queue under the per-queue allow-lists of queue.queue_grants.';
CREATE OR REPLACE FUNCTION queue_internal.rate_in_effect(base_rate double precision, base_burst integer, s queue.queue_rate_schedules,
                                      at timestamptz)
RETURNS TABLE (rate double precision, burst integer, peak boolean)
LANGUAGE sql STABLE AS $fn$
    -- The bucket a claim uses: the burst, or the rate rounded up when none is set; at least 1.
    SELECT e.rate, CASE WHEN e.rate IS NOT NULL THEN greatest(1, coalesce(e.burst, ceil(e.rate)))::integer END, e.peak
      FROM (
    SELECT CASE WHEN s.queue_id IS NULL THEN base_rate WHEN p.peak THEN s.peak_rate ELSE s.off_peak_rate END AS rate,
           CASE WHEN s.queue_id IS NULL THEN base_burst WHEN p.peak THEN s.peak_burst ELSE s.off_peak_burst END AS burst,
           CASE WHEN s.queue_id IS NOT NULL THEN p.peak END AS peak
      FROM (SELECT s.queue_id IS NOT NULL
                   AND extract(isodow FROM l.local)::integer = ANY (s.peak_days)
                   AND CASE WHEN s.peak_start < s.peak_end
                            THEN extract(hour FROM l.local) >= s.peak_start AND extract(hour FROM l.local) < s.peak_end
                            ELSE extract(hour FROM l.local) >= s.peak_start OR extract(hour FROM l.local) < s.peak_end
                       END AS peak
              FROM (SELECT at AT TIME ZONE coalesce(s.timezone, 'UTC') AS local) AS l) AS p) AS e
$fn$;
COMMENT ON FUNCTION queue_internal.rate_in_effect IS
    'Internal: the rate, burst (the default one when none is set) and peak flag a queue''s rate schedule gives at an instant.';
CREATE OR REPLACE FUNCTION queue_internal.backfill_rate_at(b queue.backfill_runs, at timestamptz) RETURNS double precision
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

-- Managing jobs (issue 17: purge_jobs, cancel_jobs, retry_jobs, move_jobs, alter_job) ----------
-- Dead letters get a retention of their own, applied by the background worker (NULL: kept until
-- retried or purged). create_queue and alter_queue take it as a last argument: the 0.2.0
-- signatures go, and the definitions below make the new ones.
ALTER TABLE queue.queues ADD COLUMN dead_retention interval CHECK (dead_retention >= '0');
COMMENT ON COLUMN queue.queues.retention IS 'How long done and cancelled jobs are kept before the background worker deletes them; 0 keeps no history (a completed job is deleted at once). Dead jobs are kept for dead_retention.';
COMMENT ON COLUMN queue.queues.dead_retention IS 'How long dead jobs are kept before the background worker deletes them; NULL (the default) keeps them until retried or purged.';
COMMENT ON TABLE queue.dead IS 'Jobs whose attempts ran out (the dead letters): kept until queue.retry sends them back or queue.purge_jobs deletes them, or for their queue''s dead_retention. Read jobs through queue.jobs.';
DROP FUNCTION queue.create_queue(text, interval, integer, interval, interval, boolean, double precision, integer, integer, integer, boolean, interval, boolean);
DROP FUNCTION queue.alter_queue(text, interval, integer, interval, interval, boolean, double precision, integer, integer, integer, boolean, interval, text[]);

-- queue.queues shows the burst claims use when burst is left NULL.
ALTER TABLE queue.queues ADD COLUMN effective_burst integer GENERATED ALWAYS AS
    (CASE WHEN rate_per_second IS NOT NULL THEN greatest(1, coalesce(burst, ceil(rate_per_second)))::integer END) STORED;
COMMENT ON COLUMN queue.queues.burst IS 'Token-bucket size: claims allowed above the steady rate after an idle period; NULL is the rate rounded up (effective_burst).';
COMMENT ON COLUMN queue.queues.effective_burst IS 'The token-bucket size claims use: burst, or the rate rounded up when burst is NULL; at least 1. NULL without a rate limit.';
COMMENT ON TABLE queue.queues IS
    'One row per queue with its settings. Change it only through queue.create_queue, queue.alter_queue, queue.pause_queue, queue.resume_queue and queue.drop_queue.';

-- Comments that name the new functions.
COMMENT ON TABLE queue.schedules IS
    'Cron schedules (queue.create_schedule): each fires a job into its queue at every fire time of its cron pattern, in its time zone, offset by queue.slot_offset(name, jitter). next_fire_at is the next nominal fire time, next_run_at when it fires; fires and misses count fire times enqueued and skipped (while paused windows are not counted). owner is the role whose rights the jobs are enqueued with.';

-- A done job keeps the token it was completed under: a complete repeated with it answers true.
ALTER TABLE queue.done ADD COLUMN lease_token uuid;
COMMENT ON COLUMN queue.done.lease_token IS 'The token of the lease a done job was completed under: a complete repeated with it (a retry after a lost reply) answers true again.';

-- A job's attempt count has one name everywhere: attempts.
ALTER TYPE queue.claimed_job RENAME ATTRIBUTE attempt TO attempts;

-- Functions whose 0.3.0 signature or answer differs (pause/resume/drop answer nothing; drop_* take
-- if_exists) are defined again below; the 0.2.0 names that were renamed stay as deprecated aliases.
DROP FUNCTION queue.pause_schedule(text);
DROP FUNCTION queue.resume_schedule(text);
DROP FUNCTION queue.pause_spread_refresh(text);
DROP FUNCTION queue.resume_spread_refresh(text);
DROP FUNCTION queue.drop_spread_refresh(text);
DROP FUNCTION queue.drop_queue(text, boolean);

-- Views that name a queue, over the tables keyed by its id (sql/queues.sql; queue_internal.sees
-- as the function definitions below make it, since the views need it first).
CREATE FUNCTION queue_internal."sees"("queue_id" INT, "payloads" bool) RETURNS bool
STRICT STABLE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'queue_sees_wrapper';
CREATE VIEW queue.grants WITH (security_barrier) AS
SELECT q.name AS queue, g.grantee::text AS role, g.privilege, g.granted_at
  FROM queue.queue_grants g JOIN queue.queues q ON q.id = g.queue_id AND queue_internal.sees(q.id, true);
COMMENT ON VIEW queue.grants IS
    'Per-queue grants made with queue.grant (the reader sees its queues'' only): a role holding any grant for a privilege may use it on those queues only.';

CREATE VIEW queue.groups WITH (security_barrier) AS
SELECT q.name AS queue, g.group_key, g.consecutive_failures, g.eligible_at
  FROM queue.group_state g JOIN queue.queues q ON q.id = g.queue_id AND queue_internal.sees(q.id, true);
COMMENT ON VIEW queue.groups IS
    'Groups backing off after consecutive failures: none of their jobs is claimed before eligible_at; a completed job of the group ends it.';

CREATE VIEW queue.rate_schedules WITH (security_barrier) AS
SELECT q.name AS queue, s.timezone, s.peak_days, s.peak_start, s.peak_end, s.peak_rate, s.peak_burst,
       s.off_peak_rate, s.off_peak_burst
  FROM queue.queue_rate_schedules s JOIN queue.queues q ON q.id = s.queue_id AND queue_internal.sees(q.id, true);
COMMENT ON VIEW queue.rate_schedules IS
    'Rate schedules set by queue.set_rate_schedule: peak_rate (and peak_burst) from peak_start to peak_end o''clock on peak_days (ISO weekdays, 1 = Monday) in timezone, off_peak_rate otherwise; NULL rates are unlimited.';

GRANT SELECT ON queue.groups, queue.rate_schedules, queue.grants TO queue_admin, queue_producer, queue_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON queue.groups, queue.rate_schedules, queue.grants TO queue_maintainer;

-- Identity and read isolation (lead) -------------------------------------------------------------
-- The background worker reads and changes every tenant's rows; the read-isolation policies are
-- for the queue roles. (Only when needed: two databases upgrading at once would update the
-- cluster-wide role concurrently.)
DO $bypass$
BEGIN
    IF NOT (SELECT rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = 'queue_maintainer') THEN
        ALTER ROLE queue_maintainer BYPASSRLS;
    END IF;
END
$bypass$;

-- queue.stats reads queue_internal.stats_all() (defined with the other functions below), and only
-- that function's own statement reads one queue's figures.
REVOKE EXECUTE ON FUNCTION queue_internal.stats(integer) FROM queue_admin, queue_producer, queue_worker, queue_maintainer, pg_monitor;

-- The check of CREATE TRIGGER ... queue.enqueue_trigger runs for the role creating the trigger.
CREATE OR REPLACE FUNCTION queue.enqueue_trigger_ddl() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    created record;
BEGIN
    FOR created IN
        SELECT t.oid
          FROM pg_event_trigger_ddl_commands() AS c
          JOIN pg_trigger AS t ON t.oid = c.objid
          JOIN pg_proc AS p ON p.oid = t.tgfoid
          JOIN pg_namespace AS n ON n.oid = p.pronamespace
         WHERE c.classid = 'pg_catalog.pg_trigger'::regclass
           AND n.nspname = 'queue' AND p.proname = 'enqueue_trigger'
    LOOP
        PERFORM queue.check_enqueue_trigger(created.oid);
    END LOOP;
END
$fn$;


-- Tenants: bounded grants, scoped recount (tenants) ---------------------------------------------
-- queue.grant and queue.revoke reach only roles the caller manages (src/store/sql/grant_reach.sql);
-- queue.recount counts the caller's queues only. The claim's caps lock is a row lock on the queue
-- (no SQL object changes: the advisory lock key is no longer used).
COMMENT ON FUNCTION queue.recount IS
    'Have the background worker count the jobs by state of the queues the caller administers (every queue for an unrestricted admin) again from the tables (it does after a restart); queue.stats shows NULL depths until it has. Returns the queues it will count.';
COMMENT ON FUNCTION queue.grant IS
    'Allow a role a privilege (produce, consume or admin) on a queue. A role holding any grant for a privilege may use it on its granted queues only; admin also allows produce and consume. Needs admin on the queue and a role the caller manages (superuser, ADMIN OPTION, or CREATEROLE for a non-superuser); never a base role or PUBLIC, nor a member the caller does not manage.';
COMMENT ON FUNCTION queue.revoke IS
    'Take back a grant of queue.grant; a role left with no grant for a privilege may use it on every queue again, so that needs a caller free to use it on every queue. Needs admin on the queue and a role the caller manages.';

-- What a new user hit (newuser) ------------------------------------------------------------------
-- queue.worker_status says whether a worker serves the database at all: the worker's report moves
-- to the table queue.worker_report, and queue.worker_status becomes a view over it with a state
-- column (queue_internal.worker_state). The worker writes the table.
ALTER TABLE queue.worker_status RENAME TO worker_report;
ALTER TABLE queue.worker_report RENAME CONSTRAINT worker_status_pkey TO worker_report_pkey;
ALTER TABLE queue.worker_report RENAME CONSTRAINT worker_status_singleton_check TO worker_report_singleton_check;
REVOKE SELECT ON queue.worker_report FROM queue_admin, queue_producer, queue_worker;
COMMENT ON TABLE queue.worker_report IS
    'Internal: what the background worker of this database did, written each tick; read it through queue.worker_status.';
-- As the function definitions below make it (the view needs it first).
CREATE OR REPLACE FUNCTION queue_internal."worker_state"() RETURNS TEXT VOLATILE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'queue_worker_state_wrapper';
REVOKE ALL ON FUNCTION queue_internal.worker_state() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION queue_internal.worker_state() TO queue_admin, queue_producer, queue_worker;
CREATE OR REPLACE FUNCTION queue_internal."worker_next_due"() RETURNS timestamp with time zone VOLATILE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c AS 'MODULE_PATHNAME', 'queue_worker_next_due_wrapper';
REVOKE ALL ON FUNCTION queue_internal.worker_next_due() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION queue_internal.worker_next_due() TO queue_admin, queue_producer, queue_worker;
CREATE VIEW queue.worker_status AS
SELECT r.singleton, r.pid, r.started_at, r.last_tick_at, r.ticks, r.leases_released, r.jobs_promoted,
       r.notifications_sent, r.jobs_pruned, r.jobs_purged, r.schedules_fired, r.refresh_jobs,
       r.backfill_jobs, r.last_error, r.last_error_at, queue_internal.worker_state() AS state,
       queue_internal.worker_next_due() AS next_due_at
  FROM queue.worker_report r;
COMMENT ON VIEW queue.worker_status IS
    'The background workers'' report for this database (a pool of queue_ext.max_workers serves every database, sending a worker where work is due): the pid and start of the worker that last came, its last round, totals of leases released, scheduled jobs promoted when due, notifications sent, finished jobs pruned, jobs of dropped queues purged, cron schedules fired, jobs enqueued by spread refreshes and by backfills, the last error; state: running (a worker is here now), idle (nothing is due), waiting (work is due, a worker is on its way), or not served and why (every worker busy elsewhere for more than 10 seconds, database not in queue_ext.databases, or queue_ext not in shared_preload_libraries); and next_due_at, when something here is next due for a worker.';
GRANT SELECT ON queue.worker_status TO queue_admin, queue_producer, queue_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON queue.worker_status TO queue_maintainer;
COMMENT ON FUNCTION queue_internal.wake_launcher IS
    'Internal: at commit, lets the launcher start this database''s background worker at once (called by CREATE EXTENSION); warns when no worker will serve the database.';
COMMENT ON FUNCTION queue_internal.worker_state IS
    'Internal: queue.worker_status.state: running, idle, waiting, or not served and why.';
COMMENT ON FUNCTION queue_internal.worker_next_due IS
    'Internal: queue.worker_status.next_due_at, from the worker pool''s shared memory.';

-- queue.backfills' state is honest about dead ranges: failed while one is dead, draining again
-- while a retried one is pending, done only when every range completed (the view is re-created
-- with the others after the functions, below).

-- Precise errors for every input (errors) ------------------------------------------------------
-- A payload is a JSON object; a NULL priority is the default, 0 (the functions' comments, below,
-- say so). NULL where a value is required is 22004 naming the argument.

-- An idle database costs nothing, after any burst (idle cost) ----------------------------------------
-- Lease expiry reads only the expired range of an index, whatever the running table's bloat
-- (docs/adr/003-idle-cost.md). As sql/jobs.sql makes it.
CREATE INDEX running_expiry_idx ON queue.running (lease_expires_at, queue_id);

-- Replace on duplicate, pause_group / resume_group (issue 17) ------------------------------------
-- enqueue and enqueue_many take on_duplicate and debounce: the 0.2.0 signatures go (the new ones
-- are defined below with their defaults, so every 0.2.0 call keeps working).
DROP FUNCTION queue.enqueue(text, jsonb, timestamptz, integer, text, text, integer, text, interval);
DROP FUNCTION queue.enqueue_many(text, jsonb[], timestamptz, integer, text, integer, text[]);
-- Paused groups, read through the view queue.paused_groups (made with the other views below). The
-- ready jobs of a paused group are parked in queue.ready under the queue's id negated: no new job
-- table.
CREATE TABLE queue.group_pauses (
    queue_id  integer NOT NULL,
    group_key text NOT NULL CHECK (group_key <> ''),
    paused_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (queue_id, group_key)
);
COMMENT ON TABLE queue.group_pauses IS
    'Internal: groups paused by queue.pause_group. Read them through queue.paused_groups.';
SELECT pg_catalog.pg_extension_config_dump('queue.group_pauses', '');
REVOKE ALL ON queue.group_pauses FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON queue.group_pauses TO queue_maintainer;

-- PostgreSQL 18 (pg18) --------------------------------------------------------------------------
-- PostgreSQL 18 keeps NOT NULL constraints in pg_constraint, named after their table when it was
-- made. The tables renamed above keep their old names' prefix, and 0.1.0 -> 0.2.0's new tables met
-- the old tables' names and took a digit suffix: they get the names a fresh install gives, so that
-- an updated database dumps as a fresh one does. Before 18 there are no such rows.
DO $pg18$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT t.relname, con.conname, n.name
          FROM pg_catalog.pg_constraint con
          JOIN pg_catalog.pg_class t ON t.oid = con.conrelid
         CROSS JOIN LATERAL (SELECT regexp_replace(con.conname, '_not_null[0-9]+$', '_not_null') AS unsuffixed) u
         CROSS JOIN LATERAL (SELECT CASE
                    WHEN t.relname = 'queue_rate_schedules' THEN regexp_replace(u.unsuffixed, '^rate_schedules_', 'queue_rate_schedules_')
                    WHEN t.relname = 'worker_report' THEN regexp_replace(u.unsuffixed, '^worker_status_', 'worker_report_')
                    ELSE u.unsuffixed END AS name) n
         WHERE con.contype = 'n' AND t.relnamespace = 'queue'::regnamespace AND con.conname <> n.name
    LOOP
        EXECUTE format('ALTER TABLE queue.%I RENAME CONSTRAINT %I TO %I', c.relname, c.conname, c.name);
    END LOOP;
END
$pg18$;

-- Functions: the 0.3.0 library's, as a fresh install defines them (scripts/upgrade-tail) ----------
CREATE OR REPLACE FUNCTION "alter_backfill"(
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
	"reset" TEXT[] DEFAULT NULL /* :: std :: option :: Option < Vec < Option < String > > > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_alter_backfill_wrapper';

CREATE OR REPLACE FUNCTION "alter_job"(
	"id" bigint, /* Option < i64 > */
	"run_at" timestamp with time zone DEFAULT NULL, /* Option < TimestampWithTimeZone > */
	"priority" INT DEFAULT NULL, /* Option < i32 > */
	"payload" jsonb DEFAULT NULL /* Option < Jsonb > */
) RETURNS bool /* Result < bool > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_alter_job_wrapper';

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
	"reset" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < String > > > */
	"dead_retention" interval DEFAULT NULL /* Option < Interval > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_alter_queue_v3_wrapper';

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
	"reset" TEXT[] DEFAULT NULL /* :: std :: option :: Option < Vec < Option < String > > > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_backfill_alter_wrapper';

CREATE OR REPLACE FUNCTION "backfill_cancel"(
	"name" TEXT /* Option < & str > */
) RETURNS bigint /* Result < i64 > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_backfill_cancel_wrapper';

CREATE OR REPLACE FUNCTION "backfill_pause"(
	"name" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_backfill_pause_wrapper';

CREATE OR REPLACE FUNCTION "backfill_rate"(
	"name" TEXT, /* Option < & str > */
	"at" timestamp with time zone DEFAULT now() /* Option < TimestampWithTimeZone > */
) RETURNS double precision /* Result < f64 > */
STABLE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_backfill_rate_wrapper';

CREATE OR REPLACE FUNCTION "backfill_resume"(
	"name" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE 
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
VOLATILE 
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
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_cancel_wrapper';

CREATE OR REPLACE FUNCTION "cancel_backfill"(
	"name" TEXT, /* Option < & str > */
	"if_exists" bool DEFAULT false /* Option < bool > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_cancel_backfill_wrapper';

CREATE OR REPLACE FUNCTION "cancel_jobs"(
	"queue" TEXT, /* Option < & str > */
	"state" TEXT DEFAULT NULL, /* Option < & str > */
	"group_key" TEXT DEFAULT NULL, /* Option < & str > */
	"dedupe_key" TEXT DEFAULT NULL, /* Option < & str > */
	"older_than" interval DEFAULT NULL, /* Option < Interval > */
	"min_id" bigint DEFAULT NULL, /* Option < i64 > */
	"max_id" bigint DEFAULT NULL, /* Option < i64 > */
	"max_jobs" INT DEFAULT 10000 /* Option < i32 > */
) RETURNS bigint /* Result < i64 > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_cancel_jobs_wrapper';

CREATE OR REPLACE FUNCTION "check_enqueue_trigger"(
	"trigger_oid" oid /* Option < pg_sys :: Oid > */
) RETURNS VOID /* QResult < () > */
VOLATILE 
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
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_claim_wrapper';

CREATE OR REPLACE FUNCTION "clear_rate_schedule"(
	"queue" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_clear_rate_schedule_wrapper';

CREATE OR REPLACE FUNCTION "complete"(
	"id" bigint, /* Option < i64 > */
	"lease_token" uuid /* Option < Uuid > */
) RETURNS bool /* Result < bool > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_complete_wrapper';

CREATE OR REPLACE FUNCTION "complete_many"(
	"ids" bigint[], /* :: std :: option :: Option < Vec < Option < i64 > > > */
	"lease_tokens" uuid[] /* :: std :: option :: Option < Vec < Option < Uuid > > > */
) RETURNS SETOF bigint /* i64 */
VOLATILE 
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
	"if_not_exists" bool DEFAULT false, /* Option < bool > */
	"dead_retention" interval DEFAULT NULL /* Option < Interval > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_create_queue_v3_wrapper';

CREATE OR REPLACE FUNCTION "create_schedule"(
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
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_create_schedule_wrapper';

CREATE OR REPLACE FUNCTION "create_spread_refresh"(
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
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_create_spread_refresh_wrapper';

CREATE OR REPLACE FUNCTION "drop_queue"(
	"name" TEXT, /* Option < & str > */
	"force" bool DEFAULT false, /* Option < bool > */
	"if_exists" bool DEFAULT false /* Option < bool > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_drop_queue_wrapper';

CREATE OR REPLACE FUNCTION "drop_schedule"(
	"name" TEXT, /* Option < & str > */
	"if_exists" bool DEFAULT false /* Option < bool > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_drop_schedule_wrapper';

CREATE OR REPLACE FUNCTION "drop_spread_refresh"(
	"name" TEXT, /* Option < & str > */
	"if_exists" bool DEFAULT false /* Option < bool > */
) RETURNS VOID /* Result < () > */
VOLATILE 
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
STABLE 
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
	"spread_period" interval DEFAULT NULL, /* Option < Interval > */
	"on_duplicate" TEXT DEFAULT 'skip', /* Option < & str > */
	"debounce" interval DEFAULT NULL /* Option < Interval > */
) RETURNS bigint /* Result < i64 > */
VOLATILE 
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
	"dedupe_keys" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < String > > > */
	"on_duplicate" TEXT DEFAULT 'skip', /* Option < & str > */
	"debounce" interval DEFAULT NULL /* Option < Interval > */
) RETURNS SETOF bigint /* i64 */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_enqueue_many_wrapper';

CREATE OR REPLACE FUNCTION "explain_claim"(
	"queue" TEXT, /* Option < & str > */
	"batch" INT DEFAULT 1 /* Option < i32 > */
) RETURNS SETOF TEXT /* String */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_explain_claim_wrapper';

CREATE OR REPLACE FUNCTION "fail"(
	"id" bigint, /* Option < i64 > */
	"lease_token" uuid, /* Option < Uuid > */
	"error" TEXT DEFAULT NULL, /* Option < & str > */
	"retry_in" interval DEFAULT NULL /* Option < Interval > */
) RETURNS bool /* Result < bool > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_fail_wrapper';

CREATE OR REPLACE FUNCTION "grant"(
	"queue" TEXT, /* Option < & str > */
	"role" TEXT, /* Option < & str > */
	"privilege" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_grant_wrapper';

CREATE OR REPLACE FUNCTION "heartbeat"(
	"id" bigint, /* Option < i64 > */
	"lease_token" uuid, /* Option < Uuid > */
	"extend" interval DEFAULT NULL /* Option < Interval > */
) RETURNS bool /* Result < bool > */
VOLATILE 
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
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_histogram_wrapper';

CREATE OR REPLACE FUNCTION "library_version"() RETURNS TEXT /* & '_ str */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_library_version_wrapper';

CREATE OR REPLACE FUNCTION "metrics"() RETURNS TEXT /* Result < String > */
STRICT VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_metrics_wrapper';

CREATE OR REPLACE FUNCTION "move_jobs"(
	"queue" TEXT, /* Option < & str > */
	"to_queue" TEXT, /* Option < & str > */
	"group_key" TEXT DEFAULT NULL, /* Option < & str > */
	"dedupe_key" TEXT DEFAULT NULL, /* Option < & str > */
	"older_than" interval DEFAULT NULL, /* Option < Interval > */
	"min_id" bigint DEFAULT NULL, /* Option < i64 > */
	"max_id" bigint DEFAULT NULL, /* Option < i64 > */
	"max_jobs" INT DEFAULT 10000 /* Option < i32 > */
) RETURNS bigint /* Result < i64 > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_move_jobs_wrapper';

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
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_pause_wrapper';

CREATE OR REPLACE FUNCTION "pause_backfill"(
	"name" TEXT /* Option < & str > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_pause_backfill_wrapper';

CREATE OR REPLACE FUNCTION "pause_group"(
	"group_key" TEXT, /* Option < & str > */
	"queue" TEXT /* Option < & str > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_pause_group_wrapper';

CREATE OR REPLACE FUNCTION "pause_queue"(
	"name" TEXT /* Option < & str > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_pause_queue_wrapper';

CREATE OR REPLACE FUNCTION "pause_schedule"(
	"name" TEXT /* Option < & str > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_pause_schedule_wrapper';

CREATE OR REPLACE FUNCTION "pause_spread_refresh"(
	"name" TEXT /* Option < & str > */
) RETURNS VOID /* Result < () > */
VOLATILE 
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

CREATE OR REPLACE FUNCTION "purge_jobs"(
	"queue" TEXT, /* Option < & str > */
	"older_than" interval, /* Option < Interval > */
	"state" TEXT DEFAULT NULL, /* Option < & str > */
	"group_key" TEXT DEFAULT NULL, /* Option < & str > */
	"dedupe_key" TEXT DEFAULT NULL, /* Option < & str > */
	"min_id" bigint DEFAULT NULL, /* Option < i64 > */
	"max_id" bigint DEFAULT NULL, /* Option < i64 > */
	"max_jobs" INT DEFAULT 10000 /* Option < i32 > */
) RETURNS bigint /* Result < i64 > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_purge_jobs_wrapper';

CREATE OR REPLACE FUNCTION "recount"() RETURNS bigint /* Result < i64 > */
STRICT VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_recount_wrapper';

CREATE OR REPLACE FUNCTION "release"(
	"id" bigint, /* Option < i64 > */
	"lease_token" uuid, /* Option < Uuid > */
	"delay" interval DEFAULT '0' /* Option < Interval > */
) RETURNS bool /* Result < bool > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_release_wrapper';

CREATE OR REPLACE FUNCTION "release_expired_leases"(
	"max_jobs" INT DEFAULT 1000 /* Option < i32 > */
) RETURNS bigint /* Result < i64 > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_release_expired_leases_wrapper';

CREATE OR REPLACE FUNCTION "resume"(
	"name" TEXT /* Option < & str > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_resume_wrapper';

CREATE OR REPLACE FUNCTION "resume_backfill"(
	"name" TEXT /* Option < & str > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_resume_backfill_wrapper';

CREATE OR REPLACE FUNCTION "resume_group"(
	"group_key" TEXT, /* Option < & str > */
	"queue" TEXT /* Option < & str > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_resume_group_wrapper';

CREATE OR REPLACE FUNCTION "resume_queue"(
	"name" TEXT /* Option < & str > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_resume_queue_wrapper';

CREATE OR REPLACE FUNCTION "resume_schedule"(
	"name" TEXT /* Option < & str > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_resume_schedule_wrapper';

CREATE OR REPLACE FUNCTION "resume_spread_refresh"(
	"name" TEXT /* Option < & str > */
) RETURNS VOID /* Result < () > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_resume_spread_refresh_wrapper';

CREATE OR REPLACE FUNCTION "retry"(
	"id" bigint /* Option < i64 > */
) RETURNS bool /* Result < bool > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_retry_job_wrapper';

CREATE OR REPLACE FUNCTION "retry"(
	"queue" TEXT, /* Option < & str > */
	"state" TEXT DEFAULT 'dead' /* Option < & str > */
) RETURNS bigint /* Result < i64 > */
VOLATILE 
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

CREATE OR REPLACE FUNCTION "retry_jobs"(
	"queue" TEXT, /* Option < & str > */
	"state" TEXT DEFAULT 'dead', /* Option < & str > */
	"group_key" TEXT DEFAULT NULL, /* Option < & str > */
	"dedupe_key" TEXT DEFAULT NULL, /* Option < & str > */
	"older_than" interval DEFAULT NULL, /* Option < Interval > */
	"min_id" bigint DEFAULT NULL, /* Option < i64 > */
	"max_id" bigint DEFAULT NULL, /* Option < i64 > */
	"max_jobs" INT DEFAULT 10000 /* Option < i32 > */
) RETURNS bigint /* Result < i64 > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_retry_jobs_wrapper';

CREATE OR REPLACE FUNCTION "revoke"(
	"queue" TEXT, /* Option < & str > */
	"role" TEXT, /* Option < & str > */
	"privilege" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE 
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
VOLATILE 
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
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_set_rate_schedule_wrapper';

CREATE OR REPLACE FUNCTION "shared_queue_slots"() RETURNS TABLE (
	"used" bigint,  /* Option < i64 > */
	"capacity" bigint  /* i64 */
)
STRICT VOLATILE 
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
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_spread_refresh_wrapper';

CREATE OR REPLACE FUNCTION "start_backfill"(
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
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_start_backfill_wrapper';

CREATE OR REPLACE FUNCTION "unschedule"(
	"name" TEXT /* Option < & str > */
) RETURNS bool /* Result < bool > */
VOLATILE 
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_unschedule_wrapper';

CREATE OR REPLACE FUNCTION queue_internal.count_jobs() RETURNS TRIGGER
LANGUAGE c AS 'MODULE_PATHNAME', 'queue_count_jobs_wrapper';

CREATE OR REPLACE FUNCTION queue."enqueue_trigger"() RETURNS TRIGGER
LANGUAGE c AS 'MODULE_PATHNAME', 'queue_enqueue_trigger_wrapper';

CREATE OR REPLACE FUNCTION queue_internal."sees"(
	"queue_id" INT, /* i32 */
	"payloads" bool /* bool */
) RETURNS bool /* Result < bool > */
STRICT STABLE  
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_sees_wrapper';

CREATE OR REPLACE FUNCTION queue_internal."stats_all"() RETURNS TABLE (
	"queue" TEXT,  /* String */
	"ready" bigint,  /* Option < i64 > */
	"scheduled" bigint,  /* Option < i64 > */
	"running" bigint,  /* Option < i64 > */
	"dead" bigint,  /* Option < i64 > */
	"done_last_minute" bigint,  /* i64 */
	"done_last_hour" bigint,  /* i64 */
	"throughput" double precision,  /* f64 */
	"failures_last_hour" bigint,  /* i64 */
	"retries_last_hour" bigint,  /* i64 */
	"lag" interval,  /* Option < Interval > */
	"mean_wait" interval,  /* Option < Interval > */
	"mean_run" interval,  /* Option < Interval > */
	"paused" bool,  /* bool */
	"rate_limit" double precision,  /* Option < f64 > */
	"counted" bool  /* bool */
)
STRICT VOLATILE  
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_stats_all_wrapper';

CREATE OR REPLACE FUNCTION queue_internal."wake_launcher"() RETURNS void
STRICT VOLATILE  
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_wake_launcher_wrapper';

CREATE OR REPLACE FUNCTION queue_internal."stats_reset"() RETURNS void
STRICT VOLATILE  
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_stats_reset_wrapper';

CREATE OR REPLACE FUNCTION queue_internal."worker_state"() RETURNS TEXT /* String */
STRICT VOLATILE  
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_worker_state_wrapper';

CREATE OR REPLACE FUNCTION queue_internal."stats"(
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

CREATE OR REPLACE FUNCTION queue_internal."worker_next_due"() RETURNS timestamp with time zone /* Option < pgrx :: datum :: TimestampWithTimeZone > */
STRICT VOLATILE  
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'queue_worker_next_due_wrapper';

-- CREATE OR REPLACE resets a function's settings: finalize.sql's again.
ALTER FUNCTION queue.enqueue_trigger() SET search_path = pg_catalog, pg_temp;

-- Views: every reader sees only its queues (and queue.stats reads queue_internal.stats_all()) -----------
CREATE OR REPLACE VIEW queue.grants WITH (security_barrier) AS
SELECT q.name AS queue, g.grantee::text AS role, g.privilege, g.granted_at
  FROM queue.queue_grants g JOIN queue.queues q ON q.id = g.queue_id AND queue_internal.sees(q.id, true);
COMMENT ON VIEW queue.grants IS
    'Per-queue grants made with queue.grant (the reader sees its queues'' only): a role holding any grant for a privilege may use it on those queues only.';

CREATE OR REPLACE VIEW queue.groups WITH (security_barrier) AS
SELECT q.name AS queue, g.group_key, g.consecutive_failures, g.eligible_at
  FROM queue.group_state g JOIN queue.queues q ON q.id = g.queue_id AND queue_internal.sees(q.id, true);
COMMENT ON VIEW queue.groups IS
    'Groups backing off after consecutive failures: none of their jobs is claimed before eligible_at; a completed job of the group ends it.';

CREATE OR REPLACE VIEW queue.rate_schedules WITH (security_barrier) AS
SELECT q.name AS queue, s.timezone, s.peak_days, s.peak_start, s.peak_end, s.peak_rate, s.peak_burst,
       s.off_peak_rate, s.off_peak_burst
  FROM queue.queue_rate_schedules s JOIN queue.queues q ON q.id = s.queue_id AND queue_internal.sees(q.id, true);
COMMENT ON VIEW queue.rate_schedules IS
    'Rate schedules set by queue.set_rate_schedule: peak_rate (and peak_burst) from peak_start to peak_end o''clock on peak_days (ISO weekdays, 1 = Monday) in timezone, off_peak_rate otherwise; NULL rates are unlimited.';

CREATE OR REPLACE VIEW queue.jobs WITH (security_barrier) AS
SELECT * FROM (
    SELECT j.id, q.name AS queue, 'pending'::queue.job_state AS state, j.payload, j.priority, j.run_at,
           nullif(j.group_key, '') AS group_key, j.dedupe_key, j.attempts, j.max_attempts,
           NULL::uuid AS lease_token, NULL::timestamptz AS lease_expires_at, j.locked_by, j.last_error,
           j.enqueued_at, j.first_claimed_at, j.claimed_at, NULL::timestamptz AS finished_at
      FROM queue.ready j JOIN queue.queues q ON q.id = j.queue_id AND queue_internal.sees(q.id, true)
    UNION ALL
    -- Ready jobs of paused groups, parked under their queue's id negated (src/api/groups.rs).
    SELECT j.id, q.name, 'pending', j.payload, j.priority, j.run_at, nullif(j.group_key, ''), j.dedupe_key,
           j.attempts, j.max_attempts, NULL, NULL, j.locked_by, j.last_error, j.enqueued_at, j.first_claimed_at,
           j.claimed_at, NULL
      FROM queue.ready j JOIN queue.queues q ON -q.id = j.queue_id AND queue_internal.sees(q.id, true)
    UNION ALL
    SELECT j.id, q.name, 'pending', j.payload, j.priority, j.run_at, nullif(j.group_key, ''), j.dedupe_key,
           j.attempts, j.max_attempts, NULL, NULL, j.locked_by, j.last_error, j.enqueued_at, j.first_claimed_at,
           j.claimed_at, NULL
      FROM queue.scheduled j JOIN queue.queues q ON q.id = j.queue_id AND queue_internal.sees(q.id, true)
    UNION ALL
    SELECT j.id, q.name, 'running', j.payload, j.priority, j.run_at, nullif(j.group_key, ''), j.dedupe_key,
           j.attempts, j.max_attempts,
           CASE WHEN pg_catalog.pg_has_role(j.claimed_by, 'USAGE') THEN j.lease_token END,
           j.lease_expires_at, j.locked_by, j.last_error, j.enqueued_at, j.first_claimed_at, j.claimed_at, NULL
      FROM queue.running j JOIN queue.queues q ON q.id = j.queue_id AND queue_internal.sees(q.id, true)
    UNION ALL
    SELECT j.id, q.name, j.state, j.payload, j.priority, j.run_at, nullif(j.group_key, ''), j.dedupe_key,
           j.attempts, j.max_attempts, NULL, NULL, j.locked_by, j.last_error, j.enqueued_at, j.first_claimed_at,
           j.claimed_at, j.finished_at
      FROM queue.done j JOIN queue.queues q ON q.id = j.queue_id AND queue_internal.sees(q.id, true)
    UNION ALL
    SELECT j.id, q.name, 'dead', j.payload, j.priority, j.run_at, nullif(j.group_key, ''), j.dedupe_key,
           j.attempts, j.max_attempts, NULL, NULL, j.locked_by, j.last_error, j.enqueued_at, j.first_claimed_at,
           j.claimed_at, j.finished_at
      FROM queue.dead j JOIN queue.queues q ON q.id = j.queue_id AND queue_internal.sees(q.id, true)
) AS jobs;
COMMENT ON VIEW queue.jobs IS
    'Every job of every existing queue the reader sees (a role restricted by queue.grant sees its queues only), live and finished, whichever table holds it. lease_token shows only to the role that claimed the job. Write jobs only through the queue.* functions.';
COMMENT ON COLUMN queue.jobs.priority IS 'Higher runs first.';
COMMENT ON COLUMN queue.jobs.run_at IS 'The job is not claimable before this instant (scheduled while in the future).';
COMMENT ON COLUMN queue.jobs.group_key IS 'Tenant, target or domain the job belongs to; NULL is the queue''s default group.';
COMMENT ON COLUMN queue.jobs.dedupe_key IS 'While a job with the same (queue, dedupe_key) is pending or running, enqueue returns that job instead of a new one.';
COMMENT ON COLUMN queue.jobs.attempts IS 'Number of times the job has been claimed (a release gives one back).';
COMMENT ON COLUMN queue.jobs.lease_token IS 'Fencing token of the current lease, shown only to the role that claimed the job: complete, fail, heartbeat and release must present it.';
COMMENT ON COLUMN queue.jobs.locked_by IS 'Worker name given to the claim that holds (or last held) the lease.';

CREATE OR REPLACE VIEW queue.paused_groups WITH (security_barrier) AS
SELECT q.name AS queue, p.group_key, p.paused_at
  FROM queue.group_pauses p JOIN queue.queues q ON q.id = p.queue_id AND queue_internal.sees(q.id, true);
COMMENT ON VIEW queue.paused_groups IS
    'Groups paused by queue.pause_group (the reader sees its queues'' only): claims hand out none of their jobs until queue.resume_group; producers may still enqueue.';

CREATE OR REPLACE VIEW queue.stats AS
SELECT * FROM queue_internal.stats_all();
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

CREATE OR REPLACE VIEW queue.workers WITH (security_barrier) AS
SELECT q.name AS queue, r.locked_by AS worker, count(*) AS leases,
       pg_catalog.now() - min(r.claimed_at) AS oldest_lease_age,
       max(greatest(r.claimed_at, r.lease_expires_at - q.lease)) AS last_seen,
       min(r.lease_expires_at) AS next_expiry
  FROM queue.running r
  JOIN queue.queues q ON q.id = r.queue_id AND queue_internal.sees(q.id, false)
 GROUP BY q.name, r.locked_by;
COMMENT ON VIEW queue.workers IS
    'Workers holding leases, per queue (worker is the claim''s worker argument, NULL when none was given): how many, the oldest lease''s age, when last seen (latest claim, or heartbeat with the queue''s lease) and the next expiry.';

CREATE OR REPLACE VIEW queue.spread_refreshes WITH (security_barrier) AS
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

CREATE OR REPLACE VIEW queue.backfills WITH (security_barrier) AS
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

-- Read isolation (src/visibility.rs): a role restricted by queue.grant reads only its queues' rows
-- of the tables the queue roles may read; the views filter the same way. The extension owner
-- (whose rights queue_ext's own statements run with) and queue_maintainer (BYPASSRLS, the
-- background worker) are not subject to these policies.
ALTER TABLE queue.queues ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON queue.queues FOR SELECT USING (queue_internal.sees(id, true));
ALTER TABLE queue.queue_grants ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON queue.queue_grants FOR SELECT USING (queue_internal.sees(queue_id, true));
ALTER TABLE queue.group_state ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON queue.group_state FOR SELECT USING (queue_internal.sees(queue_id, true));
ALTER TABLE queue.queue_rate_schedules ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON queue.queue_rate_schedules FOR SELECT USING (queue_internal.sees(queue_id, true));
ALTER TABLE queue.schedules ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible ON queue.schedules FOR SELECT
    USING (queue_internal.sees(coalesce((SELECT q.id FROM queue.queues q WHERE q.name = schedules.queue), 0), true));
COMMENT ON POLICY visible ON queue.queues IS 'A role restricted by queue.grant sees only its queues (queue_internal.sees).';
COMMENT ON POLICY visible ON queue.queue_grants IS 'A role restricted by queue.grant sees only its queues'' grants.';
COMMENT ON POLICY visible ON queue.group_state IS 'A role restricted by queue.grant sees only its queues'' groups.';
COMMENT ON POLICY visible ON queue.queue_rate_schedules IS 'A role restricted by queue.grant sees only its queues'' rate schedules.';
COMMENT ON POLICY visible ON queue.schedules IS 'A role restricted by queue.grant sees only its queues'' schedules.';
-- queue.paused_groups filters itself (queue_internal.sees); its table, queue.group_pauses, is not readable.
GRANT SELECT, INSERT, UPDATE, DELETE ON queue.paused_groups TO queue_maintainer;
GRANT SELECT ON queue.paused_groups TO queue_admin, queue_producer, queue_worker;

-- Privileges: every function gets exactly its roles again (finalize.sql) ---------------------
DO $grants$
DECLARE
    f record;
    grantee text;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure AS signature, p.proname::text AS name
          FROM pg_catalog.pg_proc p
         WHERE p.pronamespace IN ('queue'::regnamespace, 'queue_internal'::regnamespace)
    LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f.signature);
        grantee := CASE
            WHEN f.name IN ('create_queue', 'alter_queue', 'drop_queue', 'pause_queue', 'resume_queue', 'retry',
                            'create_schedule', 'drop_schedule', 'create_spread_refresh', 'start_backfill',
                            'alter_backfill', 'pause_backfill', 'resume_backfill', 'cancel_backfill',
                            -- The deprecated 0.2.0 names.
                            'pause', 'resume',
                            'pause_group', 'resume_group',
                            'set_rate_schedule', 'clear_rate_schedule', 'grant', 'revoke',
                            'release_expired_leases', 'explain_claim', 'shared_queue_slots',
                            'schedule', 'unschedule', 'pause_schedule', 'resume_schedule',
                            'spread_refresh', 'drop_spread_refresh', 'pause_spread_refresh',
                            'resume_spread_refresh', 'backfill_start', 'backfill_pause', 'backfill_resume',
                            'backfill_cancel', 'backfill_alter', 'backfill_rate', 'recount',
                            'purge_jobs', 'retry_jobs', 'move_jobs') THEN 'queue_admin'
            WHEN f.name IN ('enqueue', 'enqueue_many', 'cancel', 'enqueue_trigger', 'cancel_jobs', 'alter_job') THEN 'queue_producer'
            -- Run for whoever creates a trigger on queue.enqueue_trigger (a producer).
            WHEN f.name IN ('check_enqueue_trigger', 'enqueue_trigger_ddl') THEN 'queue_admin, queue_producer'
            WHEN f.name IN ('claim', 'complete', 'complete_many', 'fail', 'heartbeat', 'release') THEN 'queue_worker'
            WHEN f.name IN ('slot_fraction', 'slot_offset', 'next_slot', 'bucket', 'poll_delay',
                            'effective_rate', 'library_version', 'schedule_fires') THEN 'queue_admin, queue_producer, queue_worker'
            WHEN f.name = 'retry_delay' THEN 'queue_admin, queue_producer, queue_worker, queue_maintainer'
            -- Internal: called by the queue.* functions and the worker as the extension owner.
            WHEN f.name = 'wake_launcher' THEN ''
            -- queue.worker_status (read by the queue roles) computes its state with it.
            WHEN f.name IN ('worker_state', 'worker_next_due') THEN 'queue_admin, queue_producer, queue_worker'
            -- queue.backfills (read by queue_admin) and the worker compute backfill rates with them.
            WHEN f.name = 'backfill_rate_at' THEN 'queue_admin, queue_maintainer'
            -- queue.stats (read by every queue role and pg_monitor) calls these.
            WHEN f.name = 'rate_in_effect' THEN 'queue_admin, queue_producer, queue_worker, queue_maintainer, pg_monitor'
            -- queue.stats reads stats_all; the views and row-level security policies call sees.
            WHEN f.name IN ('stats_all', 'sees') THEN 'queue_admin, queue_producer, queue_worker, queue_maintainer, pg_monitor'
            -- Only stats_all's own statement (as the extension owner) reads one queue's figures.
            WHEN f.name = 'stats' THEN ''
            WHEN f.name IN ('metrics', 'histogram') THEN 'queue_admin, queue_producer, queue_worker, pg_monitor'
            -- The counting triggers on the job tables (never called directly).
            WHEN f.name = 'count_jobs' THEN ''
            -- Called by CREATE EXTENSION (below) and the upgrade script only.
            WHEN f.name = 'stats_reset' THEN ''
            -- The worker checks the owners of schedules and refreshes with it.
            WHEN f.name = 'may' THEN 'queue_maintainer'
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

-- Comments ----------------------------------------------------------------------------------
COMMENT ON FUNCTION queue.create_queue IS
    'Create a queue. Settings left NULL take the column defaults of queue.queues; if_not_exists => true makes an existing queue a no-op.';
COMMENT ON FUNCTION queue.alter_queue IS
    'Change a queue''s settings: NULL keeps a setting, reset => ''{setting,...}'' returns settings to their defaults.';
COMMENT ON FUNCTION queue.drop_queue IS
    'Remove a queue and its jobs (42704 when there is none, unless if_exists => true); refuses (55006) while jobs are pending or running unless force => true. The jobs vanish from queue.jobs at once and are purged by the background worker in bounded batches.';
COMMENT ON FUNCTION queue.pause_queue IS 'Stop handing out jobs from a queue (enqueue still works); pausing a paused queue changes nothing.';
COMMENT ON FUNCTION queue.resume_queue IS 'Resume handing out jobs from a paused queue.';
COMMENT ON FUNCTION queue.pause_group IS
    'Stop handing out the jobs of one group (group_key) of a queue; other groups flow and enqueue still works. Survives restarts; see the view queue.paused_groups.';
COMMENT ON FUNCTION queue.resume_group IS 'Hand out the jobs of a paused group again.';
COMMENT ON FUNCTION queue.enqueue IS
    'Add a job; visible to workers when the calling transaction commits. The payload is a JSON object (22023 otherwise); a NULL run_at is now, a NULL priority is 0. With dedupe_key and a live (pending or running) job holding that key, on_duplicate says what happens: ''skip'' (default) returns that job''s id; ''replace'' gives a pending holder the new payload (debounce: and makes it due at now() + debounce) and returns its id, or, when the holder is running, enqueues a new job behind it that takes the key over; ''raise'' fails with 23505.';
COMMENT ON FUNCTION queue.enqueue_many IS
    'Add many jobs in one statement; returns their ids in payload order. Each payload is a JSON object (22023 naming the first that is not); a NULL run_at is now, a NULL priority is 0. dedupe_keys, if given, holds one key (or NULL) per payload; on_duplicate and debounce apply to each as in queue.enqueue.';
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
COMMENT ON FUNCTION queue.purge_jobs IS
    'Delete at most max_jobs finished jobs (done, cancelled, dead; state narrows) of a queue that finished more than older_than ago, oldest first, filtered by group_key, dedupe_key and id range (NULL: any); returns how many. Call again while it returns max_jobs. Needs admin.';
COMMENT ON FUNCTION queue.cancel_jobs IS
    'Cancel at most max_jobs pending and running jobs (state narrows) of a queue, filtered by group_key, dedupe_key, older_than (enqueued) and id range (NULL: any), as cancel does each; returns how many. Call again while it returns max_jobs. Needs produce.';
COMMENT ON FUNCTION queue.retry_jobs IS
    'Send at most max_jobs dead (or cancelled) jobs of a queue back to pending with attempts reset, filtered by group_key, dedupe_key, older_than (finished) and id range (NULL: any); a job whose dedupe key a live job holds stays, and of a batch sharing a key only the newest comes back. Returns how many. Needs admin.';
COMMENT ON FUNCTION queue.move_jobs IS
    'Move at most max_jobs pending jobs of a queue to to_queue (same ids, payloads, timing and attempts), filtered by group_key, dedupe_key, older_than (enqueued) and id range (NULL: any); a job whose dedupe key a live job of to_queue holds stays. Returns how many; call again while it returns max_jobs. Needs admin on the queue and produce on to_queue.';
COMMENT ON FUNCTION queue.alter_job IS
    'Change a job''s run_at and priority while it is pending, its payload (a JSON object) while it is not running; NULL keeps each. False when the job is not in a state that takes the change, or does not exist. Needs produce on its queue.';
COMMENT ON FUNCTION queue.release_expired_leases IS
    'Return jobs whose lease expired to pending with backoff (last_error ''lease expired''), or dead when attempts are used up. Run by the background worker each tick, and by a claim for its queue when no worker runs. An admin restricted by queue.grant releases its own queues'' leases only.';
COMMENT ON FUNCTION queue.retry_delay IS
    'Backoff before retrying after failed attempt n: d = min(max, base * 2^(n-1)); d/2 + jitter(job id, n) * d/2.';
COMMENT ON FUNCTION queue_internal.stats IS
    'Internal: one queue''s figures from shared memory (queue.stats adds its name, lag, pause and rate).';
COMMENT ON FUNCTION queue_internal.stats_all IS
    'Internal: the rows of queue.stats, for the queues the reader sees the figures of, computed with queue_ext''s own plans (JIT off).';
COMMENT ON FUNCTION queue_internal.sees IS
    'Internal: whether the calling role sees a queue''s jobs and settings (payloads => true) or its figures (false; pg_monitor sees every queue''s). A role restricted by queue.grant sees the queues it may use.';
COMMENT ON FUNCTION queue_internal.count_jobs IS
    'Internal: the statement-level triggers on the job tables report the jobs each statement moved, per queue, for queue.stats.';
COMMENT ON FUNCTION queue.recount IS
    'Have the background worker count the jobs by state of the queues the caller administers (every queue for an unrestricted admin) again from the tables (it does after a restart); queue.stats shows NULL depths until it has. Returns the queues it will count.';
COMMENT ON FUNCTION queue_internal.stats_reset IS
    'Internal: forget the figures shared memory holds for this database (run by CREATE EXTENSION, so that a dropped earlier install''s are never added to).';
COMMENT ON FUNCTION queue.metrics IS
    'Every queue''s figures in the Prometheus text exposition format: depths as gauges, events as counters, wait and run times as histograms; for postgres_exporter (contrib/postgres_exporter/queries.yaml) or any scraper.';
COMMENT ON FUNCTION queue.histogram IS
    'Text bars for psql: a queue''s pending jobs by due time (of => ''due''; ready jobs in the first bucket, the last row holds every job due later), or its completions over the last hour (of => ''completed'').';
COMMENT ON FUNCTION queue.explain_claim IS
    'EXPLAIN of the generic plans queue.claim runs for a queue (claims always run them): the promotion of its due jobs by scheduled_due_idx, then the claim by ready_claim_idx.';
COMMENT ON FUNCTION queue.enqueue_trigger IS
    'Trigger function: enqueue a job per changed row into the queue named by the first argument. Options: columns=a,b (payload keeps only these), group_key=<column>, dedupe_key=<column>, on_duplicate=skip|replace|raise and debounce=<interval> (as queue.enqueue''s), spread=<column>:<interval>, priority=<n>. FOR EACH ROW, or FOR EACH STATEMENT with REFERENCING NEW/OLD TABLE. Payloads are built with the rights of whoever changes the table.';
COMMENT ON FUNCTION queue.check_enqueue_trigger IS
    'Check the options of a trigger that runs queue.enqueue_trigger (called at CREATE TRIGGER time).';
COMMENT ON FUNCTION queue.enqueue_trigger_ddl IS
    'Event trigger function: checks queue.enqueue_trigger options when a trigger is created.';
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
    'Allow a role a privilege (produce, consume or admin) on a queue. A role holding any grant for a privilege may use it on its granted queues only; admin also allows produce and consume. Needs admin on the queue and a role the caller manages (superuser, ADMIN OPTION, or CREATEROLE for a non-superuser); never a base role or PUBLIC, nor a member the caller does not manage.';
COMMENT ON FUNCTION queue.revoke IS
    'Take back a grant of queue.grant; a role left with no grant for a privilege may use it on every queue again, so that needs a caller free to use it on every queue. Needs admin on the queue and a role the caller manages.';
COMMENT ON FUNCTION queue.shared_queue_slots IS
    'Queues (of every database) holding a token bucket or rotation cursor in shared memory, and the capacity: past three quarters the least recently used is evicted, so claims never fail for lack of room.';
COMMENT ON FUNCTION queue.library_version IS
    'The version of the loaded queue_ext library; differs from pg_extension.extversion until ALTER EXTENSION queue_ext UPDATE has run.';
COMMENT ON FUNCTION queue.create_schedule IS
    'Create or replace a cron schedule: a job with payload into queue at every fire time of cron (5 fields, @daily-style macros, or ''N seconds'') in timezone, offset by queue.slot_offset(name, jitter). Fires once per fire time; a window missed while the server was down fires once (catch_up) or is skipped. queue.schedules shows when it fires next.';
COMMENT ON FUNCTION queue.drop_schedule IS 'Remove a cron schedule (42704 when there is none, unless if_exists => true). Jobs it enqueued stay.';
COMMENT ON FUNCTION queue.pause_schedule IS 'Stop a cron schedule from firing until resume_schedule.';
COMMENT ON FUNCTION queue.resume_schedule IS
    'Fire a paused cron schedule again from its next fire time after now (the fire times it missed while paused are not caught up).';
COMMENT ON FUNCTION queue.schedule_fires IS
    'The next count fire times of a cron pattern in a time zone after an instant, as queue.create_schedule''s schedules fire them (before jitter): a dry run, daylight saving days included.';
COMMENT ON FUNCTION queue.create_spread_refresh IS
    'Create or replace a spread refresh: every row of source gets a job in queue once per period at queue.next_slot(key_column::text, period), payload plus {"refresh", "key"} (or {"keys": [...]} with batch). Needs an index on queue.slot_fraction((key_column)::text). A key whose previous job is still pending or running is not enqueued again.';
COMMENT ON FUNCTION queue.drop_spread_refresh IS 'Remove a spread refresh (42704 when there is none, unless if_exists => true). Its jobs stay.';
COMMENT ON FUNCTION queue.pause_spread_refresh IS 'Stop a spread refresh until resume_spread_refresh.';
COMMENT ON FUNCTION queue.resume_spread_refresh IS
    'Resume a paused spread refresh from now: keys whose slots passed meanwhile wait for their next slot.';
COMMENT ON FUNCTION queue.start_backfill IS
    'Start a paced backfill: jobs {"backfill", "begin_id", "end_id"} over the source''s integer key (its primary key, or key_column), newest first, batch_size existing rows each, per_second jobs a second (peak_per_second / off_peak_per_second during and outside peak_hours on peak_days in timezone), enqueued lookahead ahead, none while max_outstanding of its jobs are pending or running.';
COMMENT ON FUNCTION queue.pause_backfill IS
    'Stop a backfill at once: nothing more is enqueued and its pending jobs cannot be claimed until resume_backfill.';
COMMENT ON FUNCTION queue.resume_backfill IS 'Continue a paused backfill exactly where it stopped, at its pace from now.';
COMMENT ON FUNCTION queue.cancel_backfill IS 'End a backfill and delete its pending jobs (42704 when there is none, unless if_exists => true).';
COMMENT ON FUNCTION queue.alter_backfill IS
    'Retune a backfill while it runs (batch size, rates, lookahead, max_outstanding, peak schedule); NULL keeps a setting, reset drops one. Effective within one lookahead.';
COMMENT ON FUNCTION queue.backfill_rate IS 'The rate (jobs per second) a backfill runs at at an instant: a dry run of its peak schedule.';
COMMENT ON FUNCTION queue.pause IS 'Deprecated (0.2.0 name, kept through 0.3.x): use queue.pause_queue.';
COMMENT ON FUNCTION queue.resume IS 'Deprecated (0.2.0 name, kept through 0.3.x): use queue.resume_queue.';
COMMENT ON FUNCTION queue.schedule IS 'Deprecated (0.2.0 name, kept through 0.3.x): use queue.create_schedule. Returns when the schedule fires next.';
COMMENT ON FUNCTION queue.unschedule IS 'Deprecated (0.2.0 name, kept through 0.3.x): use queue.drop_schedule. False when there was no such schedule.';
COMMENT ON FUNCTION queue.spread_refresh IS 'Deprecated (0.2.0 name, kept through 0.3.x): use queue.create_spread_refresh.';
COMMENT ON FUNCTION queue.backfill_start IS 'Deprecated (0.2.0 name, kept through 0.3.x): use queue.start_backfill.';
COMMENT ON FUNCTION queue.backfill_alter IS 'Deprecated (0.2.0 name, kept through 0.3.x): use queue.alter_backfill.';
COMMENT ON FUNCTION queue.backfill_pause IS 'Deprecated (0.2.0 name, kept through 0.3.x): use queue.pause_backfill. False when the backfill was not running.';
COMMENT ON FUNCTION queue.backfill_resume IS 'Deprecated (0.2.0 name, kept through 0.3.x): use queue.resume_backfill. False when the backfill was not paused.';
COMMENT ON FUNCTION queue.backfill_cancel IS 'Deprecated (0.2.0 name, kept through 0.3.x): use queue.cancel_backfill. Returns how many pending jobs it deleted.';
COMMENT ON FUNCTION queue_internal.wake_launcher IS
    'Internal: at commit, lets the launcher start this database''s background worker at once (called by CREATE EXTENSION); warns when no worker will serve the database.';
COMMENT ON FUNCTION queue_internal.worker_state IS
    'Internal: queue.worker_status.state: running, idle, waiting, or not served and why.';
COMMENT ON FUNCTION queue_internal.worker_next_due IS
    'Internal: queue.worker_status.next_due_at, from the worker pool''s shared memory.';
