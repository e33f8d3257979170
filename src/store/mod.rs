//! The storage layer's statements: every statement that touches queue_ext's tables on the hot
//! path or in maintenance lives in `sql/` as plain SQL, headed by a comment naming its parameters.
//! Each is a `&'static str`, so `spi::exec` keeps one prepared plan per statement and backend.
//! A storage change is confined to this folder, `sql/` at the crate root and the upgrade script.

pub const BACKFILL_ALTER: &str = include_str!("sql/backfill_alter.sql");
pub const BACKFILL_CANCEL: &str = include_str!("sql/backfill_cancel.sql");
pub const BACKFILL_DUE: &str = include_str!("sql/backfill_due.sql");
pub const BACKFILL_ENQUEUE: &str = include_str!("sql/backfill_enqueue.sql");
pub const BACKFILL_OUTSTANDING: &str = include_str!("sql/backfill_outstanding.sql");
pub const BACKFILL_PARK: &str = include_str!("sql/backfill_park.sql");
pub const BACKFILL_RATE: &str = include_str!("sql/backfill_rate.sql");
pub const BACKFILL_SOURCE: &str = include_str!("sql/backfill_source.sql");
pub const BACKFILL_START: &str = include_str!("sql/backfill_start.sql");
pub const BACKFILL_STEPPED: &str = include_str!("sql/backfill_stepped.sql");
pub const BACKFILL_UNPARK: &str = include_str!("sql/backfill_unpark.sql");
pub const CANCEL: &str = include_str!("sql/cancel.sql");
pub const CLAIM: &str = include_str!("sql/claim.sql");
pub const CLAIM_DEFAULT: &str = include_str!("sql/claim_default.sql");
pub const COMPLETE: &str = include_str!("sql/complete.sql");
pub const COUNT_RUNNING: &str = include_str!("sql/count_running.sql");
pub const DEDUPE_HOLDER: &str = include_str!("sql/dedupe_holder.sql");
pub const DROP_QUEUE: &str = include_str!("sql/drop_queue.sql");
pub const DROPPED_QUEUES: &str = include_str!("sql/dropped_queues.sql");
pub const EFFECTIVE_RATE: &str = include_str!("sql/effective_rate.sql");
pub const EXPIRED_ALL: &str = include_str!("sql/expired_all.sql");
pub const EXPIRED_QUEUE: &str = include_str!("sql/expired_queue.sql");
pub const FAIL: &str = include_str!("sql/fail.sql");
pub const HEARTBEAT: &str = include_str!("sql/heartbeat.sql");
pub const HISTOGRAM_DUE: &str = include_str!("sql/histogram_due.sql");
pub const INSERT_MANY_READY: &str = include_str!("sql/insert_many_ready.sql");
pub const INSERT_MANY_SCHEDULED: &str = include_str!("sql/insert_many_scheduled.sql");
pub const INSERT_READY: &str = include_str!("sql/insert_ready.sql");
pub const INSERT_SCHEDULED: &str = include_str!("sql/insert_scheduled.sql");
pub const JOB_QUEUE: &str = include_str!("sql/job_queue.sql");
pub const LIVE_DUPLICATE_OF: &str = include_str!("sql/live_duplicate_of.sql");
pub const LIVE_JOBS: &str = include_str!("sql/live_jobs.sql");
pub const METRICS_RUNNING: &str = include_str!("sql/metrics_running.sql");
pub const NEXT_DUE: &str = include_str!("sql/next_due.sql");
pub const PROMOTE: &str = include_str!("sql/promote.sql");
pub const PROMOTE_ALL: &str = include_str!("sql/promote_all.sql");
pub const PRUNE: &str = include_str!("sql/prune.sql");
pub const PURGE: &str = include_str!("sql/purge.sql");
pub const PURGEABLE: &str = include_str!("sql/purgeable.sql");
pub const RECOUNT: &str = include_str!("sql/recount.sql");
pub const REFRESH_DUE: &str = include_str!("sql/refresh_due.sql");
pub const REFRESH_ENQUEUE: &str = include_str!("sql/refresh_enqueue.sql");
pub const REFRESH_STEPPED: &str = include_str!("sql/refresh_stepped.sql");
pub const REFRESH_UPSERT: &str = include_str!("sql/refresh_upsert.sql");
pub const RELEASE: &str = include_str!("sql/release.sql");
pub const RETRY_ONE: &str = include_str!("sql/retry_one.sql");
pub const RETRY_QUEUE: &str = include_str!("sql/retry_queue.sql");
pub const SCHEDULE_FIRED: &str = include_str!("sql/schedule_fired.sql");
pub const SCHEDULE_UPSERT: &str = include_str!("sql/schedule_upsert.sql");
pub const SCHEDULES_DUE: &str = include_str!("sql/schedules_due.sql");
pub const SCHEDULES_LOCK: &str = include_str!("sql/schedules_lock.sql");
pub const TAKE_DEDUPE_KEY: &str = include_str!("sql/take_dedupe_key.sql");
