-- Take dedupe key $2 of queue $1 for a new job: returns the job id to use, or nothing when a live
-- job holds the key already. Producers racing on one key wait for each other here on the primary
-- key; exactly one wins.
INSERT INTO queue.dedupe (queue_id, dedupe_key, job_id)
VALUES ($1, $2, nextval('queue.jobs_id_seq'))
ON CONFLICT DO NOTHING
RETURNING job_id
