-- The rate backfill $1 runs at at instants $2 (timestamptz[]), in their order.
SELECT queue_internal.backfill_rate_at(b, t.at)
  FROM queue.backfill_runs b, unnest($2::timestamptz[]) WITH ORDINALITY AS t(at, n)
 WHERE b.name = $1
 ORDER BY t.n
