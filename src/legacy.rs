//! The C symbols queue_ext 0.1.0's install script binds its functions to.
//!
//! One library serves every version of the SQL objects: the new library is loaded before
//! `ALTER EXTENSION queue_ext UPDATE` has run, and PostgreSQL checks that every symbol an install
//! script names exists when that script runs (installing 0.1.0 to upgrade from it, in the upgrade
//! test, runs it with this library). The 0.2.0 functions have symbols of their own; the 0.1.0 ones
//! that would now run against tables that no longer exist answer with a clear error instead.
//! (The pure functions of 0.1.0, slot_fraction, slot_offset, next_slot, bucket, poll_delay and
//! retry_delay, kept their symbols and still work.)

use pgrx::pg_sys;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

fn outdated() -> ! {
    ErrorReport::new(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!(
            "this database has an older version of queue_ext's SQL objects than the installed library ({})",
            env!("CARGO_PKG_VERSION")
        ),
        "queue_ext",
    )
    .set_hint("run ALTER EXTENSION queue_ext UPDATE")
    .report(PgLogLevel::ERROR);
    unreachable!("an ERROR does not return")
}

macro_rules! legacy_symbols {
    ($($wrapper:ident, $finfo:ident;)*) => {$(
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub extern "C" fn $finfo() -> &'static pg_sys::Pg_finfo_record {
            const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }

        #[unsafe(no_mangle)]
        #[doc(hidden)]
        #[pg_guard]
        pub unsafe extern "C-unwind" fn $wrapper(_fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
            outdated()
        }
    )*};
}

legacy_symbols! {
    alter_queue_wrapper, pg_finfo_alter_queue_wrapper;
    cancel_wrapper, pg_finfo_cancel_wrapper;
    check_enqueue_trigger_wrapper, pg_finfo_check_enqueue_trigger_wrapper;
    claim_wrapper, pg_finfo_claim_wrapper;
    clear_rate_schedule_wrapper, pg_finfo_clear_rate_schedule_wrapper;
    complete_many_wrapper, pg_finfo_complete_many_wrapper;
    complete_wrapper, pg_finfo_complete_wrapper;
    create_queue_wrapper, pg_finfo_create_queue_wrapper;
    drop_queue_wrapper, pg_finfo_drop_queue_wrapper;
    effective_rate_wrapper, pg_finfo_effective_rate_wrapper;
    enqueue_many_wrapper, pg_finfo_enqueue_many_wrapper;
    enqueue_trigger_wrapper, pg_finfo_enqueue_trigger_wrapper;
    enqueue_wrapper, pg_finfo_enqueue_wrapper;
    explain_claim_wrapper, pg_finfo_explain_claim_wrapper;
    fail_wrapper, pg_finfo_fail_wrapper;
    heartbeat_wrapper, pg_finfo_heartbeat_wrapper;
    pause_wrapper, pg_finfo_pause_wrapper;
    release_expired_leases_wrapper, pg_finfo_release_expired_leases_wrapper;
    release_wrapper, pg_finfo_release_wrapper;
    resume_wrapper, pg_finfo_resume_wrapper;
    retry_job_wrapper, pg_finfo_retry_job_wrapper;
    retry_queue_wrapper, pg_finfo_retry_queue_wrapper;
    set_rate_schedule_wrapper, pg_finfo_set_rate_schedule_wrapper;
}
