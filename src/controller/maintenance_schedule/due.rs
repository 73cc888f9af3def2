//! Which scheduled time is due: the latest time of the cron that is after
//! the last one run and not after now. Pure.
//!
//! CronJob semantics: however many times were missed (the operator down,
//! the schedule suspended, `Forbid` holding it), only the latest is run.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use immybot_client::cron::Cron;

/// How far back the latest time is looked for, widening until one is
/// found: a minute-by-minute cron is found in the first hour without
/// walking the months since the last run, a yearly one in the last span.
const SPANS_HOURS: [i64; 6] = [1, 24, 8 * 24, 32 * 24, 367 * 24, 30 * 367 * 24];

/// The latest occurrence in `(after, now]`, if any.
pub fn latest_due(cron: &Cron, tz: &TimeZone, after: Timestamp, now: Timestamp) -> Option<Timestamp> {
    if now <= after {
        return None;
    }
    for hours in SPANS_HOURS {
        let from = now
            .checked_sub(SignedDuration::from_hours(hours))
            .map_or(after, |t| t.max(after));
        let mut latest = None;
        let mut cursor = from;
        while let Some(next) = cron.next_after(cursor, tz) {
            if next > now {
                break;
            }
            latest = Some(next);
            cursor = next;
        }
        if latest.is_some() || from == after {
            return latest;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use immybot_client::cron::time_zone;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_latest_time_after_the_last_run_and_not_after_now() {
        let cron = Cron::parse("0 2 * * *").unwrap();
        let utc = TimeZone::UTC;
        // Nothing between the last run and now.
        assert_eq!(
            latest_due(&cron, &utc, at("2026-05-01T02:00:00Z"), at("2026-05-02T01:59:59Z")),
            None
        );
        // Exactly on time counts.
        assert_eq!(
            latest_due(&cron, &utc, at("2026-05-01T02:00:00Z"), at("2026-05-02T02:00:00Z")),
            Some(at("2026-05-02T02:00:00Z"))
        );
        // Three missed: only the latest.
        assert_eq!(
            latest_due(&cron, &utc, at("2026-05-01T02:00:00Z"), at("2026-05-04T09:00:00Z")),
            Some(at("2026-05-04T02:00:00Z"))
        );
    }

    #[test]
    fn a_minute_cron_long_unrun_and_a_yearly_cron_are_both_found() {
        let every_minute = Cron::parse("* * * * *").unwrap();
        assert_eq!(
            latest_due(
                &every_minute,
                &TimeZone::UTC,
                at("2020-01-01T00:00:00Z"),
                at("2026-05-04T09:00:30Z")
            ),
            Some(at("2026-05-04T09:00:00Z"))
        );
        let yearly = Cron::parse("@yearly").unwrap();
        assert_eq!(
            latest_due(
                &yearly,
                &TimeZone::UTC,
                at("2020-06-01T00:00:00Z"),
                at("2026-05-04T09:00:30Z")
            ),
            Some(at("2026-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn wall_times_follow_the_zone_across_daylight_saving() {
        let berlin = time_zone("Europe/Berlin").unwrap();
        let cron = Cron::parse("30 2 * * *").unwrap();
        // 29 March 2026: 02:00 CET jumps to 03:00 CEST; 02:30 does not
        // exist and runs once, shifted by the gap: 03:30 CEST (01:30 UTC).
        assert_eq!(
            latest_due(&cron, &berlin, at("2026-03-28T02:00:00Z"), at("2026-03-29T01:29:59Z")),
            None
        );
        let spring = latest_due(&cron, &berlin, at("2026-03-28T02:00:00Z"), at("2026-03-29T02:00:00Z"));
        assert_eq!(spring, Some(at("2026-03-29T01:30:00Z")));
        // 25 October 2026: 02:30 happens twice; it runs once, the first time
        // (CEST, 00:30 UTC), and not again an hour later.
        let fall = latest_due(&cron, &berlin, at("2026-10-24T00:30:00Z"), at("2026-10-25T01:45:00Z"));
        assert_eq!(fall, Some(at("2026-10-25T00:30:00Z")));
        assert_eq!(
            latest_due(&cron, &berlin, at("2026-10-25T00:30:00Z"), at("2026-10-25T01:45:00Z")),
            None
        );
    }

    #[test]
    fn a_second_zone_with_other_dates_and_an_other_hour_behaves_the_same() {
        let new_york = time_zone("America/New_York").unwrap();
        // 8 March 2026: 02:00 EST jumps to 03:00 EDT; 02:30 runs at 03:30 EDT (07:30 UTC).
        let cron = Cron::parse("30 2 * * *").unwrap();
        assert_eq!(
            latest_due(&cron, &new_york, at("2026-03-07T12:00:00Z"), at("2026-03-08T07:31:00Z")),
            Some(at("2026-03-08T07:30:00Z"))
        );
        // 1 November 2026: 01:30 happens at 05:30 UTC (EDT) and 06:30 UTC
        // (EST); it runs at the first only.
        let cron = Cron::parse("30 1 * * *").unwrap();
        assert_eq!(
            latest_due(&cron, &new_york, at("2026-10-31T12:00:00Z"), at("2026-11-01T05:31:00Z")),
            Some(at("2026-11-01T05:30:00Z"))
        );
        assert_eq!(
            latest_due(&cron, &new_york, at("2026-11-01T05:30:00Z"), at("2026-11-01T07:00:00Z")),
            None
        );
    }
}
