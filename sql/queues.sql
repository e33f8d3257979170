-- Queues, their settings, who may use them, and the per-queue state claims consult.
-- No foreign keys between these tables: pg_dump restores extension tables' data in no particular
-- order, and drop_queue removes a queue's rows everywhere itself.

-- Jobs refer to their queue by this number, never by name: a dropped queue's jobs can be purged in
-- the background while a queue of the same name is created again, and the hot indexes stay narrow.
CREATE SEQUENCE queue.queues_id_seq AS integer;
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
    updated_at            timestamptz NOT NULL DEFAULT now(),
    id                    integer NOT NULL DEFAULT nextval('queue.queues_id_seq') CONSTRAINT queues_id_key UNIQUE,
    dead_retention        interval CHECK (dead_retention >= '0'),
    -- What a claim's token bucket holds (src/api/claim.rs, capacity): shown, since burst may be NULL.
    effective_burst       integer GENERATED ALWAYS AS
                              (CASE WHEN rate_per_second IS NOT NULL
                                    THEN greatest(1, coalesce(burst, ceil(rate_per_second)))::integer END) STORED
);
ALTER SEQUENCE queue.queues_id_seq OWNED BY queue.queues.id;
COMMENT ON TABLE queue.queues IS
    'One row per queue with its settings. Change it only through queue.create_queue, queue.alter_queue, queue.pause_queue, queue.resume_queue and queue.drop_queue.';
COMMENT ON COLUMN queue.queues.id IS 'Internal number the job tables use for the queue; never reused.';
COMMENT ON COLUMN queue.queues.lease IS 'How long a claim holds a job before the lease expires and the job is re-issued.';
COMMENT ON COLUMN queue.queues.max_attempts IS 'Claims a job may receive before a failure makes it dead (per-job override at enqueue).';
COMMENT ON COLUMN queue.queues.backoff_base IS 'First retry delay; each further failure doubles it (with jitter).';
COMMENT ON COLUMN queue.queues.backoff_max IS 'Cap on the retry delay.';
COMMENT ON COLUMN queue.queues.notify IS 'Send NOTIFY on channel queue_<name> when jobs become ready: enqueued due now, come due, released or retried.';
COMMENT ON COLUMN queue.queues.rate_per_second IS 'Token-bucket refill rate for claims; NULL means unlimited.';
COMMENT ON COLUMN queue.queues.burst IS 'Token-bucket size: claims allowed above the steady rate after an idle period; NULL is the rate rounded up (effective_burst).';
COMMENT ON COLUMN queue.queues.effective_burst IS 'The token-bucket size claims use: burst, or the rate rounded up when burst is NULL; at least 1. NULL without a rate limit.';
COMMENT ON COLUMN queue.queues.max_running IS 'Cap on jobs running at once in this queue; NULL means no cap.';
COMMENT ON COLUMN queue.queues.max_running_per_group IS 'Cap on jobs running at once per group_key; NULL means no cap.';
COMMENT ON COLUMN queue.queues.group_backoff IS 'Defer a group after consecutive failures (circuit breaker); a success resets it.';
COMMENT ON COLUMN queue.queues.retention IS 'How long done and cancelled jobs are kept before the background worker deletes them; 0 keeps no history (a completed job is deleted at once). Dead jobs are kept for dead_retention.';
COMMENT ON COLUMN queue.queues.dead_retention IS 'How long dead jobs are kept before the background worker deletes them; NULL (the default) keeps them until retried or purged.';
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

-- Paused groups (queue.pause_group): claims hand out none of their jobs. Their ready jobs are
-- parked in queue.ready under the queue's id negated, where no claim of the queue looks
-- (src/api/groups.rs); jobs that reach ready later are parked by the first claim that meets them.
-- Read through the view queue.paused_groups (sql/jobs.sql).
CREATE TABLE queue.group_pauses (
    queue_id  integer NOT NULL,
    group_key text NOT NULL CHECK (group_key <> ''),
    paused_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (queue_id, group_key)
);
COMMENT ON TABLE queue.group_pauses IS
    'Internal: groups paused by queue.pause_group. Read them through queue.paused_groups.';

-- On-peak / off-peak claim rates. A NULL rate means unlimited in that period.
CREATE TABLE queue.queue_rate_schedules (
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
COMMENT ON TABLE queue.queue_rate_schedules IS
    'Per-queue rate schedule set by queue.set_rate_schedule: peak hours on peak days in a time zone use peak_rate, other times off_peak_rate.';

-- pg_dump keeps queue definitions, grants, rate schedules and paused groups (group backoff is soft
-- state).
SELECT pg_catalog.pg_extension_config_dump('queue.queues', '');
SELECT pg_catalog.pg_extension_config_dump('queue.queues_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('queue.queue_grants', '');
SELECT pg_catalog.pg_extension_config_dump('queue.queue_rate_schedules', '');
SELECT pg_catalog.pg_extension_config_dump('queue.dropped_queues', '');
SELECT pg_catalog.pg_extension_config_dump('queue.group_pauses', '');

-- Internal helpers for the queue.* functions (no role may call them directly). They are plain SQL
-- so that the planner inlines them into the statements that use them; those statements run with
-- search_path pinned to pg_catalog, pg_temp.

-- May role `role` use privilege 'produce', 'consume' or 'admin' on queue `queue_id`? Superusers
-- may; a role without queue_grants rows for the privilege (or for 'admin') may use it on every
-- queue; otherwise only on the queues it holds a grant for, directly or through membership.
-- The planner cannot inline it (it has subqueries), so the hot statements call it only when any
-- grant exists at all: (NOT EXISTS (SELECT FROM queue.queue_grants) OR queue_internal.may(...)), whose
-- first half is evaluated once per statement.
CREATE FUNCTION queue_internal.may(queue_id integer, role oid, privilege text) RETURNS boolean
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

-- The claim rate and burst that apply at instant `at`, given the queue's own rate and burst and
-- its rate schedule `s` (all NULL when it has none).
CREATE FUNCTION queue_internal.rate_in_effect(base_rate double precision, base_burst integer, s queue.queue_rate_schedules,
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

-- What the queue roles read of grants, group backoff and rate schedules: views that name a queue
-- by its name (the tables key it by an internal id) and show each reader only the queues it sees.
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
