//! A report's counts, gathered page by page. Pure: rows in, status parts
//! out. What it keeps grows with computers, tenants, items and weeks, never
//! with sessions, so 12 months of a 5,000-computer fleet costs what one
//! month does (one latest session per computer, one count per week).

use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::Timestamp;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;

use crate::api::{FailedItem, MAX_FAILED_ITEMS, MAX_TENANTS, MAX_WEEKS, ReportCounts, TenantReport, WeekCounts};
use immybot_client::{MaintenanceAction, MaintenanceActionResult, MaintenanceSession, SessionStatus};

/// Everything seen of one tenant.
#[derive(Default)]
struct TenantTally {
    sessions: i64,
    by_schedule: i64,
    /// Each computer's latest session in the period: when, and its status.
    computers: HashMap<i32, (Timestamp, Outcome)>,
    /// Sessions and failed sessions per week (by the week's Monday).
    weeks: BTreeMap<String, (i64, i64)>,
    /// Per item: failures, computers, reasons with their counts.
    items: HashMap<String, ItemTally>,
    failed_actions: i64,
    non_compliant: Option<i64>,
}

#[derive(Default)]
struct ItemTally {
    failures: i64,
    computers: HashSet<i32>,
    reasons: HashMap<String, i64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    Passed,
    Failed,
    Missed,
    /// Running, cancelled, postponed, or a status the row did not carry.
    Other,
}

fn outcome(status: Option<&SessionStatus>) -> Outcome {
    match status {
        Some(SessionStatus::Passed) => Outcome::Passed,
        Some(SessionStatus::Failed | SessionStatus::PartialPassed) => Outcome::Failed,
        Some(SessionStatus::Missed) => Outcome::Missed,
        _ => Outcome::Other,
    }
}

/// The week of `at` (UTC), named by its Monday.
pub fn week_of(at: Timestamp) -> String {
    let day = at.to_zoned(TimeZone::UTC).date();
    let back = i64::from(day.weekday().to_monday_zero_offset());
    let monday = day.checked_sub(jiff::Span::new().days(back)).unwrap_or(day);
    debug_assert_eq!(monday.weekday(), Weekday::Monday);
    monday.to_string()
}

/// The counts of a report being gathered.
pub struct Tally {
    since: Timestamp,
    /// None: up to whatever ImmyBot has (a period that ends "now" must
    /// not lose the latest sessions to clock skew between here and
    /// ImmyBot).
    until: Option<Timestamp>,
    /// Only these tenants (empty: all).
    tenants_wanted: HashSet<i32>,
    seen_sessions: HashSet<i32>,
    tenants: BTreeMap<i32, TenantTally>,
}

impl Tally {
    pub fn new(since: Timestamp, until: Option<Timestamp>, tenants_wanted: impl IntoIterator<Item = i32>) -> Self {
        Self {
            since,
            until,
            tenants_wanted: tenants_wanted.into_iter().collect(),
            seen_sessions: HashSet::new(),
            tenants: BTreeMap::new(),
        }
    }

    fn in_period(&self, at: Option<Timestamp>) -> Option<Timestamp> {
        at.filter(|t| *t >= self.since && self.until.is_none_or(|u| *t < u))
    }

    fn wanted(&self, tenant: Option<i32>) -> bool {
        self.tenants_wanted.is_empty() || tenant.is_some_and(|t| self.tenants_wanted.contains(&t))
    }

    /// Counts a session row: only once (pages overlap when sessions are
    /// created while they are read), only if its own fields agree with the
    /// report (a route that ignored a filter must not answer for it).
    pub fn add_session(&mut self, s: &MaintenanceSession) {
        let Some(created) = self.in_period(s.created_date_utc.map(|t| t.0)) else {
            return;
        };
        if !self.wanted(s.tenant_id) || !self.seen_sessions.insert(s.id) {
            return;
        }
        let t = self.tenants.entry(s.tenant_id.unwrap_or(0)).or_default();
        t.sessions += 1;
        t.by_schedule += i64::from(s.scheduled_id.is_some());
        let result = outcome(s.session_status.as_ref());
        let week = t.weeks.entry(week_of(created)).or_default();
        week.0 += 1;
        week.1 += i64::from(result == Outcome::Failed);
        if let Some(computer) = s.computer_id {
            let latest = t.computers.entry(computer).or_insert((created, result));
            if created >= latest.0 {
                *latest = (created, result);
            }
        }
    }

    /// Counts a failed action row (others are left out whatever the route
    /// answered).
    pub fn add_failed_action(&mut self, a: &MaintenanceAction) {
        if a.result != Some(MaintenanceActionResult::Failed)
            || self.in_period(a.created_date_utc.map(|t| t.0)).is_none()
            || !self.wanted(a.tenant_id)
        {
            return;
        }
        let Some(name) = a
            .maintenance_display_name
            .clone()
            .or_else(|| a.maintenance_identifier.clone())
        else {
            return;
        };
        let t = self.tenants.entry(a.tenant_id.unwrap_or(0)).or_default();
        t.failed_actions += 1;
        let item = t.items.entry(name).or_default();
        item.failures += 1;
        if let Some(c) = a.computer_id {
            item.computers.insert(c);
        }
        let reason = a.result_reason_message.clone().or_else(|| {
            a.result_reason
                .as_ref()
                .map(|r| immybot_client::WireEnum::name(r).into_owned())
        });
        if let Some(reason) = reason {
            *item.reasons.entry(one_line(&reason)).or_default() += 1;
        }
    }

    /// Records how many computers ImmyBot shows out of compliance in a
    /// tenant.
    pub fn set_non_compliant(&mut self, tenant: i32, computers: i64) {
        self.tenants.entry(tenant).or_default().non_compliant = Some(computers);
    }

    /// The tenants worth a compliance read: those listed in the report.
    pub fn listed_tenants(&self) -> Vec<i32> {
        self.ranked().into_iter().take(MAX_TENANTS).collect()
    }

    fn ranked(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = self.tenants.keys().copied().filter(|id| *id != 0).collect();
        ids.sort_by_key(|id| (std::cmp::Reverse(self.tenants[id].sessions), *id));
        if self.tenants.contains_key(&0) {
            ids.push(0);
        }
        ids
    }

    /// The report: the summary, the weeks over all, the tenants listed
    /// (named from `names`) and the rest folded into one line.
    pub fn finish(
        &self,
        names: &HashMap<i32, String>,
    ) -> (ReportCounts, Vec<WeekCounts>, Vec<TenantReport>, Option<ReportCounts>) {
        let ranked = self.ranked();
        let mut summary = ReportCounts::default();
        let mut weeks: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let mut listed = Vec::new();
        let mut other: Option<ReportCounts> = None;
        let mut compliance_known = true;
        for (i, id) in ranked.iter().enumerate() {
            let t = &self.tenants[id];
            let counts = counts(t);
            add(&mut summary, &counts);
            compliance_known &= t.non_compliant.is_some() || t.sessions == 0;
            for (w, (s, f)) in &t.weeks {
                let e = weeks.entry(w.clone()).or_default();
                e.0 += s;
                e.1 += f;
            }
            if i < MAX_TENANTS {
                listed.push(TenantReport {
                    id: *id,
                    name: names.get(id).cloned(),
                    counts,
                    failed_items: failed_items(t),
                    weeks: week_list(&t.weeks),
                });
            } else {
                add(other.get_or_insert_with(ReportCounts::default), &counts);
            }
        }
        if !compliance_known {
            summary.computers_non_compliant = None;
        }
        (summary, week_list(&weeks), listed, other)
    }
}

fn counts(t: &TenantTally) -> ReportCounts {
    let with = |o: Outcome| t.computers.values().filter(|(_, r)| *r == o).count() as i64;
    ReportCounts {
        sessions: t.sessions,
        sessions_by_schedule: t.by_schedule,
        computers: t.computers.len() as i64,
        computers_passed: with(Outcome::Passed),
        computers_failed: with(Outcome::Failed),
        computers_missed: with(Outcome::Missed),
        failed_actions: t.failed_actions,
        computers_non_compliant: t.non_compliant,
    }
}

fn add(to: &mut ReportCounts, c: &ReportCounts) {
    to.sessions += c.sessions;
    to.sessions_by_schedule += c.sessions_by_schedule;
    to.computers += c.computers;
    to.computers_passed += c.computers_passed;
    to.computers_failed += c.computers_failed;
    to.computers_missed += c.computers_missed;
    to.failed_actions += c.failed_actions;
    to.computers_non_compliant = Some(to.computers_non_compliant.unwrap_or(0) + c.computers_non_compliant.unwrap_or(0));
}

fn week_list(weeks: &BTreeMap<String, (i64, i64)>) -> Vec<WeekCounts> {
    let skip = weeks.len().saturating_sub(MAX_WEEKS);
    weeks
        .iter()
        .skip(skip)
        .map(|(week, (sessions, failed))| WeekCounts {
            week: week.clone(),
            sessions: *sessions,
            failed: *failed,
        })
        .collect()
}

fn failed_items(t: &TenantTally) -> Vec<FailedItem> {
    let mut items: Vec<FailedItem> = t
        .items
        .iter()
        .map(|(name, i)| FailedItem {
            name: name.clone(),
            failures: i.failures,
            computers: i.computers.len() as i64,
            reason: i
                .reasons
                .iter()
                .max_by_key(|(r, n)| (**n, std::cmp::Reverse((*r).clone())))
                .map(|(r, _)| r.clone()),
        })
        .collect();
    items.sort_by(|a, b| b.failures.cmp(&a.failures).then_with(|| a.name.cmp(&b.name)));
    items.truncate(MAX_FAILED_ITEMS);
    items
}

/// A reason on one line, at most 200 characters.
fn one_line(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use immybot_client::WireTime;

    fn t(day: i64) -> Timestamp {
        // 2026-11-02 is a Monday.
        "2026-11-02T10:00:00Z".parse::<Timestamp>().unwrap() + jiff::SignedDuration::from_hours(24 * day)
    }

    fn session(id: i32, computer: i32, tenant: i32, status: SessionStatus, day: i64) -> MaintenanceSession {
        MaintenanceSession {
            id,
            computer_id: Some(computer),
            tenant_id: Some(tenant),
            session_status: Some(status),
            created_date_utc: Some(WireTime(t(day))),
            ..Default::default()
        }
    }

    fn failed(id: i32, computer: i32, tenant: i32, item: &str, reason: &str, day: i64) -> MaintenanceAction {
        MaintenanceAction {
            id,
            computer_id: Some(computer),
            tenant_id: Some(tenant),
            maintenance_display_name: Some(item.into()),
            result: Some(MaintenanceActionResult::Failed),
            result_reason_message: Some(reason.into()),
            created_date_utc: Some(WireTime(t(day))),
            ..Default::default()
        }
    }

    #[test]
    fn weeks_are_named_by_their_monday() {
        assert_eq!(week_of(t(0)), "2026-11-02");
        assert_eq!(week_of(t(6)), "2026-11-02");
        assert_eq!(week_of(t(7)), "2026-11-09");
    }

    #[test]
    fn a_computer_counts_by_its_latest_session_and_rows_outside_the_report_do_not_count() {
        let mut tally = Tally::new(t(0), Some(t(14)), [1]);
        tally.add_session(&session(1, 10, 1, SessionStatus::Failed, 1));
        tally.add_session(&session(2, 10, 1, SessionStatus::Passed, 8));
        tally.add_session(&session(3, 11, 1, SessionStatus::PartialPassed, 9));
        tally.add_session(&session(4, 12, 1, SessionStatus::Missed, 2));
        // Seen twice (pages overlapped): once.
        tally.add_session(&session(3, 11, 1, SessionStatus::PartialPassed, 9));
        // Another tenant, and outside the period: a route ignored a filter.
        tally.add_session(&session(5, 20, 2, SessionStatus::Failed, 1));
        tally.add_session(&session(6, 10, 1, SessionStatus::Failed, 15));
        tally.add_failed_action(&failed(1, 11, 1, "Legacy VPN", "exit code 1603", 9));
        tally.add_failed_action(&failed(2, 10, 1, "Legacy VPN", "exit code 1603", 1));
        tally.add_failed_action(&failed(3, 10, 1, "7-Zip", "timed out", 1));
        let mut ok = failed(4, 10, 1, "7-Zip", "", 1);
        ok.result = Some(MaintenanceActionResult::Success);
        tally.add_failed_action(&ok);
        tally.set_non_compliant(1, 1);
        let names = HashMap::from([(1, "Contoso".to_string())]);
        let (summary, weeks, tenants, other) = tally.finish(&names);
        assert_eq!(summary.sessions, 4);
        assert_eq!(
            (
                summary.computers,
                summary.computers_passed,
                summary.computers_failed,
                summary.computers_missed
            ),
            (3, 1, 1, 1)
        );
        assert_eq!(summary.failed_actions, 3);
        assert_eq!(summary.computers_non_compliant, Some(1));
        assert_eq!(
            weeks,
            vec![
                WeekCounts {
                    week: "2026-11-02".into(),
                    sessions: 2,
                    failed: 1
                },
                WeekCounts {
                    week: "2026-11-09".into(),
                    sessions: 2,
                    failed: 1
                },
            ]
        );
        assert!(other.is_none());
        assert_eq!(tenants[0].name.as_deref(), Some("Contoso"));
        let vpn = &tenants[0].failed_items[0];
        assert_eq!((vpn.name.as_str(), vpn.failures, vpn.computers), ("Legacy VPN", 2, 2));
        assert_eq!(vpn.reason.as_deref(), Some("exit code 1603"));
        assert_eq!(tenants[0].failed_items.len(), 2);
    }

    #[test]
    fn tenants_past_the_limit_fold_into_one_line_and_unread_compliance_is_unknown() {
        let mut tally = Tally::new(t(0), Some(t(7)), []);
        let many = MAX_TENANTS as i32 + 5;
        for tenant in 1..=many {
            // Tenant n has n sessions: the busiest are listed.
            for k in 0..tenant {
                tally.add_session(&session(
                    tenant * 1000 + k,
                    tenant * 1000 + k,
                    tenant,
                    SessionStatus::Passed,
                    1,
                ));
            }
        }
        assert_eq!(tally.listed_tenants().len(), MAX_TENANTS);
        assert_eq!(tally.listed_tenants()[0], many);
        let (summary, _, tenants, other) = tally.finish(&HashMap::new());
        assert_eq!(tenants.len(), MAX_TENANTS);
        let other = other.expect("the rest folded");
        assert_eq!(other.sessions, (1..=5).sum::<i64>());
        assert_eq!(summary.sessions, (1..=i64::from(many)).sum::<i64>());
        assert_eq!(summary.computers_non_compliant, None);
    }
}
