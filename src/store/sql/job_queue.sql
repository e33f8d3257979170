-- The queue of live or finished job $1, and whether role $2 may use privilege $3 on it (cancel
-- asks for 'produce', retry for 'admin'), the queue's id, and whether the acting role sees the
-- queue at all (a job of a queue it does not see is answered as unknown: its queue is not named).
-- No row for an unknown job. A job of a paused group is in queue.ready under its queue's id
-- negated (src/api/groups.rs).
SELECT q.name, (NOT EXISTS (SELECT FROM queue.queue_grants) OR queue_internal.may(q.id, $2, $3)), q.id,
       queue_internal.sees(q.id, true)
  FROM (SELECT abs(queue_id) AS queue_id FROM queue.ready WHERE id = $1
        UNION ALL SELECT queue_id FROM queue.scheduled WHERE id = $1
        UNION ALL SELECT queue_id FROM queue.running WHERE id = $1
        UNION ALL SELECT queue_id FROM queue.dead WHERE id = $1
        UNION ALL SELECT queue_id FROM queue.done WHERE id = $1) AS j
  JOIN queue.queues q ON q.id = j.queue_id
 LIMIT 1
