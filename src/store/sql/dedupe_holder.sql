-- The live job holding dedupe key $2 in queue $1, if any.
SELECT job_id FROM queue.dedupe WHERE queue_id = $1 AND dedupe_key = $2
