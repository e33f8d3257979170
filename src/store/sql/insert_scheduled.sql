-- Add one job to queue.scheduled: the caller has looked the queue up (catalog.rs) and checked the
-- permission. $1 queue id, $2 payload, $3 run_at, $4 priority, $5 group key ('' for none),
-- $6 max_attempts, $7 the job's id (NULL: a new one; a dedupe key has taken one already),
-- $8 dedupe key.
INSERT INTO queue.scheduled (id, queue_id, priority, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key)
VALUES (coalesce($7, nextval('queue.jobs_id_seq')), $1, $4, $6, $3, now(), $5, $2, $8)
RETURNING id
