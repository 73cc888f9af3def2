//! Five-field cron expressions and their next occurrence in a time zone.
//! Pure: no clock, no I/O. Shared by the controller (a schedule's
//! `nextRunTime`) and the simulator (when it fires ImmyBot schedules).
//!
//! Syntax: `minute hour day-of-month month day-of-week`, each a `*`, a
//! number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of these;
//! month and weekday names (`JAN`, `MON`); 0 and 7 are both Sunday; and the
//! nicknames `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/
//! `@midnight`, `@hourly`. When both day fields are restricted, a day
//! matching either runs (cron(8)).
//!
//! Daylight saving time, as cron(8) does it (Kubernetes' CronJob documents
//! only that runs may be skipped or repeated there; we do neither): a wall
//! time that does not exist on a spring-forward day runs once, at the end of
//! the gap (02:30 becomes 03:30); a wall time that happens twice on a
//! fall-back day runs once, at its first occurrence.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// A parsed expression: the allowed values of each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<i8>,
    hours: Vec<i8>,
    days_of_month: Vec<i8>,
    months: Vec<i8>,
    /// 0 = Sunday.
    days_of_week: Vec<i8>,
    /// `*` in day-of-month / day-of-week: decides how the two combine.
    any_day_of_month: bool,
    any_day_of_week: bool,
}

/// Why an expression was refused, for a person.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CronError(String);

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// How far ahead an occurrence is looked for: `0 0 29 2 1` (29 February on
/// a Monday) needs up to 28 years.
const SEARCH_YEARS: i16 = 30;

impl Cron {
    pub fn parse(expression: &str) -> Result<Self, CronError> {
        let text = expression.trim();
        let expanded = match text.to_ascii_lowercase().as_str() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            _ if text.starts_with('@') => {
                return Err(CronError(format!(
                    "unknown nickname {text:?}: use @yearly, @monthly, @weekly, @daily or @hourly"
                )));
            }
            _ => text,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields.as_slice() else {
            return Err(CronError(format!(
                "{text:?} has {} fields; a cron expression has five: minute hour day-of-month month day-of-week",
                fields.len()
            )));
        };
        let mut days_of_week = field(dow, "day-of-week", 0, 7, &WEEKDAYS)?;
        // 7 is Sunday too.
        for d in &mut days_of_week {
            if *d == 7 {
                *d = 0;
            }
        }
        days_of_week.sort_unstable();
        days_of_week.dedup();
        Ok(Self {
            minutes: field(minute, "minute", 0, 59, &[])?,
            hours: field(hour, "hour", 0, 23, &[])?,
            days_of_month: field(dom, "day-of-month", 1, 31, &[])?,
            months: field(month, "month", 1, 12, &MONTHS)?,
            days_of_week,
            any_day_of_month: dom.starts_with('*'),
            any_day_of_week: dow.starts_with('*'),
        })
    }

    /// Whether the minute and hour fields name one time of day each (no
    /// `*`, list, range or step): ImmyBot's rule for custom schedules, which
    /// run at most once a day.
    pub fn at_most_daily(&self) -> bool {
        self.minutes.len() == 1 && self.hours.len() == 1
    }

    fn day_matches(&self, date: Date) -> bool {
        if !self.months.contains(&date.month()) {
            return false;
        }
        let dom = self.days_of_month.contains(&date.day());
        let dow = self.days_of_week.contains(&date.weekday().to_sunday_zero_offset());
        match (self.any_day_of_month, self.any_day_of_week) {
            (true, true) => true,
            (false, true) => dom,
            (true, false) => dow,
            (false, false) => dom || dow,
        }
    }

    /// The first occurrence strictly after `after`, in `tz`; `None` if there
    /// is none within thirty years (`0 0 31 2 *`).
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let local = after.to_zoned(tz.clone()).datetime();
        let start_date = local.date();
        let end_year = start_date.year().saturating_add(SEARCH_YEARS);
        let mut date = start_date;
        while date.year() <= end_year {
            if self.day_matches(date) {
                for &h in &self.hours {
                    for &m in &self.minutes {
                        let civil = DateTime::new(date.year(), date.month(), date.day(), h, m, 0, 0).ok()?;
                        // On the first day, earlier wall times fail the
                        // comparison below; comparing instants (not wall
                        // times) is what keeps a fall-back hour right.
                        let instant = tz.to_ambiguous_zoned(civil).compatible().ok()?.timestamp();
                        if instant > after {
                            return Some(instant);
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |v: &[i8]| v.iter().map(i8::to_string).collect::<Vec<_>>().join(",");
        write!(
            f,
            "{} {} {} {} {}",
            list(&self.minutes),
            list(&self.hours),
            if self.any_day_of_month {
                "*".into()
            } else {
                list(&self.days_of_month)
            },
            list(&self.months),
            if self.any_day_of_week {
                "*".into()
            } else {
                list(&self.days_of_week)
            },
        )
    }
}

/// One field's allowed values, sorted.
fn field(text: &str, name: &str, low: i8, high: i8, names: &[&str]) -> Result<Vec<i8>, CronError> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: i8 = s
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| CronError(format!("{name}: step {s:?} in {part:?} is not a positive number")))?;
                (r, step)
            }
            None => (part, 1),
        };
        let (from, to) = if range == "*" {
            (low, high)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, name, low, high, names)?, value(b, name, low, high, names)?)
        } else {
            let v = value(range, name, low, high, names)?;
            // `5/15` means from 5 to the end, every 15.
            (v, if part.contains('/') { high } else { v })
        };
        if from > to {
            return Err(CronError(format!("{name}: range {range:?} runs backwards")));
        }
        let mut v = from;
        while v <= to {
            out.push(v);
            v = match v.checked_add(step) {
                Some(n) => n,
                None => break,
            };
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn value(text: &str, name: &str, low: i8, high: i8, names: &[&str]) -> Result<i8, CronError> {
    let offset = if names.len() == 12 { 1 } else { 0 };
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        return Ok(i as i8 + offset);
    }
    let v: i8 = text
        .parse()
        .map_err(|_| CronError(format!("{name}: {text:?} is not a number from {low} to {high}")))?;
    if v < low || v > high {
        return Err(CronError(format!("{name}: {v} is outside {low} to {high}")));
    }
    Ok(v)
}

/// A time zone by IANA name (`Europe/Berlin`, `UTC`), from the database
/// built into the binary (so that a distroless image needs no tzdata).
pub fn time_zone(name: &str) -> Result<TimeZone, CronError> {
    TimeZone::get(name).map_err(|_| {
        CronError(format!(
            "{name:?} is not an IANA time zone name (e.g. Europe/Berlin, America/New_York, UTC)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn next(expr: &str, after: &str, zone: &str) -> String {
        Cron::parse(expr)
            .unwrap()
            .next_after(at(after), &time_zone(zone).unwrap())
            .map(|t| t.to_string())
            .unwrap_or_else(|| "none".into())
    }

    #[test]
    fn a_daily_time_in_a_zone() {
        assert_eq!(
            next("30 22 * * *", "2026-11-24T12:00:00Z", "Europe/Berlin"),
            "2026-11-24T21:30:00Z"
        );
        assert_eq!(
            next("30 22 * * *", "2026-11-24T21:30:00Z", "Europe/Berlin"),
            "2026-11-25T21:30:00Z"
        );
        assert_eq!(next("@daily", "2026-11-24T12:00:00Z", "UTC"), "2026-11-25T00:00:00Z");
    }

    #[test]
    fn weekdays_months_steps_and_names() {
        // 2026-11-24 is a Tuesday.
        assert_eq!(
            next("0 9 * * MON,FRI", "2026-11-24T12:00:00Z", "UTC"),
            "2026-11-27T09:00:00Z"
        );
        assert_eq!(next("0 9 * * 7", "2026-11-24T12:00:00Z", "UTC"), "2026-11-29T09:00:00Z");
        assert_eq!(
            next("*/20 * * * *", "2026-11-24T12:05:00Z", "UTC"),
            "2026-11-24T12:20:00Z"
        );
        assert_eq!(
            next("0 0 1 JAN *", "2026-11-24T12:00:00Z", "UTC"),
            "2027-01-01T00:00:00Z"
        );
        // Both day fields restricted: either matches (1st of month or a Sunday).
        assert_eq!(next("0 0 1 * 0", "2026-11-24T12:00:00Z", "UTC"), "2026-11-29T00:00:00Z");
        assert_eq!(next("0 0 31 2 *", "2026-11-24T12:00:00Z", "UTC"), "none");
    }

    #[test]
    fn spring_forward_runs_once_at_the_end_of_the_gap_in_two_zones() {
        // Berlin: 2027-03-28 02:00 CET -> 03:00 CEST. 02:30 does not exist.
        assert_eq!(
            next("30 2 * * *", "2027-03-27T12:00:00Z", "Europe/Berlin"),
            "2027-03-28T01:30:00Z"
        );
        // ... and the day after it is 02:30 CEST again.
        assert_eq!(
            next("30 2 * * *", "2027-03-28T01:30:00Z", "Europe/Berlin"),
            "2027-03-29T00:30:00Z"
        );
        // New York: 2027-03-14 02:00 EST -> 03:00 EDT.
        assert_eq!(
            next("30 2 * * *", "2027-03-13T12:00:00Z", "America/New_York"),
            "2027-03-14T07:30:00Z"
        );
    }

    #[test]
    fn fall_back_runs_once_at_the_first_occurrence_in_two_zones() {
        // Berlin: 2026-10-25 03:00 CEST -> 02:00 CET; 02:30 happens twice.
        assert_eq!(
            next("30 2 * * *", "2026-10-24T12:00:00Z", "Europe/Berlin"),
            "2026-10-25T00:30:00Z"
        );
        assert_eq!(
            next("30 2 * * *", "2026-10-25T00:30:00Z", "Europe/Berlin"),
            "2026-10-26T01:30:00Z"
        );
        // New York: 2026-11-01 02:00 EDT -> 01:00 EST; 01:30 happens twice.
        assert_eq!(
            next("30 1 * * *", "2026-10-31T12:00:00Z", "America/New_York"),
            "2026-11-01T05:30:00Z"
        );
        assert_eq!(
            next("30 1 * * *", "2026-11-01T05:30:00Z", "America/New_York"),
            "2026-11-02T06:30:00Z"
        );
    }

    #[test]
    fn malformed_expressions_are_refused_with_the_reason() {
        for (bad, says) in [
            ("* * * *", "five"),
            ("60 * * * *", "minute: 60 is outside"),
            ("0 24 * * *", "hour: 24"),
            ("0 0 0 * *", "day-of-month: 0"),
            ("0 0 * 13 *", "month: 13"),
            ("0 0 * * 8", "day-of-week: 8"),
            ("*/0 * * * *", "step"),
            ("5-1 * * * *", "backwards"),
            ("@often", "nickname"),
            ("x 0 * * *", "not a number"),
        ] {
            let e = Cron::parse(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn at_most_daily_is_immybots_rule() {
        assert!(Cron::parse("30 22 * * 1-5").unwrap().at_most_daily());
        assert!(!Cron::parse("*/30 22 * * *").unwrap().at_most_daily());
        assert!(!Cron::parse("0 8,20 * * *").unwrap().at_most_daily());
        assert!(!Cron::parse("@hourly").unwrap().at_most_daily());
    }

    #[test]
    fn unknown_time_zones_are_refused() {
        assert!(time_zone("Europe/Berlin").is_ok());
        assert!(time_zone("Mars/Olympus").unwrap_err().to_string().contains("IANA"));
    }

    proptest::proptest! {
        #[test]
        fn the_next_run_is_later_and_matches(minute in 0i8..60, hour in 0i8..24, secs in 0i64..(3 * 365 * 86_400), zone in 0usize..3) {
            let zone = ["Europe/Berlin", "America/New_York", "Australia/Sydney"][zone];
            let tz = time_zone(zone).unwrap();
            let cron = Cron::parse(&format!("{minute} {hour} * * *")).unwrap();
            let after = Timestamp::from_second(1_767_225_600 + secs).unwrap();
            let next = cron.next_after(after, &tz).unwrap();
            proptest::prop_assert!(next > after);
            // Within a day and an hour (a gap moves it by at most an hour).
            proptest::prop_assert!(next.as_second() - after.as_second() <= 90_000);
            let local = next.to_zoned(tz.clone()).datetime();
            // The wall time is the one asked for, or an hour later (a gap).
            let asked = i32::from(hour) * 60 + i32::from(minute);
            let got = i32::from(local.hour()) * 60 + i32::from(local.minute());
            proptest::prop_assert!(got == asked || got == asked + 60, "{zone} {next} {local}");
        }
    }
}
