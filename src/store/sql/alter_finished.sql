-- alter_job of a finished job $1 (done, cancelled or dead): its payload becomes $2, for a retry
-- to run with. Returns its id; nothing when the job is not finished.
WITH f AS (UPDATE queue.done SET payload = $2 WHERE id = $1 RETURNING id),
     x AS (UPDATE queue.dead SET payload = $2 WHERE id = $1 RETURNING id)
SELECT id FROM f UNION ALL SELECT id FROM x
