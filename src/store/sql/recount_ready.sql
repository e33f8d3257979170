-- The depths of queues $1 in queue.ready, counted while it is locked in SHARE mode, so that no
-- transaction that changes it is in progress (src/stats/recount.rs). It names no other job table:
-- the count must lock nothing but the table it counts. Queues dropped meanwhile are left out.
-- Jobs of paused groups count for their queue (they are in queue.ready under -id).
SELECT q.id, (SELECT count(*) FROM queue.ready j WHERE j.queue_id IN (q.id, -q.id))
  FROM queue.queues q
 WHERE q.id = ANY ($1::integer[])
