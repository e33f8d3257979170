//! The SQL API, one module per concern. Every function is SECURITY DEFINER with a pinned
//! search_path: callers hold EXECUTE through the queue_* roles and never write tables directly.

pub mod claim;
pub mod consume;
pub mod manage;
pub mod produce;
pub mod queues;
pub mod rates;
pub mod trigger;
