-- Running jobs of queue $1 (for max_running).
SELECT count(*) FROM queue.running WHERE queue_id = $1
