-- Start backfill $1 (queue.start_backfill): a finished or cancelled backfill of that name is
-- replaced; a live one makes this insert nothing (the caller raises 42710).
INSERT INTO queue.backfill_runs AS b (name, queue, source, key_column, batch_size, per_second, peak_per_second,
                                      off_peak_per_second, timezone, peak_days, peak_start, peak_end, lookahead,
                                      max_outstanding, payload, priority, group_key, max_attempts, rows_estimate, owner)
VALUES ($1, $2, $3::oid::regclass, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        (SELECT CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END FROM pg_catalog.pg_class c WHERE c.oid = $3),
        $19::oid::regrole)
ON CONFLICT (name) DO UPDATE
   SET queue = excluded.queue, source = excluded.source, key_column = excluded.key_column,
       batch_size = excluded.batch_size, per_second = excluded.per_second,
       peak_per_second = excluded.peak_per_second, off_peak_per_second = excluded.off_peak_per_second,
       timezone = excluded.timezone, peak_days = excluded.peak_days, peak_start = excluded.peak_start,
       peak_end = excluded.peak_end, lookahead = excluded.lookahead, max_outstanding = excluded.max_outstanding,
       payload = excluded.payload, priority = excluded.priority, group_key = excluded.group_key,
       max_attempts = excluded.max_attempts, state = 'running', next_end_id = 9223372036854775807,
       next_due = now(), rows_estimate = excluded.rows_estimate, rows_enqueued = 0, ranges_enqueued = 0,
       last_step_at = NULL, last_error = NULL, last_error_at = NULL, owner = excluded.owner,
       started_at = now(), finished_at = NULL
 WHERE b.state IN ('done', 'cancelled')
RETURNING true
