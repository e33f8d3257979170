-- Lease up to $3 ready jobs of queue $1, rotating across its groups.
-- $1 queue id, $2 worker name, $3 jobs wanted, $4 lease, $5 cursor (the group served last),
-- $6 per-group cap (NULL: none), $7 the claim's instant (claimed_at; the lease starts there),
-- $8 the claiming role.
--
-- queue.ready holds due jobs only, so every group found there has work. The ring of groups is
-- walked lazily from the cursor by skip scan of ready_claim_idx (after the cursor, then wrapping
-- round to it), and only as many groups as the batch can use are visited. Each group gets an
-- equal share of the batch; jobs are handed out round by round (rn), so one tenant with a huge
-- backlog cannot starve the others. Picked rows move from ready to running in this statement.
--
-- Paused groups (queue.group_pauses) are skipped; their jobs normally are not in the ring at all:
-- pause_group parks them under the queue's id negated, and this statement parks any that reached
-- ready since (src/api/groups.rs).
--
-- A probe walks over the index entries of jobs claimed since the last vacuum at the head of the
-- group it lands in. So the default group ('') is looked for only when named groups exist (its
-- share of the batch depends on it); a queue without group keys takes it as given and pays that
-- walk once per claim, in the pick, not three times.
WITH RECURSIVE
after_cursor(g) AS (
    SELECT (SELECT r.group_key FROM queue.ready r
             WHERE r.queue_id = $1 AND r.group_key > $5 ORDER BY r.group_key LIMIT 1)
    UNION ALL
    SELECT (SELECT r.group_key FROM queue.ready r
             WHERE r.queue_id = $1 AND r.group_key > a.g ORDER BY r.group_key LIMIT 1)
      FROM after_cursor a WHERE a.g IS NOT NULL
),
up_to_cursor(g) AS (
    SELECT CASE WHEN EXISTS (SELECT FROM queue.ready r WHERE r.queue_id = $1 AND r.group_key > '')
                THEN (SELECT r.group_key FROM queue.ready r
                       WHERE r.queue_id = $1 AND r.group_key >= '' ORDER BY r.group_key LIMIT 1)
                ELSE ''
           END
    UNION ALL
    SELECT (SELECT r.group_key FROM queue.ready r
             WHERE r.queue_id = $1 AND r.group_key > u.g ORDER BY r.group_key LIMIT 1)
      FROM up_to_cursor u WHERE u.g IS NOT NULL AND u.g < $5
),
ring AS (
    SELECT g, 1 AS lap FROM after_cursor WHERE g IS NOT NULL
    UNION ALL
    SELECT g, 2 AS lap FROM up_to_cursor WHERE g IS NOT NULL AND g <= $5
),
visited AS MATERIALIZED (
    -- The ring's groups that can take jobs now, and the paused groups met on the way (jobs that
    -- reached ready after the group was paused), which this claim parks. Up to 16 of those are
    -- passed on top of the batch; a queue without paused groups visits exactly as many as before.
    SELECT r.g, r.lap, room.room, pz.paused
      FROM ring r
     CROSS JOIN LATERAL (
           SELECT r.g <> '' AND EXISTS (SELECT FROM queue.group_pauses p
                                         WHERE p.queue_id = $1 AND p.group_key = r.g) AS paused) AS pz
     CROSS JOIN LATERAL (
           SELECT CASE WHEN $6::integer IS NULL THEN $3
                       ELSE $6 - (SELECT count(*) FROM queue.running x WHERE x.queue_id = $1 AND x.group_key = r.g)
                  END AS room) AS room
     WHERE pz.paused
        OR (room.room > 0
            AND NOT (r.g <> '' AND EXISTS (SELECT FROM queue.group_state b
                                            WHERE b.queue_id = $1 AND b.group_key = r.g AND b.eligible_at > now())))
     LIMIT $3 + (SELECT count(*) FROM (SELECT FROM queue.group_pauses p WHERE p.queue_id = $1 LIMIT 16) AS p)
),
eligible AS (
    SELECT g, lap, room FROM visited WHERE NOT paused
),
to_park AS MATERIALIZED (
    -- A resume_group in progress holds its group's row: its jobs are then left alone (the lock
    -- also keeps a resume from missing jobs parked here: it waits for this claim's commit).
    SELECT p.group_key FROM queue.group_pauses p
     WHERE p.queue_id = $1 AND p.group_key = ANY (ARRAY(SELECT g FROM visited WHERE paused))
       FOR KEY SHARE SKIP LOCKED
),
parked AS (
    -- Bounded per claim; each job is parked once, so the cost is paid once per job.
    UPDATE queue.ready j SET queue_id = -$1
     WHERE j.id = ANY (ARRAY(SELECT x.id FROM queue.ready x
                              WHERE x.queue_id = $1 AND x.group_key = ANY (ARRAY(SELECT group_key FROM to_park))
                              LIMIT 1000 FOR UPDATE SKIP LOCKED))
),
share AS (
    SELECT ceil($3::numeric / greatest(count(*), 1))::bigint AS per_group FROM eligible
),
picked AS (
    SELECT p.id, p.rn, e.lap, e.g
      FROM eligible e CROSS JOIN share
     CROSS JOIN LATERAL (
           SELECT x.id, row_number() OVER () AS rn
             FROM (SELECT j.id FROM queue.ready j
                    WHERE j.queue_id = $1 AND j.group_key = e.g
                    ORDER BY -(j.priority::bigint), j.run_at, j.id
                    LIMIT least(share.per_group, e.room)
                    FOR UPDATE SKIP LOCKED) AS x
     ) AS p
),
chosen AS (
    SELECT id, rn, lap, g FROM picked ORDER BY rn, lap, g LIMIT $3
),
moved AS (
    -- ANY(ARRAY(...)) keeps this a primary-key probe per job whatever the statistics say.
    DELETE FROM queue.ready j USING chosen c
     WHERE j.id = ANY (ARRAY(SELECT id FROM chosen)) AND j.id = c.id
    RETURNING j.*, c.rn, c.lap
),
lease AS MATERIALIZED (
    SELECT gen_random_uuid() AS token
),
leased AS (
    INSERT INTO queue.running (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key,
                               payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error,
                               lease_token, lease_expires_at, claimed_by)
    SELECT m.id, m.queue_id, m.priority, m.attempts + 1, m.max_attempts, m.run_at, m.enqueued_at, m.group_key,
           m.payload, m.dedupe_key, coalesce(m.first_claimed_at, $7), $7, $2, m.last_error,
           lease.token, $7 + $4, $8
      FROM moved m, lease
)
SELECT m.id, m.payload, m.attempts + 1 AS attempts, m.priority, nullif(m.group_key, '') AS group_key, m.run_at,
       m.enqueued_at, lease.token, $7 + $4 AS lease_expires_at, m.rn, m.lap, m.group_key AS g
  FROM moved m, lease
