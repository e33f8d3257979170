-- Give pending job $1 of queue $2 payload $3 (on_duplicate => 'replace', src/api/dedupe.rs).
-- Without $4 the job stays where it is (a job of a paused group too: its queue id is -$2 while
-- parked); with $4 (debounce: a run_at later than now()) it becomes due then, so a ready job
-- moves to queue.scheduled. Returns where the job was found: 'ready', 'scheduled', 'running' (not
-- touched) or NULL (it moved or finished meanwhile), and for a ready default-group job updated in
-- place its priority and run_at (its claim key, for src/heads.rs).
WITH in_ready AS (
    UPDATE queue.ready j SET payload = $3
     WHERE j.id = $1 AND j.queue_id IN ($2, -$2) AND $4::timestamptz IS NULL
    RETURNING j.queue_id, j.group_key, j.priority, j.run_at
), from_ready AS (
    DELETE FROM queue.ready j
     WHERE j.id = $1 AND j.queue_id IN ($2, -$2) AND $4::timestamptz IS NOT NULL
    RETURNING j.*
), to_scheduled AS (
    INSERT INTO queue.scheduled (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT id, $2, priority, attempts, max_attempts, $4, enqueued_at, group_key, $3, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error
      FROM from_ready
), in_scheduled AS (
    UPDATE queue.scheduled j SET payload = $3, run_at = coalesce($4::timestamptz, j.run_at)
     WHERE j.id = $1 AND j.queue_id = $2
    RETURNING 1
)
SELECT CASE WHEN EXISTS (SELECT FROM in_ready) THEN 'ready'
            WHEN EXISTS (SELECT FROM from_ready) OR EXISTS (SELECT FROM in_scheduled) THEN 'scheduled'
            WHEN EXISTS (SELECT FROM queue.running r WHERE r.id = $1 AND r.queue_id = $2) THEN 'running'
       END,
       (SELECT priority FROM in_ready WHERE queue_id > 0 AND group_key = ''),
       (SELECT run_at FROM in_ready WHERE queue_id > 0 AND group_key = '')
