//! What is worth telling people, found by comparing the status a write
//! replaces with the one it writes (pure): the records are added to the
//! written status, so the outbox and the change it reports land together
//! or not at all.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use sha2::{Digest as _, Sha256};

use crate::api::{
    MAX_NOTIFICATIONS, MaintenanceSessionStatus, NotificationRecord, NotificationState, Phase, PlanState,
};
use crate::controller::conditions;

/// A record's message keeps at most this many characters.
const MAX_MESSAGE_CHARS: usize = 512;

/// The kinds of occurrence, each a CloudEvent type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    AwaitingApproval,
    PlanReady,
    DriftHeld,
    RolloutHalted,
    Failed,
    EndedWithFailures,
    ComplianceNotReached,
}

/// Every kind, for the docs and the tests.
pub const KINDS: &[Kind] = &[
    Kind::AwaitingApproval,
    Kind::PlanReady,
    Kind::DriftHeld,
    Kind::RolloutHalted,
    Kind::Failed,
    Kind::EndedWithFailures,
    Kind::ComplianceNotReached,
];

impl Kind {
    /// The CloudEvent `type`: reverse DNS, versioned, as Tekton's
    /// `dev.tekton.event.taskrun.failed.v1`.
    pub fn event_type(self) -> &'static str {
        match self {
            Kind::AwaitingApproval => "io.immybot.maintenancesession.approval.awaiting.v1",
            Kind::PlanReady => "io.immybot.maintenancesession.plan.ready.v1",
            Kind::DriftHeld => "io.immybot.maintenancesession.plan.drifted.v1",
            Kind::RolloutHalted => "io.immybot.maintenancesession.rollout.halted.v1",
            Kind::Failed => "io.immybot.maintenancesession.failed.v1",
            Kind::EndedWithFailures => "io.immybot.maintenancesession.endedwithfailures.v1",
            Kind::ComplianceNotReached => "io.immybot.maintenancesession.compliance.notreached.v1",
        }
    }

    /// When it is sent, for docs/notifications.md.
    pub fn when(self) -> &'static str {
        match self {
            Kind::AwaitingApproval => "the session waits for an approval (a new request, or a change that revoked one)",
            Kind::PlanReady => "detection made the plan an approver must name",
            Kind::DriftHeld => {
                "the computers changed since the plan was approved: the start is held for a new approval"
            }
            Kind::RolloutHalted => "a rollout in waves halted or holds (pilot failed, failure budget, health gate)",
            Kind::Failed => "the session ended Failed or TimedOut",
            Kind::EndedWithFailures => "the session ended PartiallySucceeded",
            Kind::ComplianceNotReached => "after the run, ImmyBot still shows computers needing attention",
        }
    }
}

/// One occurrence found in a status change.
#[derive(Clone, Debug, PartialEq)]
pub struct Occurrence {
    pub kind: Kind,
    pub reason: String,
    pub message: String,
    pub time: Timestamp,
}

/// What a write changes, and of which object.
pub struct Change<'a> {
    pub uid: &'a str,
    /// The object makes a plan before its approval (`spec.plan`): then
    /// `plan.ready` is what asks the approver, and a wait for the plan's
    /// detection asks nobody yet.
    pub planned: bool,
    pub old: Option<&'a MaintenanceSessionStatus>,
    /// The time of the write.
    pub now: Timestamp,
}

/// The occurrences `old` -> `new` makes.
pub fn between(change: &Change<'_>, new: &MaintenanceSessionStatus) -> Vec<Occurrence> {
    let (old, now) = (change.old, change.now);
    let empty = MaintenanceSessionStatus::default();
    let old = old.unwrap_or(&empty);
    let mut out = vec![];
    // Phases and conditions are stamped `now`, the write's own time: a
    // condition's lastTransitionTime moves only when its status does, and
    // a second halt after a resume is a second occurrence.
    let ready = |s: &MaintenanceSessionStatus| {
        conditions::get(&s.conditions, conditions::READY).map(|c| (c.reason.clone(), c.message.clone()))
    };
    let (reason, message) = ready(new).unwrap_or_default();
    let since = now;
    let old_reason = ready(old).map(|r| r.0);
    let entered = |phase: Phase| {
        new.phase == Some(phase) && (old.phase != Some(phase) || old_reason.as_deref() != Some(reason.as_str()))
    };
    let occurrence = |kind, reason: &str, message: &str, time| Occurrence {
        kind,
        reason: reason.to_owned(),
        message: message.to_owned(),
        time,
    };
    // A plan that became ready (or a drift check that found changes).
    if let Some(plan) = new.plan.as_ref().filter(|p| p.state == PlanState::Ready) {
        let key = |p: &crate::api::PlanStatus| (p.number, p.state, p.digest.clone());
        if old.plan.as_ref().map(key) != Some(key(plan)) {
            let time = plan.completed_at.as_ref().map_or(now, |t| t.0);
            let summary = plan.summary.clone().unwrap_or_default();
            out.push(if plan.drift.is_empty() {
                occurrence(Kind::PlanReady, "PlanReady", &summary, time)
            } else {
                occurrence(Kind::DriftHeld, "PlanDrifted", &summary, time)
            });
        }
    }
    if entered(Phase::AwaitingApproval) && !change.planned {
        out.push(occurrence(Kind::AwaitingApproval, &reason, &message, since));
    }
    if entered(Phase::Halted) {
        out.push(occurrence(Kind::RolloutHalted, &reason, &message, since));
    }
    for (phase, kind) in [
        (Phase::Failed, Kind::Failed),
        (Phase::TimedOut, Kind::Failed),
        (Phase::PartiallySucceeded, Kind::EndedWithFailures),
    ] {
        if new.phase == Some(phase) && old.phase != Some(phase) {
            out.push(occurrence(kind, &reason, &message, since));
        }
    }
    let compliance = |s: &MaintenanceSessionStatus| {
        conditions::get(&s.conditions, crate::controller::session::compliance::COMPLIANT)
            .filter(|c| c.status == "False")
            .map(|c| (c.reason.clone(), c.message.clone()))
    };
    if let Some((reason, message)) = compliance(new)
        && compliance(old).map(|c| c.0) != Some(reason.clone())
    {
        out.push(occurrence(Kind::ComplianceNotReached, &reason, &message, now));
    }
    out
}

/// The CloudEvent id of an occurrence of object `uid`: the same whenever
/// it is computed for that occurrence.
pub fn id(uid: &str, o: &Occurrence) -> String {
    let mut h = Sha256::new();
    for part in [uid, o.kind.event_type(), &o.reason, &o.time.to_string()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Adds the occurrences `old` -> `new` to `new.notifications` as pending,
/// then bounds the list (the oldest delivered ones go first). Whether it
/// added any.
pub fn record(change: &Change<'_>, new: &mut MaintenanceSessionStatus) -> bool {
    let found = between(change, new);
    let uid = change.uid;
    let mut added = false;
    for o in found {
        let id = id(uid, &o);
        if new.notifications.iter().any(|r| r.id == id) {
            continue;
        }
        let message = if o.message.chars().count() > MAX_MESSAGE_CHARS {
            o.message
                .chars()
                .take(MAX_MESSAGE_CHARS - 3)
                .chain("...".chars())
                .collect()
        } else {
            o.message.clone()
        };
        new.notifications.push(NotificationRecord {
            id,
            type_: o.kind.event_type().to_owned(),
            reason: o.reason.clone(),
            message,
            time: Time(o.time),
            state: NotificationState::Pending,
            sent_at: None,
        });
        added = true;
    }
    bound(&mut new.notifications);
    added
}

fn bound(records: &mut Vec<NotificationRecord>) {
    while records.len() > MAX_NOTIFICATIONS {
        let oldest_done = records.iter().position(|r| r.state != NotificationState::Pending);
        records.remove(oldest_done.unwrap_or(0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::conditions::{READY, set};

    fn at(phase: Phase, reason: &str, message: &str) -> MaintenanceSessionStatus {
        let mut s = MaintenanceSessionStatus {
            phase: Some(phase),
            ..Default::default()
        };
        set(
            &mut s.conditions,
            READY,
            false,
            reason,
            message.to_owned(),
            Some(1),
            "2026-12-07T01:00:00Z".parse().unwrap(),
        );
        s
    }

    fn now() -> Timestamp {
        "2026-12-07T01:00:05Z".parse().unwrap()
    }

    fn change(old: &MaintenanceSessionStatus) -> Change<'_> {
        Change {
            uid: "uid-1",
            planned: false,
            old: Some(old),
            now: now(),
        }
    }

    #[test]
    fn each_phase_worth_telling_is_one_occurrence_once() {
        let pending = at(Phase::Pending, "Pending", "");
        let waiting = at(Phase::AwaitingApproval, "AwaitingApproval", "bob must approve");
        let found = between(&change(&pending), &waiting);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].kind, found[0].message.as_str()),
            (Kind::AwaitingApproval, "bob must approve")
        );
        assert!(
            between(&change(&waiting), &waiting).is_empty(),
            "no change, nothing new"
        );
        let halted = at(Phase::Halted, "HealthGateFailed", "the gate fires: EndpointDown");
        assert_eq!(between(&change(&waiting), &halted)[0].kind, Kind::RolloutHalted);
        let unreachable = at(Phase::Halted, "HealthGateUnreachable", "cannot be read");
        assert_eq!(
            between(&change(&halted), &unreachable)[0].reason,
            "HealthGateUnreachable",
            "another halt"
        );
        for (phase, kind) in [
            (Phase::Failed, Kind::Failed),
            (Phase::TimedOut, Kind::Failed),
            (Phase::PartiallySucceeded, Kind::EndedWithFailures),
        ] {
            let ended = at(phase, "x", "y");
            assert_eq!(between(&change(&halted), &ended)[0].kind, kind);
        }
        assert!(between(&change(&pending), &at(Phase::Succeeded, "Succeeded", "")).is_empty());
    }

    #[test]
    fn the_same_occurrence_has_the_same_id_and_is_recorded_once() {
        let pending = at(Phase::Pending, "Pending", "");
        let mut halted = at(Phase::Halted, "FailureBudgetExhausted", "2 failed");
        assert!(record(&change(&pending), &mut halted));
        let first = halted.notifications.clone();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].state, NotificationState::Pending);
        // The same write decided again (a conflict) finds the same id.
        assert!(!record(&change(&pending), &mut halted));
        assert_eq!(halted.notifications, first);
        let mut other = at(Phase::Halted, "FailureBudgetExhausted", "2 failed");
        record(
            &Change {
                uid: "uid-2",
                ..change(&pending)
            },
            &mut other,
        );
        assert_ne!(other.notifications[0].id, first[0].id, "another object's occurrence");
    }

    #[test]
    fn a_long_message_is_cut_to_its_bound_in_characters() {
        let pending = at(Phase::Pending, "Pending", "");
        let mut halted = at(Phase::Halted, "HealthGateFailed", &"é".repeat(600));
        record(&change(&pending), &mut halted);
        let message = &halted.notifications[0].message;
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(message.ends_with("é..."), "{message}");
    }

    #[test]
    fn docs_list_every_type() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/notifications.md")).unwrap();
        let begin = doc.find("<!-- notification types").unwrap();
        let end = doc.find("<!-- end of notification types").unwrap();
        let rows: Vec<String> = doc[begin..end]
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(str::to_owned)
            .collect();
        let ours: Vec<String> = KINDS
            .iter()
            .map(|k| format!("| `{}` | {} |", k.event_type(), k.when()))
            .collect();
        assert_eq!(rows, ours, "docs/notifications.md and occurrences::KINDS differ");
    }

    #[test]
    fn the_list_is_bounded_and_drops_what_was_delivered_first() {
        let mut st = MaintenanceSessionStatus::default();
        for i in 0..(MAX_NOTIFICATIONS + 3) {
            st.notifications.push(NotificationRecord {
                id: format!("{i}"),
                type_: "t".into(),
                reason: "r".into(),
                message: String::new(),
                time: Time(now()),
                state: if i % 2 == 0 {
                    NotificationState::Sent
                } else {
                    NotificationState::Pending
                },
                sent_at: None,
            });
        }
        bound(&mut st.notifications);
        assert_eq!(st.notifications.len(), MAX_NOTIFICATIONS);
        let kept_pending = st
            .notifications
            .iter()
            .filter(|r| r.state == NotificationState::Pending)
            .count();
        assert_eq!(kept_pending, 6, "every pending one kept while delivered ones can go");
    }
}
