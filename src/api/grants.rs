//! Per-queue privileges: queue.grant and queue.revoke.
//!
//! The queue_* roles say which functions a role may call; these allow-lists say on which queues.
//! A role without any grant for a privilege may use it on every queue; once it holds a grant for
//! it, only on the queues granted (directly or through a role it is a member of). 'admin' on a
//! queue also allows produce and consume there.
//!
//! So a grant confines roles and a revoke can set them free: both are bounded by what the caller
//! manages and may give (src/store/sql/grant_reach.sql). The caller needs 'admin' on the queue;
//! the role must be one it manages (it is a superuser, or the role itself, or holds ADMIN OPTION
//! on it, or has CREATEROLE and the role is no superuser); a grant never goes to a base role
//! (queue_admin, queue_producer, queue_worker, queue_maintainer, PostgreSQL's predefined roles) or
//! PUBLIC, nor to a role a base role inherits from, nor newly confines a member of the role that
//! the caller does not manage; a revoke that would leave a role with no grant for a privilege (so
//! free to use it on every queue) needs a caller that is itself free to use it on every queue.

use crate::error::{internal, QueueError, Result};
use crate::security::{caller, check_queue, Privilege};
use crate::spi::{exec, exec_one};
use crate::store;
use crate::validate::{queue_name, required};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

const GRANT: &str = "
    INSERT INTO queue.queue_grants (queue_id, grantee, privilege)
    SELECT q.id, $2::regrole, $3 FROM queue.queues q WHERE q.name = $1
    ON CONFLICT DO NOTHING
    RETURNING queue_id";

const REVOKE: &str = "
    DELETE FROM queue.queue_grants g USING queue.queues q
     WHERE q.name = $1 AND g.queue_id = q.id AND g.grantee = $2::regrole AND g.privilege = $3
    RETURNING g.queue_id";

/// 42501 naming the role, unless the caller may grant (`revoke`: revoke) `privilege` on queue
/// `queue` to role `role` as far as that reaches (see the module's comment).
fn check_reach(client: &mut SpiClient<'_>, queue: &str, role: &str, privilege: Privilege, revoke: bool) -> Result<()> {
    if role.trim().eq_ignore_ascii_case("public") {
        return Err(QueueError::RoleDenied(
            "queue grants are made to roles, never to PUBLIC: a grant to every role would confine every role".into(),
        )
        .into());
    }
    let queue_id = exec_one::<i32>(client, "SELECT id FROM queue.queues WHERE name = $1", &[queue.into()])?
        .ok_or_else(|| QueueError::UnknownQueue(queue.to_owned()))?;
    // 42704 for an unknown role.
    let target = exec_one::<pg_sys::Oid>(client, "SELECT $1::regrole::oid", &[role.into()])?.expect("a role");
    let granter = caller();
    let granter_name = exec_one::<String>(client, "SELECT pg_catalog.pg_get_userbyid($1)::text", &[granter.into()])?
        .unwrap_or_default();
    let rows = exec(
        client,
        store::GRANT_REACH,
        &[queue_id.into(), target.into(), privilege.as_str().into(), granter.into(), revoke.into()],
    )?;
    let mut grantee = String::new();
    for (i, row) in rows.into_iter().enumerate() {
        let name = row.get::<String>(1).map_err(internal)?.expect("name");
        let flag = |n| row.get::<bool>(n).map_err(internal).map(|b| b.unwrap_or(false));
        let (base, managed, restricts) = (flag(2)?, flag(3)?, flag(4)?);
        let lifts = row.get::<String>(5).map_err(internal)?;
        let denied = |message: String| Err(QueueError::RoleDenied(message).into());
        if i == 0 {
            grantee = name.clone();
            if base && !revoke {
                return denied(format!(
                    "role \"{name}\" is a base role: a queue grant to it would confine every role that holds it; grant to the tenant's own roles"
                ));
            }
            if !managed {
                let verb = if revoke { "revoke from" } else { "grant to" };
                return denied(format!(
                    "permission denied to {verb} role \"{name}\": role \"{granter_name}\" does not manage it (a superuser, a role with ADMIN OPTION on it, or a role with CREATEROLE does)"
                ));
            }
        } else if base && !revoke {
            return denied(format!(
                "role \"{name}\", a base role, is a member of role \"{grantee}\": a queue grant to \"{grantee}\" would confine every role that holds \"{name}\""
            ));
        } else if restricts && !managed {
            return denied(format!(
                "a queue grant to role \"{grantee}\" would confine role \"{name}\", a member of it, which role \"{granter_name}\" does not manage"
            ));
        }
        if let Some(p) = lifts {
            return denied(format!(
                "revoking it would leave role \"{name}\" with no grant for '{p}', free to {p} on every queue, which role \"{granter_name}\" may not allow: it is confined to some queues itself"
            ));
        }
    }
    Ok(())
}

fn arguments<'a>(
    queue: Option<&'a str>,
    role: Option<&'a str>,
    privilege: Option<&'a str>,
) -> std::result::Result<(&'a str, &'a str, Privilege), QueueError> {
    let queue = queue_name(queue)?;
    let role = required(role, "role")?;
    let privilege = Privilege::parse(required(privilege, "privilege")?)?;
    Ok((queue, role, privilege))
}

/// Allow `role` to use `privilege` ('produce', 'consume' or 'admin') on `queue`. From then on the
/// role may use that privilege on the queues it was granted only. True when newly granted.
#[pg_extern(name = "grant", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_grant(queue: Option<&str>, role: Option<&str>, privilege: Option<&str>) -> Result<bool> {
    let _acting = crate::security::enter()?;
    let (queue, role, privilege) = arguments(queue, role, privilege)?;
    Spi::connect_mut(|client| {
        check_queue(client, queue, Privilege::Admin)?;
        check_reach(client, queue, role, privilege, false)?;
        crate::catalog::changed();
        Ok(exec_one::<i32>(client, GRANT, &[queue.into(), role.into(), privilege.as_str().into()])?.is_some())
    })
}

/// Take a grant back. Once a role holds no grant for a privilege any more, it is no longer
/// restricted for it. True when there was such a grant.
#[pg_extern(name = "revoke", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_revoke(queue: Option<&str>, role: Option<&str>, privilege: Option<&str>) -> Result<bool> {
    let _acting = crate::security::enter()?;
    let (queue, role, privilege) = arguments(queue, role, privilege)?;
    Spi::connect_mut(|client| {
        check_queue(client, queue, Privilege::Admin)?;
        check_reach(client, queue, role, privilege, true)?;
        crate::catalog::changed();
        Ok(exec_one::<i32>(client, REVOKE, &[queue.into(), role.into(), privilege.as_str().into()])?.is_some())
    })
}
