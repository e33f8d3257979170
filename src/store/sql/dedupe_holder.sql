-- The live job holding dedupe key $2 in queue $1, if any.
SELECT d.job_id FROM queue.dedupe d JOIN queue.queues q ON q.id = d.queue_id
 WHERE q.name = $1 AND d.dedupe_key = $2
