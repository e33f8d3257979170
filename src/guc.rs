//! Settings (GUCs), all in one place with typed accessors. Documented in the README's table.

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;
use std::time::Duration;

static DATABASE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"postgres"));
static TICK_MS: GucSetting<i32> = GucSetting::<i32>::new(1000);
static BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(1000);

pub fn register() {
    GucRegistry::define_string_guc(
        c"queue_ext.database",
        c"Database the queue_ext background worker serves.",
        c"The worker connects at server start; changing it needs a restart.",
        &DATABASE,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"queue_ext.tick",
        c"Time between two rounds of the queue_ext background worker.",
        c"Each round releases expired leases, notifies queues whose scheduled jobs became due and prunes finished jobs past retention.",
        &TICK_MS,
        10,
        3_600_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"queue_ext.batch_size",
        c"Rows the background worker changes per transaction (lease expiry, retention).",
        c"Each batch commits on its own, so no transaction holds back the xmin horizon for long; a step repeats batches for up to 40% of a tick.",
        &BATCH_SIZE,
        1,
        1_000_000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    // SAFETY: called from _PG_init; warns about misspelt queue_ext.* settings.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"queue_ext".as_ptr()) };
}

pub fn database() -> String {
    DATABASE.get().map(|c| c.to_string_lossy().into_owned()).unwrap_or_else(|| "postgres".to_owned())
}

pub fn tick() -> Duration {
    Duration::from_millis(TICK_MS.get().max(10) as u64)
}

pub fn batch_size() -> i64 {
    BATCH_SIZE.get().max(1) as i64
}
