-- The schedules due now (next_run_at passed), earliest first, at most $3, among $1 (text[]; NULL:
-- all), leaving out $2 (text[]: those whose last attempt failed a moment ago in this worker) and
-- those whose last attempt failed in the last ten seconds in any; locked, so that a second worker
-- skips them and a fire is recorded in the same transaction as its job (schedules.rs). Through
-- schedules_due_idx: a round reads only what is due, however many schedules there are.
-- Also whether the queue's grants still let the owner produce (NULL: no such queue): its role's
-- membership is read from the syscache (periodic::owner_is_admin).
SELECT s.name, s.cron, s.timezone, s.queue, s.payload, s.priority, s.group_key, s.max_attempts, s.dedupe_key,
       s.jitter, s.catch_up, s.next_fire_at, s.owner::oid,
       CASE WHEN q.id IS NOT NULL
            THEN NOT EXISTS (SELECT FROM queue.queue_grants) OR queue_internal.may(q.id, s.owner, 'produce') END
  FROM queue.schedules s
  LEFT JOIN queue.queues q ON q.name = s.queue
 WHERE NOT s.paused AND s.next_run_at <= now()
   AND ($1::text[] IS NULL OR s.name = ANY ($1::text[]))
   AND s.name <> ALL ($2::text[])
   AND coalesce(s.last_error_at, '-infinity') < now() - interval '10 seconds'
 ORDER BY s.next_run_at, s.name
 LIMIT $3
   FOR UPDATE OF s SKIP LOCKED
