-- alter_job of a finished job $1 (done, cancelled or dead): its payload becomes $2, for a retry
-- to run with, if it is in queue $3 (the one the caller's rights were checked on). Returns its id;
-- nothing when the job is not finished.
WITH f AS (UPDATE queue.done SET payload = $2 WHERE id = $1 AND queue_id = $3 RETURNING id),
     x AS (UPDATE queue.dead SET payload = $2 WHERE id = $1 AND queue_id = $3 RETURNING id)
SELECT id FROM f UNION ALL SELECT id FROM x
