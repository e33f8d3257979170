-- The queue of live or finished job $1, and whether role $2 may use privilege $3 on it (cancel
-- asks for 'produce', retry for 'admin'). No row for an unknown job.
SELECT q.name, queue._may(q.id, $2, $3)
  FROM (SELECT queue_id FROM queue.ready WHERE id = $1
        UNION ALL SELECT queue_id FROM queue.scheduled WHERE id = $1
        UNION ALL SELECT queue_id FROM queue.running WHERE id = $1
        UNION ALL SELECT queue_id FROM queue.dead WHERE id = $1
        UNION ALL SELECT queue_id FROM queue.done WHERE id = $1) AS j
  JOIN queue.queues q ON q.id = j.queue_id
 LIMIT 1
