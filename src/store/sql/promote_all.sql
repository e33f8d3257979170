-- The background worker's promotion: up to $1 due jobs of every queue move from scheduled to
-- ready, and each queue that got any is notified (once, at commit). Returns (moved, notified,
-- the queues that got any).
WITH due AS (
    DELETE FROM queue.scheduled s
     WHERE s.id IN (SELECT d.id FROM queue.scheduled d
                     WHERE d.run_at <= now()
                     ORDER BY d.run_at LIMIT $1 FOR UPDATE SKIP LOCKED)
       AND s.run_at <= now()
    RETURNING s.*
), moved AS (
    INSERT INTO queue.ready (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error)
    SELECT id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error FROM due RETURNING queue_id
), notified AS (
    SELECT pg_notify('queue_' || q.name, q.name)
      FROM queue.queues q
     WHERE q.notify AND q.id IN (SELECT DISTINCT queue_id FROM moved)
)
SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM notified),
       (SELECT array_agg(DISTINCT queue_id) FROM moved)
