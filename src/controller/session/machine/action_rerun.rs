//! Stage 6 (before `mirror`): reruns of failed actions (`spec.retry.failedActions`). Once
//! every session ended, a new request chooses the failed actions that match
//! (`status.actionReruns`); each is then sent once, one at a time per
//! computer, inside the windows and while the object is approved:
//!
//! 1. `Pending` to `Sent` with `sentAt`, in the status the shell writes
//!    before the call (the intent);
//! 2. the call; its session is found by `sessionJobArgs.actionIdToRerun`
//!    (the call answers no id) and recorded (`Running`);
//! 3. a `Sent` rerun (no answer known: a crash, a lost answer) waits out
//!    the start grace period, then is looked up, and sent again only if
//!    ImmyBot shows no trace of it (no session of its own, nothing in the
//!    session it belongs to);
//! 4. an `Accepted` rerun (ImmyBot answered 2xx) is never sent again: its
//!    run is recognised in either reading (`action_reruns::advance`), or
//!    looked for every `UNSEEN_RECHECK`, with condition `RerunNotSeen`
//!    naming the session and action once the grace has passed.
//!
//! While any rerun is on its way the object shows `Running`; after that
//! `mirror` ends it from the sessions with the reruns' outcomes in place.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::seen::Seen;
use super::{Next, Observed, Step, window_gate};
use crate::api::{ActionRerun, ActionRerunState, ActionReruns, MAX_ACTION_RERUNS, MaintenanceSessionStatus, Phase};
use crate::controller::conditions;
use crate::controller::session::action_reruns::{choose, in_flight};

/// How often reruns on their way are looked at, besides the poller.
const RERUN_RECHECK: Duration = Duration::from_secs(60);
/// How often an accepted rerun whose run is not seen is looked for.
pub(crate) const UNSEEN_RECHECK: Duration = Duration::from_secs(300);

pub(super) fn reruns(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Option<Next> {
    let finished = seen.mapped.as_ref().is_some_and(|m| m.aggregate.is_finished()) && seen.waiting.is_empty();
    take_request(st, seen, finished);
    report_unseen(st, o);
    let record = st.action_reruns.as_ref()?;
    if !in_flight(&record.actions) {
        return None;
    }
    let may_send = seen.approved && !seen.spec.suspend && seen.spec.cancel.is_none();
    // Accepted by ImmyBot and not seen running: looked for at a slow pace,
    // never sent again.
    if let Some(accepted) = record
        .actions
        .iter()
        .find(|r| r.state == ActionRerunState::Accepted && r.rerun_session_id.is_none())
    {
        let since = |t: Option<&Time>| {
            t.and_then(|t| Duration::try_from(o.now.duration_since(t.0)).ok())
                .unwrap_or(Duration::ZERO)
        };
        let age = since(accepted.sent_at.as_ref());
        let progress = progress(record);
        let shown = Next::show(Phase::Running, "RerunningActions", progress);
        if age < o.start_grace {
            return Some(shown.requeue(Some(o.start_grace - age)));
        }
        let looked = accepted.looked_at.as_ref().map(|t| since(Some(t)));
        return Some(match looked {
            Some(ago) if ago < UNSEEN_RECHECK => shown.requeue(Some(UNSEEN_RECHECK - ago)),
            _ => shown.step(Step::FindActionRerun {
                action_id: accepted.action_id,
                resend: false,
            }),
        });
    }
    // A rerun sent but never recorded: wait out the grace, then look it up.
    if let Some(sent) = record
        .actions
        .iter()
        .find(|r| r.state == ActionRerunState::Sent && r.rerun_session_id.is_none())
    {
        let age = sent
            .sent_at
            .as_ref()
            .and_then(|t| Duration::try_from(o.now.duration_since(t.0)).ok())
            .unwrap_or(Duration::ZERO);
        let progress = progress(record);
        if age < o.start_grace {
            return Some(Next::show(Phase::Running, "RerunningActions", progress).requeue(Some(o.start_grace - age)));
        }
        return Some(
            Next::show(Phase::Running, "RerunningActions", progress).step(Step::FindActionRerun {
                action_id: sent.action_id,
                resend: may_send,
            }),
        );
    }
    let busy: Vec<i32> = record
        .actions
        .iter()
        .filter(|r| {
            matches!(
                r.state,
                ActionRerunState::Sent | ActionRerunState::Accepted | ActionRerunState::Running
            )
        })
        .map(|r| r.computer_id)
        .collect();
    let next = record
        .actions
        .iter()
        .position(|r| r.state == ActionRerunState::Pending && !busy.contains(&r.computer_id));
    if let Some(i) = next
        && may_send
    {
        if let Some(wait) = window_gate::hold(st, o) {
            return Some(wait);
        }
        let record = st.action_reruns.as_mut()?;
        let rerun = &mut record.actions[i];
        rerun.state = ActionRerunState::Sent;
        rerun.sent_at = Some(Time(o.now));
        let action_id = rerun.action_id;
        let message = progress(record);
        st.completion_time = None;
        return Some(Next::show(Phase::Running, "RerunningActions", message).step(Step::RerunAction { action_id }));
    }
    if busy.is_empty() && !may_send {
        // Chosen, and nothing may be sent: say what holds them.
        let waiting = record
            .actions
            .iter()
            .filter(|r| r.state == ActionRerunState::Pending)
            .count();
        return Some(if seen.spec.suspend {
            Next::show(
                Phase::Suspended,
                "Suspended",
                format!("spec.suspend is true: {waiting} failed action(s) wait to be rerun"),
            )
        } else {
            Next::show(
                Phase::AwaitingApproval,
                "AwaitingApproval",
                format!(
                    "{waiting} failed action(s) wait to be rerun: that acts on ImmyBot and needs an approval of this object (kubectl immybot approve)"
                ),
            )
        });
    }
    Some(Next::show(Phase::Running, "RerunningActions", progress(record)).requeue(Some(RERUN_RECHECK)))
}

/// Acts on a new `spec.retry.failedActions.requests` once every session
/// ended: records the failed actions it reruns (none: says so), within
/// `MAX_ACTION_RERUNS` over the object's life. A cancelled object reruns
/// nothing, and what was chosen and not sent is dropped.
fn take_request(st: &mut MaintenanceSessionStatus, seen: &Seen<'_>, finished: bool) {
    if seen.spec.cancel.is_some()
        && let Some(record) = st.action_reruns.as_mut()
    {
        for r in record
            .actions
            .iter_mut()
            .filter(|r| r.state == ActionRerunState::Pending)
        {
            r.state = ActionRerunState::NotRun;
            r.message = Some("the object was cancelled before the rerun was sent".into());
        }
    }
    let Some(asked) = seen.spec.retry.failed_actions.as_ref() else {
        return;
    };
    let handled = st.action_reruns.as_ref().map(|r| r.requests).unwrap_or(0);
    if asked.requests <= handled || !finished {
        return;
    }
    let record = st.action_reruns.get_or_insert_with(ActionReruns::default);
    record.requests = asked.requests;
    if seen.spec.cancel.is_some() {
        record.last_request = Some(format!(
            "request {}: the object is cancelled; nothing is rerun",
            asked.requests
        ));
        return;
    }
    let candidates = choose(&seen.shown, asked, &record.actions);
    let room = MAX_ACTION_RERUNS.saturating_sub(record.actions.len());
    let left_out = candidates.len().saturating_sub(room);
    let chosen = candidates.len() - left_out;
    for c in candidates.into_iter().take(room) {
        record.actions.push(ActionRerun {
            request: asked.requests,
            // Filled in by the shell from who changed `spec.retry`.
            requested_by: String::new(),
            computer_id: c.computer_id,
            name: c.name,
            session_id: c.session_id,
            action_id: c.action_id,
            failed_at: c.failed_at,
            state: ActionRerunState::Pending,
            sent_at: None,
            rerun_session_id: None,
            looked_at: None,
            message: None,
        });
    }
    let filters = describe_filters(asked);
    record.last_request = Some(match (chosen, left_out) {
        (0, 0) => format!(
            "request {}: no failed action{filters} to rerun (an action is rerun at most once; a rerun that failed again can be)",
            asked.requests
        ),
        (n, 0) => format!("request {}: rerunning {n} failed action(s){filters}", asked.requests),
        (n, more) => format!(
            "request {}: rerunning {n} failed action(s){filters}; {more} more left out: an object reruns at most {MAX_ACTION_RERUNS} actions, rerun whole computers with spec.retry.requests",
            asked.requests
        ),
    });
}

fn describe_filters(asked: &crate::api::FailedActionsRetry) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &asked.computer {
        parts.push(format!("computer {c}"));
    }
    if let Some(a) = &asked.action {
        parts.push(format!("action {a}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" matching {}", parts.join(", "))
    }
}

/// Condition `RerunNotSeen`: True while a rerun ImmyBot accepted has not
/// been seen running past the start grace (naming each session and
/// action), removed otherwise.
fn report_unseen(st: &mut MaintenanceSessionStatus, o: &Observed<'_>) {
    let unseen: Vec<String> = st
        .action_reruns
        .iter()
        .flat_map(|r| r.actions.iter())
        .filter(|r| r.state == ActionRerunState::Accepted && r.rerun_session_id.is_none())
        .filter(|r| {
            r.sent_at
                .as_ref()
                .and_then(|t| Duration::try_from(o.now.duration_since(t.0)).ok())
                .is_some_and(|age| age >= o.start_grace)
        })
        .map(|r| format!("{} (action {} of session {})", r.name, r.action_id, r.session_id))
        .collect();
    let (g, now) = (o.object.metadata.generation, o.now);
    if unseen.is_empty() {
        conditions::remove(&mut st.conditions, conditions::RERUN_NOT_SEEN);
    } else {
        conditions::set(
            &mut st.conditions,
            conditions::RERUN_NOT_SEEN,
            true,
            "AcceptedNotSeen",
            format!(
                "accepted by ImmyBot, its run not seen: {}. It is never sent again; the controller looks for it every {} minutes (a session with actionIdToRerun, or the action running again in its own session)",
                unseen.join(", "),
                UNSEEN_RECHECK.as_secs() / 60
            ),
            g,
            now,
        );
    }
}

/// One line: how many reruns are done, running, waiting.
fn progress(record: &ActionReruns) -> String {
    let count = |f: &dyn Fn(ActionRerunState) -> bool| record.actions.iter().filter(|r| f(r.state)).count();
    let done = count(&|s| s.is_done());
    let running = count(&|s| {
        matches!(
            s,
            ActionRerunState::Sent | ActionRerunState::Accepted | ActionRerunState::Running
        )
    });
    let waiting = count(&|s| s == ActionRerunState::Pending);
    format!("rerunning failed actions: {done} done, {running} running, {waiting} waiting")
}

#[cfg(test)]
mod tests {
    use super::super::tests::observe;
    use super::*;
    use crate::api::FailedActionsRetry;
    use crate::test_fixtures::*;
    use immybot_client::{MaintenanceAction, MaintenanceActionResult, MaintenanceSession, SessionStatus};

    fn stage(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Option<Next> {
        reruns(st, o, seen)
    }

    fn partly_passed(status: SessionStatus) -> MaintenanceSession {
        MaintenanceSession {
            id: 7,
            computer_id: Some(102),
            session_status: Some(status),
            maintenance_actions: Some(vec![
                MaintenanceAction {
                    id: 70,
                    maintenance_session_id: 7,
                    maintenance_display_name: Some("Legacy VPN".into()),
                    result: Some(MaintenanceActionResult::Failed),
                    ..Default::default()
                },
                MaintenanceAction {
                    id: 71,
                    maintenance_session_id: 7,
                    maintenance_display_name: Some("7-Zip".into()),
                    result: Some(MaintenanceActionResult::Success),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        }
    }

    fn asking(requests: i32) -> crate::test_fixtures::SessionBuilder {
        let mut b = session()
            .attempt(1, 30, &[7])
            .status(|s| s.phase = Some(Phase::PartiallySucceeded));
        b.0.spec.retry.failed_actions = Some(FailedActionsRetry {
            requests,
            ..Default::default()
        });
        b
    }

    fn sent_at(seconds_ago: i64) -> ActionRerun {
        ActionRerun {
            request: 1,
            requested_by: "carol".into(),
            computer_id: 102,
            name: "Legacy VPN".into(),
            session_id: 7,
            action_id: 70,
            failed_at: None,
            state: ActionRerunState::Sent,
            sent_at: Some(Time(now() - jiff::SignedDuration::from_secs(seconds_ago))),
            rerun_session_id: None,
            looked_at: None,
            message: None,
        }
    }

    #[test]
    fn a_request_records_the_failed_action_as_sent_before_the_call() {
        let object = asking(1).build();
        let mut status = None;
        let next = super::super::tests::observe_with_status(
            &object,
            &[partly_passed(SessionStatus::PartialPassed)],
            stage,
            &mut status,
        )
        .unwrap();
        assert_eq!(next.step, Step::RerunAction { action_id: 70 });
        let record = status.and_then(|s| s.action_reruns).unwrap();
        assert_eq!(record.requests, 1);
        assert_eq!(record.actions.len(), 1, "only the failed action: {record:?}");
        assert_eq!(
            record.actions[0].state,
            ActionRerunState::Sent,
            "the intent is in the status"
        );
        assert!(record.actions[0].sent_at.is_some());
    }

    #[test]
    fn nothing_is_chosen_while_sessions_run_and_nothing_sent_without_approval() {
        let object = asking(1).build();
        assert_eq!(
            observe(&object, &[partly_passed(SessionStatus::Running)], stage),
            None,
            "the request waits for the sessions to end"
        );
        let mut unapproved = asking(1);
        unapproved.0.spec.suspend = true;
        let next = observe(
            &unapproved.build(),
            &[partly_passed(SessionStatus::PartialPassed)],
            stage,
        )
        .unwrap();
        assert_eq!(next.step, Step::None, "suspended: chosen, not sent");
    }

    #[test]
    fn a_sent_rerun_without_its_session_is_looked_up_after_the_grace_and_never_resent_blindly() {
        let young = asking(1).status(|s| {
            s.action_reruns = Some(ActionReruns {
                requests: 1,
                actions: vec![sent_at(1)],
                last_request: None,
            })
        });
        let sessions = [partly_passed(SessionStatus::PartialPassed)];
        let waiting = observe(&young.build(), &sessions, stage).unwrap();
        assert_eq!(waiting.step, Step::None, "within the grace: it may be in flight");
        let old = asking(1).status(|s| {
            s.action_reruns = Some(ActionReruns {
                requests: 1,
                actions: vec![sent_at(600)],
                last_request: None,
            })
        });
        let lookup = observe(&old.build(), &sessions, stage).unwrap();
        assert_eq!(
            lookup.step,
            Step::FindActionRerun {
                action_id: 70,
                resend: true
            }
        );
    }

    #[test]
    fn a_request_with_nothing_failed_that_matches_is_recorded_and_ends() {
        let mut b = asking(1);
        b.0.spec.retry.failed_actions = Some(FailedActionsRetry {
            requests: 1,
            computer: Some("999".into()),
            action: None,
        });
        let mut status = None;
        let next = super::super::tests::observe_with_status(
            &b.build(),
            &[partly_passed(SessionStatus::PartialPassed)],
            stage,
            &mut status,
        );
        assert_eq!(next, None, "nothing to do: the later stages end the object");
        let record = status.and_then(|s| s.action_reruns).unwrap();
        assert_eq!(record.requests, 1, "acted on once");
        assert!(
            record
                .last_request
                .unwrap()
                .contains("no failed action matching computer 999")
        );
    }

    #[test]
    fn an_accepted_rerun_is_never_sent_again_and_is_reported_after_the_grace() {
        let with = |r: ActionRerun| {
            asking(1)
                .status(move |s| {
                    s.action_reruns = Some(ActionReruns {
                        requests: 1,
                        actions: vec![r.clone()],
                        last_request: None,
                    })
                })
                .build()
        };
        let sessions = [partly_passed(SessionStatus::PartialPassed)];
        let mut accepted = sent_at(600);
        accepted.state = ActionRerunState::Accepted;
        let mut status = None;
        let next =
            super::super::tests::observe_with_status(&with(accepted.clone()), &sessions, stage, &mut status).unwrap();
        assert_eq!(
            next.step,
            Step::FindActionRerun {
                action_id: 70,
                resend: false
            },
            "looked for, never resent"
        );
        let st = status.unwrap();
        let unseen = st.conditions.iter().find(|c| c.type_ == conditions::RERUN_NOT_SEEN);
        assert!(
            unseen.is_some_and(|c| c.status == "True" && c.message.contains("action 70 of session 7")),
            "{:?}",
            st.conditions
        );
        // Looked for a minute ago: nothing until the slow recheck.
        accepted.looked_at = Some(Time(now() - jiff::SignedDuration::from_secs(60)));
        let next = observe(&with(accepted.clone()), &sessions, stage).unwrap();
        assert_eq!(next.step, Step::None);
        assert_eq!(next.requeue_after, Some(UNSEEN_RECHECK - Duration::from_secs(60)));
        // Within the grace: no condition yet.
        let mut young = sent_at(1);
        young.state = ActionRerunState::Accepted;
        let mut status = None;
        super::super::tests::observe_with_status(&with(young), &sessions, stage, &mut status);
        assert!(
            !status
                .unwrap()
                .conditions
                .iter()
                .any(|c| c.type_ == conditions::RERUN_NOT_SEEN)
        );
    }

    #[test]
    fn a_rerun_seen_running_in_its_own_session_is_recorded_there_and_never_resent() {
        let mut sent = sent_at(600);
        sent.state = ActionRerunState::Accepted;
        let object = asking(1)
            .status(move |s| {
                s.action_reruns = Some(ActionReruns {
                    requests: 1,
                    actions: vec![sent.clone()],
                    last_request: None,
                })
            })
            .build();
        let mut status = None;
        let next = super::super::tests::observe_with_status(
            &object,
            &[partly_passed(SessionStatus::Running)],
            stage,
            &mut status,
        )
        .unwrap();
        assert!(!matches!(
            next.step,
            Step::RerunAction { .. } | Step::FindActionRerun { .. }
        ));
        let r = &status.unwrap().action_reruns.unwrap().actions[0];
        assert_eq!((r.state, r.rerun_session_id), (ActionRerunState::Running, Some(7)));
    }
}
