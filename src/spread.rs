//! Spreading load over time: hash slots, consistent buckets and interleaved polling.
//!
//! The hash is documented so that any client computes the same values:
//!   h = the first 8 bytes of md5(utf8(key)), read big-endian as an unsigned 64-bit integer
//!   slot_fraction(key) = (h >> 11) / 2^53        -- in [0, 1), exact in a double
//! A key's slot in a period P (counted from the Unix epoch) is at fraction × P into each period.
//! Changing P keeps every key's fraction (its phase); only the length of the cycle changes.

use crate::error::{QueueError, Result};
use md5::{Digest, Md5};
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;

/// Microseconds between the Unix epoch and the Postgres epoch (2000-01-01).
const UNIX_TO_PG_EPOCH_US: i64 = 946_684_800_000_000;

pub fn key_hash(key: &str) -> u64 {
    let digest = Md5::digest(key.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("md5 has 16 bytes"))
}

pub fn fraction(key: &str) -> f64 {
    (key_hash(key) >> 11) as f64 / (1u64 << 53) as f64
}

/// Jump consistent hash (Lamping & Veach, 2014): growing `buckets` from n to n + 1 moves only
/// the keys that land in the new bucket, about 1/(n + 1) of them.
pub fn jump_bucket(mut key: u64, buckets: i32) -> i32 {
    let (mut b, mut j) = (-1i64, 0i64);
    while j < buckets as i64 {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as i32
}

/// A fixed-length period in microseconds: months have no fixed length, so they are refused.
pub fn period_micros(period: Interval, what: &str) -> std::result::Result<i64, QueueError> {
    if period.months() != 0 {
        return Err(QueueError::invalid(format!(
            "{what} must not contain months or years (they have no fixed length), got {period}"
        )));
    }
    let us = period.as_micros();
    if us <= 0 || us > i64::MAX as i128 {
        return Err(QueueError::invalid(format!("{what} must be a positive interval, got {period}")));
    }
    Ok(us as i64)
}

pub fn offset_micros(key: &str, period_us: i64) -> i64 {
    ((fraction(key) * period_us as f64) as i64).min(period_us - 1)
}

/// The first instant at or after `after_us` (Unix microseconds) whose position in the period is
/// `offset_us`. Computed in 128 bits: near the ends of the timestamp range the result may not fit.
pub fn next_slot_micros(offset_us: i64, period_us: i64, after_us: i64) -> Option<i64> {
    let (offset, period, after) = (offset_us as i128, period_us as i128, after_us as i128);
    let candidate = after - after.rem_euclid(period) + offset;
    let slot = if candidate >= after { candidate } else { candidate + period };
    i64::try_from(slot).ok()
}

pub(crate) fn to_unix_micros(t: TimestampWithTimeZone) -> std::result::Result<i64, QueueError> {
    if t.is_infinity() || t.is_neg_infinity() {
        return Err(QueueError::invalid("the timestamp must be finite"));
    }
    pg_sys::TimestampTz::from(t)
        .checked_add(UNIX_TO_PG_EPOCH_US)
        .ok_or_else(|| QueueError::invalid("the timestamp is too close to the end of the timestamp range"))
}

fn out_of_range() -> QueueError {
    QueueError::invalid("the resulting timestamp is out of range")
}

pub(crate) fn from_unix_micros(us: i64) -> Result<TimestampWithTimeZone> {
    let pg = us.checked_sub(UNIX_TO_PG_EPOCH_US).ok_or_else(out_of_range)?;
    // The ends of the range are the infinities: never a slot.
    if pg == i64::MIN || pg == i64::MAX {
        return Err(out_of_range().into());
    }
    TimestampWithTimeZone::try_from(pg).map_err(|_| out_of_range().into())
}

/// The run_at of a job spread by `key` over `period`, at or after `after`.
pub fn next_slot_at(key: &str, period: Interval, after: TimestampWithTimeZone) -> Result<TimestampWithTimeZone> {
    let period_us = period_micros(period, "period")?;
    let after_us = to_unix_micros(after)?;
    from_unix_micros(next_slot_micros(offset_micros(key, period_us), period_us, after_us).ok_or_else(out_of_range)?)
}

/// The key's stable position in [0, 1): (first 8 bytes of md5(key), big-endian) >> 11, / 2^53.
#[pg_extern(name = "slot_fraction", immutable, strict, parallel_safe)]
fn slot_fraction(key: &str) -> f64 {
    fraction(key)
}

/// The key's offset into a period: slot_fraction(key) × period (microsecond precision).
#[pg_extern(name = "slot_offset", immutable, strict, parallel_safe)]
fn slot_offset(key: &str, period: Interval) -> Result<Interval> {
    let period_us = period_micros(period, "period")?;
    Ok(Interval::from_micros(offset_micros(key, period_us)))
}

/// The first instant at or after `after` at the key's offset within the period, periods being
/// counted from the Unix epoch.
#[pg_extern(name = "next_slot", immutable, strict, parallel_safe)]
fn next_slot(
    key: &str,
    period: Interval,
    after: default!(TimestampWithTimeZone, "now()"),
) -> Result<TimestampWithTimeZone> {
    next_slot_at(key, period, after)
}

/// The key's bucket in 0..buckets by jump consistent hash over its md5 (as slot_fraction).
#[pg_extern(name = "bucket", immutable, strict, parallel_safe)]
fn bucket(key: &str, buckets: i32) -> Result<i32> {
    if buckets < 1 {
        return Err(QueueError::invalid(format!("buckets must be at least 1, got {buckets}")).into());
    }
    Ok(jump_bucket(key_hash(key), buckets))
}

/// How long worker `worker_index` of `worker_count` should sleep so that the workers' polls reach
/// the server interleaved, one every `spacing`: worker i polls at offset + (i + k·n)·spacing from
/// the Unix epoch, so the schedule never drifts however long each job takes.
#[pg_extern(name = "poll_delay", immutable, parallel_safe)]
fn poll_delay(
    worker_index: Option<i32>,
    worker_count: Option<i32>,
    spacing: Option<Interval>,
    offset: default!(Option<Interval>, "'0'"),
    at: default!(Option<TimestampWithTimeZone>, "clock_timestamp()"),
) -> Result<Interval> {
    let index = worker_index.ok_or(QueueError::NullValue("worker_index"))?;
    let count = worker_count.ok_or(QueueError::NullValue("worker_count"))?;
    if count < 1 {
        return Err(QueueError::invalid(format!("worker_count must be at least 1, got {count}")).into());
    }
    if !(0..count).contains(&index) {
        return Err(QueueError::invalid(format!(
            "worker_index must be between 0 and worker_count - 1 ({}), got {index}",
            count - 1
        ))
        .into());
    }
    let spacing_us = period_micros(spacing.ok_or(QueueError::NullValue("spacing"))?, "spacing")?;
    let offset = offset.unwrap_or(Interval::from_micros(0));
    if offset.months() != 0 {
        return Err(QueueError::invalid("offset must not contain months or years").into());
    }
    let at_us = to_unix_micros(at.ok_or(QueueError::NullValue("at"))?)?;
    let cycle = spacing_us
        .checked_mul(count as i64)
        .ok_or_else(|| QueueError::invalid("worker_count × spacing is too long"))?;
    let phase =
        ((offset.as_micros().rem_euclid(cycle as i128) + index as i128 * spacing_us as i128) % cycle as i128) as i64;
    let next = next_slot_micros(phase, cycle, at_us).ok_or_else(out_of_range)?;
    // The next poll must itself be a timestamp.
    from_unix_micros(next)?;
    Ok(Interval::from_micros(next - at_us))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn fraction_matches_the_documented_formula() {
        // md5("hello") = 5d41402abc4b2a76...
        let h = 0x5d41402abc4b2a76u64;
        assert_eq!(key_hash("hello"), h);
        assert_eq!(fraction("hello"), (h >> 11) as f64 / 9_007_199_254_740_992.0);
        assert!((0..100_000).all(|i| (0.0..1.0).contains(&fraction(&i.to_string()))));
    }

    #[test]
    fn hundred_thousand_ids_over_96_buckets_are_uniform() {
        let mut counts = [0u32; 96];
        for id in 1..=100_000 {
            counts[(fraction(&id.to_string()) * 96.0) as usize] += 1;
        }
        let mean = 100_000.0 / 96.0;
        let max = *counts.iter().max().unwrap() as f64;
        assert!(max / mean <= 1.10, "max/mean = {}", max / mean);
    }

    #[test]
    fn jump_hash_moves_about_one_in_n_plus_one() {
        for n in [1, 10, 96, 500] {
            let moved = (0..100_000u64)
                .filter(|&k| jump_bucket(key_hash(&k.to_string()), n) != jump_bucket(key_hash(&k.to_string()), n + 1))
                .count();
            let expected = 100_000.0 / (n as f64 + 1.0);
            assert!(
                (moved as f64 - expected).abs() <= expected * 0.1 + 50.0,
                "n={n}: moved {moved}, expected {expected}"
            );
        }
    }

    #[test]
    fn next_slot_lands_on_the_offset_at_or_after() {
        let period = 1_000;
        assert_eq!(next_slot_micros(250, period, 10_000), Some(10_250));
        assert_eq!(next_slot_micros(250, period, 10_250), Some(10_250));
        assert_eq!(next_slot_micros(250, period, 10_251), Some(11_250));
        assert_eq!(next_slot_micros(0, period, -1), Some(0));
        assert_eq!(next_slot_micros(period - 1, period, i64::MAX - 10), None);
    }
}
