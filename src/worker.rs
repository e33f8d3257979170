//! The background worker: one per server, serving the database named by `queue_ext.database`.
//!
//! Every `queue_ext.tick` it releases expired leases, notifies queues whose scheduled jobs came due,
//! prunes finished jobs past retention and records what it did in `queue.worker_status`. Each step
//! runs in its own short transaction (bounded batches), so the worker never pins the xmin horizon.
//! An error in a step is recorded and the next step still runs. Until `CREATE EXTENSION queue_ext`
//! it waits quietly; on a standby it does not start (it starts once recovery has finished).

use crate::error::Result;
use crate::{guc, maintenance, spi::exec};
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::PgTryBuilder;
use std::time::Duration;

/// A batch step repeats until a batch comes back short or this share of the tick has gone: the
/// worker keeps up with any completion rate (retention) while each transaction stays small.
const STEP_BUDGET_OF_TICK: f64 = 0.4;
/// After a crash or pg_terminate_backend, the postmaster starts the worker again this much later.
const RESTART_AFTER: Duration = Duration::from_secs(1);

pub fn register() {
    BackgroundWorkerBuilder::new("queue_ext background worker")
        .set_type("queue_ext")
        .set_library("queue_ext")
        .set_function("queue_ext_worker_main")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(RESTART_AFTER))
        .load();
}

#[derive(Default)]
struct TickReport {
    leases_released: i64,
    notifications_sent: i64,
    jobs_pruned: i64,
    error: Option<String>,
}

struct Worker {
    started_at: Option<TimestampWithTimeZone>,
    due_checked_until: Option<TimestampWithTimeZone>,
    waiting_logged: bool,
    stopping: bool,
}

/// Run `f` in a transaction of its own. An error aborts that transaction only and comes back as text.
fn in_transaction<R>(f: impl FnOnce() -> Result<R> + std::panic::UnwindSafe) -> std::result::Result<R, String> {
    // SAFETY: the worker is between transactions here; the catch handler aborts what was begun.
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    PgTryBuilder::new(move || {
        let result = f();
        match result {
            Ok(value) => {
                unsafe {
                    pg_sys::PopActiveSnapshot();
                    pg_sys::CommitTransactionCommand();
                }
                Ok(value)
            }
            Err(report) => {
                unsafe { pg_sys::AbortCurrentTransaction() };
                Err(report.message().to_owned())
            }
        }
    })
    .catch_others(|caught| {
        unsafe { pg_sys::AbortCurrentTransaction() };
        Err(crate::error::caught_message(caught))
    })
    .execute()
}

impl Worker {
    fn extension_installed(&mut self) -> bool {
        let installed = in_transaction(|| {
            Spi::connect_mut(|c| {
                Ok(!exec(c, "SELECT FROM pg_catalog.pg_extension WHERE extname = 'queue_ext'", &[])?.is_empty())
            })
        })
        .unwrap_or(false);
        if !installed && !self.waiting_logged {
            log!(
                "queue_ext background worker: waiting for CREATE EXTENSION queue_ext in database \"{}\"",
                guc::database()
            );
            self.waiting_logged = true;
        }
        if installed {
            self.waiting_logged = false;
        }
        installed
    }

    /// Repeat a batch step, each batch in its own transaction, until one comes back short or the
    /// step's time budget is spent; what is left waits for the next tick.
    fn batches(&mut self, report: &mut TickReport, step: fn(&mut pgrx::spi::SpiClient<'_>, i64) -> Result<i64>) -> i64 {
        let limit = guc::batch_size();
        let budget = guc::tick().mul_f64(STEP_BUDGET_OF_TICK);
        let started = std::time::Instant::now();
        let mut total = 0;
        loop {
            match in_transaction(|| Spi::connect_mut(|c| step(c, limit))) {
                Ok(n) => {
                    total += n;
                    if n < limit {
                        break;
                    }
                }
                Err(e) => {
                    report.error = Some(e);
                    break;
                }
            }
            if BackgroundWorker::sigterm_received() {
                self.stopping = true;
                break;
            }
            if started.elapsed() >= budget {
                break;
            }
        }
        total
    }

    fn notify_due(&mut self, report: &mut TickReport) {
        let since = self.due_checked_until;
        match in_transaction(move || {
            Spi::connect_mut(|c| {
                let until = crate::clock::transaction_now();
                let since = match since {
                    Some(s) => s,
                    None => exec(
                        c,
                        "SELECT coalesce(due_checked_until, now() - interval '1 minute') FROM queue.worker_status",
                        &[],
                    )?
                    .first()
                    .get_one::<TimestampWithTimeZone>()
                    .map_err(crate::error::internal)?
                    .unwrap_or(until),
                };
                Ok((maintenance::notify_due(c, since, until)?, until))
            })
        }) {
            Ok((sent, until)) => {
                report.notifications_sent = sent;
                self.due_checked_until = Some(until);
            }
            Err(e) => report.error = Some(e),
        }
    }

    fn record(&mut self, report: &TickReport) {
        let (started_at, due) = (self.started_at, self.due_checked_until);
        let (released, sent, pruned) = (report.leases_released, report.notifications_sent, report.jobs_pruned);
        let error = report.error.clone();
        let result = in_transaction(move || {
            Spi::connect_mut(|c| {
                let pid = unsafe { pg_sys::MyProcPid };
                let row = exec(
                    c,
                    "UPDATE queue.worker_status
                        SET pid = $1, started_at = coalesce($2, now()), last_tick_at = now(), ticks = ticks + 1,
                            leases_released = leases_released + $3, notifications_sent = notifications_sent + $4,
                            jobs_pruned = jobs_pruned + $5,
                            last_error = coalesce($6, last_error),
                            last_error_at = CASE WHEN $6 IS NULL THEN last_error_at ELSE now() END,
                            due_checked_until = coalesce($7, due_checked_until)
                    RETURNING started_at",
                    &[
                        pid.into(),
                        started_at.into(),
                        released.into(),
                        sent.into(),
                        pruned.into(),
                        error.into(),
                        due.into(),
                    ],
                )?;
                Ok(if row.is_empty() {
                    None
                } else {
                    row.first().get_one::<TimestampWithTimeZone>().map_err(crate::error::internal)?
                })
            })
        });
        match result {
            Ok(started) => self.started_at = self.started_at.or(started),
            Err(e) => log!("queue_ext background worker: could not record its status: {e}"),
        }
        if let Some(e) = &report.error {
            log!("queue_ext background worker: {e}");
        }
    }

    fn tick(&mut self) {
        // Visible in pg_stat_activity (backend_type 'queue_ext'): query and state_change show each tick.
        unsafe { pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_RUNNING, c"queue_ext tick".as_ptr()) };
        self.tick_steps();
        unsafe { pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, c"queue_ext tick".as_ptr()) };
    }

    fn tick_steps(&mut self) {
        if !self.extension_installed() {
            self.started_at = None;
            self.due_checked_until = None;
            return;
        }
        let mut report = TickReport::default();
        report.leases_released = self.batches(&mut report, maintenance::release_expired);
        if !self.stopping {
            self.notify_due(&mut report);
        }
        if !self.stopping {
            report.jobs_pruned = self.batches(&mut report, maintenance::prune_finished);
        }
        self.record(&report);
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn queue_ext_worker_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi(Some(&guc::database()), None);
    log!("queue_ext background worker started for database \"{}\"", guc::database());

    let mut worker = Worker { started_at: None, due_checked_until: None, waiting_logged: false, stopping: false };
    while !worker.stopping && BackgroundWorker::wait_latch(Some(guc::tick())) {
        if BackgroundWorker::sighup_received() {
            // SAFETY: reloading the configuration file is what a SIGHUP asks of any process.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        // A promoted standby keeps this process; while in recovery there is nothing to do.
        if unsafe { pg_sys::RecoveryInProgress() } {
            continue;
        }
        worker.tick();
    }
    log!("queue_ext background worker stopping");
    // Exit code 1 asks the postmaster to start us again after RESTART_AFTER (it does not during a
    // shutdown): a pg_terminate_backend is an interruption, not a decision to stop serving.
    unsafe { pg_sys::proc_exit(1) }
}
