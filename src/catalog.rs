//! The queues' settings, cached in each backend: enqueue and claim look a queue up on every call,
//! and a statement that only inserts a row (or only claims) is much cheaper than one that also
//! reads queue.queues.
//!
//! A generation counter in shared memory says when a cache may be stale. Every function that
//! changes queues, their grants or their rate schedules bumps it at once and again when its
//! transaction ends (commit or abort), so a backend never keeps an entry it read while a change
//! was in flight. Without queue_ext preloaded there is no counter, and nothing is cached.

use crate::error::{internal, Result};
use crate::spi::exec;
use pgrx::datum::Interval;
use pgrx::pg_sys;
use pgrx::spi::SpiClient;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// A queue's settings as the hot path needs them.
pub struct QueueInfo {
    pub id: i32,
    pub name: String,
    pub max_attempts: i32,
    pub notify: bool,
    pub lease: Interval,
    pub paused: bool,
    pub max_running: Option<i32>,
    pub max_running_per_group: Option<i32>,
    pub rate: Option<f64>,
    pub burst: Option<i32>,
    /// The queue has a rate schedule: its rate depends on the time of day.
    pub scheduled_rate: bool,
}

struct Cache {
    /// The shared generation the entries were read at; None: nothing cached.
    generation: Option<u64>,
    database: pg_sys::Oid,
    /// Whether any per-queue grant existed: when one does, permissions are checked every call.
    grants_exist: bool,
    /// `grants_exist` was read at this generation (not only assumed).
    grants_read: bool,
    queues: HashMap<String, Rc<QueueInfo>>,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache {
        generation: None,
        database: pg_sys::InvalidOid,
        grants_exist: true,
        grants_read: false,
        queues: HashMap::new(),
    });
    /// The local transaction that has already registered its end-of-transaction bump.
    static BUMP_REGISTERED: Cell<u32> = const { Cell::new(0) };
}

const QUEUE: &str = "
    SELECT q.id, q.name, q.max_attempts, q.notify, q.lease, q.paused, q.max_running, q.max_running_per_group,
           q.rate_per_second, q.burst, EXISTS (SELECT FROM queue.queue_rate_schedules s WHERE s.queue_id = q.id),
           EXISTS (SELECT FROM queue.queue_grants)
      FROM queue.queues q WHERE q.name = $1";

const GRANTS_EXIST: &str = "SELECT EXISTS (SELECT FROM queue.queue_grants)";

fn load(client: &mut SpiClient<'_>, name: &str) -> Result<(Option<QueueInfo>, bool)> {
    let rows = exec(client, QUEUE, &[name.into()])?;
    if rows.is_empty() {
        let grants = crate::spi::exec_one::<bool>(client, GRANTS_EXIST, &[])?.unwrap_or(true);
        return Ok((None, grants));
    }
    let r = rows.first();
    let get = |i| r.get::<i32>(i).map_err(internal);
    let info = QueueInfo {
        id: get(1)?.expect("id"),
        name: r.get::<String>(2).map_err(internal)?.expect("name"),
        max_attempts: get(3)?.expect("max_attempts"),
        notify: r.get::<bool>(4).map_err(internal)?.expect("notify"),
        lease: r.get::<Interval>(5).map_err(internal)?.expect("lease"),
        paused: r.get::<bool>(6).map_err(internal)?.expect("paused"),
        max_running: get(7)?,
        max_running_per_group: get(8)?,
        rate: r.get::<f64>(9).map_err(internal)?,
        burst: get(10)?,
        scheduled_rate: r.get::<bool>(11).map_err(internal)?.expect("exists"),
    };
    let grants = r.get::<bool>(12).map_err(internal)?.expect("exists");
    Ok((Some(info), grants))
}

/// The settings of queue `name` (None when it does not exist), and whether any per-queue grant
/// exists (then the caller must check its permission in SQL).
pub fn queue(client: &mut SpiClient<'_>, name: &str) -> Result<(Option<Rc<QueueInfo>>, bool)> {
    // A transaction that changes queues reads them afresh every time: what it sees may yet be
    // rolled back, to a savepoint even.
    let changing = BUMP_REGISTERED.get() == crate::compat::local_xid();
    let generation = (crate::shmem::available() && !changing).then(crate::shmem::queues_generation);
    // SAFETY: reads a backend global.
    let database = unsafe { pg_sys::MyDatabaseId };
    let cached = CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if generation.is_none() || c.generation != generation || c.database != database {
            c.queues.clear();
            c.generation = generation;
            c.database = database;
            c.grants_exist = true;
            c.grants_read = false;
            return None;
        }
        c.queues.get(name).map(|q| (q.clone(), c.grants_exist))
    });
    if let Some((info, grants)) = cached {
        return Ok((Some(info), grants));
    }
    let (info, grants) = load(client, name)?;
    let info = info.map(Rc::new);
    if let Some(info) = &info {
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            // Only when nothing changed while we read: the entry is tagged with the generation
            // read before it.
            if generation.is_some() && c.generation == generation {
                c.grants_exist = grants;
                c.grants_read = true;
                c.queues.insert(name.to_owned(), info.clone());
            }
        });
    }
    Ok((info, grants))
}

/// Whether any per-queue grant exists, for calls that find their queue through a job (complete,
/// fail, ...): only then must they check the caller's grant on it. Cached like the queues.
pub fn grants_exist(client: &mut SpiClient<'_>) -> Result<bool> {
    let changing = BUMP_REGISTERED.get() == crate::compat::local_xid();
    let generation = (crate::shmem::available() && !changing).then(crate::shmem::queues_generation);
    // SAFETY: reads a backend global (as `queue` does).
    let database = unsafe { pg_sys::MyDatabaseId };
    let cached = CACHE.with(|c| {
        let c = c.borrow();
        (generation.is_some() && c.generation == generation && c.database == database && c.grants_read)
            .then_some(c.grants_exist)
    });
    if let Some(grants) = cached {
        return Ok(grants);
    }
    let grants = crate::spi::exec_one::<bool>(client, GRANTS_EXIST, &[])?.unwrap_or(true);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if generation.is_some() && (c.generation != generation || c.database != database) {
            c.queues.clear();
            c.generation = generation;
            c.database = database;
        }
        // Only when nothing changed while we read (the value is tagged with the generation read
        // before it).
        if generation.is_some() && c.generation == generation {
            c.grants_exist = grants;
            c.grants_read = true;
        }
    });
    Ok(grants)
}

/// Queues, grants or rate schedules are being changed: other backends must read them afresh,
/// now and when this transaction ends (whether it commits or not).
pub fn changed() {
    if !crate::shmem::available() {
        return;
    }
    crate::shmem::bump_queues_generation();
    let lxid = crate::compat::local_xid();
    if BUMP_REGISTERED.get() != lxid {
        BUMP_REGISTERED.set(lxid);
        pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, crate::shmem::bump_queues_generation);
        pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Abort, crate::shmem::bump_queues_generation);
    }
}
