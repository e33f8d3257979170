-- Remove queue $1 (id $2) and everything keyed by it except its jobs, and leave a tombstone from
-- which the background worker purges the jobs in bounded batches. Jobs name their queue by id and
-- ids are never reused, so a queue created again under the same name starts empty at once.
WITH q AS (DELETE FROM queue.queues WHERE id = $2 RETURNING id, name),
     g AS (DELETE FROM queue.queue_grants WHERE queue_id = $2),
     r AS (DELETE FROM queue.queue_rate_schedules WHERE queue_id = $2),
     b AS (DELETE FROM queue.group_state WHERE queue_id = $2),
     p AS (DELETE FROM queue.group_pauses WHERE queue_id = $2)
INSERT INTO queue.dropped_queues (queue_id, name) SELECT id, name FROM q
ON CONFLICT (queue_id) DO NOTHING
RETURNING queue_id
