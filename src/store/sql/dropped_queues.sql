-- Queues whose jobs are still being purged, oldest drop first.
SELECT queue_id FROM queue.dropped_queues ORDER BY dropped_at LIMIT 100
