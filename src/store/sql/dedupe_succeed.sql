-- A new job takes dedupe key $8 of queue $1 over from running job $7, which is left alone
-- (on_duplicate => 'replace', src/api/dedupe.rs): the key's row is matched on $7, so of several
-- producers only one makes the successor, and a job that finished meanwhile (its row deleted)
-- makes none. The job goes to ready when $3 is due (at or before now()), else to scheduled.
-- $1 queue id, $2 payload, $3 run_at, $4 priority, $5 group key ('' for none), $6 max_attempts.
-- Returns the new job's id; nothing when $7 no longer holds the key.
WITH key AS (
    UPDATE queue.dedupe d SET job_id = nextval('queue.jobs_id_seq')
     WHERE d.queue_id = $1 AND d.dedupe_key = $8 AND d.job_id = $7
       AND EXISTS (SELECT FROM queue.running r WHERE r.id = $7)
    RETURNING d.job_id
), r AS (
    INSERT INTO queue.ready (id, queue_id, priority, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key)
    SELECT job_id, $1, $4, $6, $3, now(), $5, $2, $8 FROM key WHERE $3 <= now()
    RETURNING id
), s AS (
    INSERT INTO queue.scheduled (id, queue_id, priority, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key)
    SELECT job_id, $1, $4, $6, $3, now(), $5, $2, $8 FROM key WHERE $3 > now()
    RETURNING id
)
SELECT id FROM r UNION ALL SELECT id FROM s
