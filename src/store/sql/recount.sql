-- The depths of queues $1, counted while the job tables are locked in SHARE mode, so that no
-- transaction that changes them is in progress (src/stats/recount.rs).
SELECT q.id,
       (SELECT count(*) FROM queue.ready r WHERE r.queue_id = q.id),
       (SELECT count(*) FROM queue.scheduled s WHERE s.queue_id = q.id),
       (SELECT count(*) FROM queue.running x WHERE x.queue_id = q.id),
       (SELECT count(*) FROM queue.dead d WHERE d.queue_id = q.id)
  FROM unnest($1::integer[]) AS q(id)
