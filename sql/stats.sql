-- Observability: what queue.stats, queue.workers and queue.metrics() read.
-- See docs/adr/002-constant-time-stats.md for why the figures live in shared memory.

-- Every statement that inserts jobs into or deletes them from a job table reports its per-queue
-- row counts (src/stats/counting.rs): statement-level, so a batch of 100 jobs is one call.
CREATE TRIGGER ready_counted_ins AFTER INSERT ON queue.ready
    REFERENCING NEW TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue_internal.count_jobs();
CREATE TRIGGER ready_counted_del AFTER DELETE ON queue.ready
    REFERENCING OLD TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue_internal.count_jobs();
CREATE TRIGGER scheduled_counted_ins AFTER INSERT ON queue.scheduled
    REFERENCING NEW TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue_internal.count_jobs();
CREATE TRIGGER scheduled_counted_del AFTER DELETE ON queue.scheduled
    REFERENCING OLD TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue_internal.count_jobs();
CREATE TRIGGER running_counted_ins AFTER INSERT ON queue.running
    REFERENCING NEW TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue_internal.count_jobs();
CREATE TRIGGER running_counted_del AFTER DELETE ON queue.running
    REFERENCING OLD TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue_internal.count_jobs();
CREATE TRIGGER dead_counted_ins AFTER INSERT ON queue.dead
    REFERENCING NEW TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue_internal.count_jobs();
CREATE TRIGGER dead_counted_del AFTER DELETE ON queue.dead
    REFERENCING OLD TABLE AS rows FOR EACH STATEMENT EXECUTE FUNCTION queue_internal.count_jobs();
-- queue_ext never truncates them; should a superuser, every queue is counted again.
CREATE TRIGGER ready_counted_truncate AFTER TRUNCATE ON queue.ready FOR EACH STATEMENT EXECUTE FUNCTION queue_internal.count_jobs();
CREATE TRIGGER scheduled_counted_truncate AFTER TRUNCATE ON queue.scheduled FOR EACH STATEMENT EXECUTE FUNCTION queue_internal.count_jobs();
CREATE TRIGGER running_counted_truncate AFTER TRUNCATE ON queue.running FOR EACH STATEMENT EXECUTE FUNCTION queue_internal.count_jobs();
CREATE TRIGGER dead_counted_truncate AFTER TRUNCATE ON queue.dead FOR EACH STATEMENT EXECUTE FUNCTION queue_internal.count_jobs();

-- One row per queue the reader sees (src/store/sql/stats_rows.sql). A function behind the view,
-- so that its probes are planned by queue_ext with JIT off: the planner's estimate of them on a
-- stock server passes jit_above_cost, and compiling cost a hundred times the reading.
CREATE VIEW queue.stats AS
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

-- The workers that hold leases, as named by claim's worker argument. Reads queue.running only,
-- whose size is bounded by the workers' concurrency.
CREATE VIEW queue.workers WITH (security_barrier) AS
SELECT q.name AS queue, r.locked_by AS worker, count(*) AS leases,
       pg_catalog.now() - min(r.claimed_at) AS oldest_lease_age,
       max(greatest(r.claimed_at, r.lease_expires_at - q.lease)) AS last_seen,
       min(r.lease_expires_at) AS next_expiry
  FROM queue.running r
  JOIN queue.queues q ON q.id = r.queue_id AND queue_internal.sees(q.id, false)
 GROUP BY q.name, r.locked_by;
COMMENT ON VIEW queue.workers IS
    'Workers holding leases, per queue (worker is the claim''s worker argument, NULL when none was given): how many, the oldest lease''s age, when last seen (latest claim, or heartbeat with the queue''s lease) and the next expiry.';
