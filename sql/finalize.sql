-- Privileges and documentation, applied after every function exists.
-- PUBLIC gets nothing; the three roles get exactly their part of the API. Jobs are read through the
-- queue.jobs view (which shows a lease token only to the role that claimed the job), never from
-- the job tables themselves; nothing is writable except through the SECURITY DEFINER functions.
-- queue_maintainer, the background worker's identity, may change queue_ext's tables and nothing else.

GRANT queue_producer, queue_worker TO queue_admin;

REVOKE ALL ON SCHEMA queue, queue_internal FROM PUBLIC;
GRANT USAGE ON SCHEMA queue TO queue_admin, queue_producer, queue_worker, queue_maintainer;

REVOKE ALL ON ALL TABLES IN SCHEMA queue FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA queue FROM PUBLIC;
-- The tables keyed by a queue's internal id are read through views that name the queue.
GRANT SELECT ON queue.queues, queue.jobs, queue.worker_status, queue.groups, queue.rate_schedules, queue.grants
   TO queue_admin, queue_producer, queue_worker;
GRANT SELECT ON queue.schedules, queue.spread_refreshes, queue.backfills TO queue_admin;
-- Monitoring: the queue roles and pg_monitor (what exporters usually run as) read the figures.
GRANT USAGE ON SCHEMA queue TO pg_monitor;
-- The views and policies these roles read call queue_internal's functions as the reader.
GRANT USAGE ON SCHEMA queue_internal TO queue_admin, queue_producer, queue_worker, queue_maintainer, pg_monitor;
GRANT SELECT ON queue.stats, queue.workers TO queue_admin, queue_producer, queue_worker, pg_monitor;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA queue TO queue_maintainer;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA queue TO queue_maintainer;

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

-- Trigger options are checked when the trigger is created, not only when it first fires. SECURITY
-- INVOKER: the check is made for the role creating the trigger (it needs produce on the queue). It
-- runs for every CREATE TRIGGER of every role, so it names queue_ext's objects through catalogs
-- anyone may read (a regprocedure literal would need USAGE on schema queue).
CREATE FUNCTION queue.enqueue_trigger_ddl() RETURNS event_trigger
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
CREATE EVENT TRIGGER queue_enqueue_trigger_check ON ddl_command_end
    WHEN TAG IN ('CREATE TRIGGER')
    EXECUTE FUNCTION queue.enqueue_trigger_ddl();

-- The trigger function is SECURITY INVOKER: it builds each job's payload with the rights of whoever
-- changes the table, and takes the extension owner's rights only for its own INSERT (trigger.rs).
ALTER FUNCTION queue.enqueue_trigger() SET search_path = pg_catalog, pg_temp;


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

COMMENT ON SCHEMA queue IS 'queue_ext: a job queue that lives inside PostgreSQL.';
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
-- The 0.2.0 names 0.3.0 renamed: deprecated aliases (src/api/deprecated.rs), dropped in 0.4.0.
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

-- The background worker of this database starts as soon as this CREATE EXTENSION commits.
SELECT queue_internal.wake_launcher();
-- What an earlier install of this database left in shared memory (DROP EXTENSION, then CREATE
-- EXTENSION, as pg_restore --clean does) is forgotten: queue ids start over.
SELECT queue_internal.stats_reset();
