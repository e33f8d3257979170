-- Dead-letter retention: delete at most $1 dead jobs older than their queue's dead_retention,
-- oldest first, through dead_queue_idx (queue_id, finished_at): only queues that set one are
-- read, and a queue with nothing past it costs one index probe. The age is checked again on the
-- row deleted, so a job retried meanwhile is never touched. Returns the count.
WITH doomed AS (
    SELECT old.id
      FROM queue.queues q
     CROSS JOIN LATERAL (
           SELECT d.id FROM queue.dead d
            WHERE d.queue_id = q.id AND d.finished_at < now() - q.dead_retention
            ORDER BY d.finished_at
            LIMIT $1) AS old
     WHERE q.dead_retention IS NOT NULL
     LIMIT $1
), gone AS (
    DELETE FROM queue.dead d USING queue.queues q
     WHERE d.id = ANY (ARRAY(SELECT id FROM doomed))
       AND q.id = d.queue_id AND d.finished_at < now() - q.dead_retention
    RETURNING 1
)
SELECT count(*) FROM gone
