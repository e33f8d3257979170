-- The depths of queues $1 in job table $2 (0 ready, 1 scheduled, 2 running, 3 dead), counted
-- while that table is locked in SHARE mode, so that no transaction that changes it is in
-- progress (src/stats/recount.rs). CASE runs only the chosen table's scan.
SELECT q.id,
       CASE $2::integer
           WHEN 0 THEN (SELECT count(*) FROM queue.ready r WHERE r.queue_id = q.id)
           WHEN 1 THEN (SELECT count(*) FROM queue.scheduled s WHERE s.queue_id = q.id)
           WHEN 2 THEN (SELECT count(*) FROM queue.running x WHERE x.queue_id = q.id)
           WHEN 3 THEN (SELECT count(*) FROM queue.dead d WHERE d.queue_id = q.id)
       END
  FROM unnest($1::integer[]) AS q(id)
