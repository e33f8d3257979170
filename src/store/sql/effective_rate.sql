-- The claim rate of queue $1 at instant $2: (rate or NULL for unlimited, burst, whether the
-- schedule's peak applies; NULL without a schedule).
SELECT r.rate, r.burst, r.peak
  FROM queue.queues q
  LEFT JOIN queue.queue_rate_schedules s ON s.queue_id = q.id
 CROSS JOIN LATERAL queue_internal.rate_in_effect(q.rate_per_second, q.burst, s, $2) AS r
 WHERE q.name = $1
