//! DROP DATABASE, ALTER DATABASE ... RENAME / SET TABLESPACE and CREATE DATABASE ... TEMPLATE need
//! the database to themselves, and would fail ("being accessed by other users") while our worker is
//! connected to it. Before PostgreSQL runs them, this hook asks that database's worker to leave and
//! keeps the launcher from starting another for a while; PostgreSQL itself waits a few seconds for
//! other backends to go, which is plenty for a worker that stops within a tick.

use crate::shmem;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::CStr;

/// A worker sent away stays away this long (the statement has finished by then, or failed).
const HOLD_OFF_US: i64 = 30_000_000;

static mut PREVIOUS: pg_sys::ProcessUtility_hook_type = None;

pub fn install() {
    // SAFETY: called once from _PG_init, before any statement runs.
    unsafe {
        PREVIOUS = pg_sys::ProcessUtility_hook;
        pg_sys::ProcessUtility_hook = Some(process_utility);
    }
}

/// The databases a utility statement needs to itself, by name.
unsafe fn databases_needed(stmt: *mut pg_sys::Node) -> Vec<String> {
    let name = |p: *const std::ffi::c_char| (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned());
    match (*stmt).type_ {
        pg_sys::NodeTag::T_DropdbStmt => name((*(stmt as *mut pg_sys::DropdbStmt)).dbname).into_iter().collect(),
        pg_sys::NodeTag::T_RenameStmt => {
            let r = stmt as *mut pg_sys::RenameStmt;
            if (*r).renameType == pg_sys::ObjectType::OBJECT_DATABASE {
                name((*r).subname).into_iter().collect()
            } else {
                Vec::new()
            }
        }
        pg_sys::NodeTag::T_AlterDatabaseStmt => {
            let a = stmt as *mut pg_sys::AlterDatabaseStmt;
            let moves = options(&(*a).options).any(|(option, _)| option == "tablespace");
            if moves {
                name((*a).dbname).into_iter().collect()
            } else {
                Vec::new()
            }
        }
        pg_sys::NodeTag::T_CreatedbStmt => {
            let c = stmt as *mut pg_sys::CreatedbStmt;
            options(&(*c).options).filter(|(option, _)| option == "template").filter_map(|(_, value)| value).collect()
        }
        _ => Vec::new(),
    }
}

/// (name, value as text) of each DefElem in an options list.
unsafe fn options(list: &*mut pg_sys::List) -> impl Iterator<Item = (String, Option<String>)> + '_ {
    let list = *list;
    let n = if list.is_null() { 0 } else { (*list).length };
    (0..n).map(move |i| {
        let def = pg_sys::list_nth(list, i) as *mut pg_sys::DefElem;
        let option = CStr::from_ptr((*def).defname).to_string_lossy().into_owned();
        let value = if (*def).arg.is_null() {
            None
        } else {
            let v = pg_sys::defGetString(def);
            (!v.is_null()).then(|| CStr::from_ptr(v).to_string_lossy().into_owned())
        };
        (option, value)
    })
}

fn send_away(database: &str) {
    let Ok(cname) = std::ffi::CString::new(database) else { return };
    // SAFETY: a catalog lookup by name; missing_ok.
    let oid = unsafe { pg_sys::get_database_oid(cname.as_ptr(), true) };
    if oid == pg_sys::InvalidOid {
        return;
    }
    let until = crate::clock::wall_micros() + HOLD_OFF_US;
    if let Some(pid) = shmem::hold_off_worker(oid.to_u32(), until) {
        // SAFETY: signals our own background worker (still a live backend: BackendPidGetProc),
        // which stops at once on SIGTERM.
        unsafe {
            if !pg_sys::BackendPidGetProc(pid).is_null() {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }
}

#[pg_guard]
#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn process_utility(
    pstmt: *mut pg_sys::PlannedStmt,
    query_string: *const std::ffi::c_char,
    read_only_tree: bool,
    context: pg_sys::ProcessUtilityContext::Type,
    params: pg_sys::ParamListInfo,
    query_env: *mut pg_sys::QueryEnvironment,
    dest: *mut pg_sys::DestReceiver,
    qc: *mut pg_sys::QueryCompletion,
) {
    if shmem::available() && !pstmt.is_null() && !(*pstmt).utilityStmt.is_null() {
        for database in databases_needed((*pstmt).utilityStmt) {
            send_away(&database);
        }
    }
    match PREVIOUS {
        Some(previous) => previous(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc),
        None => pg_sys::standard_ProcessUtility(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc),
    }
}
