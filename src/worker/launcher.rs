//! The launcher: one per server. It connects to no database (it reads the shared catalog
//! pg_database only, so it never holds up CREATE or DROP DATABASE) and, every second or when woken,
//! starts a worker for each database to serve that has none: databases that allow connections, are
//! not templates, and are named by `queue_ext.databases` when that is set. A worker that finds no
//! queue_ext in its database leaves and the launcher leaves that database alone for a minute, or
//! until a CREATE EXTENSION there wakes it.

use super::report_activity;
use crate::{guc, shmem};
use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, DynamicBackgroundWorker, SignalWakeFlags,
};
use pgrx::prelude::*;
use pgrx::{PgMemoryContexts, PgTryBuilder};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const LOOK_EVERY: Duration = Duration::from_secs(1);

pub fn register() {
    BackgroundWorkerBuilder::new("queue_ext launcher")
        .set_type("queue_ext launcher")
        .set_library("queue_ext")
        .set_function("queue_ext_launcher_main")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(Duration::from_secs(1)))
        .load();
}

struct Database {
    oid: pg_sys::Oid,
    name: String,
}

/// The databases a worker may connect to, and the OIDs of all databases, read from pg_database
/// (a shared catalog).
fn connectable_databases() -> (Vec<Database>, Vec<u32>) {
    let mut found = Vec::new();
    let mut all = Vec::new();
    // SAFETY: a catalog scan in a transaction of its own, as TimescaleDB's launcher does; the
    // tuples are read before the scan ends.
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        let rel = pg_sys::table_open(pg_sys::DatabaseRelationId, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let scan = pg_sys::table_beginscan_catalog(rel, 0, std::ptr::null_mut());
        loop {
            let tuple = pg_sys::heap_getnext(scan, pg_sys::ScanDirection::ForwardScanDirection);
            if tuple.is_null() {
                break;
            }
            let db = &*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_database>(tuple);
            all.push(db.oid.to_u32());
            if db.datallowconn && !db.datistemplate {
                let name = std::ffi::CStr::from_ptr(db.datname.data.as_ptr()).to_string_lossy().into_owned();
                found.push(Database { oid: db.oid, name });
            }
        }
        pg_sys::table_endscan(scan);
        pg_sys::table_close(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        pg_sys::PopActiveSnapshot();
        pg_sys::CommitTransactionCommand();
    }
    (found, all)
}

struct Launcher {
    workers: HashMap<u32, DynamicBackgroundWorker>,
    /// Configured names already reported as not found, so each is reported once.
    reported_missing: HashSet<String>,
    /// Databases for which no worker slot was free, reported once until one starts.
    reported_no_slot: HashSet<u32>,
}

impl Launcher {
    fn look(&mut self) {
        let databases = PgTryBuilder::new(|| Some(connectable_databases()))
            .catch_others(|e| {
                // SAFETY: the scan's transaction failed: abort it, releasing what it held.
                unsafe { pg_sys::AbortCurrentTransaction() };
                log!("queue_ext launcher: could not read pg_database: {}", crate::error::caught_message(e));
                None
            })
            .execute();
        let Some((databases, all)) = databases else { return };
        // What dropped databases left in shared memory goes: nobody else would ever remove it.
        // (A database that only stopped allowing connections keeps its sessions: its stays.)
        shmem::forget_databases_except(&all);
        let wanted = guc::databases();
        if let Some(names) = &wanted {
            for name in names {
                if !databases.iter().any(|d| &d.name == name) && self.reported_missing.insert(name.clone()) {
                    warning!(
                        "queue_ext launcher: database \"{name}\" named in queue_ext.databases does not exist or does not allow connections"
                    );
                }
            }
            self.reported_missing.retain(|n| names.contains(n));
        }
        let now_us = crate::clock::wall_micros();
        for db in databases {
            if wanted.as_ref().is_some_and(|names| !names.contains(&db.name)) {
                continue;
            }
            let key = db.oid.to_u32();
            let running = self.workers.get(&key).is_some_and(|w| {
                matches!(w.pid(), Ok(_) | Err(pgrx::bgworkers::BackgroundWorkerStatus::NotYetStarted))
            });
            if running || shmem::hold_off_until(key) > now_us {
                continue;
            }
            match super::start_database_worker(db.oid, &db.name) {
                Some(handle) => {
                    self.reported_no_slot.remove(&key);
                    self.workers.insert(key, handle);
                }
                None => {
                    if self.reported_no_slot.insert(key) {
                        warning!(
                            "queue_ext launcher: no background worker slot is free for database \"{}\"; raise max_worker_processes",
                            db.name
                        );
                    }
                }
            }
        }
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn queue_ext_launcher_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi(None, None);
    shmem::launcher_started();
    log!("queue_ext launcher started");
    let mut launcher =
        Launcher { workers: HashMap::new(), reported_missing: HashSet::new(), reported_no_slot: HashSet::new() };
    loop {
        if BackgroundWorker::sighup_received() {
            // SAFETY: reloading the configuration file is what a SIGHUP asks of any process.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        // A standby has nothing to serve; a promoted one keeps this process and starts serving.
        // SAFETY: reads shared state.
        if !unsafe { pg_sys::RecoveryInProgress() } {
            report_activity(pg_sys::BackendState::STATE_RUNNING, c"queue_ext launcher: looking for databases");
            // Worker handles are palloc'd: they must outlive this iteration's memory.
            // SAFETY: TopMemoryContext lives as long as the process; nothing else is allocated there.
            unsafe { PgMemoryContexts::TopMemoryContext.switch_to(|_| launcher.look()) };
            report_activity(pg_sys::BackendState::STATE_IDLE, c"queue_ext launcher");
        }
        if !BackgroundWorker::wait_latch(Some(LOOK_EVERY)) {
            break;
        }
    }
    log!("queue_ext launcher stopping");
    // SAFETY: a clean exit; workers already started keep serving until told otherwise.
    unsafe { pg_sys::proc_exit(1) }
}
