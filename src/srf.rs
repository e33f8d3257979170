//! Set-returning functions that hand over their whole result in one call (materialize mode).
//!
//! pgrx's `SetOfIterator` returns one row per call: PostgreSQL calls the function again for every
//! row. Our functions carry a `SET search_path` clause, so every call also pushes and pops the GUC
//! stack, and in PostgreSQL 15 each pop walks every setting (`AtEOXact_GUC`): enqueue_many paid
//! that 101 times for 100 ids, a tenth of its statement (docs/adr/004-enqueue-path.md). In
//! materialize mode the function fills a tuplestore once and returns, as most of PostgreSQL's
//! own set-returning functions do.

use pgrx::callconv::{BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::heap_tuple::PgHeapTuple;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::AllocatedByRust;

/// A set of `bigint`s returned in one call. Named after pgrx's type on purpose: pgrx's SQL
/// generator recognises a set-returning function by that name (`RETURNS SETOF <T>`), while the
/// call itself goes through this type's [`BoxRet`].
pub struct SetOfIterator<T>(pub Vec<T>);

/// The call's ReturnSetInfo, checked to accept a materialized set (an ERROR otherwise).
///
/// # Safety
/// `fcinfo` is the current call's.
unsafe fn materialize_info(fcinfo: &mut FcInfo<'_>) -> *mut pg_sys::ReturnSetInfo {
    // SAFETY: fcinfo is the current call's; its resultinfo, when it is a ReturnSetInfo, lives for
    // the call.
    unsafe {
        let rsinfo = (*fcinfo.as_mut_ptr()).resultinfo.cast::<pg_sys::ReturnSetInfo>();
        let materialize = pg_sys::SetFunctionReturnMode::SFRM_Materialize as i32;
        if rsinfo.is_null()
            || (*rsinfo).type_ != pg_sys::NodeTag::T_ReturnSetInfo
            || (*rsinfo).allowedModes & materialize == 0
        {
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                "set-valued function called in context that cannot accept a set"
            );
        }
        rsinfo
    }
}

unsafe impl BoxRet for SetOfIterator<i64> {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        // SAFETY: the tuplestore and descriptor are made in the query's memory, which outlives the
        // scan that reads them (as InitMaterializedSRF does).
        unsafe {
            let rsinfo = materialize_info(fcinfo);
            let random = (*rsinfo).allowedModes & pg_sys::SetFunctionReturnMode::SFRM_Materialize_Random as i32 != 0;
            let old = pg_sys::MemoryContextSwitchTo((*(*rsinfo).econtext).ecxt_per_query_memory);
            let desc = pg_sys::CreateTemplateTupleDesc(1);
            pg_sys::TupleDescInitEntry(desc, 1, c"id".as_ptr(), pg_sys::INT8OID, -1, 0);
            let store = pg_sys::tuplestore_begin_heap(random, false, pg_sys::work_mem);
            for id in self.0 {
                let mut value = pg_sys::Datum::from(id);
                let mut null = false;
                pg_sys::tuplestore_putvalues(store, desc, &mut value, &mut null);
            }
            pg_sys::MemoryContextSwitchTo(old);
            (*rsinfo).returnMode = pg_sys::SetFunctionReturnMode::SFRM_Materialize;
            (*rsinfo).setResult = store;
            (*rsinfo).setDesc = desc;
            fcinfo.return_null()
        }
    }
}

/// Rows of a composite type (claim's `queue.claimed_job`), returned in one call: a claim of a
/// batch then enters and leaves its `SET search_path` once, not once per job.
unsafe impl BoxRet for SetOfIterator<PgHeapTuple<'static, AllocatedByRust>> {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        // SAFETY: as for SetOfIterator<i64>; the rows were formed with the type's descriptor, which
        // is the call's expected one (RETURNS SETOF that type), and tuplestore_puttuple copies each
        // row into the store's memory.
        unsafe {
            let rsinfo = materialize_info(fcinfo);
            let random = (*rsinfo).allowedModes & pg_sys::SetFunctionReturnMode::SFRM_Materialize_Random as i32 != 0;
            let old = pg_sys::MemoryContextSwitchTo((*(*rsinfo).econtext).ecxt_per_query_memory);
            let expected = (*rsinfo).expectedDesc;
            if expected.is_null() {
                pg_sys::MemoryContextSwitchTo(old);
                ereport!(
                    ERROR,
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    "set-valued function called in context that does not describe its rows"
                );
            }
            let desc = pg_sys::CreateTupleDescCopy(expected);
            let store = pg_sys::tuplestore_begin_heap(random, false, pg_sys::work_mem);
            pg_sys::MemoryContextSwitchTo(old);
            for row in self.0 {
                pg_sys::tuplestore_puttuple(store, row.into_pg());
            }
            (*rsinfo).returnMode = pg_sys::SetFunctionReturnMode::SFRM_Materialize;
            (*rsinfo).setResult = store;
            (*rsinfo).setDesc = desc;
            fcinfo.return_null()
        }
    }
}
