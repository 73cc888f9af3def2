//! Which status writes can wait. While the API server is congested (see
//! `write_gate`), the reconciler puts off a write that only says where a
//! session in progress stands; everything a decision or a person acts on
//! is written at once.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::api::{MaintenanceSessionStatus, Phase};

/// Whether `next` differs from `current` only in where a session in
/// progress stands: the phase moving among Starting, Queued and Running
/// (and the reasons and messages of the conditions that follow it), and
/// what is mirrored from ImmyBot's sessions (progress, counts, per-item and
/// per-computer detail, the log tail). Such a write can wait while the API
/// server is congested: every reconcile decides the whole status afresh
/// from ImmyBot, so the next write carries the same and newer. Never in
/// this set: a final phase, a phase that waits on a person, a condition
/// turning true or false, attempts, approval, observed generation, rollout
/// and everything else a decision or a person acts on.
pub fn only_progress_changed(current: &MaintenanceSessionStatus, next: &MaintenanceSessionStatus) -> bool {
    let in_progress =
        |s: &MaintenanceSessionStatus| matches!(s.phase, Some(Phase::Starting | Phase::Queued | Phase::Running));
    let without_progress = |s: &MaintenanceSessionStatus| MaintenanceSessionStatus {
        phase: None,
        conditions: s
            .conditions
            .iter()
            .map(|c| Condition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                observed_generation: c.observed_generation,
                reason: String::new(),
                message: String::new(),
                last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
            })
            .collect(),
        progress: None,
        summary: None,
        items: vec![],
        computers: vec![],
        log_tail: vec![],
        ..s.clone()
    };
    current != next && in_progress(current) && in_progress(next) && without_progress(current) == without_progress(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::LogLine;
    use crate::controller::clock::stored_time;

    #[test]
    fn only_where_a_session_in_progress_stands_may_wait() {
        use crate::api::OutcomeSummary;
        let running = MaintenanceSessionStatus {
            phase: Some(Phase::Running),
            progress: Some("0/2".into()),
            ..Default::default()
        };
        let more_progress = MaintenanceSessionStatus {
            progress: Some("1/2".into()),
            summary: Some(OutcomeSummary {
                computers: 2,
                passed: 1,
                running: 1,
                ..Default::default()
            }),
            log_tail: vec![LogLine {
                time: None,
                session_id: 7,
                message: "installing".into(),
            }],
            ..running.clone()
        };
        assert!(only_progress_changed(&running, &more_progress));
        let starting = MaintenanceSessionStatus {
            phase: Some(Phase::Starting),
            ..running.clone()
        };
        assert!(
            only_progress_changed(&starting, &more_progress),
            "Starting to Running may wait"
        );
        let postponed = MaintenanceSessionStatus {
            phase: Some(Phase::Postponed),
            ..running.clone()
        };
        assert!(
            !only_progress_changed(&running, &postponed),
            "a phase that waits on a person never waits"
        );
        assert!(
            !only_progress_changed(&running, &running),
            "no change is no write at all"
        );
        let ended = MaintenanceSessionStatus {
            phase: Some(Phase::Succeeded),
            ..more_progress.clone()
        };
        assert!(!only_progress_changed(&running, &ended), "a final status never waits");
        let ready = |status: &str, reason: &str| Condition {
            type_: "Ready".into(),
            status: status.into(),
            reason: reason.into(),
            message: format!("{reason} now"),
            last_transition_time: stored_time(jiff::Timestamp::UNIX_EPOCH),
            observed_generation: None,
        };
        let with_condition = |c: Condition| MaintenanceSessionStatus {
            conditions: vec![c],
            ..running.clone()
        };
        assert!(
            !only_progress_changed(&running, &with_condition(ready("False", "Running"))),
            "a new condition is a decision, not progress"
        );
        assert!(
            only_progress_changed(
                &with_condition(ready("False", "Starting")),
                &with_condition(ready("False", "Running"))
            ),
            "the reason that follows the phase may wait with it"
        );
        assert!(
            !only_progress_changed(
                &with_condition(ready("False", "Running")),
                &with_condition(ready("True", "Running"))
            ),
            "a condition turning is never put off"
        );
        let observed = MaintenanceSessionStatus {
            observed_generation: Some(2),
            ..more_progress
        };
        assert!(
            !only_progress_changed(&running, &observed),
            "a spec change observed is not detail"
        );
    }
}
