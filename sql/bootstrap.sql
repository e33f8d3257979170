-- queue_ext bootstrap: roles and the types the Rust functions name. Loaded before anything else.
-- Every object lives in schema `queue` (the control file pins it; the extension is not relocatable).
-- Storage is split by concern: queues.sql (queues, settings, grants), jobs.sql (the job tables and
-- the queue.jobs view), worker.sql (what the background worker reports), finalize.sql (privileges).

-- Roles are cluster-wide and may already exist from an install in another database.
-- queue_maintainer is the identity the background worker takes for its maintenance statements:
-- not a superuser, it may only change queue_ext's own tables.
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
    -- It reads and changes every tenant's rows: the read-isolation policies (finalize.sql) are
    -- for the queue roles.
    -- (Only when needed: two databases installing at once would update the role concurrently.)
    IF NOT (SELECT rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = 'queue_maintainer') THEN
        ALTER ROLE queue_maintainer BYPASSRLS;
    END IF;
END
$roles$;

-- What the API's functions, views and policies use but no one calls: kept out of schema queue so
-- that \df queue.* lists the API and nothing else. Only the roles whose views and policies call
-- these may look them up; each function's EXECUTE is granted in finalize.sql.
CREATE SCHEMA queue_internal;
COMMENT ON SCHEMA queue_internal IS 'queue_ext''s internal functions: not an API, they change without notice.';

CREATE TYPE queue.job_state AS ENUM ('pending', 'running', 'done', 'dead', 'cancelled');
COMMENT ON TYPE queue.job_state IS
    'Life cycle of a job: pending (possibly scheduled for later), running (leased), then one of the finished states done, dead (attempts exhausted or discarded) or cancelled.';

-- What queue.claim returns for each job.
CREATE TYPE queue.claimed_job AS (
    id               bigint,
    queue            text,
    payload          jsonb,
    attempts         integer,
    priority         integer,
    group_key        text,
    run_at           timestamptz,
    enqueued_at      timestamptz,
    lease_token      uuid,
    lease_expires_at timestamptz
);
COMMENT ON TYPE queue.claimed_job IS
    'A job handed to a worker: pass id and lease_token back to complete, fail, heartbeat or release.';
