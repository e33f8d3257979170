-- Retune backfill $1 (queue.alter_backfill): NULL keeps a setting; $6, $8, $10, $16 reset
-- max_outstanding, the peak rate, the off-peak rate and the whole peak schedule; $15 starts a
-- peak schedule with the defaults (mon-fri, 9-17) where none was set.
UPDATE queue.backfill_runs
   SET batch_size = coalesce($2, batch_size),
       per_second = coalesce($3, per_second),
       lookahead = coalesce($4, lookahead),
       max_outstanding = CASE WHEN $6 THEN NULL ELSE coalesce($5, max_outstanding) END,
       peak_per_second = CASE WHEN $8 OR $16 THEN NULL ELSE coalesce($7, peak_per_second) END,
       off_peak_per_second = CASE WHEN $10 OR $16 THEN NULL ELSE coalesce($9, off_peak_per_second) END,
       timezone = coalesce($11, timezone),
       peak_days = CASE WHEN $16 THEN NULL ELSE coalesce($12, peak_days, CASE WHEN $15 THEN ARRAY[1, 2, 3, 4, 5] END) END,
       peak_start = CASE WHEN $16 THEN NULL ELSE coalesce($13, peak_start, CASE WHEN $15 THEN 9 END) END,
       peak_end = CASE WHEN $16 THEN NULL ELSE coalesce($14, peak_end, CASE WHEN $15 THEN 17 END) END
 WHERE name = $1
