//! Every Event the operator publishes: its `reason` (a stable CamelCase word
//! a person or a tool can match on) and its `action` (a verb: what the
//! operator was doing about the object). docs/events.md lists exactly these
//! (a test compares them), and the e2e harness fails a test whose namespace
//! holds one of our Events with a reason or action not in this table.

/// One reason: what the operator was doing, and when it says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventReason {
    pub reason: &'static str,
    pub action: &'static str,
    /// The kinds it is published for.
    pub kinds: &'static str,
    pub when: &'static str,
}

const fn r(reason: &'static str, action: &'static str, kinds: &'static str, when: &'static str) -> EventReason {
    EventReason {
        reason,
        action,
        kinds,
        when,
    }
}

const SESSION: &str = "MaintenanceSession";
const SCHEDULE: &str = "ImmyBotSchedule";
const CRON: &str = "MaintenanceSchedule";

/// The actions, each a verb.
pub const ACTIONS: &[&str] = &[
    "Approve", "Plan", "Start", "Adopt", "Observe", "Cancel", "Rerun", "Resume", "Delete", "Create", "Update",
    "RunNow", "Schedule", "Record", "Verify", "Notify",
];

/// Every reason, in the order docs/events.md lists them.
pub const REASONS: &[EventReason] = &[
    r(
        "Approved",
        "Approve",
        SESSION,
        "an approval of what the object does now was accepted",
    ),
    r(
        "NotApproved",
        "Approve",
        SESSION,
        "no valid approval (any more): the note says why",
    ),
    r(
        "Planning",
        "Plan",
        SESSION,
        "the plan's detection-only session was started",
    ),
    r(
        "PlanReady",
        "Plan",
        SESSION,
        "detection made the plan: what would change, waiting for an approval of it",
    ),
    r(
        "PlanChecked",
        "Plan",
        SESSION,
        "detected again right before the start: nothing beyond the approved plan",
    ),
    r(
        "PlanDrifted",
        "Plan",
        SESSION,
        "the computers changed since the plan was approved: nothing started, the new plan waits for an approval",
    ),
    r(
        "PlanUndetermined",
        "Plan",
        SESSION,
        "ImmyBot's answer to the plan's detection could not be read; a person checks",
    ),
    r(
        "PlanStartRejected",
        "Plan",
        SESSION,
        "ImmyBot refused the plan's detection session",
    ),
    r(
        "UnplannedActions",
        "Plan",
        SESSION,
        "ImmyBot ran actions the approved plan did not list",
    ),
    r(
        "TargetUnresolved",
        "Start",
        SESSION,
        "the target names computers or a tenant ImmyBot does not know",
    ),
    r("Started", "Start", SESSION, "ImmyBot accepted the start (or a wave's)"),
    r(
        "StartRejected",
        "Start",
        SESSION,
        "ImmyBot refused the start: nothing was started",
    ),
    r(
        "StartOutcomeUnknown",
        "Start",
        SESSION,
        "the start's answer was lost: its sessions are looked up by group id, never sent again",
    ),
    r(
        "StartAbandoned",
        "Start",
        SESSION,
        "a start whose answer was lost started nothing within the grace period",
    ),
    r(
        "AmbiguousStart",
        "Start",
        SESSION,
        "ImmyBot's sessions could not be told apart from another start's; a person checks (Stalled)",
    ),
    r(
        "ComputersBusy",
        "Start",
        SESSION,
        "ImmyBot reported computers busy in another session; they are tried again later",
    ),
    r(
        "BusyComputerUnknown",
        "Start",
        SESSION,
        "ImmyBot reported a busy computer the target does not name",
    ),
    r(
        "Adopted",
        "Adopt",
        "MaintenanceSession, ImmyBotSchedule",
        "found in ImmyBot what an interrupted start or create made, and took it as ours",
    ),
    r(
        "AdoptionUndetermined",
        "Adopt",
        SESSION,
        "ImmyBot did not say whether sessions belong to an interrupted start; they are left alone",
    ),
    r(
        "FoundAfterInterruptedCreate",
        "Adopt",
        SCHEDULE,
        "the schedule an interrupted create made was found, not created again",
    ),
    r(
        "Postponed",
        "Observe",
        SESSION,
        "a user postponed ImmyBot's session (kubectl immybot resume continues it)",
    ),
    r(
        "Halted",
        "Observe",
        SESSION,
        "a rollout in waves stopped before its next wave (the pilot failed, a failure budget ran out, the health gate fired or cannot be read): the message says which; kubectl immybot resume continues it",
    ),
    r(
        "HealthGateFailed",
        "Observe",
        SESSION,
        "the rollout's health gate fired (the alerts are named): no further wave starts until a person resumes it",
    ),
    r(
        "NotificationAbandoned",
        "Notify",
        SESSION,
        "a notification was not delivered to the CloudEvents sink within --notification-retry-seconds: given up",
    ),
    r("Succeeded", "Observe", SESSION, "every computer passed"),
    r(
        "PartiallySucceeded",
        "Observe",
        SESSION,
        "some computers or actions failed",
    ),
    r(
        "Failed",
        "Observe",
        SESSION,
        "nothing passed, or the rollout's failure budget was spent",
    ),
    r("Cancelled", "Observe", SESSION, "ImmyBot ended the session cancelled"),
    r(
        "TimedOut",
        "Observe",
        SESSION,
        "spec.timeout passed: what still ran was cancelled",
    ),
    r(
        "CancelRequested",
        "Cancel",
        SESSION,
        "ImmyBot accepted a cancel (spec.cancel, spec.timeout or deletion); asked once",
    ),
    r(
        "CancelledRunning",
        "Cancel",
        SCHEDULE,
        "ImmyBot accepted a cancel of the schedule's running sessions (spec.cancelRunning)",
    ),
    r(
        "CancellationUnconfirmed",
        "Delete",
        SESSION,
        "deleting: ImmyBot did not confirm the cancel in time; released anyway",
    ),
    r(
        "Orphaned",
        "Delete",
        SESSION,
        "deleting with deletionPolicy Orphan: ImmyBot's sessions go on",
    ),
    r(
        "ActionRerun",
        "Rerun",
        SESSION,
        "ImmyBot accepted a rerun of failed actions (spec.retry.failedActions)",
    ),
    r(
        "ActionRerunAdopted",
        "Rerun",
        SESSION,
        "a rerun whose answer was lost was found in ImmyBot",
    ),
    r(
        "ActionRerunNotSeen",
        "Rerun",
        SESSION,
        "ImmyBot accepted a rerun, but its session did not show up",
    ),
    r(
        "ActionRerunRefused",
        "Rerun",
        SESSION,
        "ImmyBot refused a rerun of failed actions",
    ),
    r(
        "ActionRerunUndetermined",
        "Rerun",
        SESSION,
        "whether a rerun ran could not be told; it is not sent again",
    ),
    r(
        "Resumed",
        "Resume",
        SESSION,
        "ImmyBot accepted a resume of postponed sessions (spec.resume)",
    ),
    r("Created", "Create", SCHEDULE, "the schedule was created in ImmyBot"),
    r(
        "Recreating",
        "Create",
        SCHEDULE,
        "the schedule is gone from ImmyBot and is created again",
    ),
    r(
        "RecreatedAfterDeletion",
        "Create",
        SCHEDULE,
        "the schedule was deleted in ImmyBot and was created again",
    ),
    r(
        "Updated",
        "Update",
        SCHEDULE,
        "the schedule in ImmyBot was changed to the approved definition",
    ),
    r(
        "DriftCorrected",
        "Update",
        SCHEDULE,
        "someone changed the schedule in ImmyBot: the approved definition was put back",
    ),
    r(
        "RunNow",
        "RunNow",
        SCHEDULE,
        "ImmyBot accepted a run-now request (spec.runNow)",
    ),
    r(
        "RunNowUnconfirmed",
        "RunNow",
        SCHEDULE,
        "a run-now request was interrupted before its answer: it is not sent again",
    ),
    r(
        "RunCreated",
        "Schedule",
        CRON,
        "a run (a MaintenanceSession) was created for a due time",
    ),
    r(
        "RunReplaced",
        "Schedule",
        CRON,
        "concurrencyPolicy Replace: the active run was deleted for the new one",
    ),
    r(
        "RunSkipped",
        "Schedule",
        CRON,
        "a due run was skipped (concurrencyPolicy Forbid)",
    ),
    r(
        "MissedSchedule",
        "Schedule",
        CRON,
        "due runs were missed (the operator was down, or past startingDeadlineSeconds)",
    ),
    r(
        "NotCompliant",
        "Verify",
        SESSION,
        "after the session ended, ImmyBot still shows computers out of compliance: how many, and the items",
    ),
    r(
        "ControlChanged",
        "Record",
        "MaintenanceSession, ImmyBotSchedule, MaintenanceSchedule",
        "a person used a control (suspend, cancel, retry, ...): who, and who approved",
    ),
];

/// The verb for `reason`. A reason missing from the table (a bug the e2e
/// harness catches) is published as `Reconcile`, never dropped.
pub fn action_of(reason: &str) -> &'static str {
    REASONS
        .iter()
        .find(|r| r.reason == reason)
        .map_or("Reconcile", |r| r.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camel_case(word: &str) -> bool {
        word.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && word.chars().all(|c| c.is_ascii_alphanumeric())
    }

    #[test]
    fn reasons_are_unique_camel_case_and_actions_are_verbs_of_the_list() {
        let mut seen = std::collections::BTreeSet::new();
        for r in REASONS {
            assert!(camel_case(r.reason), "{} is not CamelCase", r.reason);
            assert!(seen.insert(r.reason), "{} is listed twice", r.reason);
            assert!(
                ACTIONS.contains(&r.action),
                "{}'s action {} is not one of ACTIONS",
                r.reason,
                r.action
            );
        }
        for a in ACTIONS {
            assert!(camel_case(a), "{a}");
            assert!(REASONS.iter().any(|r| r.action == *a), "{a} is used by no reason");
        }
    }

    #[test]
    fn every_final_phase_and_postponed_has_its_reason() {
        use crate::api::Phase;
        for phase in [
            Phase::Postponed,
            Phase::Succeeded,
            Phase::PartiallySucceeded,
            Phase::Failed,
            Phase::Cancelled,
            Phase::TimedOut,
        ] {
            assert_eq!(action_of(phase.as_str()), "Observe", "{phase:?}");
        }
    }

    /// docs/events.md's table is this one, row by row.
    #[test]
    fn docs_list_exactly_these_reasons() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/events.md")).unwrap();
        let rows: Vec<(String, String)> = doc
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').map(|c| c.trim().trim_matches('`')).collect();
                (cells[1].to_owned(), cells[2].to_owned())
            })
            .collect();
        let ours: Vec<(String, String)> = REASONS
            .iter()
            .map(|r| (r.reason.to_owned(), r.action.to_owned()))
            .collect();
        assert_eq!(rows, ours, "docs/events.md and controller::event_reasons differ");
    }
}
