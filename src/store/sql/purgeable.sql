-- Tombstones of dropped queues whose jobs are all gone and which no transaction that could still
-- add a job to them outlives: every transaction open now began after the purge first found the
-- queue empty (empty_since). Such tombstones go. (Reading every backend's xact_start needs
-- pg_read_all_stats, which queue_maintainer is granted.)
DELETE FROM queue.dropped_queues t
 WHERE t.empty_since IS NOT NULL
   AND t.empty_since < coalesce((SELECT min(xact_start) FROM pg_catalog.pg_stat_activity), 'infinity')
   AND t.empty_since < coalesce((SELECT min(prepared) FROM pg_catalog.pg_prepared_xacts), 'infinity')
RETURNING t.queue_id
