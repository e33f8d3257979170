-- Jobs. A job's row moves between tables as its state changes, and is never updated in place on
-- the hot path: every index entry is written once, claims read a set that holds only due jobs, and
-- neither the scheduled backlog nor the history is in any index a claim reads.
-- See docs/adr/001-hot-path-storage.md for the reasons and the measured cost of this layout.
--
--   enqueue ──▶ ready ◀── (comes due) ── scheduled ◀── enqueue with a future run_at
--                 │ claim                   ▲
--                 ▼                         │ fail / release / lease expiry with a delay
--              running ─────────────────────┘
--                 │ complete / cancel ──▶ done (kept for the queue's retention; none when it is 0)
--                 │ last attempt fails ──▶ dead (kept until retried or purged, or for the queue's dead_retention)
--
-- Every table shares the first columns below, in this order, so that a move is
-- INSERT INTO b SELECT <job columns> FROM (DELETE FROM a ... RETURNING *). Groups are stored as ''
-- for jobs without a group_key (the view shows NULL), so that indexes are on plain columns.
-- Jobs name their queue by queue.queues.id (in queue.ready, a paused group's jobs by the id
-- negated: sql/queues.sql, queue.group_pauses). No foreign key on purpose: a per-row check would lock
-- the queue row on every enqueue and serialise producers on it. No CHECK constraints either: the
-- executor re-reads each one for every statement that writes the table, and the queue.* functions
-- validate every value they write.

-- Kept from 0.1.0 under its old name, so that upgraded installs go on numbering where they were.
CREATE SEQUENCE queue.jobs_id_seq;

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
-- Caps count running jobs per queue and group.
CREATE INDEX running_queue_idx ON queue.running (queue_id, group_key);
-- Lease expiry (the background worker each second, a claim when no worker runs) reads only the
-- expired range, however bloated the table: an idle database costs nothing after a burst. The
-- price is that a heartbeat is no longer a HOT update (docs/adr/003-idle-cost.md).
CREATE INDEX running_expiry_idx ON queue.running (lease_expires_at, queue_id);
COMMENT ON TABLE queue.running IS 'Leased jobs. Read jobs through queue.jobs, which shows a lease token only to the role that claimed it.';
COMMENT ON COLUMN queue.running.claimed_by IS 'The role that claimed the job: the only one (besides superusers) that queue.jobs shows its lease_token to.';

CREATE TABLE queue.done (
    LIKE queue.ready INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    state            queue.job_state NOT NULL,
    finished_at      timestamptz NOT NULL,
    lease_token      uuid
);
-- Retention walks each queue's oldest finished jobs. Lookups by id use a BRIN index: ids arrive
-- here roughly in order, and a btree would cost every completion one more index entry.
CREATE INDEX done_finished_idx ON queue.done (queue_id, finished_at);
CREATE INDEX done_id_idx ON queue.done USING brin (id) WITH (pages_per_range = 16);
COMMENT ON TABLE queue.done IS 'Done and cancelled jobs, kept for their queue''s retention. Read jobs through queue.jobs.';
COMMENT ON COLUMN queue.done.lease_token IS 'The token of the lease a done job was completed under: a complete repeated with it (a retry after a lost reply) answers true again.';

CREATE TABLE queue.dead (
    LIKE queue.ready INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    finished_at      timestamptz NOT NULL
);
ALTER TABLE queue.dead ADD CONSTRAINT dead_pkey PRIMARY KEY (id);
CREATE INDEX dead_queue_idx ON queue.dead (queue_id, finished_at);
COMMENT ON TABLE queue.dead IS 'Jobs whose attempts ran out (the dead letters): kept until queue.retry sends them back or queue.purge_jobs deletes them, or for their queue''s dead_retention. Read jobs through queue.jobs.';

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

-- Every job, whichever table holds it, with the columns of 0.1.0's queue.jobs table.
-- A security barrier: a reader's own conditions (a cast that fails on another tenant's payload,
-- say) run only on the rows it sees. The union sits in a subquery, because PostgreSQL flattens a
-- view that is a bare UNION ALL into its branches, barrier or not.
CREATE VIEW queue.jobs WITH (security_barrier) AS
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

-- Paused groups, naming their queue (the table keys it by id), for the readers that see the queue.
CREATE VIEW queue.paused_groups WITH (security_barrier) AS
SELECT q.name AS queue, p.group_key, p.paused_at
  FROM queue.group_pauses p JOIN queue.queues q ON q.id = p.queue_id AND queue_internal.sees(q.id, true);
COMMENT ON VIEW queue.paused_groups IS
    'Groups paused by queue.pause_group (the reader sees its queues'' only): claims hand out none of their jobs until queue.resume_group; producers may still enqueue.';

-- pg_dump keeps the jobs.
SELECT pg_catalog.pg_extension_config_dump('queue.jobs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('queue.ready', '');
SELECT pg_catalog.pg_extension_config_dump('queue.scheduled', '');
SELECT pg_catalog.pg_extension_config_dump('queue.running', '');
SELECT pg_catalog.pg_extension_config_dump('queue.done', '');
SELECT pg_catalog.pg_extension_config_dump('queue.dead', '');
SELECT pg_catalog.pg_extension_config_dump('queue.dedupe', '');
