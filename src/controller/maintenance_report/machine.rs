//! A report's decision. Pure: the object and the time in; what to do out,
//! and the statuses it writes.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::{
    MAX_PERIOD_DAYS, MAX_RECORDS, MaintenanceApproval, MaintenanceReport, MaintenanceReportStatus, MaintenanceSession,
    PeopleRecords, PersonCount, PersonRecord, ReportPeriod, SearchPhase,
};
use crate::controller::answered_once::{self, Expiry};

/// How many unanswered or unexpired reports of one namespace are answered:
/// a bound on what a loop creating reports can cost ImmyBot.
pub const MAX_LIVE_PER_NAMESPACE: usize = 5;
/// How long an answer is kept by default, and at most.
pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);
pub const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

pub struct Observed<'a> {
    pub object: &'a MaintenanceReport,
    pub now: Timestamp,
    /// Reports of the namespace created before this one, not yet expired.
    pub older_live: usize,
}

#[derive(Debug, PartialEq)]
pub enum Step {
    /// Gather the period from ImmyBot and Kubernetes, then write `answered`.
    Gather(ReportPeriod),
    /// The ttl passed: delete the object.
    Delete,
    /// Write this status (a refusal).
    Write(Box<MaintenanceReportStatus>),
    /// Nothing until `after`.
    Wait { after: Duration },
}

pub fn decide(o: &Observed<'_>) -> Step {
    let st = o.object.status.clone().unwrap_or_default();
    match answered_once::expiry(st.phase, st.expires_at.as_ref(), o.now) {
        Some(Expiry::Wait(after)) => return Step::Wait { after },
        Some(Expiry::Delete) => return Step::Delete,
        None => {}
    }
    if o.older_live >= MAX_LIVE_PER_NAMESPACE {
        return Step::Write(Box::new(failed(
            o,
            "TooManyReports",
            format!(
                "{} reports of this namespace are still live (at most {MAX_LIVE_PER_NAMESPACE} are answered): wait for them to expire or delete them, then ask again",
                o.older_live
            ),
        )));
    }
    let since = o.object.spec.since.0;
    let until = o.object.spec.until.as_ref().map_or(o.now, |t| t.0).min(o.now);
    if since >= until {
        return Step::Write(Box::new(failed(
            o,
            "EmptyPeriod",
            format!("the period from {since} to {until} is empty: since must be in the past"),
        )));
    }
    if until.duration_since(since) > SignedDuration::from_hours(24 * MAX_PERIOD_DAYS) {
        return Step::Write(Box::new(failed(
            o,
            "PeriodTooLong",
            format!("a report covers at most {MAX_PERIOD_DAYS} days: split the period"),
        )));
    }
    Step::Gather(ReportPeriod {
        since: Time(since),
        until: Time(until),
    })
}

/// How long the answer is kept.
pub fn ttl(o: &Observed<'_>) -> Duration {
    answered_once::ttl(o.object.spec.ttl.as_deref(), DEFAULT_TTL, MAX_TTL)
}

fn expires(o: &Observed<'_>) -> Time {
    answered_once::expires_at(o.now, ttl(o))
}

/// `st` (the counts filled in) made the answer.
pub fn answered(o: &Observed<'_>, mut st: MaintenanceReportStatus, notes: &[String]) -> MaintenanceReportStatus {
    let counts = st.summary.clone().unwrap_or_default();
    let mut message = format!(
        "{} session(s) on {} computer(s): {} passed, {} failed, {} missed",
        counts.sessions, counts.computers, counts.computers_passed, counts.computers_failed, counts.computers_missed
    );
    for note in notes {
        message.push_str("; ");
        message.push_str(note);
    }
    st.phase = Some(SearchPhase::Complete);
    st.message = Some(message.clone());
    st.completion_time = Some(Time(o.now));
    st.expires_at = Some(expires(o));
    answered_once::answered(&mut st.conditions, message, o.now);
    st
}

/// The status of a report that cannot be answered (a person reads why).
pub fn failed(o: &Observed<'_>, reason: &str, message: String) -> MaintenanceReportStatus {
    let mut st = MaintenanceReportStatus {
        phase: Some(SearchPhase::Failed),
        message: Some(message.clone()),
        completion_time: Some(Time(o.now)),
        expires_at: Some(expires(o)),
        ..Default::default()
    };
    answered_once::refused(&mut st.conditions, reason, message, o.now);
    st
}

/// Which records a report counts: from `since`, and before `until` where
/// the report names an end (one that ends now takes everything since).
#[derive(Clone, Copy)]
pub struct Bounds {
    pub since: Timestamp,
    pub until: Option<Timestamp>,
}

impl Bounds {
    fn holds(&self, at: Timestamp) -> bool {
        at >= self.since && self.until.is_none_or(|u| at < u)
    }
}

/// Approvals given in the period, for the sessions `selected` names (all
/// of the namespace when `None`).
pub fn approvals(all: &[MaintenanceApproval], selected: Option<&HashSet<String>>, period: Bounds) -> PeopleRecords {
    let records = all.iter().filter_map(|a| {
        let at = a.metadata.creation_timestamp.as_ref()?.0;
        let chosen = selected.is_none_or(|names| names.contains(&a.spec.session_name));
        (chosen && period.holds(at)).then(|| PersonRecord {
            session: a.spec.session_name.clone(),
            person: a.spec.approver.clone(),
            at: Time(at),
        })
    });
    people(records.collect())
}

/// Cancellations made in the period: who set `spec.cancel` and when, as the
/// sessions' own control records say.
pub fn cancellations(sessions: &[MaintenanceSession], period: Bounds) -> PeopleRecords {
    let records = sessions.iter().flat_map(|s| {
        let name = s.metadata.name.clone().unwrap_or_default();
        s.status
            .iter()
            .flat_map(|st| st.controls.iter())
            .filter(move |c| c.field == "cancel" && period.holds(c.at.0))
            .map(move |c| PersonRecord {
                session: name.clone(),
                person: c.by.clone(),
                at: c.at.clone(),
            })
    });
    people(records.collect())
}

fn people(mut records: Vec<PersonRecord>) -> PeopleRecords {
    let mut by: BTreeMap<String, i64> = BTreeMap::new();
    for r in &records {
        *by.entry(r.person.clone()).or_default() += 1;
    }
    let mut by_person: Vec<PersonCount> = by
        .into_iter()
        .map(|(person, count)| PersonCount { person, count })
        .collect();
    by_person.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.person.cmp(&b.person)));
    by_person.truncate(MAX_RECORDS);
    records.sort_by(|a, b| b.at.0.cmp(&a.at.0).then_with(|| a.session.cmp(&b.session)));
    let count = records.len() as i64;
    records.truncate(MAX_RECORDS);
    PeopleRecords {
        count,
        by_person,
        latest: records,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(spec: serde_json::Value, status: Option<serde_json::Value>) -> MaintenanceReport {
        let mut r = MaintenanceReport::new("monthly", serde_json::from_value(spec).unwrap());
        r.status = status.map(|s| serde_json::from_value(s).unwrap());
        r
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn the_period_ends_now_at_the_latest_and_must_be_short_and_past() {
        let now = at("2026-12-06T12:00:00Z");
        let o = |r: &MaintenanceReport| {
            decide(&Observed {
                object: r,
                now,
                older_live: 0,
            })
        };
        let open = report(serde_json::json!({"since": "2026-11-06T12:00:00Z"}), None);
        assert_eq!(
            o(&open),
            Step::Gather(ReportPeriod {
                since: Time(at("2026-11-06T12:00:00Z")),
                until: Time(now)
            })
        );
        let future = report(serde_json::json!({"since": "2026-12-07T00:00:00Z"}), None);
        assert!(matches!(o(&future), Step::Write(st) if st.conditions.iter().any(|c| c.reason == "EmptyPeriod")));
        let long = report(serde_json::json!({"since": "2025-11-01T00:00:00Z"}), None);
        assert!(matches!(o(&long), Step::Write(st) if st.conditions.iter().any(|c| c.reason == "PeriodTooLong")));
        let crowded = Observed {
            object: &open,
            now,
            older_live: MAX_LIVE_PER_NAMESPACE,
        };
        assert!(matches!(decide(&crowded), Step::Write(st) if st.phase == Some(SearchPhase::Failed)));
    }

    #[test]
    fn an_answer_is_kept_for_its_ttl_then_deleted() {
        let now = at("2026-12-06T12:00:00Z");
        let done = report(
            serde_json::json!({"since": "2026-11-06T12:00:00Z", "ttl": "2h"}),
            Some(serde_json::json!({"phase": "Complete", "expiresAt": "2026-12-06T13:00:00Z"})),
        );
        assert_eq!(
            decide(&Observed {
                object: &done,
                now,
                older_live: 9
            }),
            Step::Wait {
                after: Duration::from_secs(3600)
            }
        );
        let later = at("2026-12-06T13:00:00Z");
        assert_eq!(
            decide(&Observed {
                object: &done,
                now: later,
                older_live: 0
            }),
            Step::Delete
        );
        assert_eq!(
            ttl(&Observed {
                object: &done,
                now,
                older_live: 0
            }),
            Duration::from_secs(7200)
        );
    }

    #[test]
    fn approvals_and_cancellations_count_who_in_the_period() {
        let period = Bounds {
            since: at("2026-11-01T00:00:00Z"),
            until: Some(at("2026-12-01T00:00:00Z")),
        };
        let approval = |session: &str, who: &str, when: &str| {
            let mut a = MaintenanceApproval::new(
                &format!("{session}-{who}"),
                serde_json::from_value(serde_json::json!({
                    "sessionName": session, "sessionUid": "u", "digest": "d", "approver": who
                }))
                .unwrap(),
            );
            a.metadata.creation_timestamp = Some(Time(at(when)));
            a
        };
        let all = [
            approval("a", "bob", "2026-11-02T00:00:00Z"),
            approval("b", "bob", "2026-11-03T00:00:00Z"),
            approval("c", "dave", "2026-11-04T00:00:00Z"),
            approval("d", "bob", "2026-12-02T00:00:00Z"),
        ];
        let got = approvals(&all, None, period);
        assert_eq!(got.count, 3);
        assert_eq!(
            got.by_person[0],
            PersonCount {
                person: "bob".into(),
                count: 2
            }
        );
        assert_eq!(got.latest[0].session, "c");
        let only: HashSet<String> = ["a".to_string()].into();
        assert_eq!(approvals(&all, Some(&only), period).count, 1);
        // A report that ends now takes everything since its start.
        let open = Bounds { until: None, ..period };
        assert_eq!(approvals(&all, None, open).count, 4);
    }
}
