-- What the background worker of this database did: one row, updated each tick. Totals accumulate
-- across restarts. Read through queue.worker_status, which adds whether a worker serves the
-- database at all.
CREATE TABLE queue.worker_report (
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
INSERT INTO queue.worker_report DEFAULT VALUES;
COMMENT ON TABLE queue.worker_report IS
    'Internal: what the background worker of this database did, written each tick; read it through queue.worker_status.';

-- state and next_due_at are computed when read, from the pool's shared memory: a database the pool does not serve says
-- so, instead of showing a row of NULLs forever.
CREATE VIEW queue.worker_status AS
SELECT r.singleton, r.pid, r.started_at, r.last_tick_at, r.ticks, r.leases_released, r.jobs_promoted,
       r.notifications_sent, r.jobs_pruned, r.jobs_purged, r.schedules_fired, r.refresh_jobs,
       r.backfill_jobs, r.last_error, r.last_error_at, queue_internal.worker_state() AS state,
       queue_internal.worker_next_due() AS next_due_at
  FROM queue.worker_report r;
COMMENT ON VIEW queue.worker_status IS
    'The background workers'' report for this database (a pool of queue_ext.max_workers serves every database, sending a worker where work is due): the pid and start of the worker that last came, its last round, totals of leases released, scheduled jobs promoted when due, notifications sent, finished jobs pruned, jobs of dropped queues purged, cron schedules fired, jobs enqueued by spread refreshes and by backfills, the last error; state: running (a worker is here now), idle (nothing is due), waiting (work is due, a worker is on its way), or not served and why (every worker busy elsewhere for more than 10 seconds, database not in queue_ext.databases, or queue_ext not in shared_preload_libraries); and next_due_at, when something here is next due for a worker.';
