-- Delete up to $2 jobs of dropped queue $1 from each job table (and its dedupe keys). The first
-- pass that finds nothing left stamps the tombstone's empty_since; a job a late transaction adds
-- clears it again. Jobs of paused groups are in queue.ready under -$1 (src/api/groups.rs).
-- Returns the number of rows deleted.
WITH r AS (DELETE FROM queue.ready WHERE ctid = ANY (ARRAY(SELECT ctid FROM queue.ready WHERE queue_id IN ($1, -$1) LIMIT $2)) RETURNING 1),
     s AS (DELETE FROM queue.scheduled WHERE ctid = ANY (ARRAY(SELECT ctid FROM queue.scheduled WHERE queue_id = $1 LIMIT $2)) RETURNING 1),
     l AS (DELETE FROM queue.running WHERE ctid = ANY (ARRAY(SELECT ctid FROM queue.running WHERE queue_id = $1 LIMIT $2)) RETURNING 1),
     f AS (DELETE FROM queue.done WHERE ctid = ANY (ARRAY(SELECT ctid FROM queue.done WHERE queue_id = $1 LIMIT $2)) RETURNING 1),
     x AS (DELETE FROM queue.dead WHERE ctid = ANY (ARRAY(SELECT ctid FROM queue.dead WHERE queue_id = $1 LIMIT $2)) RETURNING 1),
     k AS (DELETE FROM queue.dedupe WHERE ctid = ANY (ARRAY(SELECT ctid FROM queue.dedupe WHERE queue_id = $1 LIMIT $2)) RETURNING 1),
     g AS (DELETE FROM queue.group_state WHERE queue_id = $1 RETURNING 1),
     n AS (SELECT (SELECT count(*) FROM r) + (SELECT count(*) FROM s) + (SELECT count(*) FROM l) + (SELECT count(*) FROM f)
                + (SELECT count(*) FROM x) + (SELECT count(*) FROM k) AS deleted),
     stamp AS (UPDATE queue.dropped_queues t
                  SET empty_since = CASE WHEN n.deleted = 0 THEN coalesce(t.empty_since, clock_timestamp()) END
                 FROM n WHERE t.queue_id = $1)
SELECT n.deleted FROM n
