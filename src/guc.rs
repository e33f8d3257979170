//! Settings (GUCs), all in one place with typed accessors. Documented in the README's table.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;
use std::time::Duration;

static DATABASES: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static DATABASE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static TICK_MS: GucSetting<i32> = GucSetting::<i32>::new(1000);
static BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(1000);
static SOURCE_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(30_000);
static MAX_WORKERS: GucSetting<i32> = GucSetting::<i32>::new(2);
static RESERVED_WORKER_SLOTS: GucSetting<i32> = GucSetting::<i32>::new(2);
static WORKER_LINGER_MS: GucSetting<i32> = GucSetting::<i32>::new(5_000);

pub fn register() {
    GucRegistry::define_string_guc(
        c"queue_ext.databases",
        c"Databases the queue_ext background workers serve (comma-separated); empty: every database where the extension is installed.",
        c"The launcher dispatches its pool of workers (queue_ext.max_workers) to every database that allows connections, is not a template and has the extension installed.",
        &DATABASES,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"queue_ext.database",
        c"Deprecated (0.1.0): a single database to serve; use queue_ext.databases.",
        c"When set and queue_ext.databases is empty, only this database is served.",
        &DATABASE,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"queue_ext.tick",
        c"Longest time between two rounds of a queue_ext background worker.",
        c"Each round releases expired leases, fires due cron schedules, steps spread refreshes (one tick ahead) and backfills (a window ahead), moves scheduled jobs that came due to ready (notifying their queues), purges dropped queues and prunes finished jobs past retention. A worker also wakes when the earliest scheduled job or schedule comes due.",
        &TICK_MS,
        10,
        3_600_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"queue_ext.batch_size",
        c"Rows the background worker changes per transaction (lease expiry, promotion, retention, purges).",
        c"Each batch commits on its own, so no transaction holds back the xmin horizon for long; a step repeats batches for up to 40% of a tick.",
        &BATCH_SIZE,
        1,
        1_000_000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"queue_ext.source_timeout",
        c"Longest time the background worker spends in one read of a spread refresh's or backfill's source.",
        c"The read runs its owner's code (casts, policies, index expressions): past this it is cancelled and the failure recorded on the refresh or backfill; code that ignores the cancel for another second ends the worker, which the launcher restarts. Superuser only; the worker reads it at start (per-database settings) and on reload.",
        &SOURCE_TIMEOUT_MS,
        10,
        3_600_000,
        GucContext::Suset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"queue_ext.max_workers",
        c"Most background workers queue_ext runs at once for all databases, besides its launcher.",
        c"The launcher sends a worker to a database only when something there is due, as autovacuum does; each takes a max_worker_processes slot while it runs.",
        &MAX_WORKERS,
        1,
        256,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"queue_ext.reserved_worker_slots",
        c"Background worker slots (max_worker_processes) the launcher always leaves free for others.",
        c"Parallel query, logical replication and other extensions take their workers from the same max_worker_processes slots: the launcher starts no worker that would leave fewer free than this.",
        &RESERVED_WORKER_SLOTS,
        0,
        1024,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"queue_ext.worker_linger",
        c"How long a worker stays in a database after it arrived or last found work there, while no other database waits for one.",
        c"Staying saves starting a process for work that comes back soon; a worker leaves at once when another database waits, and as soon as this has passed with nothing due within it.",
        &WORKER_LINGER_MS,
        0,
        86_400_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    // SAFETY: called from _PG_init; warns about misspelt queue_ext.* settings.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"queue_ext".as_ptr()) };
}

/// The databases to serve, by name; None means every database with the extension.
pub fn databases() -> Option<Vec<String>> {
    let text = |s: &GucSetting<Option<CString>>| s.get().map(|c| c.to_string_lossy().into_owned());
    let list = text(&DATABASES).filter(|s| !s.trim().is_empty()).or_else(|| text(&DATABASE))?;
    let names: Vec<String> = list.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    (!names.is_empty()).then_some(names)
}

/// The setting `databases()` read its list from: queue_ext.databases, or the deprecated
/// queue_ext.database when only that one is set (what a message should tell the DBA to change).
pub fn databases_setting() -> &'static str {
    let set = DATABASES.get().is_some_and(|c| !c.to_string_lossy().trim().is_empty());
    if set || DATABASE.get().is_none() {
        "queue_ext.databases"
    } else {
        "queue_ext.database"
    }
}

pub fn tick() -> Duration {
    Duration::from_millis(TICK_MS.get().max(10) as u64)
}

pub fn tick_micros() -> i64 {
    TICK_MS.get().max(10) as i64 * 1000
}

pub fn batch_size() -> i64 {
    BATCH_SIZE.get().max(1) as i64
}

/// How long one read of a user's source may take (queue_ext.source_timeout), in milliseconds.
pub fn source_timeout_ms() -> i32 {
    SOURCE_TIMEOUT_MS.get().max(10)
}

/// queue_ext.max_workers: the pool's size.
pub fn max_workers() -> usize {
    MAX_WORKERS.get().max(1) as usize
}

/// queue_ext.reserved_worker_slots: background worker slots left to others.
pub fn reserved_worker_slots() -> i32 {
    RESERVED_WORKER_SLOTS.get().max(0)
}

/// queue_ext.worker_linger.
pub fn worker_linger() -> Duration {
    Duration::from_millis(WORKER_LINGER_MS.get().max(0) as u64)
}
