-- What the background worker of this database did: one row, updated each tick. Totals accumulate
-- across restarts.
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
