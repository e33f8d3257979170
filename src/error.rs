//! Every error queue_ext raises on purpose, each with its SQLSTATE.
//!
//! Functions return `Result<T, ErrorReport>`; `?` converts a [`QueueError`] so that pgrx raises it
//! as an ordinary Postgres ERROR with the code below (and the transaction rolls the call back).

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::PgSqlErrorCode;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum QueueError {
    /// 22023: a value is outside what the parameter accepts.
    InvalidParameter(String),
    /// 22004: a required argument was NULL.
    NullValue(&'static str),
    /// 42704: no queue with that name.
    UnknownQueue(String),
    /// 42704: no schedule, refresh or other object with that name (the message names it).
    UndefinedObject(String),
    /// 42710: an object of that name exists (the message names it).
    DuplicateObject(String),
    /// 42710: the queue already exists.
    DuplicateQueue(String),
    /// 55006: the object is in use (a queue with live jobs).
    ObjectInUse(String),
    /// 23505: a job with this dedupe key is already live.
    DedupeConflict(String),
    /// 42703: a trigger option names a column the table does not have.
    UndefinedColumn(String),
    /// 55000: the server or the database is not set up for this (not preloaded, not upgraded).
    NotInPrerequisiteState(String),
    /// 42501: the calling role may not do this to this queue.
    Denied { queue: String, privilege: &'static str },
    /// 0A000: this cannot work in the caller's situation (e.g. its isolation level).
    NotSupported(String),
    /// 42501: the calling role may not do this to a role (the message names it and says why).
    RoleDenied(String),
    /// 42501: called inside a security-restricted operation, where the current user is borrowed.
    Restricted,
}

impl QueueError {
    pub fn invalid(message: impl Into<String>) -> Self {
        QueueError::InvalidParameter(message.into())
    }

    pub fn sqlstate(&self) -> PgSqlErrorCode {
        use PgSqlErrorCode::*;
        match self {
            QueueError::InvalidParameter(_) => ERRCODE_INVALID_PARAMETER_VALUE,
            QueueError::NullValue(_) => ERRCODE_NULL_VALUE_NOT_ALLOWED,
            QueueError::UnknownQueue(_) | QueueError::UndefinedObject(_) => ERRCODE_UNDEFINED_OBJECT,
            QueueError::DuplicateQueue(_) | QueueError::DuplicateObject(_) => ERRCODE_DUPLICATE_OBJECT,
            QueueError::ObjectInUse(_) => ERRCODE_OBJECT_IN_USE,
            QueueError::DedupeConflict(_) => ERRCODE_UNIQUE_VIOLATION,
            QueueError::UndefinedColumn(_) => ERRCODE_UNDEFINED_COLUMN,
            QueueError::NotInPrerequisiteState(_) => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            QueueError::Denied { .. } | QueueError::Restricted | QueueError::RoleDenied(_) => {
                ERRCODE_INSUFFICIENT_PRIVILEGE
            }
            QueueError::NotSupported(_) => ERRCODE_FEATURE_NOT_SUPPORTED,
        }
    }

    /// Advice for the caller, raised as the error's HINT.
    fn hint(&self) -> Option<String> {
        match self {
            QueueError::Denied { privilege: "read", .. } => {
                Some("a role restricted by queue.grant sees only the queues it may use; see queue.queue_grants".into())
            }
            QueueError::Denied { queue, privilege } => Some(format!(
                "a DBA can allow it with queue.grant('{queue}', <role>, '{privilege}'); see queue.queue_grants"
            )),
            QueueError::Restricted => Some(
                "index expressions, ANALYZE, VACUUM, REFRESH MATERIALIZED VIEW and sources read by the background worker run with borrowed rights: queue_ext acts only for a role calling it directly".into(),
            ),
            _ => None,
        }
    }
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::InvalidParameter(m) | QueueError::ObjectInUse(m) => f.write_str(m),
            QueueError::DedupeConflict(m) | QueueError::NotSupported(m) => f.write_str(m),
            QueueError::RoleDenied(m) => f.write_str(m),
            QueueError::UndefinedColumn(m) | QueueError::NotInPrerequisiteState(m) => f.write_str(m),
            QueueError::UndefinedObject(m) | QueueError::DuplicateObject(m) => f.write_str(m),
            QueueError::NullValue(what) => write!(f, "{what} must not be null"),
            QueueError::UnknownQueue(name) => write!(f, "queue \"{name}\" does not exist"),
            QueueError::DuplicateQueue(name) => write!(f, "queue \"{name}\" already exists"),
            QueueError::Restricted => f.write_str("queue_ext cannot be called inside a security-restricted operation"),
            QueueError::Denied { queue, privilege: "read" } => write!(f, "permission denied to read queue \"{queue}\""),
            QueueError::Denied { queue, privilege } => {
                write!(f, "permission denied to {privilege} on queue \"{queue}\"")
            }
        }
    }
}

impl From<QueueError> for ErrorReport {
    #[track_caller]
    fn from(e: QueueError) -> Self {
        let report = ErrorReport::new(e.sqlstate(), e.to_string(), "queue_ext");
        match e.hint() {
            Some(hint) => report.set_hint(hint),
            None => report,
        }
    }
}

/// An error raised with a hint of our own (e.g. what to run to fix it).
#[track_caller]
pub fn with_hint(e: QueueError, hint: impl Into<String>) -> ErrorReport {
    ErrorReport::new(e.sqlstate(), e.to_string(), "queue_ext").set_hint(hint.into())
}

/// SPI misuse (wrong types, argument counts) is a bug in queue_ext, never the caller's fault.
/// Errors raised by Postgres itself inside SPI keep their own SQLSTATE and never reach here.
pub fn internal(e: pgrx::spi::SpiError) -> ErrorReport {
    ErrorReport::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("queue_ext internal error: {e}"), "queue_ext")
}

pub type Result<T> = std::result::Result<T, ErrorReport>;

/// The message of an error caught with PgTryBuilder, whatever raised it.
pub fn caught_message(caught: pgrx::pg_sys::panic::CaughtError) -> String {
    use pgrx::pg_sys::panic::CaughtError;
    match caught {
        CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => r.message().to_owned(),
        CaughtError::RustPanic { ereport, .. } => ereport.message().to_owned(),
    }
}
