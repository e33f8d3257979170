//! The two clocks queue_ext reads: the transaction's start (SQL `now()`) and the wall clock
//! (SQL `clock_timestamp()`), in Postgres microseconds or as timestamps.

use crate::error::QueueError;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::pg_sys;

/// What `now()` returns: the current transaction's start.
pub fn transaction_now() -> TimestampWithTimeZone {
    // SAFETY: reads the current transaction's start timestamp.
    TimestampWithTimeZone::try_from(unsafe { pg_sys::GetCurrentTransactionStartTimestamp() })
        .expect("now() is in range")
}

/// The wall clock, in microseconds since the Postgres epoch.
pub fn wall_micros() -> i64 {
    // SAFETY: reads the system clock.
    unsafe { pg_sys::GetCurrentTimestamp() }
}

pub fn timestamp(micros: i64) -> Result<TimestampWithTimeZone, QueueError> {
    TimestampWithTimeZone::try_from(micros).map_err(|_| QueueError::invalid("clock out of range"))
}
