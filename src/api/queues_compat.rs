//! The symbols 0.2.0's SQL binds create_queue and alter_queue to, with 0.2.0's arguments: the new
//! library serves them between its installation and ALTER EXTENSION UPDATE (and the upgrade test
//! installs 0.2.0 with it). 0.3.0 added `dead_retention`, so its functions have symbols of their
//! own (queues.rs); these have no SQL of their own.

use super::queues::{queue_alter_queue_v3, queue_create_queue_v3};
use crate::error::Result;
use pgrx::datum::Interval;
use pgrx::prelude::*;

#[pg_extern(sql = false)]
#[allow(clippy::too_many_arguments)]
fn queue_create_queue(
    name: Option<&str>,
    lease: Option<Interval>,
    max_attempts: Option<i32>,
    backoff_base: Option<Interval>,
    backoff_max: Option<Interval>,
    notify: Option<bool>,
    rate_per_second: Option<f64>,
    burst: Option<i32>,
    max_running: Option<i32>,
    max_running_per_group: Option<i32>,
    group_backoff: Option<bool>,
    retention: Option<Interval>,
    if_not_exists: Option<bool>,
) -> Result<()> {
    queue_create_queue_v3(
        name,
        lease,
        max_attempts,
        backoff_base,
        backoff_max,
        notify,
        rate_per_second,
        burst,
        max_running,
        max_running_per_group,
        group_backoff,
        retention,
        if_not_exists,
        None,
    )
}

#[pg_extern(sql = false)]
#[allow(clippy::too_many_arguments)]
fn queue_alter_queue(
    name: Option<&str>,
    lease: Option<Interval>,
    max_attempts: Option<i32>,
    backoff_base: Option<Interval>,
    backoff_max: Option<Interval>,
    notify: Option<bool>,
    rate_per_second: Option<f64>,
    burst: Option<i32>,
    max_running: Option<i32>,
    max_running_per_group: Option<i32>,
    group_backoff: Option<bool>,
    retention: Option<Interval>,
    reset: Option<Vec<Option<String>>>,
) -> Result<()> {
    queue_alter_queue_v3(
        name,
        lease,
        max_attempts,
        backoff_base,
        backoff_max,
        notify,
        rate_per_second,
        burst,
        max_running,
        max_running_per_group,
        group_backoff,
        retention,
        reset,
        None,
    )
}
