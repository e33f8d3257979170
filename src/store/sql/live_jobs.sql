-- Whether queue $1 has pending or running jobs, and how many (counted only when there are some).
-- Jobs of its paused groups are in queue.ready under -$1 (src/api/groups.rs).
SELECT (SELECT count(*) FROM queue.ready WHERE queue_id IN ($1, -$1))
     + (SELECT count(*) FROM queue.scheduled WHERE queue_id = $1)
     + (SELECT count(*) FROM queue.running WHERE queue_id = $1)
