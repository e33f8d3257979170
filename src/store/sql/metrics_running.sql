-- Leased jobs per queue, group and worker, for queue.metrics(): as many rows as there are running
-- jobs at most, so bounded by the workers' concurrency whatever the backlog. Only the queues the
-- acting role sees the figures of.
SELECT q.name, nullif(r.group_key, ''), r.locked_by, count(*)
  FROM queue.running r JOIN queue.queues q ON q.id = r.queue_id AND queue_internal.sees(q.id, false)
 GROUP BY 1, 2, 3
 ORDER BY 1, 2, 3
