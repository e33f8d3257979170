-- The queue of live or finished job $1, and whether role $2 may use privilege $3 on it (cancel
-- asks for 'produce', retry for 'admin'), and the queue's id. No row for an unknown job. A job of
-- a paused group is in queue.ready under its queue's id negated (src/api/groups.rs).
SELECT q.name, (NOT EXISTS (SELECT FROM queue.queue_grants) OR queue._may(q.id, $2, $3)), q.id
  FROM (SELECT abs(queue_id) AS queue_id FROM queue.ready WHERE id = $1
        UNION ALL SELECT queue_id FROM queue.scheduled WHERE id = $1
        UNION ALL SELECT queue_id FROM queue.running WHERE id = $1
        UNION ALL SELECT queue_id FROM queue.dead WHERE id = $1
        UNION ALL SELECT queue_id FROM queue.done WHERE id = $1) AS j
  JOIN queue.queues q ON q.id = j.queue_id
 LIMIT 1
