//! queue_ext: a job queue that lives inside PostgreSQL.
//!
//! Tables and types are plain SQL (`sql/`); the statements that use them live in `store/`; the API
//! is Rust (`api/`), one module per concern. See README.md and docs/adr/.

// Functions return pgrx's ErrorReport, which is large; an error is raised once per call, so its
// size costs nothing that matters.
#![allow(clippy::result_large_err)]

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

mod api;
mod backoff;
mod catalog;
mod clock;
mod compat;
mod datum;
mod error;
mod guc;
mod heads;
mod legacy;
mod maintenance;
mod notify;
mod periodic;
mod pool_hints;
mod security;
mod shmem;
mod spi;
mod spread;
mod srf;
mod stats;
mod store;
mod trigger_options;
mod validate;
mod visibility;
mod worker;

extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!("../sql/queues.sql", name = "queues", requires = ["bootstrap", visibility::queue_sees]);
extension_sql_file!("../sql/jobs.sql", name = "jobs", requires = ["queues", visibility::queue_sees]);
extension_sql_file!(
    "../sql/worker.sql",
    name = "worker",
    requires = ["bootstrap", worker::queue_worker_state, worker::queue_worker_next_due]
);
extension_sql_file!("../sql/periodic.sql", name = "periodic", requires = ["jobs"]);
extension_sql_file!(
    "../sql/stats.sql",
    name = "stats",
    requires =
        ["jobs", "queues", stats::counting::queue_count_jobs, stats::queue_stats_of, stats::view::queue_stats_all]
);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

/// Schema `queue_internal` (created by bootstrap.sql, which says why): the functions that name it
/// in `#[pg_extern(schema = ...)]` need pgrx to know it exists.
#[pg_schema]
mod queue_internal {}

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

#[allow(non_snake_case)]
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // pgrx captures a Rust backtrace (std's Backtrace::capture) at every panic, which is how any
    // ERROR raised in or through Rust code travels, and prints it in the error's DETAIL whenever
    // the server's environment enables backtraces (RUST_BACKTRACE=1): dozens of frames of
    // internals under a bad argument. An error never shows one: RUST_LIB_BACKTRACE=0 turns those
    // captures off whatever RUST_BACKTRACE says (a panic's own report to stderr is unaffected).
    // Set in the postmaster at preload, it reaches every backend and worker forked after.
    // Nothing else runs in the process yet: _PG_init is single-threaded.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    guc::register();
    // Shared memory and the background workers exist only when the library is preloaded.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        shmem::init();
        worker::register();
    }
}

/// The version of this library, to compare with the installed SQL objects' (pg_extension's
/// extversion): they differ between installing a new library and ALTER EXTENSION ... UPDATE.
#[pg_extern(name = "library_version", immutable, parallel_safe)]
fn queue_library_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec!["shared_preload_libraries = 'queue_ext'"]
    }
}
