//! Per-queue privileges: queue.grant and queue.revoke.
//!
//! The queue_* roles say which functions a role may call; these allow-lists say on which queues.
//! A role without any grant for a privilege may use it on every queue; once it holds a grant for
//! it, only on the queues granted (directly or through a role it is a member of). 'admin' on a
//! queue also allows produce and consume there.

use crate::error::{QueueError, Result};
use crate::security::{check_queue, Privilege};
use crate::spi::exec_one;
use crate::validate::{queue_name, required};
use pgrx::prelude::*;

const GRANT: &str = "
    INSERT INTO queue.queue_grants (queue_id, grantee, privilege)
    SELECT q.id, $2::regrole, $3 FROM queue.queues q WHERE q.name = $1
    ON CONFLICT DO NOTHING
    RETURNING queue_id";

const REVOKE: &str = "
    DELETE FROM queue.queue_grants g USING queue.queues q
     WHERE q.name = $1 AND g.queue_id = q.id AND g.grantee = $2::regrole AND g.privilege = $3
    RETURNING g.queue_id";

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
#[pg_extern(name = "grant", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn queue_grant(queue: Option<&str>, role: Option<&str>, privilege: Option<&str>) -> Result<bool> {
    let (queue, role, privilege) = arguments(queue, role, privilege)?;
    Spi::connect_mut(|client| {
        check_queue(client, queue, Privilege::Admin)?;
        crate::catalog::changed();
        // $2::regrole raises 42704 for an unknown role.
        Ok(exec_one::<i32>(client, GRANT, &[queue.into(), role.into(), privilege.as_str().into()])?.is_some())
    })
}

/// Take a grant back. Once a role holds no grant for a privilege any more, it is no longer
/// restricted for it. True when there was such a grant.
#[pg_extern(name = "revoke", volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn queue_revoke(queue: Option<&str>, role: Option<&str>, privilege: Option<&str>) -> Result<bool> {
    let (queue, role, privilege) = arguments(queue, role, privilege)?;
    Spi::connect_mut(|client| {
        check_queue(client, queue, Privilege::Admin)?;
        crate::catalog::changed();
        Ok(exec_one::<i32>(client, REVOKE, &[queue.into(), role.into(), privilege.as_str().into()])?.is_some())
    })
}
