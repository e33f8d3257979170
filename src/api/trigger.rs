//! `queue.enqueue_trigger()`: enqueue a job for every changed row, in the changing transaction.
//!
//! Row level: one job per row. Statement level: one INSERT for all rows of the statement, read from
//! its transition tables (`REFERENCING NEW TABLE AS ... OLD TABLE AS ...`). The payload is
//! `{"op": "INSERT|UPDATE|DELETE", "table": "schema.table", "new": {...}, "old": {...}}` (a TRUNCATE
//! enqueues one job without rows). Options are checked at CREATE TRIGGER time by an event trigger
//! calling `queue.check_enqueue_trigger`, and again when the trigger fires, from the same argument
//! list.
//!
//! Security: the trigger function is SECURITY INVOKER. Turning a row into jsonb runs code the
//! table's owner may have written (`to_jsonb` calls the casts of the row's types), so the payload,
//! group and dedupe keys are built with the rights of whoever changed the table, and queue_ext
//! takes the extension owner's rights only for its own INSERT of the finished job (security.rs).
//! The caller's per-queue grants are checked by that INSERT like any enqueue's.

use crate::api::dedupe::OnDuplicate;
use crate::api::produce::{insert_one, JobOptions};
use crate::datum::{Jsonb, RowDatum};
// Not `Result`: #[pg_trigger]'s expansion needs the prelude's two-parameter Result in scope.
use crate::error::{internal, QueueError, Result as QResult};
use crate::security::{may, require, Privilege};
use crate::spi::exec;
use crate::trigger_options::TriggerOptions;
use crate::validate::key;
use pgrx::datum::{DatumWithOid, Interval};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::{AllocatedByPostgres, PgRelation, PgTryBuilder};

/// The payload, group key and dedupe key of one change, from the row images `n` (new) and `o`
/// (old) as jsonb. Parameters: $3 op, $4 table, $5 columns to keep (NULL = all), $6 group_key
/// column, $7 dedupe_key column, $8 spread column. Column names are values here, never spliced
/// into SQL.
macro_rules! change_columns {
    () => {
        "jsonb_build_object('op', $3::text, 'table', $4::text)
           || CASE WHEN r.n IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('new', CASE WHEN $5::text[] IS NULL THEN r.n
                   ELSE (SELECT coalesce(jsonb_object_agg(k, v), '{}') FROM jsonb_each(r.n) AS e(k, v) WHERE k = ANY($5)) END) END
           || CASE WHEN r.o IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('old', CASE WHEN $5::text[] IS NULL THEN r.o
                   ELSE (SELECT coalesce(jsonb_object_agg(k, v), '{}') FROM jsonb_each(r.o) AS e(k, v) WHERE k = ANY($5)) END) END
           AS payload,
         nullif(coalesce(r.n, r.o) ->> $6::text, '') AS group_key,
         nullif(coalesce(r.n, r.o) ->> $7::text, '') AS dedupe_key,
         coalesce(r.n, r.o) ->> $8::text AS spread_value"
    };
}

const ROW_CHANGE: &str =
    concat!("SELECT ", change_columns!(), " FROM (SELECT to_jsonb($1) AS n, to_jsonb($2) AS o) AS r");

/// The firing trigger, reduced to what enqueueing needs.
struct Firing {
    opts: TriggerOptions,
    table: String,
    op: &'static str,
    /// The spread option's period, parsed.
    spread_period: Option<Interval>,
    /// The on_duplicate and debounce options, parsed.
    on_duplicate: OnDuplicate,
}

/// Parse the spread option's interval, naming the option when Postgres cannot read it.
fn spread_period(opts: &TriggerOptions) -> QResult<Option<Interval>> {
    let Some((column, text)) = &opts.spread else { return Ok(None) };
    let option = format!("spread={column}:{text}");
    let period = interval_option(&option, text)?;
    crate::spread::period_micros(period, &format!("enqueue_trigger option \"{option}\": the period"))?;
    Ok(Some(period))
}

/// The on_duplicate and debounce options (debounce parsed like spread's period).
fn on_duplicate(opts: &TriggerOptions) -> QResult<OnDuplicate> {
    let debounce = match &opts.debounce {
        Some(text) => {
            let option = format!("debounce={text}");
            let d = interval_option(&option, text)?;
            Some(crate::validate::positive_interval(d, &format!("enqueue_trigger option \"{option}\": debounce"))?)
        }
        None => None,
    };
    OnDuplicate::parse(Some(opts.on_duplicate.as_deref().unwrap_or("skip")), debounce)
}

/// An option's interval, naming the option when Postgres cannot read it.
fn interval_option(option: &str, text: &str) -> QResult<Interval> {
    let text = text.to_owned();
    // interval_in raises on bad input; we only translate that error and raise ours at once.
    let parsed = PgTryBuilder::new(move || {
        Ok(Spi::get_one_with_args::<Interval>("SELECT $1::interval", &[text.as_str().into()]).ok().flatten())
    })
    .catch_others(|e| Err(crate::error::caught_message(e)))
    .execute()
    .map_err(|why| QueueError::invalid(format!("enqueue_trigger option \"{option}\": {why}")))?;
    Ok(parsed.ok_or_else(|| QueueError::invalid(format!("enqueue_trigger option \"{option}\": not an interval")))?)
}

fn trigger_error(e: pgrx::trigger_support::PgTriggerError) -> ErrorReport {
    QueueError::invalid(format!("enqueue_trigger: {e}")).into()
}

fn table_columns(rel: &PgRelation) -> Vec<String> {
    rel.tuple_desc().iter().filter(|a| !a.is_dropped()).map(|a| a.name().to_owned()).collect()
}

fn qualified_name(rel: &PgRelation) -> String {
    format!("{}.{}", rel.namespace(), rel.name())
}

fn change_args<'a>(f: &'a Firing, new: DatumWithOid<'a>, old: DatumWithOid<'a>) -> [DatumWithOid<'a>; 8] {
    [
        new,
        old,
        f.op.into(),
        f.table.as_str().into(),
        f.opts.columns.clone().into(),
        f.opts.group_key.as_deref().into(),
        f.opts.dedupe_key.as_deref().into(),
        f.opts.spread.as_ref().map(|(c, _)| c.as_str()).into(),
    ]
}

/// One change as read back from SQL: payload, group key, dedupe key, spread column value.
type Change = (Jsonb, Option<String>, Option<String>, Option<String>);

fn read_change(row: &pgrx::spi::SpiHeapTupleData<'_>) -> QResult<Change> {
    Ok((
        row.get::<Jsonb>(1).map_err(internal)?.expect("payload is never null"),
        row.get::<String>(2).map_err(internal)?,
        row.get::<String>(3).map_err(internal)?,
        row.get::<String>(4).map_err(internal)?,
    ))
}

/// Enqueue one change, its payload already built. Only this part runs with the extension owner's
/// rights: the statements are queue_ext's own, with search_path pinned, on values already computed.
fn enqueue_change(
    client: &mut SpiClient<'_>,
    f: &Firing,
    (payload, group_key, dedupe_key, spread_value): Change,
) -> QResult<i64> {
    // Keys taken from the row obey the rules of enqueue's arguments.
    let group_key =
        key(group_key.as_deref(), &format!("group_key (column {})", f.opts.group_key.as_deref().unwrap_or("")))?;
    let dedupe_key =
        key(dedupe_key.as_deref(), &format!("dedupe_key (column {})", f.opts.dedupe_key.as_deref().unwrap_or("")))?;
    // A row whose spread column is NULL is due at once.
    let run_at = match (&f.spread_period, spread_value) {
        (Some(period), Some(value)) => {
            Some(crate::spread::next_slot_at(&value, *period, crate::clock::transaction_now())?)
        }
        _ => None,
    };
    let mut opts = JobOptions { run_at, priority: f.opts.priority, group_key, max_attempts: None };
    // The invoker acts (its produce grant is checked); the owner's rights write the job.
    let _acting = crate::security::enter()?;
    f.on_duplicate.debounced(client, &mut opts)?;
    insert_one(client, &f.opts.queue, payload, &opts, dedupe_key.as_deref(), f.on_duplicate)
}

fn fire_row(trigger: &PgTrigger<'_>, f: &Firing) -> QResult<()> {
    let td = trigger.trigger_data();
    // SAFETY: a row-level trigger's TriggerData holds its relation and the tuples of this event.
    let (reltype, new, old) = unsafe {
        let rel = td.tg_relation;
        let tupdesc = (*rel).rd_att;
        let reltype = (*(*rel).rd_rel).reltype;
        let image = |t: pg_sys::HeapTuple| (!t.is_null()).then(|| pg_sys::heap_copy_tuple_as_datum(t, tupdesc));
        match f.op {
            "INSERT" => (reltype, image(td.tg_trigtuple), None),
            "UPDATE" => (reltype, image(td.tg_newtuple), image(td.tg_trigtuple)),
            _ => (reltype, None, image(td.tg_trigtuple)),
        }
    };
    let bind = |d: Option<pg_sys::Datum>| match d {
        // SAFETY: the datum is a composite of the trigger's table, whose row type is reltype.
        Some(d) => unsafe { DatumWithOid::new(RowDatum(d), reltype) },
        None => DatumWithOid::null_oid(reltype),
    };
    Spi::connect_mut(|client| {
        let change = read_change(
            &exec(client, ROW_CHANGE, &change_args(f, bind(new), bind(old)))?
                .first()
                .get_heap_tuple()
                .map_err(internal)?
                .expect("one row"),
        )?;
        enqueue_change(client, f, change)?;
        Ok(())
    })
}

fn fire_statement(trigger: &PgTrigger<'_>, f: &Firing) -> QResult<()> {
    let new_table = trigger.new_transition_table_name().map_err(trigger_error)?;
    let old_table = trigger.old_transition_table_name().map_err(trigger_error)?;
    if f.op == "TRUNCATE" {
        return Spi::connect_mut(|client| {
            let payload = exec(
                client,
                "SELECT jsonb_build_object('op', 'TRUNCATE', 'table', $1::text)",
                &[f.table.as_str().into()],
            )?
            .first()
            .get::<Jsonb>(1)
            .map_err(internal)?
            .expect("not null");
            enqueue_change(client, f, (payload, None, None, None)).map(|_| ())
        });
    }
    let image = |name: Option<&str>| match name {
        Some(t) => format!("SELECT row_number() OVER () AS i, to_jsonb(t) AS r FROM {} AS t", spi::quote_identifier(t)),
        None => "SELECT NULL::bigint AS i, NULL::jsonb AS r WHERE false".to_owned(),
    };
    if new_table.is_none() && old_table.is_none() {
        return Err(QueueError::invalid(format!(
            "enqueue_trigger on {} FOR EACH STATEMENT needs transition tables: add REFERENCING NEW TABLE AS new_rows (and OLD TABLE AS old_rows for UPDATE and DELETE)",
            f.table
        ))
        .into());
    }
    // An UPDATE adds each row to both transition tables at once, so the two scans pair up by position.
    let changes = format!(
        "WITH n AS ({}), o AS ({}),
              r AS (SELECT coalesce(n.i, o.i) AS i, n.r AS n, o.r AS o FROM n FULL JOIN o ON n.i = o.i)
         SELECT {}, r.i FROM r ORDER BY r.i",
        image(new_table),
        image(old_table),
        change_columns!()
    );
    Spi::connect_mut(|client| {
        // SAFETY: registers this trigger's transition tables with the SPI connection just opened.
        unsafe { pg_sys::SPI_register_trigger_data(std::ptr::from_ref(trigger.trigger_data()).cast_mut()) };
        let unbound = || DatumWithOid::null_oid(pg_sys::UNKNOWNOID);
        let args = change_args(f, unbound(), unbound());
        let rows = client.update(changes.as_str(), None, &args[..]).map_err(internal)?;
        let changes = rows.map(|row| read_change(&row)).collect::<QResult<Vec<_>>>()?;
        for change in changes {
            enqueue_change(client, f, change)?;
        }
        Ok(())
    })
}

/// Enqueue a job per changed row into the queue named by the first trigger argument.
/// SECURITY INVOKER on purpose (see the module's comment); search_path is pinned in finalize.sql.
#[pg_trigger(sql = r#"
CREATE FUNCTION queue."enqueue_trigger"() RETURNS TRIGGER
LANGUAGE c AS 'MODULE_PATHNAME', 'queue_enqueue_trigger_wrapper';
"#)]
fn queue_enqueue_trigger<'a>(
    trigger: &'a PgTrigger<'a>,
) -> std::result::Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, ErrorReport> {
    // pgrx's trigger wrapper turns a returned Err into a generic XX000: raise ours with its SQLSTATE.
    fire(trigger).unwrap_or_else(|e| e.report(PgLogLevel::ERROR));
    // Returned rows only matter to BEFORE ROW triggers: pass the row through unchanged.
    Ok(if matches!(trigger.op(), Ok(PgTriggerOperation::Delete)) { trigger.old() } else { trigger.new() })
}

fn fire(trigger: &PgTrigger<'_>) -> QResult<()> {
    let opts = TriggerOptions::parse(&trigger.extra_args().map_err(trigger_error)?)?;
    let rel = trigger.relation().map_err(trigger_error)?;
    let table = qualified_name(&rel);
    opts.check_columns(&table, &table_columns(&rel))?;
    let op = match trigger.op().map_err(trigger_error)? {
        PgTriggerOperation::Insert => "INSERT",
        PgTriggerOperation::Update => "UPDATE",
        PgTriggerOperation::Delete => "DELETE",
        PgTriggerOperation::Truncate => "TRUNCATE",
    };
    let spread_period = spread_period(&opts)?;
    let on_duplicate = on_duplicate(&opts)?;
    let firing = Firing { opts, table, op, spread_period, on_duplicate };
    match trigger.level() {
        PgTriggerLevel::Row => fire_row(trigger, &firing),
        PgTriggerLevel::Statement => fire_statement(trigger, &firing),
    }
}

/// Validate the options of trigger `trigger_oid` if it runs queue.enqueue_trigger; called by the
/// event trigger queue_enqueue_trigger_check at CREATE TRIGGER time.
#[pg_extern(name = "check_enqueue_trigger", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_check_enqueue_trigger(trigger_oid: Option<pg_sys::Oid>) -> QResult<()> {
    let _acting = crate::security::enter()?;
    let trigger_oid = crate::validate::required(trigger_oid, "trigger_oid")?;
    let (relid, args, row_level, has_transition) = Spi::connect_mut(|client| {
        let t = exec(
            client,
            "SELECT tgrelid, tgargs, (tgtype & 1) = 1, tgoldtable IS NOT NULL OR tgnewtable IS NOT NULL,
                    (tgtype & 32) = 32, tgnargs
               FROM pg_catalog.pg_trigger WHERE oid = $1",
            &[trigger_oid.into()],
        )?;
        if t.is_empty() {
            return Err::<_, ErrorReport>(
                QueueError::invalid(format!("no trigger with oid {}", trigger_oid.to_u32())).into(),
            );
        }
        let t = t.first();
        // tgargs holds each argument followed by a NUL: take exactly tgnargs of them, empty ones
        // included, as the firing trigger sees them.
        let nargs = t.get::<i16>(6).map_err(internal)?.unwrap_or(0).max(0) as usize;
        let args: Vec<u8> = t.get(2).map_err(internal)?.unwrap_or_default();
        let args: Vec<String> =
            args.split(|b| *b == 0).take(nargs).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        let truncate_only = t.get::<bool>(5).map_err(internal)?.unwrap_or(false);
        Ok((
            t.get::<pg_sys::Oid>(1).map_err(internal)?.expect("tgrelid"),
            args,
            t.get::<bool>(3).map_err(internal)?.unwrap_or(false),
            t.get::<bool>(4).map_err(internal)?.unwrap_or(false) || truncate_only,
        ))
    })?;
    let opts = TriggerOptions::parse(&args)?;
    spread_period(&opts)?;
    on_duplicate(&opts)?;
    // Whoever creates the trigger must be allowed to produce into the queue (when it exists yet:
    // a missing queue is reported when the trigger fires).
    if let Some(allowed) = Spi::connect_mut(|client| may(client, &opts.queue, Privilege::Produce))? {
        require(allowed, &opts.queue, Privilege::Produce)?;
    }
    // SAFETY: relid comes from pg_trigger; the lock keeps the table's definition stable while we read it.
    let rel = unsafe { PgRelation::with_lock(relid, pg_sys::AccessShareLock as pg_sys::LOCKMODE) };
    let table = qualified_name(&rel);
    opts.check_columns(&table, &table_columns(&rel))?;
    if !row_level && !has_transition {
        return Err(QueueError::invalid(format!(
            "enqueue_trigger on {table} FOR EACH STATEMENT needs transition tables: add REFERENCING NEW TABLE AS new_rows (and OLD TABLE AS old_rows for UPDATE and DELETE)"
        ))
        .into());
    }
    Ok(())
}
