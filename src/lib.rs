//! queue_ext: a job queue that lives inside PostgreSQL.
//!
//! Storage is plain SQL (`sql/`); the API is Rust (`api/`), one module per concern. See README.md.

// Functions return pgrx's ErrorReport, which is large; an error is raised once per call, so its
// size costs nothing that matters.
#![allow(clippy::result_large_err)]

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

mod api;
mod backoff;
mod clock;
mod datum;
mod error;
mod guc;
mod maintenance;
mod shmem;
mod spi;
mod spread;
mod trigger_options;
mod validate;
mod worker;

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

#[allow(non_snake_case)]
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    guc::register();
    // Shared memory and the background worker exist only when the library is preloaded.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        shmem::init();
        worker::register();
    }
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
