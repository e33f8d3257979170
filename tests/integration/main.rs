//! Client-side tests against a real server with queue_ext preloaded, started by scripts/test.
//! Each test works in queues of its own, so tests run in parallel in one database.

mod common;

mod api;
mod backfill;
mod concurrency;
mod dedupe;
mod dump;
mod errors;
mod fuzz;
mod groups;
mod hostile;
mod hostile_groups;
mod hostile_identity;
mod hostile_jobs;
mod hostile_tenants;
mod idle;
mod job_alter;
mod jobs_bulk;
mod notify;
mod periodic;
mod plans;
mod produce;
mod readme;
mod roles;
mod scheduling;
mod semantics;
mod spreading;
mod stats;
mod trigger;
mod upgrade;
mod worker;
mod worker_stall;
