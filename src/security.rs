//! Who is acting, and switching identity without handing user code our rights.
//!
//! One rule (README, Security): the acting role is the current user at the call, `GetUserId()`
//! when a queue.* function is entered. That is the role whose code is running: the table owner
//! inside ANALYZE or an index expression, a SECURITY DEFINER function's owner inside it, the
//! session's role otherwise. The outer user (`GetOuterUserId()`) is not: PostgreSQL runs one
//! role's code inside another's session (autovacuum, a DBA's ANALYZE, our own worker), where it is
//! the privileged one.
//!
//! So the functions are SECURITY INVOKER: [`enter`] records the acting role, refuses inside a
//! security-restricted operation (where the current user is borrowed: index expressions during
//! maintenance, REFRESH MATERIALIZED VIEW, the worker's reads of users' objects), and takes the
//! extension owner's rights for queue_ext's own statements until the guard drops. Grants are
//! checked and owners recorded with [`caller`].
//!
//! Where queue_ext must run code that a user could extend (a trigger's `to_jsonb` of a row calls
//! the row's casts; a backfill reads a user's table), it runs it as that user and takes its own
//! rights only around its own statements, with [`as_role`]. PostgreSQL restores the identity on
//! error by itself (transaction and subtransaction abort reset it), so the guard only has to
//! restore it on the normal path.

use crate::error::{with_hint, QueueError, Result};
use crate::spi::exec_one;
use pgrx::pg_sys;
use pgrx::spi::SpiClient;
use std::cell::Cell;

thread_local! {
    /// The acting role of the queue.* call in progress (None outside one).
    static ACTING: Cell<Option<pg_sys::Oid>> = const { Cell::new(None) };
    /// The extension owner, keyed by the OID of schema queue (a reinstall makes a new schema).
    static OWNER: Cell<Option<(pg_sys::Oid, pg_sys::Oid)>> = const { Cell::new(None) };
}

/// The role the caller acts as: the current user when the queue.* call in progress was entered,
/// or the current user outside one.
pub fn caller() -> pg_sys::Oid {
    // SAFETY: reads a backend global.
    ACTING.get().unwrap_or_else(|| unsafe { pg_sys::GetUserId() })
}

/// Whether the current user is borrowed: inside ANALYZE, VACUUM, REINDEX, CLUSTER, REFRESH
/// MATERIALIZED VIEW or CREATE INDEX (index expressions run as the table owner), or inside the
/// background worker's reads of a user's objects.
pub fn in_restricted_operation() -> bool {
    // SAFETY: reads a backend global.
    unsafe { pg_sys::InSecurityRestrictedOperation() }
}

/// The extension owner: the role that owns queue_ext's tables, whose rights its statements run with.
fn owner() -> Result<pg_sys::Oid> {
    // SAFETY: a syscache lookup by name.
    let schema = unsafe { pg_sys::get_namespace_oid(c"queue".as_ptr(), true) };
    if let Some((cached_schema, owner)) = OWNER.get() {
        if cached_schema == schema {
            return Ok(owner);
        }
    }
    let (owner, version) = pgrx::Spi::connect_mut(|client| {
        let owner = extension_owner(client)?;
        let version = exec_one::<String>(
            client,
            "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'queue_ext'",
            &[],
        )?;
        Ok::<_, pgrx::pg_sys::panic::ErrorReport>((owner, version.unwrap_or_default()))
    })?;
    // Between installing a new library and ALTER EXTENSION ... UPDATE, the SQL objects the
    // library's statements name may not exist yet: say what to do rather than fail on one of them.
    // (The upgrade script itself may call the functions it is defining.)
    // SAFETY: reads a backend global.
    if version != env!("CARGO_PKG_VERSION") && !unsafe { pg_sys::creating_extension } {
        return Err(with_hint(
            QueueError::NotInPrerequisiteState(format!(
                "this database has queue_ext {version}'s SQL objects, and the installed library is {}",
                env!("CARGO_PKG_VERSION")
            )),
            "run ALTER EXTENSION queue_ext UPDATE",
        ));
    }
    OWNER.set(Some((schema, owner)));
    Ok(owner)
}

/// The acting role of a queue.* call, and the owner's rights for its own statements; dropping it
/// gives both back.
pub struct Acting {
    previous: Option<pg_sys::Oid>,
    _rights: RoleGuard,
}

impl Drop for Acting {
    fn drop(&mut self) {
        ACTING.set(self.previous);
    }
}

/// The first step of every queue.* function that reads or changes queues: see the module's comment.
pub fn enter() -> Result<Acting> {
    if in_restricted_operation() {
        return Err(QueueError::Restricted.into());
    }
    take_owner_rights()
}

/// [`enter`] for the visibility checks of views and row-level security policies, which only
/// narrow what a read returns: they answer inside a restricted operation too, for the role whose
/// rights are in force there.
pub fn enter_read() -> Result<Acting> {
    take_owner_rights()
}

fn take_owner_rights() -> Result<Acting> {
    let owner = owner()?;
    let (mut user, mut context) = (pg_sys::Oid::INVALID, 0);
    // SAFETY: the same sequence PostgreSQL's fmgr_security_definer uses.
    unsafe { pg_sys::GetUserIdAndSecContext(&mut user, &mut context) };
    let previous = ACTING.get();
    // A queue.* function reached from our own statements (a view calling one, say) acts for the
    // role of the outer call, not for the owner the outer call switched to.
    let acting = match previous {
        Some(outer) if user == owner => outer,
        _ => user,
    };
    ACTING.set(Some(acting));
    // SAFETY: restored by the guard, and by PostgreSQL itself on (sub)transaction abort.
    unsafe { pg_sys::SetUserIdAndSecContext(owner, context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32) };
    Ok(Acting { previous, _rights: RoleGuard { saved_user: user, saved_context: context } })
}

/// Restores the previous user id and security context when dropped.
pub struct RoleGuard {
    saved_user: pg_sys::Oid,
    saved_context: i32,
}

impl Drop for RoleGuard {
    fn drop(&mut self) {
        // SAFETY: puts back exactly what `as_role` found.
        unsafe { pg_sys::SetUserIdAndSecContext(self.saved_user, self.saved_context) };
    }
}

/// Act as `role` until the guard is dropped. The operation is security-restricted (like VACUUM
/// running index expressions as the table owner): code running under it cannot change the session
/// (SET ROLE, temporary objects, LISTEN ...), so it cannot leave anything behind for later.
pub fn as_role(role: pg_sys::Oid) -> RoleGuard {
    let (mut saved_user, mut saved_context) = (pg_sys::Oid::INVALID, 0);
    // SAFETY: the same sequence PostgreSQL's own fmgr_security_definer and vacuum use.
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut saved_user, &mut saved_context);
        pg_sys::SetUserIdAndSecContext(
            role,
            saved_context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32 | pg_sys::SECURITY_RESTRICTED_OPERATION as i32,
        );
    }
    RoleGuard { saved_user, saved_context }
}

/// The role that owns queue_ext's tables (the extension's owner): whose rights the trigger takes
/// to write a job it has built as the invoker.
pub fn extension_owner(client: &mut SpiClient<'_>) -> Result<pg_sys::Oid> {
    exec_one::<pg_sys::Oid>(client, "SELECT extowner FROM pg_catalog.pg_extension WHERE extname = 'queue_ext'", &[])?
        .ok_or_else(|| QueueError::NotInPrerequisiteState("extension queue_ext is not installed".into()).into())
}

/// The role the background worker takes for its maintenance statements. A syscache lookup, not
/// a statement: the worker asks in every transaction, idle ticks included.
pub fn maintainer(_client: &mut SpiClient<'_>) -> Result<pg_sys::Oid> {
    // SAFETY: a syscache lookup by name, in a transaction; missing_ok returns InvalidOid.
    let oid = unsafe { pg_sys::get_role_oid(c"queue_maintainer".as_ptr(), true) };
    if oid == pg_sys::InvalidOid {
        return Err(QueueError::NotInPrerequisiteState("role queue_maintainer does not exist".into()).into());
    }
    Ok(oid)
}

/// The per-queue privileges of `queue.grant`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Privilege {
    Produce,
    Consume,
    Admin,
}

impl Privilege {
    pub fn as_str(self) -> &'static str {
        match self {
            Privilege::Produce => "produce",
            Privilege::Consume => "consume",
            Privilege::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> std::result::Result<Self, QueueError> {
        match s {
            "produce" => Ok(Privilege::Produce),
            "consume" => Ok(Privilege::Consume),
            "admin" => Ok(Privilege::Admin),
            other => Err(QueueError::invalid(format!(
                "privilege must be 'produce', 'consume' or 'admin', got '{}'",
                other.escape_default()
            ))),
        }
    }
}

/// 42501 naming the queue, unless `allowed`.
pub fn require(allowed: bool, queue: &str, privilege: Privilege) -> std::result::Result<(), QueueError> {
    if allowed {
        Ok(())
    } else {
        Err(QueueError::Denied { queue: queue.to_owned(), privilege: privilege.as_str() })
    }
}

const MAY: &str = "SELECT queue_internal.may(q.id, $2, $3) FROM queue.queues q WHERE q.name = $1";
const MAY_ID: &str = "SELECT queue_internal.may($1, $2, $3)";

/// 42501 unless the caller may use `privilege` on `queue` (looked up already).
pub fn require_id(client: &mut SpiClient<'_>, queue: &crate::catalog::QueueInfo, privilege: Privilege) -> Result<()> {
    let allowed = exec_one::<bool>(client, MAY_ID, &[queue.id.into(), caller().into(), privilege.as_str().into()])?;
    Ok(require(allowed.unwrap_or(false), &queue.name, privilege)?)
}

/// Whether the caller may use `privilege` on `queue`; None when there is no such queue.
pub fn may(client: &mut SpiClient<'_>, queue: &str, privilege: Privilege) -> Result<Option<bool>> {
    exec_one::<bool>(client, MAY, &[queue.into(), caller().into(), privilege.as_str().into()])
}

/// 42704 for an unknown queue, 42501 when the caller may not use `privilege` on it.
pub fn check_queue(client: &mut SpiClient<'_>, queue: &str, privilege: Privilege) -> Result<()> {
    match may(client, queue, privilege)? {
        None => Err(QueueError::UnknownQueue(queue.to_owned()).into()),
        Some(allowed) => Ok(require(allowed, queue, privilege)?),
    }
}
