//! The SQL API, one module per concern. Every function is SECURITY INVOKER with a pinned
//! search_path and starts with `security::enter()`, which records the acting role and takes the
//! extension owner's rights for queue_ext's own statements: callers hold EXECUTE through the
//! queue_* roles, may be restricted to some queues (grants.rs), and never write tables directly.

pub mod claim;
pub mod consume;
pub mod dedupe;
pub mod deprecated;
pub mod grants;
pub mod groups;
pub mod job_alter;
pub mod jobs_bulk;
pub mod manage;
pub mod produce;
pub mod queues;
mod queues_compat;
pub mod rates;
pub mod trigger;
