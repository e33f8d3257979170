-- A spread refresh's jobs for the keys of one window (refresh.rs): $1 queue id, $2 refresh name,
-- $3 payload template, $4 keys text[] (distinct), $5 their slots timestamptz[], $6 their batch
-- numbers integer[] (NULL: one job per key), $7 priority, $8 group key ('' for none),
-- $9 max_attempts.
-- One job per key carries {"refresh": name, "key": key} and the dedupe key
-- 'refresh:<name>:<key>', so a key whose previous job is still pending or running gets no new
-- one; a batch job carries {"refresh": name, "keys": [...]} and no dedupe key. A job whose slot
-- has come goes to queue.ready, a later one (the worker looks one tick ahead) to queue.scheduled.
-- Returns the jobs made ready and scheduled, the keys skipped, and the first ready job's run_at
-- and id (for the claim hints).
WITH k AS (
    SELECT * FROM unnest($4::text[], $5::timestamptz[], $6::integer[]) WITH ORDINALITY AS k(key, run_at, batch, n)
), wanted AS (
    SELECT $3::jsonb || jsonb_build_object('refresh', $2::text, 'key', k.key) AS payload, k.run_at,
           'refresh:' || $2::text || ':' || k.key AS dedupe_key, k.n
      FROM k WHERE $6::integer[] IS NULL
    UNION ALL
    SELECT $3::jsonb || jsonb_build_object('refresh', $2::text, 'keys', jsonb_agg(k.key ORDER BY k.n)),
           max(k.run_at), NULL, min(k.n)
      FROM k WHERE $6::integer[] IS NOT NULL
     GROUP BY k.batch
), taken AS (
    INSERT INTO queue.dedupe (queue_id, dedupe_key, job_id)
    SELECT $1, w.dedupe_key, nextval('queue.jobs_id_seq') FROM wanted w WHERE w.dedupe_key IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING dedupe_key, job_id
), new AS (
    SELECT coalesce(t.job_id, nextval('queue.jobs_id_seq')) AS id, w.payload, w.run_at, w.dedupe_key, w.n
      FROM wanted w LEFT JOIN taken t ON t.dedupe_key = w.dedupe_key
     WHERE w.dedupe_key IS NULL OR t.job_id IS NOT NULL
), ready AS (
    INSERT INTO queue.ready (id, queue_id, priority, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key)
    SELECT n.id, $1, $7, $9, n.run_at, now(), $8, n.payload, n.dedupe_key FROM new n
     WHERE n.run_at <= now() ORDER BY n.n
    RETURNING id, run_at
), scheduled AS (
    INSERT INTO queue.scheduled (id, queue_id, priority, max_attempts, run_at, enqueued_at, group_key, payload, dedupe_key)
    SELECT n.id, $1, $7, $9, n.run_at, now(), $8, n.payload, n.dedupe_key FROM new n
     WHERE n.run_at > now() ORDER BY n.n
    RETURNING id
), first AS (
    SELECT run_at, id FROM ready ORDER BY run_at, id LIMIT 1
)
SELECT (SELECT count(*) FROM ready), (SELECT count(*) FROM scheduled),
       (SELECT count(*) FROM wanted) - (SELECT count(*) FROM new),
       (SELECT run_at FROM first), (SELECT id FROM first)
