//! Retry delays: exponential backoff with "equal jitter", capped.
//!
//! attempt n (1-based) fails -> d = min(backoff_max, backoff_base * 2^(n-1)), delay = d/2 + u * d/2
//! with u in [0, 1) derived from (job id, attempt) by a hash. Half the delay is guaranteed (the
//! upstream gets its rest), the other half spreads jobs that failed together so their retries do not
//! arrive together. The hash makes it reproducible: the same job's same attempt always waits the same.

use pgrx::datum::Interval;
use pgrx::prelude::*;

/// Delay in microseconds before retrying after failed attempt `attempt` (1-based).
pub fn retry_delay_micros(attempt: i32, base_us: i64, max_us: i64, jitter: f64) -> i64 {
    let base = base_us.max(0);
    let cap = max_us.max(base);
    let exponent = (attempt.max(1) - 1).min(62) as u32;
    let full = base.saturating_mul(1i64.checked_shl(exponent).unwrap_or(i64::MAX)).min(cap);
    let half = full / 2;
    half + ((full - half) as f64 * jitter.clamp(0.0, 1.0 - f64::EPSILON)) as i64
}

/// A well-mixed value in [0, 1) from a job id and attempt (splitmix64 finaliser).
pub fn jitter_fraction(job_id: i64, attempt: i32) -> f64 {
    let mut z = (job_id as u64) ^ ((attempt as u64) << 48) ^ 0x9E37_79B9_7F4A_7C15;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn clamp_micros(i: Interval) -> i64 {
    i.as_micros().clamp(0, i64::MAX as i128) as i64
}

/// How long job `job_id` waits after failed attempt `attempt`, given its queue's backoff settings.
#[pg_extern(name = "retry_delay", immutable, strict, parallel_safe)]
fn retry_delay(attempt: i32, backoff_base: Interval, backoff_max: Interval, job_id: i64) -> Interval {
    let us = retry_delay_micros(
        attempt,
        clamp_micros(backoff_base),
        clamp_micros(backoff_max),
        jitter_fraction(job_id, attempt),
    );
    Interval::from_micros(us)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn doubles_until_the_cap_and_keeps_half() {
        let s = 1_000_000;
        for (attempt, full) in [(1, s), (2, 2 * s), (3, 4 * s), (10, 512 * s), (13, 3600 * s), (40, 3600 * s)] {
            let lo = retry_delay_micros(attempt, s, 3600 * s, 0.0);
            let hi = retry_delay_micros(attempt, s, 3600 * s, 0.999_999);
            assert_eq!(lo, full / 2, "attempt {attempt}");
            assert!(hi <= full && hi > full - full / 1000, "attempt {attempt}: {hi} vs {full}");
        }
    }

    #[test]
    fn survives_absurd_inputs() {
        assert_eq!(retry_delay_micros(i32::MAX, i64::MAX, i64::MAX, 0.5), i64::MAX / 2 + (i64::MAX - i64::MAX / 2) / 2);
        assert_eq!(retry_delay_micros(-5, 1_000, 10_000, 0.0), 500);
        assert_eq!(retry_delay_micros(3, 0, 0, 0.7), 0);
    }

    #[test]
    fn jitter_is_uniform_enough_and_deterministic() {
        let n = 100_000;
        let mut buckets = [0u32; 10];
        for id in 0..n {
            let f = jitter_fraction(id, 1);
            assert!((0.0..1.0).contains(&f));
            buckets[(f * 10.0) as usize] += 1;
        }
        for b in buckets {
            assert!((b as f64 - 10_000.0).abs() < 500.0, "{buckets:?}");
        }
        assert_eq!(jitter_fraction(42, 3), jitter_fraction(42, 3));
        assert_ne!(jitter_fraction(42, 3), jitter_fraction(42, 4));
    }
}
