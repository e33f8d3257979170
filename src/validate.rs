//! Input validation shared by every function: each check names the parameter and the rule.

use crate::datum::{JsonType, Jsonb};
use crate::error::QueueError;
use pgrx::datum::{Interval, TimestampWithTimeZone};

/// Queue names become parts of NOTIFY channels and log lines, so they are kept to a safe alphabet.
pub const QUEUE_NAME_RULE: &str = "^[a-z_][a-z0-9_]{0,47}$";
pub const MAX_BATCH: i32 = 10_000;
pub const MAX_WORKER_NAME: usize = 255;
pub const MAX_KEY_LEN: usize = 512;
/// A failure's error text is kept up to this many bytes (a worker's stack trace can be huge).
pub const MAX_ERROR_LEN: usize = 16 * 1024;

pub fn required<T>(value: Option<T>, what: &'static str) -> Result<T, QueueError> {
    value.ok_or(QueueError::NullValue(what))
}

/// The elements of an array argument whose elements are required; `what` reads "every element
/// of <argument>".
pub fn no_null_elements<T>(values: Vec<Option<T>>, what: &'static str) -> Result<Vec<T>, QueueError> {
    values.into_iter().collect::<Option<Vec<T>>>().ok_or(QueueError::NullValue(what))
}

/// A payload is a JSON object: jobs' payloads are extended with keys (refreshes, backfills) and
/// read by key by workers. Only the value's type tag is read, never the value itself.
pub fn json_object(value: Jsonb, what: &str) -> Result<Jsonb, QueueError> {
    match value.json_type() {
        JsonType::Object => Ok(value),
        other => Err(QueueError::invalid(format!("{what} must be a JSON object, got {}", other.as_str()))),
    }
}

pub fn queue_name(name: Option<&str>) -> Result<&str, QueueError> {
    let name = required(name, "queue name")?;
    let mut chars = name.chars();
    let first_ok = matches!(chars.next(), Some('a'..='z' | '_'));
    let rest_ok = chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'));
    if first_ok && rest_ok && name.len() <= 48 {
        Ok(name)
    } else {
        Err(QueueError::invalid(format!(
            "invalid queue name \"{}\": queue names must match {QUEUE_NAME_RULE} (lower-case letters, digits and underscores, at most 48 characters, not starting with a digit)",
            name.escape_default()
        )))
    }
}

/// Durations (leases, delays, backoffs, retention) are at most this long: added to or taken from
/// now(), they stay well inside the timestamp range.
pub const MAX_DURATION_DAYS: i64 = 36_500;

fn within_max(value: Interval, what: &str) -> Result<Interval, QueueError> {
    if value.as_micros() <= MAX_DURATION_DAYS as i128 * 86_400_000_000 {
        Ok(value)
    } else {
        Err(QueueError::invalid(format!("{what} must be at most {MAX_DURATION_DAYS} days (100 years), got {value}")))
    }
}

pub fn positive_interval(value: Interval, what: &str) -> Result<Interval, QueueError> {
    if value.as_micros() > 0 {
        within_max(value, what)
    } else {
        Err(QueueError::invalid(format!("{what} must be a positive interval, got {value}")))
    }
}

pub fn non_negative_interval(value: Interval, what: &str) -> Result<Interval, QueueError> {
    if value.as_micros() >= 0 {
        within_max(value, what)
    } else {
        Err(QueueError::invalid(format!("{what} must not be negative, got {value}")))
    }
}

pub fn at_least(value: i32, min: i32, what: &str) -> Result<i32, QueueError> {
    if value >= min {
        Ok(value)
    } else {
        Err(QueueError::invalid(format!("{what} must be at least {min}, got {value}")))
    }
}

pub fn batch_size(batch: i32) -> Result<i32, QueueError> {
    if (1..=MAX_BATCH).contains(&batch) {
        Ok(batch)
    } else {
        Err(QueueError::invalid(format!("batch must be between 1 and {MAX_BATCH}, got {batch}")))
    }
}

pub fn worker_name(worker: Option<&str>) -> Result<Option<&str>, QueueError> {
    match worker {
        Some(w) if w.len() > MAX_WORKER_NAME => Err(QueueError::invalid(format!(
            "worker name is {} bytes long; at most {MAX_WORKER_NAME} are allowed",
            w.len()
        ))),
        other => Ok(other),
    }
}

pub fn key(value: Option<&str>, what: &str) -> Result<Option<String>, QueueError> {
    match value {
        Some("") => Err(QueueError::invalid(format!("{what} must not be empty (use NULL for none)"))),
        Some(k) if k.len() > MAX_KEY_LEN => {
            Err(QueueError::invalid(format!("{what} is {} bytes long; at most {MAX_KEY_LEN} are allowed", k.len())))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

pub fn finite_timestamp(t: TimestampWithTimeZone, what: &str) -> Result<TimestampWithTimeZone, QueueError> {
    if t.is_infinity() || t.is_neg_infinity() {
        Err(QueueError::invalid(format!("{what} must be a finite timestamp")))
    } else {
        Ok(t)
    }
}

/// A failure's error text, cut to MAX_ERROR_LEN bytes (at a character boundary) with a marker.
pub fn error_text(error: &str) -> String {
    if error.len() <= MAX_ERROR_LEN {
        return error.to_owned();
    }
    let mut end = MAX_ERROR_LEN;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &error[..end], error.len())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn long_errors_are_cut_at_a_character_boundary() {
        assert_eq!(error_text("short"), "short");
        let long = "é".repeat(MAX_ERROR_LEN);
        let cut = error_text(&long);
        assert!(cut.len() < MAX_ERROR_LEN + 64);
        assert!(cut.ends_with(&format!("({} bytes in all)", long.len())));
    }
}
