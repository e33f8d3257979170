//! The launcher: one per server, dispatching a bounded pool of workers (queue_ext.max_workers) as
//! autovacuum's launcher does (docs/adr/006-worker-pool.md). It connects to no database (it reads
//! the shared catalog pg_database only, so it never holds up CREATE or DROP DATABASE); shared
//! memory tells it when each database next has work (src/shmem/pool.rs). It sends a worker to a
//! database only when something there is due, most overdue first, and never takes the last
//! background worker slots of the server (queue_ext.reserved_worker_slots). It sleeps until the
//! next due moment; a commit that makes work due sooner, a worker leaving and CREATE EXTENSION
//! wake it. Databases served: those that allow connections, are not templates, and are named by
//! `queue_ext.databases` when that is set.

use super::report_activity;
use crate::{guc, shmem};
use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BackgroundWorkerStatus, BgWorkerStartTime, DynamicBackgroundWorker,
    SignalWakeFlags,
};
use pgrx::prelude::*;
use pgrx::{PgMemoryContexts, PgTryBuilder};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

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

/// pg_database is read again this often (new databases; CREATE EXTENSION asks at once).
const RESCAN_EVERY: Duration = Duration::from_secs(10);
/// A database where nothing is known to be due is visited this long after a worker last left it
/// anyway: a safety net for work nobody reported (rows written into queue_ext's tables by hand).
const SAFETY_VISIT_EVERY: Duration = Duration::from_secs(3600);

struct Launcher {
    /// Workers started, by database: until they are gone, each takes a place in the pool.
    workers: HashMap<u32, DynamicBackgroundWorker>,
    databases: Vec<Database>,
    /// Every database's OID, from a read of pg_database the next look has not used yet.
    all_scanned: Option<HashSet<u32>>,
    scanned_at: Option<std::time::Instant>,
    scanned_at_least_once: bool,
    /// Configured names already reported as not found, so each is reported once.
    reported_missing: HashSet<String>,
    /// Whether "the pool is full" was logged since the pool last had room.
    reported_full: bool,
}

/// When the pool should visit a database next (Postgres microseconds): when something there is
/// due, or the safety visit; never while it is held off (or a worker is in it).
fn visit_at(slot: &shmem::pool::DbSlot) -> i64 {
    let safety = if slot.left_at_us == 0 { 0 } else { slot.left_at_us + SAFETY_VISIT_EVERY.as_micros() as i64 };
    slot.next_due_us.min(safety).max(slot.hold_off_until_us)
}

impl Launcher {
    fn scan(&mut self) {
        let databases = PgTryBuilder::new(|| Some(connectable_databases()))
            .catch_others(|e| {
                // SAFETY: the scan's transaction failed: abort it, releasing what it held.
                unsafe { pg_sys::AbortCurrentTransaction() };
                log!("queue_ext launcher: could not read pg_database: {}", crate::error::caught_message(e));
                None
            })
            .execute();
        let Some((databases, all)) = databases else { return };
        self.scanned_at = Some(std::time::Instant::now());
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
        let databases: Vec<Database> =
            databases.into_iter().filter(|d| wanted.as_ref().is_none_or(|names| names.contains(&d.name))).collect();
        // A database that joins the list (queue_ext.databases changed) gets a visit at once.
        if self.scanned_at_least_once {
            let now_us = crate::clock::wall_micros();
            for db in databases.iter().filter(|d| !self.databases.iter().any(|old| old.oid == d.oid)) {
                shmem::pool::due_at(db.oid.to_u32(), now_us, None);
            }
        }
        self.scanned_at_least_once = true;
        self.databases = databases;
        self.all_scanned = Some(all.into_iter().collect());
    }

    /// Send workers where work is due, most overdue first, while the pool and the server's
    /// background worker slots have room. Returns when to look next.
    fn look(&mut self) -> i64 {
        if shmem::pool::take_rescan() || self.scanned_at.is_none_or(|t| t.elapsed() >= RESCAN_EVERY) {
            self.scan();
        }
        // Workers that are gone free their places.
        self.workers.retain(|_, w| matches!(w.pid(), Ok(_) | Err(BackgroundWorkerStatus::NotYetStarted)));
        let oids: Vec<u32> = self.databases.iter().map(|d| d.oid.to_u32()).collect();
        let all = std::mem::take(&mut self.all_scanned);
        let slots = shmem::pool::launcher_looks(&oids, all.as_ref());
        let now_us = crate::clock::wall_micros();
        let mut due: Vec<(i64, usize)> = slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.pid == 0 && !self.workers.contains_key(&s.db))
            .map(|(i, s)| (visit_at(s), i))
            .collect();
        due.sort_unstable();
        let mut waiting = 0;
        let mut wake_at = now_us + RESCAN_EVERY.as_micros() as i64;
        // Workers in databases (a restarted launcher's predecessor's too), and those started that
        // have not arrived yet; and the server's background worker slots this launcher may take.
        let arriving = self.workers.keys().filter(|db| !slots.iter().any(|s| s.db == **db && s.pid != 0)).count();
        let in_pool = (shmem::pool::workers_present() + arriving).max(self.workers.len());
        let mut room = guc::max_workers().saturating_sub(in_pool).min(spare_slots(self.starting()));
        for (at, i) in due {
            if at > now_us {
                wake_at = wake_at.min(at);
                break;
            }
            if room == 0 {
                waiting += 1;
                continue;
            }
            let db = &self.databases[i];
            match super::start_database_worker(db.oid, &db.name) {
                Some(handle) => {
                    self.workers.insert(db.oid.to_u32(), handle);
                    room -= 1;
                }
                None => waiting += 1,
            }
        }
        if waiting > 0 && !self.reported_full {
            log!(
                "queue_ext launcher: {waiting} database(s) wait for a worker: all {} of queue_ext.max_workers are busy, or max_worker_processes has no slot to spare beyond queue_ext.reserved_worker_slots",
                guc::max_workers()
            );
        }
        self.reported_full = waiting > 0;
        // With databases waiting, the launcher looks again when a worker leaves (it is woken).
        shmem::pool::launcher_sleeps(waiting, wake_at);
        wake_at
    }

    /// Workers started that are not running yet: they hold a slot the proc array does not show.
    fn starting(&self) -> i32 {
        self.workers.values().filter(|w| matches!(w.pid(), Err(BackgroundWorkerStatus::NotYetStarted))).count() as i32
    }
}

/// How many more background workers the launcher may start and still leave
/// queue_ext.reserved_worker_slots of max_worker_processes free for parallel query, logical
/// replication and other extensions.
fn spare_slots(starting: i32) -> usize {
    // SAFETY: reads a setting.
    let max = unsafe { pg_sys::max_worker_processes };
    (max - crate::compat::background_workers_running() - starting - guc::reserved_worker_slots()).max(0) as usize
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn queue_ext_launcher_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi(None, None);
    shmem::pool::launcher_started();
    log!("queue_ext launcher started");
    let mut launcher = Launcher {
        workers: HashMap::new(),
        databases: Vec::new(),
        all_scanned: None,
        scanned_at: None,
        scanned_at_least_once: false,
        reported_missing: HashSet::new(),
        reported_full: false,
    };
    loop {
        if BackgroundWorker::sighup_received() {
            // SAFETY: reloading the configuration file is what a SIGHUP asks of any process.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
            // queue_ext.databases may have changed: read the list again now.
            launcher.scanned_at = None;
        }
        // A standby has nothing to serve; a promoted one keeps this process and starts serving.
        // SAFETY: reads shared state.
        let mut sleep = RESCAN_EVERY;
        if !unsafe { pg_sys::RecoveryInProgress() } {
            report_activity(pg_sys::BackendState::STATE_RUNNING, c"queue_ext launcher: looking for due work");
            // Worker handles are palloc'd: they must outlive this iteration's memory.
            // SAFETY: TopMemoryContext lives as long as the process; nothing else is allocated there.
            let wake_at = unsafe { PgMemoryContexts::TopMemoryContext.switch_to(|_| launcher.look()) };
            report_activity(pg_sys::BackendState::STATE_IDLE, c"queue_ext launcher");
            let until = (wake_at - crate::clock::wall_micros()).max(0) as u64;
            sleep = sleep.min(Duration::from_micros(until));
        }
        if !BackgroundWorker::wait_latch(Some(sleep)) {
            break;
        }
    }
    log!("queue_ext launcher stopping");
    // SAFETY: a clean exit; workers already started keep serving until told otherwise.
    unsafe { pg_sys::proc_exit(1) }
}
