//! queue_ext: a job queue that lives inside PostgreSQL.
//!
//! Storage is plain SQL (`sql/`); the API is Rust (`api/`), one module per concern. See README.md.

use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

mod api;
mod backoff;
mod datum;
mod error;
mod spi;
mod validate;

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec!["shared_preload_libraries = 'queue_ext'"]
    }
}
