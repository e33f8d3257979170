-- Retention: delete done and cancelled jobs older than their queue's retention, oldest first, at
-- most $1. Rows are picked by ctid (queue.done has no btree on id) and the age is checked again
-- on the row deleted, so a job that was retried meanwhile is never touched. Returns the count.
WITH doomed AS (
    SELECT old.ctid
      FROM queue.queues q
     CROSS JOIN LATERAL (
           SELECT d.ctid FROM queue.done d
            WHERE d.queue_id = q.id AND d.finished_at < now() - q.retention
            ORDER BY d.finished_at
            LIMIT $1) AS old
     LIMIT $1
), gone AS (
    DELETE FROM queue.done d USING queue.queues q
     WHERE d.ctid = ANY (ARRAY(SELECT ctid FROM doomed))
       AND q.id = d.queue_id AND d.finished_at < now() - q.retention
    RETURNING 1
)
SELECT count(*) FROM gone
