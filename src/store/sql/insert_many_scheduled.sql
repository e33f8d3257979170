-- Add many jobs to queue.scheduled in one statement; ids come back in payload order (RETURNING follows
-- the insert order of the ordered SELECT). $1 queue id, $2 payloads jsonb[], $3 run_at,
-- $4 priority, $5 group key ('' for none), $6 max_attempts.
INSERT INTO queue.scheduled (id, queue_id, priority, max_attempts, run_at, enqueued_at, group_key, payload)
SELECT nextval('queue.jobs_id_seq'), $1, $4, $6, $3, now(), $5, p.payload
  FROM unnest($2::jsonb[]) WITH ORDINALITY AS p(payload, n)
 ORDER BY p.n
RETURNING id
