-- Lease up to $3 ready jobs of queue $1 when it has no jobs with a group key: the common case,
-- without claim.sql's rotation across groups. Scanning starts at claim key $7 (-priority),
-- $8 (run_at), $9 (id): where the previous claim stopped, past the index entries of the jobs it
-- took (src/shmem/head.rs). When the queue has jobs with a group key, nothing is claimed and a
-- single row says so (the caller then runs claim.sql).
-- $1 queue id, $2 worker name, $3 jobs wanted, $4 lease, $5 the claim's instant (claimed_at; the
-- lease starts there), $6 the claiming role, $7 $8 $9 the start.
WITH named AS MATERIALIZED (
    SELECT EXISTS (SELECT FROM queue.ready r WHERE r.queue_id = $1 AND r.group_key > '') AS groups
), picked AS (
    SELECT j.id FROM queue.ready j
     WHERE j.queue_id = $1 AND j.group_key = ''
       AND ROW(-(j.priority::bigint), j.run_at, j.id) >= ROW($7::bigint, $8::timestamptz, $9::bigint)
       AND NOT (SELECT groups FROM named)
     ORDER BY -(j.priority::bigint), j.run_at, j.id
     LIMIT $3
     FOR UPDATE SKIP LOCKED
), moved AS (
    -- ANY(ARRAY(...)) keeps this a primary-key probe per job whatever the statistics say.
    DELETE FROM queue.ready j WHERE j.id = ANY (ARRAY(SELECT id FROM picked))
    RETURNING j.*
), lease AS MATERIALIZED (
    SELECT gen_random_uuid() AS token
), leased AS (
    INSERT INTO queue.running (id, queue_id, priority, attempts, max_attempts, run_at, enqueued_at, group_key,
                               payload, dedupe_key, first_claimed_at, claimed_at, locked_by, last_error,
                               lease_token, lease_expires_at, claimed_by)
    SELECT m.id, m.queue_id, m.priority, m.attempts + 1, m.max_attempts, m.run_at, m.enqueued_at, m.group_key,
           m.payload, m.dedupe_key, coalesce(m.first_claimed_at, $5), $5, $2, m.last_error,
           lease.token, $5 + $4, $6
      FROM moved m, lease
)
SELECT true AS groups, NULL::bigint, NULL::jsonb, NULL::integer, NULL::integer, NULL::timestamptz,
       NULL::timestamptz, NULL::uuid, NULL::timestamptz
 WHERE (SELECT groups FROM named)
UNION ALL
SELECT false, m.id, m.payload, m.attempts + 1, m.priority, m.run_at, m.enqueued_at, lease.token, $5 + $4
  FROM moved m, lease
