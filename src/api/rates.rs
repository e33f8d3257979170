//! Rate schedules: on-peak / off-peak claim rates by time zone, weekdays and hours.
//!
//! The token bucket itself lives in shared memory (src/shmem.rs); this module stores the schedule
//! and answers which rate applies at an instant (`queue.effective_rate`, also used by claim).

use crate::error::{internal, QueueError, Result};
use crate::security::{check_queue, Privilege};
use crate::spi::exec;
use crate::store;
use crate::validate::{at_least, queue_name};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// "mon-fri", "sat-sun", "fri-mon" (wraps), "mon,wed,fri", "sun": ISO weekday numbers (1 = Monday).
pub fn parse_days(spec: &str) -> std::result::Result<Vec<i32>, QueueError> {
    let day = |d: &str| {
        DAYS.iter().position(|x| x.eq_ignore_ascii_case(d.trim())).map(|i| i as i32 + 1).ok_or_else(|| {
            QueueError::invalid(format!(
                "peak_days: unknown day \"{}\"; use mon, tue, wed, thu, fri, sat, sun",
                d.trim().escape_default()
            ))
        })
    };
    let mut days = Vec::new();
    for part in spec.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day(from)?, day(to)?);
                let mut d = from;
                loop {
                    days.push(d);
                    if d == to {
                        break;
                    }
                    d = d % 7 + 1;
                }
            }
            None => days.push(day(part)?),
        }
    }
    days.sort_unstable();
    days.dedup();
    Ok(days)
}

/// "9-17": from 09:00 up to (not including) 17:00 local time; "22-6" wraps midnight; "0-24" all day.
pub fn parse_hours(spec: &str) -> std::result::Result<(i32, i32), QueueError> {
    let bad = || {
        QueueError::invalid(format!(
            "peak_hours must look like \"9-17\" (start hour 0-23, end hour 1-24), got \"{}\"",
            spec.escape_default()
        ))
    };
    let (start, end) = spec.split_once('-').ok_or_else(bad)?;
    let (start, end): (i32, i32) = (start.trim().parse().map_err(|_| bad())?, end.trim().parse().map_err(|_| bad())?);
    if !(0..=23).contains(&start) || !(1..=24).contains(&end) || start == end {
        return Err(bad());
    }
    Ok((start, end))
}

fn check_rate(rate: Option<f64>, what: &str) -> std::result::Result<(), QueueError> {
    match rate {
        Some(r) if !(r.is_finite() && r > 0.0) => {
            Err(QueueError::invalid(format!("{what} must be a positive number (or NULL for unlimited), got {r}")))
        }
        _ => Ok(()),
    }
}

/// Give `queue` an on-peak / off-peak rate. A NULL rate means unlimited in that period.
#[pg_extern(name = "set_rate_schedule", volatile)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn queue_set_rate_schedule(
    queue: Option<&str>,
    peak_rate: Option<f64>,
    off_peak_rate: Option<f64>,
    timezone: default!(Option<&str>, "'UTC'"),
    peak_days: default!(Option<&str>, "'mon-fri'"),
    peak_hours: default!(Option<&str>, "'9-17'"),
    peak_burst: default!(Option<i32>, NULL),
    off_peak_burst: default!(Option<i32>, NULL),
) -> Result<()> {
    // The background worker looks at what this changed once it commits.
    crate::pool_hints::due_now_at_commit(None);
    let _acting = crate::security::enter()?;
    let queue = queue_name(queue)?;
    check_rate(peak_rate, "peak_rate")?;
    check_rate(off_peak_rate, "off_peak_rate")?;
    for (burst, what) in [(peak_burst, "peak_burst"), (off_peak_burst, "off_peak_burst")] {
        if let Some(b) = burst {
            at_least(b, 0, what)?;
        }
    }
    let timezone = timezone.ok_or(QueueError::NullValue("timezone"))?;
    let days = parse_days(peak_days.ok_or(QueueError::NullValue("peak_days"))?)?;
    let (start, end) = parse_hours(peak_hours.ok_or(QueueError::NullValue("peak_hours"))?)?;
    Spi::connect_mut(|client| {
        check_queue(client, queue, Privilege::Admin)?;
        crate::catalog::changed();
        // Postgres itself judges the time zone (22023 when it does not know it).
        exec(client, "SELECT now() AT TIME ZONE $1", &[timezone.into()])?;
        exec(
            client,
            "INSERT INTO queue.queue_rate_schedules AS s
                    (queue_id, timezone, peak_days, peak_start, peak_end, peak_rate, peak_burst, off_peak_rate, off_peak_burst)
             SELECT q.id, $2, $3, $4, $5, $6, $7, $8, $9 FROM queue.queues q WHERE q.name = $1
             ON CONFLICT (queue_id) DO UPDATE SET timezone = EXCLUDED.timezone, peak_days = EXCLUDED.peak_days,
                 peak_start = EXCLUDED.peak_start, peak_end = EXCLUDED.peak_end, peak_rate = EXCLUDED.peak_rate,
                 peak_burst = EXCLUDED.peak_burst, off_peak_rate = EXCLUDED.off_peak_rate, off_peak_burst = EXCLUDED.off_peak_burst",
            &[
                queue.into(), timezone.into(), days.into(), start.into(), end.into(), peak_rate.into(), peak_burst.into(),
                off_peak_rate.into(), off_peak_burst.into(),
            ],
        )?;
        Ok(())
    })
}

/// Remove `queue`'s rate schedule: its own rate_per_second and burst apply again.
#[pg_extern(name = "clear_rate_schedule", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn queue_clear_rate_schedule(queue: Option<&str>) -> Result<bool> {
    let _acting = crate::security::enter()?;
    let queue = queue_name(queue)?;
    Spi::connect_mut(|client| {
        check_queue(client, queue, Privilege::Admin)?;
        crate::catalog::changed();
        Ok(!exec(
            client,
            "DELETE FROM queue.queue_rate_schedules s USING queue.queues q WHERE q.name = $1 AND s.queue_id = q.id RETURNING s.queue_id",
            &[queue.into()],
        )?
        .is_empty())
    })
}

/// The claim rate that applies to `queue` at `at`: (rate per second or NULL for unlimited, burst,
/// whether the schedule's peak applies; NULL without a schedule).
#[pg_extern(name = "effective_rate", stable)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)] // pgrx reads the column names from this very signature: no alias
fn queue_effective_rate(
    queue: Option<&str>,
    at: default!(Option<TimestampWithTimeZone>, "clock_timestamp()"),
) -> Result<
    TableIterator<'static, (name!(rate_per_second, Option<f64>), name!(burst, Option<i32>), name!(peak, Option<bool>))>,
> {
    let _acting = crate::security::enter()?;
    let queue = queue_name(queue)?;
    let at = at.ok_or(QueueError::NullValue("at"))?;
    let row = Spi::connect_mut(|client| {
        let info = crate::catalog::queue(client, queue)?.0.ok_or_else(|| QueueError::UnknownQueue(queue.to_owned()))?;
        // A queue's settings are for the roles that see it (as queue.queues shows them).
        if !crate::visibility::sees(info.id, true)? {
            return Err(QueueError::Denied { queue: queue.to_owned(), privilege: "read" }.into());
        }
        let rows = exec(client, store::EFFECTIVE_RATE, &[queue.into(), at.into()])?;
        if rows.is_empty() {
            return Err::<_, pgrx::pg_sys::panic::ErrorReport>(QueueError::UnknownQueue(queue.to_owned()).into());
        }
        let r = rows.first();
        Ok((
            r.get::<f64>(1).map_err(internal)?,
            r.get::<i32>(2).map_err(internal)?,
            r.get::<bool>(3).map_err(internal)?,
        ))
    })?;
    Ok(TableIterator::once(row))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn days_and_hours_parse() {
        assert_eq!(parse_days("mon-fri").unwrap(), vec![1, 2, 3, 4, 5]);
        assert_eq!(parse_days("fri-mon").unwrap(), vec![1, 5, 6, 7]);
        assert_eq!(parse_days("sat, sun").unwrap(), vec![6, 7]);
        assert_eq!(parse_days("Wed").unwrap(), vec![3]);
        assert!(parse_days("funday").unwrap_err().to_string().contains("unknown day \"funday\""));
        assert_eq!(parse_hours("9-17").unwrap(), (9, 17));
        assert_eq!(parse_hours("22-6").unwrap(), (22, 6));
        assert_eq!(parse_hours("0-24").unwrap(), (0, 24));
        for bad in ["9", "9-9", "25-3", "a-b", "0-0"] {
            assert!(parse_hours(bad).is_err(), "{bad}");
        }
    }
}
