-- Cancel pending or running job $1: it moves to queue.done as 'cancelled' (a worker holding it
-- can no longer complete or fail it) and frees its dedupe key. Returns its id; nothing when the
-- job is already finished, does not exist, or is no longer in queue $2 (the one the caller's
-- rights were checked on: move_jobs may have moved it since). A job of a paused group is in
-- queue.ready under its queue's id negated (src/api/groups.rs): it is cancelled into its queue.
WITH r AS (DELETE FROM queue.ready WHERE id = $1 AND queue_id IN ($2, -$2) RETURNING *),
     s AS (DELETE FROM queue.scheduled WHERE id = $1 AND queue_id = $2 RETURNING *),
     l AS (DELETE FROM queue.running WHERE id = $1 AND queue_id = $2 RETURNING id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error),
gone AS (
    SELECT * FROM r UNION ALL SELECT * FROM s UNION ALL SELECT * FROM l
), kept AS (
    INSERT INTO queue.done (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error, state, finished_at)
    SELECT g.id, abs(g.queue_id), g.priority, g.attempts, g.max_attempts, g.run_at, g.enqueued_at, g.group_key, g.payload, g.dedupe_key, g.first_claimed_at, g.claimed_at, g.locked_by, g.last_error, 'cancelled', now() FROM gone g
), freed AS (
    DELETE FROM queue.dedupe d USING gone g
     WHERE g.dedupe_key IS NOT NULL AND d.queue_id = abs(g.queue_id) AND d.dedupe_key = g.dedupe_key AND d.job_id = g.id
)
SELECT id FROM gone
