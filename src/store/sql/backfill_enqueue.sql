-- A backfill's jobs for one step (backfill.rs): $1 queue id, $2 backfill name, $3 payload template,
-- $4 begin ids bigint[], $5 end ids bigint[], $6 due times timestamptz[] (one per range),
-- $7 priority, $8 group key, $9 max_attempts. Each job's payload is the template plus
-- {"backfill": name, "begin_id": a, "end_id": b}; a job already due goes to queue.ready, the rest
-- (at most its lookahead ahead) to queue.scheduled. Returns how many went to each.
WITH j AS (
    SELECT nextval('queue.jobs_id_seq') AS id, u.n, u.run_at,
           $3::jsonb || jsonb_build_object('backfill', $2::text, 'begin_id', u.b, 'end_id', u.e) AS payload
      FROM unnest($4::bigint[], $5::bigint[], $6::timestamptz[]) WITH ORDINALITY AS u(b, e, run_at, n)
), ready AS (
    INSERT INTO queue.ready (id, queue_id, priority, max_attempts, run_at, enqueued_at, group_key, payload)
    SELECT j.id, $1, $7, $9, j.run_at, now(), $8, j.payload FROM j WHERE j.run_at <= now() ORDER BY j.n
    RETURNING id
), scheduled AS (
    INSERT INTO queue.scheduled (id, queue_id, priority, max_attempts, run_at, enqueued_at, group_key, payload)
    SELECT j.id, $1, $7, $9, j.run_at, now(), $8, j.payload FROM j WHERE j.run_at > now() ORDER BY j.n
    RETURNING id
)
SELECT (SELECT count(*) FROM ready), (SELECT count(*) FROM scheduled)
