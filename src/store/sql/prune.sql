-- Retention: delete done and cancelled jobs older than their queue's retention, oldest first, at
-- most $1. Rows are picked by ctid (queue.done has no btree on id) and the age is checked again
-- on the row deleted, so a job that was retried meanwhile is never touched.
-- $2, $3: queue ids and, for each, the finished_at the last prune of that queue reached: the scan
-- starts there, not at the head of the index, where entries of rows already pruned stay until
-- VACUUM (and under a held xmin horizon, for as long as it is held). The background worker
-- passes none from time to time, to catch rows committed late with an older finished_at.
-- Returns the count, and per queue the latest finished_at pruned.
WITH bounds AS (
    SELECT * FROM unnest($2::integer[], $3::timestamptz[]) AS b(queue_id, from_at)
), doomed AS (
    SELECT old.ctid
      FROM queue.queues q
      LEFT JOIN bounds b ON b.queue_id = q.id
     CROSS JOIN LATERAL (
           SELECT d.ctid FROM queue.done d
            WHERE d.queue_id = q.id AND d.finished_at >= coalesce(b.from_at, '-infinity')
              AND d.finished_at < now() - q.retention
            ORDER BY d.finished_at
            LIMIT $1) AS old
     LIMIT $1
), gone AS (
    DELETE FROM queue.done d USING queue.queues q
     WHERE d.ctid = ANY (ARRAY(SELECT ctid FROM doomed))
       AND q.id = d.queue_id AND d.finished_at < now() - q.retention
    RETURNING d.queue_id, d.finished_at
), reached AS (
    SELECT queue_id, max(finished_at) AS finished_at FROM gone GROUP BY queue_id
)
SELECT (SELECT count(*) FROM gone),
       (SELECT array_agg(queue_id ORDER BY queue_id) FROM reached),
       (SELECT array_agg(finished_at ORDER BY queue_id) FROM reached)
