-- Pending jobs of queue $1 due before $3, per bucket of width $2 starting at $4 (the bucket that
-- holds now); jobs already due count in the first. Scans the queue's scheduled jobs in the window
-- only (scheduled_due_idx).
SELECT greatest(date_bin($2, s.run_at, $4), $4) AS bucket, count(*)
  FROM queue.scheduled s
 WHERE s.queue_id = $1 AND s.run_at < $3
 GROUP BY 1
