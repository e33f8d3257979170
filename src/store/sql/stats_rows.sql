-- queue.stats' rows (src/stats/view.rs): every queue the acting role sees the figures of. Depths
-- and event figures come from shared memory; the lag is the oldest run_at among the jobs at the
-- head of the queue's first 100 groups of ready jobs (each a probe of ready_claim_idx), so reading
-- this costs the same whatever the backlog and the history.
SELECT q.name AS queue, s.ready, s.scheduled, s.running, s.dead,
       s.done_last_minute, s.done_last_hour, s.throughput, s.failures_last_hour, s.retries_last_hour,
       CASE WHEN h.oldest IS NULL THEN '0'::interval
            ELSE greatest(pg_catalog.now() - h.oldest, '0'::interval) END AS lag,
       s.mean_wait, s.mean_run, q.paused, r.rate AS rate_limit, s.counted
  FROM queue.queues q
 CROSS JOIN LATERAL queue_internal.stats(q.id) s
  LEFT JOIN queue.queue_rate_schedules rs ON rs.queue_id = q.id
 CROSS JOIN LATERAL queue_internal.rate_in_effect(q.rate_per_second, q.burst, rs, pg_catalog.now()) r
 CROSS JOIN LATERAL (
       WITH RECURSIVE groups(g) AS (
           SELECT (SELECT j.group_key FROM queue.ready j WHERE j.queue_id = q.id ORDER BY j.group_key LIMIT 1)
           UNION ALL
           SELECT (SELECT j.group_key FROM queue.ready j
                    WHERE j.queue_id = q.id AND j.group_key > groups.g ORDER BY j.group_key LIMIT 1)
             FROM groups WHERE groups.g IS NOT NULL
       )
       SELECT min(head.run_at) AS oldest
         FROM (SELECT g FROM groups WHERE g IS NOT NULL LIMIT 100) AS firsts
        CROSS JOIN LATERAL (SELECT j.run_at FROM queue.ready j
                             WHERE j.queue_id = q.id AND j.group_key = firsts.g
                             ORDER BY -(j.priority::bigint), j.run_at, j.id LIMIT 1) AS head
 ) h
 WHERE queue_internal.sees(q.id, false)
 ORDER BY q.name
