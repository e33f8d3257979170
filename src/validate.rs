//! Input validation shared by every function: each check names the parameter and the rule.

use crate::error::QueueError;
use pgrx::datum::Interval;

/// Queue names become parts of NOTIFY channels and log lines, so they are kept to a safe alphabet.
pub const QUEUE_NAME_RULE: &str = "^[a-z_][a-z0-9_]{0,47}$";
pub const MAX_BATCH: i32 = 10_000;
pub const MAX_WORKER_NAME: usize = 255;
pub const MAX_KEY_LEN: usize = 512;

pub fn required<T>(value: Option<T>, what: &'static str) -> Result<T, QueueError> {
    value.ok_or(QueueError::NullValue(what))
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

pub fn positive_interval(value: Interval, what: &str) -> Result<Interval, QueueError> {
    if value.as_micros() > 0 {
        Ok(value)
    } else {
        Err(QueueError::invalid(format!("{what} must be a positive interval, got {value}")))
    }
}

pub fn non_negative_interval(value: Interval, what: &str) -> Result<Interval, QueueError> {
    if value.as_micros() >= 0 {
        Ok(value)
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
