//! Statement execution with plans kept for the life of the backend.
//!
//! Every statement queue_ext runs is a `&'static str`; the first call in a backend prepares it
//! (argument types taken from the arguments) and keeps the plan, so the hot path never re-plans.
//! Plans are keyed by statement and argument types: a trigger binds each table's own row type.
//! Postgres' plan cache revalidates kept plans after DDL, so a dropped and re-created extension
//! is picked up transparently.

use crate::error::{internal, Result};
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::PgOid;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiTupleTable};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

type PlanCache = RefCell<HashMap<(usize, Vec<u32>), Rc<OwnedPreparedStatement>>>;

thread_local! {
    // Keyed by the statement's address (each statement is a distinct static string) and the
    // argument types.
    static PLANS: PlanCache = RefCell::new(HashMap::new());
}

fn plan_for(client: &SpiClient<'_>, sql: &'static str, args: &[DatumWithOid]) -> Result<Rc<OwnedPreparedStatement>> {
    let key = (sql.as_ptr() as usize, args.iter().map(|a| a.oid().to_u32()).collect::<Vec<_>>());
    if let Some(plan) = PLANS.with(|p| p.borrow().get(&key).cloned()) {
        return Ok(plan);
    }
    let types: Vec<PgOid> = args.iter().map(|a| PgOid::from(a.oid())).collect();
    let plan = Rc::new(client.prepare_mut(sql, &types).map_err(internal)?.keep());
    PLANS.with(|p| p.borrow_mut().insert(key, plan.clone()));
    Ok(plan)
}

/// The planner settings queue_ext's statements run under, in force while the value lives
/// (restored when it is dropped, on error too: errors unwind through Rust frames).
///
/// Plans are generic (made once per backend) and must not depend on statistics: a plan made while
/// queue.running was empty would scan it sequentially, with every dead row it gathers, for the
/// life of the session; every statement here has an index for what it looks up. A generic plan's
/// estimates on a big backlog can exceed jit_above_cost, and compiling a claim costs far more than
/// running it. Setting these through the GUC machinery (SET clauses on the functions) cost about a
/// tenth of a claim's time; they are plain variables without assign hooks, so they are set
/// directly, around our own statements only.
pub struct PlannerSettings {
    seqscan: bool,
    jit: bool,
    plan_cache_mode: std::ffi::c_int,
}

impl PlannerSettings {
    pub fn enter() -> Self {
        // SAFETY: backend-local globals, restored by Drop.
        unsafe {
            let saved = PlannerSettings {
                seqscan: pgrx::pg_sys::enable_seqscan,
                jit: pgrx::pg_sys::jit_enabled,
                plan_cache_mode: pgrx::pg_sys::plan_cache_mode,
            };
            pgrx::pg_sys::enable_seqscan = false;
            pgrx::pg_sys::jit_enabled = false;
            pgrx::pg_sys::plan_cache_mode = pgrx::pg_sys::PlanCacheMode::PLAN_CACHE_MODE_FORCE_GENERIC_PLAN as i32;
            saved
        }
    }
}

impl Drop for PlannerSettings {
    fn drop(&mut self) {
        // SAFETY: puts back what enter() found.
        unsafe {
            pgrx::pg_sys::enable_seqscan = self.seqscan;
            pgrx::pg_sys::jit_enabled = self.jit;
            pgrx::pg_sys::plan_cache_mode = self.plan_cache_mode;
        }
    }
}

/// Run `sql` with bound arguments (never interpolated) and return its rows.
pub fn exec<'conn>(
    client: &mut SpiClient<'conn>,
    sql: &'static str,
    args: &[DatumWithOid],
) -> Result<SpiTupleTable<'conn>> {
    let _settings = PlannerSettings::enter();
    let plan = plan_for(client, sql, args)?;
    client.update(&*plan, None, args).map_err(internal)
}

/// Run `sql` and return the first column of its first row, if any.
pub fn exec_one<T: pgrx::FromDatum + pgrx::IntoDatum>(
    client: &mut SpiClient<'_>,
    sql: &'static str,
    args: &[DatumWithOid],
) -> Result<Option<T>> {
    let table = exec(client, sql, args)?;
    if table.is_empty() {
        return Ok(None);
    }
    table.first().get_one::<T>().map_err(internal)
}

/// Run `sql` and collect the first column of every row.
pub fn exec_column<T: pgrx::FromDatum + pgrx::IntoDatum>(
    client: &mut SpiClient<'_>,
    sql: &'static str,
    args: &[DatumWithOid],
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for row in exec(client, sql, args)? {
        if let Some(v) = row.get::<T>(1).map_err(internal)? {
            out.push(v);
        }
    }
    Ok(out)
}

/// EXPLAIN of the plan a statement runs under [`PlannerSettings`] (the generic plan): `sql` is
/// prepared under its own name with parameter `types`, and executed in EXPLAIN with `values` (SQL
/// literals; None is NULL).
pub fn explain_generic(
    client: &mut SpiClient<'_>,
    sql: &str,
    types: &str,
    values: &[Option<String>],
) -> Result<Vec<String>> {
    const NAME: &str = "queue_ext_explain";
    let _settings = PlannerSettings::enter();
    let deallocate = || format!("DEALLOCATE {NAME}");
    let exists = !client
        .select("SELECT true FROM pg_catalog.pg_prepared_statements WHERE name = $1", None, &[NAME.into()])
        .map_err(internal)?
        .is_empty();
    if exists {
        client.update(deallocate().as_str(), None, &[]).map_err(internal)?;
    }
    client.update(format!("PREPARE {NAME} ({types}) AS {sql}").as_str(), None, &[]).map_err(internal)?;
    let args: Vec<String> =
        values.iter().map(|v| v.as_deref().map_or_else(|| "NULL".to_owned(), pgrx::spi::quote_literal)).collect();
    let mut lines = Vec::new();
    for row in
        client.update(format!("EXPLAIN EXECUTE {NAME}({})", args.join(", ")).as_str(), None, &[]).map_err(internal)?
    {
        lines.extend(row.get::<String>(1).map_err(internal)?);
    }
    client.update(deallocate().as_str(), None, &[]).map_err(internal)?;
    Ok(lines)
}
