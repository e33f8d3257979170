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
    /// 42710: the queue already exists.
    DuplicateQueue(String),
    /// 55006: the object is in use (a queue with live jobs).
    ObjectInUse(String),
    /// 23505: a job with this dedupe key is already live.
    DedupeConflict(String),
    /// 42703: a trigger option names a column the table does not have.
    UndefinedColumn(String),
    /// 55000: the server is not set up for this (e.g. not preloaded).
    NotInPrerequisiteState(String),
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
            QueueError::UnknownQueue(_) => ERRCODE_UNDEFINED_OBJECT,
            QueueError::DuplicateQueue(_) => ERRCODE_DUPLICATE_OBJECT,
            QueueError::ObjectInUse(_) => ERRCODE_OBJECT_IN_USE,
            QueueError::DedupeConflict(_) => ERRCODE_UNIQUE_VIOLATION,
            QueueError::UndefinedColumn(_) => ERRCODE_UNDEFINED_COLUMN,
            QueueError::NotInPrerequisiteState(_) => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        }
    }
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::InvalidParameter(m) | QueueError::ObjectInUse(m) => f.write_str(m),
            QueueError::DedupeConflict(m) => f.write_str(m),
            QueueError::UndefinedColumn(m) | QueueError::NotInPrerequisiteState(m) => f.write_str(m),
            QueueError::NullValue(what) => write!(f, "{what} must not be null"),
            QueueError::UnknownQueue(name) => write!(f, "queue \"{name}\" does not exist"),
            QueueError::DuplicateQueue(name) => write!(f, "queue \"{name}\" already exists"),
        }
    }
}

impl From<QueueError> for ErrorReport {
    #[track_caller]
    fn from(e: QueueError) -> Self {
        ErrorReport::new(e.sqlstate(), e.to_string(), "queue_ext")
    }
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
