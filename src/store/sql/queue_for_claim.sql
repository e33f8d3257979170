-- The settings a claim needs, with the rate that applies at $2 (the rate schedule's peak or
-- off-peak rate when the queue has one) and whether role $3 may consume from the queue.
-- $1 queue name, $2 instant, $3 calling role
SELECT q.id, q.lease, q.paused, q.max_running, q.max_running_per_group, r.rate, r.burst,
       queue._may(q.id, $3, 'consume') AS allowed
  FROM queue.queues q
  LEFT JOIN queue.rate_schedules s ON s.queue_id = q.id
 CROSS JOIN LATERAL queue._effective_rate(q.rate_per_second, q.burst, s, $2) AS r
 WHERE q.name = $1
