//! When periodic schedules fire: standard 5-field cron patterns and the usual macros (@hourly,
//! @daily, @weekly, @monthly, @yearly, @midnight), parsed and evaluated by the `croner` crate, in
//! an IANA time zone (`chrono-tz`), or sub-minute intervals as pg_cron writes them ('30 seconds').
//!
//! Daylight saving time, as cron has always done it:
//! - a pattern for fixed hours fires by the wall clock: on the day the clocks spring forward, a
//!   time that does not exist fires once, at the end of the gap (02:30 fires at 03:00); on the day
//!   they fall back, a time that happens twice fires once, the first time;
//! - a pattern for every hour (its hour field starts with `*`) fires by real time: every matching
//!   instant, both passes of a repeated hour included, none in the skipped one.

use crate::error::QueueError;
use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use std::str::FromStr;

pub enum Timing {
    Cron {
        cron: Box<Cron>,
        tz: Tz,
        wall_clock: bool,
    },
    /// Every this many seconds, at multiples of it since the Unix epoch.
    Every(i64),
}

fn invalid(spec: &str, why: impl std::fmt::Display) -> QueueError {
    QueueError::invalid(format!("invalid schedule \"{}\": {why}", spec.escape_default()))
}

/// The macros a schedule may use instead of a pattern (croner knows all but @midnight).
const MACROS: [&str; 7] = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/// The fields of a pattern and the values each takes.
const FIELDS: [(&str, &str); 5] = [
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31 (L for the last day, 15W for the weekday nearest the 15th)"),
    ("month", "1-12 or JAN-DEC"),
    ("day of week", "0-7 or SUN-SAT, 0 and 7 being Sunday (5L for the last Friday, 5#2 for the second)"),
];

/// Which field of a 5-field pattern croner refuses, said in our words: croner's own messages
/// name neither the field nor what it takes.
fn field_error(fields: &[&str]) -> String {
    // croner reports the component, not its position: find the first field it refuses alone.
    for (i, (name, values)) in FIELDS.iter().enumerate() {
        let mut probe = ["*"; 5];
        probe[i] = fields[i];
        if Cron::from_str(&probe.join(" ")).is_err() {
            return format!(
                "the {name} field \"{}\" is not valid: it takes {values}, as single values, ranges (a-b), lists (a,b), steps (*/n, a-b/n) or *",
                fields[i].escape_default()
            );
        }
    }
    "it is not a valid pattern of 5 fields (minute hour day-of-month month day-of-week)".to_owned()
}

impl Timing {
    pub fn parse(spec: &str, timezone: &str) -> Result<Timing, QueueError> {
        let tz: Tz = timezone.parse().map_err(|_| {
            QueueError::invalid(format!(
                "unknown time zone \"{}\"; use an IANA name such as Europe/Paris",
                timezone.escape_default()
            ))
        })?;
        let spec = spec.trim();
        if let Some(n) = spec.strip_suffix("seconds").or_else(|| spec.strip_suffix("second")) {
            let n: i64 = n.trim().parse().map_err(|_| invalid(spec, "an interval is '<1 to 59> seconds'"))?;
            if !(1..=59).contains(&n) {
                return Err(invalid(spec, "an interval is '<1 to 59> seconds'; use a cron pattern for longer periods"));
            }
            return Ok(Timing::Every(n));
        }
        // Vixie cron's @midnight is @daily (croner knows the others).
        let spec = if spec.eq_ignore_ascii_case("@midnight") { "@daily" } else { spec };
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if spec.starts_with('@') {
            if !MACROS.iter().any(|m| m.eq_ignore_ascii_case(spec)) {
                return Err(invalid(spec, format!("unknown macro; the macros are {}", MACROS.join(", "))));
            }
        } else if fields.len() != 5 {
            return Err(invalid(
                spec,
                format!(
                    "a pattern has 5 fields (minute hour day-of-month month day-of-week), this one has {}",
                    fields.len()
                ),
            ));
        }
        let cron = Cron::from_str(spec).map_err(|_| invalid(spec, field_error(&fields)))?;
        let hour_field = match spec {
            s if s.eq_ignore_ascii_case("@hourly") => "*",
            s if s.starts_with('@') => "0",
            _ => fields[1],
        };
        // A pattern that can never match (30 February) is refused now, not at its first fire.
        let timing = Timing::Cron { cron: Box::new(cron), tz, wall_clock: !hour_field.starts_with('*') };
        if timing.next_after(Utc::now()).is_none() {
            return Err(invalid(spec, "it never matches a date"));
        }
        Ok(timing)
    }

    /// The first fire strictly after `after`; None when the pattern never matches again.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Fire times are whole seconds: search from the second `after` is in.
        let after = DateTime::from_timestamp(after.timestamp(), 0)?;
        match self {
            Timing::Every(n) => {
                let t = after.timestamp();
                DateTime::from_timestamp(t - t.rem_euclid(*n) + n, 0)
            }
            Timing::Cron { cron, tz, wall_clock: false } => {
                // Real time: every instant whose local time matches. The search runs in local
                // time as if it had no DST, and each match is placed: both instants of a repeated
                // hour, none in a skipped one. Right after the clocks fell back, local time has
                // been here before: the search starts back by the jump, so the repeat is seen.
                let offset = |t: DateTime<Utc>| t.with_timezone(tz).offset().fix().local_minus_utc();
                let jump = (offset(after - Duration::hours(3)) - offset(after)).max(0);
                let mut naive = after.with_timezone(tz).naive_local() - Duration::seconds(jump as i64 + 1);
                for _ in 0..10_000 {
                    naive = cron.find_next_occurrence(&Utc.from_utc_datetime(&naive), false).ok()?.naive_utc();
                    let found = match tz.from_local_datetime(&naive) {
                        LocalResult::Single(t) => [Some(t), None],
                        LocalResult::Ambiguous(first, second) => [Some(first), Some(second)],
                        LocalResult::None => [None, None],
                    };
                    if let Some(t) = found.into_iter().flatten().map(|t| t.with_timezone(&Utc)).find(|t| *t > after) {
                        return Some(t);
                    }
                }
                None
            }
            Timing::Cron { cron, tz, wall_clock: true } => {
                // Wall clock: search in local time as if it had no DST, then place the local time.
                let local = after.with_timezone(tz).naive_local();
                let mut naive = local;
                for _ in 0..8 {
                    naive = cron.find_next_occurrence(&Utc.from_utc_datetime(&naive), false).ok()?.naive_utc();
                    if let Some(t) = place(tz, naive, after) {
                        return Some(t);
                    }
                }
                None
            }
        }
    }
}

impl Timing {
    /// The fire times from `first` (a fire time) on that are due by `until`: how many, and the
    /// last of them; None when `first` itself is not due. A long outage of a frequent schedule is
    /// counted up to MAX_COUNTED fire times, then only its last day is walked (the count is then
    /// a lower bound).
    pub fn due_since(&self, first: DateTime<Utc>, until: DateTime<Utc>) -> Option<(i64, DateTime<Utc>)> {
        const MAX_COUNTED: i64 = 100_000;
        if first > until {
            return None;
        }
        if let Timing::Every(n) = self {
            let step = n * 1_000_000;
            let count = (until.timestamp_micros() - first.timestamp_micros()) / step + 1;
            return Some((count, DateTime::from_timestamp_micros(first.timestamp_micros() + (count - 1) * step)?));
        }
        let (mut count, mut last) = (1, first);
        while let Some(next) = self.next_after(last).filter(|t| *t <= until) {
            count += 1;
            last = next;
            if count == MAX_COUNTED {
                let Some(mut t) = self.next_after(until - Duration::days(1)).filter(|t| *t <= until && *t > last)
                else {
                    return Some((count, last));
                };
                count += 1;
                while let Some(next) = self.next_after(t).filter(|n| *n <= until) {
                    count += 1;
                    t = next;
                }
                return Some((count, t));
            }
        }
        Some((count, last))
    }
}

/// The instant at which local time `naive` happens in `tz`, later than `after`: the first of two
/// when the clocks fall back, the end of the gap when they spring forward over it.
fn place(tz: &Tz, naive: NaiveDateTime, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let candidate = match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t),
        LocalResult::Ambiguous(first, second) => {
            if first.with_timezone(&Utc) > after {
                Some(first)
            } else {
                Some(second)
            }
        }
        LocalResult::None => {
            (1..=24 * 60).find_map(|m| match tz.from_local_datetime(&(naive + Duration::minutes(m))) {
                LocalResult::Single(t) => Some(t),
                LocalResult::Ambiguous(first, _) => Some(first),
                LocalResult::None => None,
            })
        }
    }?;
    let t = candidate.with_timezone(&Utc);
    (t > after).then_some(t)
}

#[cfg(test)]
mod unit {
    use super::*;

    fn fires(spec: &str, tz: &str, from: &str, n: usize) -> Vec<String> {
        let timing = Timing::parse(spec, tz).unwrap();
        let zone: Tz = tz.parse().unwrap();
        let mut t = DateTime::parse_from_rfc3339(from).unwrap().with_timezone(&Utc);
        (0..n)
            .map(|_| {
                t = timing.next_after(t).unwrap();
                t.with_timezone(&zone).format("%m-%d %H:%M %Z").to_string()
            })
            .collect()
    }

    #[test]
    fn fixed_times_fire_once_on_both_dst_days() {
        // New York springs forward on 2026-03-08 (02:00 -> 03:00) and falls back on 2026-11-01.
        assert_eq!(
            fires("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 3),
            ["03-08 03:00 EDT", "03-09 02:30 EDT", "03-10 02:30 EDT"]
        );
        assert_eq!(
            fires("30 1 * * *", "America/New_York", "2026-03-07T12:00:00Z", 3),
            ["03-08 01:30 EST", "03-09 01:30 EDT", "03-10 01:30 EDT"]
        );
        assert_eq!(
            fires("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 3),
            ["11-01 01:30 EDT", "11-02 01:30 EST", "11-03 01:30 EST"]
        );
        assert_eq!(
            fires("30 2 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2),
            ["11-01 02:30 EST", "11-02 02:30 EST"]
        );
        assert_eq!(fires("@daily", "Europe/Paris", "2026-03-28T12:00:00Z", 2), ["03-29 00:00 CET", "03-30 00:00 CEST"]);
    }

    #[test]
    fn every_hour_patterns_follow_real_time() {
        // Fall back: 01:00-02:00 happens twice; an hourly job fires in both passes.
        assert_eq!(
            fires("0 * * * *", "America/New_York", "2026-11-01T04:30:00Z", 3),
            ["11-01 01:00 EDT", "11-01 01:00 EST", "11-01 02:00 EST"]
        );
        // Spring forward: 02:00-03:00 never happens; :30 fires at 01:30 then 03:30.
        assert_eq!(
            fires("30 * * * *", "America/New_York", "2026-03-08T06:00:00Z", 2),
            ["03-08 01:30 EST", "03-08 03:30 EDT"]
        );
    }

    #[test]
    fn intervals_and_errors() {
        let t = Timing::parse("15 seconds", "UTC").unwrap();
        let at = DateTime::from_timestamp(1_000_007, 0).unwrap();
        assert_eq!(t.next_after(at).unwrap().timestamp(), 1_000_020);
        let msg = |spec: &str| Timing::parse(spec, "UTC").err().unwrap().to_string();
        assert!(msg("61 * * * *").contains("minute field \"61\""), "{}", msg("61 * * * *"));
        assert!(msg("* 24 * * *").contains("hour field \"24\""), "{}", msg("* 24 * * *"));
        assert!(msg("* * * 13 *").contains("month field \"13\""));
        assert!(msg("* * *").contains("has 3"));
        assert!(msg("0 0 30 2 *").contains("never matches"));
        assert!(msg("90 seconds").contains("1 to 59"));
        assert!(Timing::parse("* * * * *", "Mars/Olympus").err().unwrap().to_string().contains("unknown time zone"));
        assert!(Timing::parse("@hourly", "UTC").is_ok());
        assert!(Timing::parse("@midnight", "UTC").is_ok());
        assert!(msg("@fortnightly").contains("@fortnightly"));
    }

    #[test]
    fn errors_name_the_field_and_its_values_in_our_words() {
        let msg = |spec: &str| Timing::parse(spec, "UTC").err().unwrap().to_string();
        for (spec, says) in [
            ("61 * * * *", "minute field \"61\" is not valid: it takes 0-59"),
            ("* 24 * * *", "hour field \"24\" is not valid: it takes 0-23"),
            ("* * 0 * *", "day of month field \"0\" is not valid: it takes 1-31"),
            ("* * * 13 *", "month field \"13\" is not valid: it takes 1-12 or JAN-DEC"),
            ("* * * * 8", "day of week field \"8\" is not valid: it takes 0-7 or SUN-SAT"),
            ("*/0 * * * *", "minute field"),
            ("* * * * * *", "a pattern has 5 fields"),
            ("1 2 3 4 5 6 7", "this one has 7"),
            ("@fortnightly", "unknown macro; the macros are @yearly"),
            ("? * * * *", "minute field"),
        ] {
            let m = msg(spec);
            assert!(m.contains(says), "{spec}: {m}");
            for croner in ["Component", "Pattern", "between 5 and 7", "out of bounds", "illegal", "Invalid"] {
                assert!(!m.contains(croner), "{spec}: croner's words in {m}");
            }
        }
    }

    #[test]
    fn fire_times_are_whole_seconds() {
        let t = Timing::parse("30 7 * * *", "UTC").unwrap();
        let after = DateTime::parse_from_rfc3339("2026-11-23T17:40:12.064237Z").unwrap().with_timezone(&Utc);
        assert_eq!(t.next_after(after).unwrap().to_rfc3339(), "2026-11-24T07:30:00+00:00");
    }

    #[test]
    fn due_windows_are_counted() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let t = Timing::parse("*/5 * * * *", "UTC").unwrap();
        assert_eq!(t.due_since(at("2026-01-01T00:05:00Z"), at("2026-01-01T00:04:59Z")), None);
        assert_eq!(
            t.due_since(at("2026-01-01T00:05:00Z"), at("2026-01-01T00:22:00Z")),
            Some((4, at("2026-01-01T00:20:00Z")))
        );
        let every = Timing::parse("10 seconds", "UTC").unwrap();
        assert_eq!(
            every.due_since(at("2026-01-01T00:00:10Z"), at("2026-01-01T00:01:05Z")),
            Some((6, at("2026-01-01T00:01:00Z")))
        );
        // A year of a per-minute schedule: counted up to the cap, then its last day.
        let minutely = Timing::parse("* * * * *", "UTC").unwrap();
        let (n, last) = minutely.due_since(at("2025-01-01T00:00:00Z"), at("2026-01-01T00:00:30Z")).unwrap();
        assert_eq!(last, at("2026-01-01T00:00:00Z"));
        assert!(n >= 100_000, "{n}");
    }
}
