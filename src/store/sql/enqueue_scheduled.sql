-- Add one job due later to queue.scheduled, or none when queue $1 does not exist or role $7
-- may not produce into it. When it comes due, the background worker (or a claim) moves it to
-- queue.ready and notifies the queue's listeners then.
-- $1 queue name, $2 payload, $3 run_at, $4 priority, $5 group key ('' for none), $6 max_attempts
-- (NULL: the queue's), $7 calling role, $8 the job's id (NULL: a new one; enqueue with a dedupe
-- key has taken one already), $9 dedupe key.
WITH q AS MATERIALIZED (
    SELECT id, name, max_attempts, notify FROM queue.queues
     WHERE name = $1 AND queue._may(id, $7, 'produce')
), ins AS (
    INSERT INTO queue.scheduled (id, queue_id, priority, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key)
    SELECT coalesce($8, nextval('queue.jobs_id_seq')), q.id, $4, coalesce($6, q.max_attempts), $3, now(), $5, $2, $9
      FROM q
    RETURNING id
)
SELECT ins.id
  FROM ins
