//! Maintenance windows: whether one is open at a moment, and when the next
//! one opens. Pure: the moment is an argument.
//!
//! Each listed day opens a window at `start` on the wall clock of its time
//! zone (jiff's compatible reading: a start in the spring-forward gap opens
//! when the gap ends, plus the minutes it was into the gap; in the repeated
//! fall-back hour, at the first occurrence, as cron(8) and the schedules'
//! `nextRunTime` do) and keeps it open for `duration` of elapsed time, past
//! midnight if need be.

use jiff::civil::{Date, Time, Weekday as CivilWeekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::api::{MaintenanceWindow, Weekday};
use crate::controller::clock::parse_duration;

/// The longest window: a week (a longer one would always be open).
const MAX_DURATION: SignedDuration = SignedDuration::from_hours(7 * 24);

/// One window, checked and ready to compute with.
#[derive(Clone, Debug)]
pub struct Window {
    days: Vec<CivilWeekday>,
    start: Time,
    duration: SignedDuration,
    zone: TimeZone,
}

/// Where the windows stand at a moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowState {
    /// No windows: any time will do.
    Always,
    /// Open until `closes`.
    Open { closes: Timestamp },
    /// Closed until `opens`.
    Closed { opens: Timestamp },
}

/// Checks the spec's windows; the error says which one and why, for a
/// person to fix.
pub fn parse(windows: &[MaintenanceWindow]) -> Result<Vec<Window>, String> {
    windows
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let at = |why: String| format!("spec.windows[{i}]: {why}");
            let zone = immybot_client::cron::time_zone(&w.time_zone).map_err(|e| at(format!("timeZone: {e}")))?;
            let (h, m) = w
                .start
                .split_once(':')
                .and_then(|(h, m)| Some((h.parse::<i8>().ok()?, m.parse::<i8>().ok()?)))
                .ok_or_else(|| at(format!("start {:?} is not HH:mm", w.start)))?;
            let start = Time::new(h, m, 0, 0).map_err(|e| at(format!("start {:?}: {e}", w.start)))?;
            let duration = parse_duration(Some(&w.duration))
                .and_then(|d| SignedDuration::try_from(d).ok())
                .ok_or_else(|| at(format!("duration {:?} is not like 4h or 90m", w.duration)))?;
            if duration > MAX_DURATION {
                return Err(at(format!("duration {} is longer than a week", w.duration)));
            }
            if w.days.is_empty() {
                return Err(at("days is empty".into()));
            }
            Ok(Window {
                days: w.days.iter().map(|d| civil(*d)).collect(),
                start,
                duration,
                zone,
            })
        })
        .collect()
}

fn civil(d: Weekday) -> CivilWeekday {
    match d {
        Weekday::Sunday => CivilWeekday::Sunday,
        Weekday::Monday => CivilWeekday::Monday,
        Weekday::Tuesday => CivilWeekday::Tuesday,
        Weekday::Wednesday => CivilWeekday::Wednesday,
        Weekday::Thursday => CivilWeekday::Thursday,
        Weekday::Friday => CivilWeekday::Friday,
        Weekday::Saturday => CivilWeekday::Saturday,
    }
}

impl Window {
    /// The openings whose window may contain or follow `now`: from a week
    /// before (the longest window) to eight days after (every weekday comes
    /// round once).
    fn openings_around(&self, now: Timestamp) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        let today: Date = now.to_zoned(self.zone.clone()).date();
        (-8i32..=8).filter_map(move |offset| {
            let day = today.checked_add(jiff::Span::new().days(offset)).ok()?;
            if !self.days.contains(&day.weekday()) {
                return None;
            }
            let opens = day
                .to_datetime(self.start)
                .to_zoned(self.zone.clone())
                .ok()?
                .timestamp();
            Some((opens, opens.checked_add(self.duration).ok()?))
        })
    }
}

/// Where `windows` stand at `now`. Overlapping windows count as one: open
/// until the last of them closes.
pub fn state_at(windows: &[Window], now: Timestamp) -> WindowState {
    if windows.is_empty() {
        return WindowState::Always;
    }
    let spans: Vec<(Timestamp, Timestamp)> = windows.iter().flat_map(|w| w.openings_around(now)).collect();
    let mut closes: Option<Timestamp> = None;
    // Extend through every window that is open at the current end.
    let mut at = now;
    loop {
        let later = spans.iter().filter(|(o, c)| *o <= at && at < *c).map(|(_, c)| *c).max();
        match later {
            Some(c) if closes.is_none_or(|x| c > x) => {
                closes = Some(c);
                at = c;
            }
            _ => break,
        }
    }
    if let Some(closes) = closes {
        return WindowState::Open { closes };
    }
    match spans.iter().map(|(o, _)| *o).filter(|o| *o > now).min() {
        Some(opens) => WindowState::Closed { opens },
        // Cannot happen with a listed day (one comes within a week); if it
        // did, a week from now is a safe answer that re-checks.
        None => WindowState::Closed {
            opens: now.checked_add(MAX_DURATION).unwrap_or(now),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(days: &[Weekday], start: &str, duration: &str, zone: &str) -> Vec<Window> {
        parse(&[MaintenanceWindow {
            days: days.to_vec(),
            start: start.into(),
            duration: duration.into(),
            time_zone: zone.into(),
        }])
        .unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn no_windows_is_always_open() {
        assert_eq!(state_at(&[], ts("2026-11-24T10:00:00Z")), WindowState::Always);
    }

    #[test]
    fn a_window_past_midnight_is_open_after_midnight_and_closed_before_it_opens() {
        // Fridays 22:00 Berlin for 6 h: until Saturday 04:00.
        let w = window(&[Weekday::Friday], "22:00", "6h", "Europe/Berlin");
        // 2026-11-27 is a Friday; Berlin is UTC+1 in winter.
        assert_eq!(
            state_at(&w, ts("2026-11-28T02:00:00Z")),
            WindowState::Open {
                closes: ts("2026-11-28T03:00:00Z")
            }
        );
        assert_eq!(
            state_at(&w, ts("2026-11-27T20:59:00Z")),
            WindowState::Closed {
                opens: ts("2026-11-27T21:00:00Z")
            }
        );
        // Just closed: the next one is a week later.
        assert_eq!(
            state_at(&w, ts("2026-11-28T03:00:00Z")),
            WindowState::Closed {
                opens: ts("2026-12-04T21:00:00Z")
            }
        );
    }

    #[test]
    fn a_start_in_the_spring_forward_gap_opens_when_the_gap_ends() {
        // Berlin 2027-03-28 (Sunday): 02:00 -> 03:00. 02:30 opens at 03:30 CEST.
        let w = window(&[Weekday::Sunday], "02:30", "1h", "Europe/Berlin");
        assert_eq!(
            state_at(&w, ts("2027-03-28T00:00:00Z")),
            WindowState::Closed {
                opens: ts("2027-03-28T01:30:00Z")
            }
        );
        // New York 2027-03-14: 02:00 -> 03:00 EDT (UTC-4).
        let ny = window(&[Weekday::Sunday], "02:30", "1h", "America/New_York");
        assert_eq!(
            state_at(&ny, ts("2027-03-14T05:00:00Z")),
            WindowState::Closed {
                opens: ts("2027-03-14T07:30:00Z")
            }
        );
    }

    #[test]
    fn a_start_in_the_repeated_hour_opens_once_at_its_first_occurrence_and_lasts_elapsed_time() {
        // Berlin 2027-10-31: 03:00 CEST -> 02:00 CET; 02:30 happens twice.
        let w = window(&[Weekday::Sunday], "02:30", "1h", "Europe/Berlin");
        // First 02:30 is 00:30Z (CEST); open for one elapsed hour, to 01:30Z.
        assert_eq!(
            state_at(&w, ts("2027-10-31T00:45:00Z")),
            WindowState::Open {
                closes: ts("2027-10-31T01:30:00Z")
            }
        );
        // The second 02:30 (01:30Z) does not reopen it.
        assert!(matches!(
            state_at(&w, ts("2027-10-31T01:40:00Z")),
            WindowState::Closed { .. }
        ));
        // New York 2027-11-07: 02:00 EDT -> 01:00 EST; 01:30 twice.
        let ny = window(&[Weekday::Sunday], "01:30", "2h", "America/New_York");
        assert_eq!(
            state_at(&ny, ts("2027-11-07T05:00:00Z")),
            WindowState::Closed {
                opens: ts("2027-11-07T05:30:00Z")
            }
        );
    }

    #[test]
    fn overlapping_windows_are_open_until_the_last_closes() {
        let mut w = window(&[Weekday::Tuesday], "20:00", "3h", "UTC");
        w.extend(window(&[Weekday::Tuesday], "22:00", "4h", "UTC"));
        // 2026-11-24 is a Tuesday.
        assert_eq!(
            state_at(&w, ts("2026-11-24T21:00:00Z")),
            WindowState::Open {
                closes: ts("2026-11-25T02:00:00Z")
            }
        );
    }

    #[test]
    fn bad_windows_say_which_and_why() {
        let bad = |start: &str, duration: &str, zone: &str| {
            parse(&[MaintenanceWindow {
                days: vec![Weekday::Monday],
                start: start.into(),
                duration: duration.into(),
                time_zone: zone.into(),
            }])
            .unwrap_err()
        };
        assert!(bad("22:00", "4h", "Mars/Olympus").contains("spec.windows[0]: timeZone"));
        assert!(bad("22:00", "200h", "UTC").contains("longer than a week"));
        assert!(bad("22:00", "soon", "UTC").contains("duration"));
    }

    proptest::proptest! {
        #[test]
        fn closed_always_names_a_later_opening_and_open_a_later_close(
            secs in 1_700_000_000i64..1_900_000_000,
            start_h in 0i8..24,
            hours in 1u32..30,
            day in 0usize..7,
        ) {
            let days = [Weekday::Sunday, Weekday::Monday, Weekday::Tuesday, Weekday::Wednesday,
                        Weekday::Thursday, Weekday::Friday, Weekday::Saturday];
            let w = window(&[days[day]], &format!("{start_h:02}:00"), &format!("{hours}h"), "America/New_York");
            let now = Timestamp::from_second(secs).unwrap();
            match state_at(&w, now) {
                WindowState::Open { closes } => proptest::prop_assert!(closes > now),
                WindowState::Closed { opens } => {
                    proptest::prop_assert!(opens > now);
                    proptest::prop_assert!(opens.duration_since(now) <= SignedDuration::from_hours(7 * 24 + 1));
                    // Open right at the opening.
                    proptest::prop_assert!(matches!(state_at(&w, opens), WindowState::Open { .. }), "state at opening");
                }
                WindowState::Always => proptest::prop_assert!(false),
            }
        }
    }
}
