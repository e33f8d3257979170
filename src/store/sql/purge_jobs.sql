-- purge_jobs: delete at most $8 finished jobs of queue $1 that finished more than $5 ago,
-- oldest first, through each table's (queue_id, finished_at) index. Filters, NULL meaning any:
-- $2 state ('done', 'cancelled' or 'dead'), $3 group key, $4 dedupe key, $6 and $7 the id range.
-- queue.done is read by ctid (it has no btree on id). Finished jobs hold no dedupe key.
-- Returns the count.
WITH picked AS (
    SELECT p.dead, p.ctid FROM (
        (SELECT false AS dead, j.ctid, j.finished_at FROM queue.done j
          WHERE j.queue_id = $1 AND j.finished_at < now() - $5
            AND ($2::text IS NULL OR j.state::text = $2)
            AND ($3::text IS NULL OR j.group_key = $3) AND ($4::text IS NULL OR j.dedupe_key = $4)
            AND ($6::bigint IS NULL OR j.id >= $6) AND ($7::bigint IS NULL OR j.id <= $7)
          ORDER BY j.finished_at LIMIT $8)
        UNION ALL
        (SELECT true, j.ctid, j.finished_at FROM queue.dead j
          WHERE j.queue_id = $1 AND j.finished_at < now() - $5 AND coalesce($2::text, 'dead') = 'dead'
            AND ($3::text IS NULL OR j.group_key = $3) AND ($4::text IS NULL OR j.dedupe_key = $4)
            AND ($6::bigint IS NULL OR j.id >= $6) AND ($7::bigint IS NULL OR j.id <= $7)
          ORDER BY j.finished_at LIMIT $8)) AS p
     ORDER BY p.finished_at
     LIMIT $8
), f AS (
    DELETE FROM queue.done j WHERE j.ctid = ANY (ARRAY(SELECT ctid FROM picked WHERE NOT dead))
    RETURNING 1
), x AS (
    DELETE FROM queue.dead j WHERE j.ctid = ANY (ARRAY(SELECT ctid FROM picked WHERE dead))
    RETURNING 1
)
SELECT (SELECT count(*) FROM f) + (SELECT count(*) FROM x)
