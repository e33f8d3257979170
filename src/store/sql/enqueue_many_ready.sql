-- Add many jobs that are due now to queue.ready in one statement, in payload order (RETURNING
-- follows the insert order of the ordered SELECT); none when queue $1 does not exist or role $7
-- may not produce into it. One notification, at commit.
-- $1 queue name, $2 payloads jsonb[], $3 run_at, $4 priority, $5 group key ('' for none),
-- $6 max_attempts (NULL: the queue's), $7 calling role.
WITH q AS MATERIALIZED (
    SELECT id, name, max_attempts, notify FROM queue.queues
     WHERE name = $1 AND queue._may(id, $7, 'produce')
), ins AS (
    INSERT INTO queue.ready (id, queue_id, priority, max_attempts, run_at, enqueued_at, group_key, payload)
    SELECT nextval('queue.jobs_id_seq'), q.id, $4, coalesce($6, q.max_attempts), $3, now(), $5, p.payload
      FROM q, unnest($2::jsonb[]) WITH ORDINALITY AS p(payload, n)
     ORDER BY p.n
    RETURNING id
)
SELECT ins.id,
       (SELECT pg_notify('queue_' || q.name, q.name) FROM q WHERE q.notify)::text
  FROM ins
