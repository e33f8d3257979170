-- Whether queue $1 has pending or running jobs, and how many (counted only when there are some).
SELECT (SELECT count(*) FROM queue.ready WHERE queue_id = $1)
     + (SELECT count(*) FROM queue.scheduled WHERE queue_id = $1)
     + (SELECT count(*) FROM queue.running WHERE queue_id = $1)
