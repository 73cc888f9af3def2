//! Reruns of single failed actions (`spec.retry.failedActions`), the pure
//! half: which failed actions a request reruns, how a rerun's session is
//! shown in place of the failure, and where each rerun stands. No clients.
//!
//! Where ImmyBot reruns one action is left open (GUESSES, one place, both
//! readings built for; the rerun call answers 200 and nothing else):
//! - in a session of its own, whose `sessionJobArgs.actionIdToRerun`
//!   names the action (what `rerunningAction`/`actionIdToRerun` in the
//!   document suggest): the computer's session as status shows it stays
//!   the one the action failed in, with the rerun's action in place of
//!   the failed one, and it passes once no action of it failed;
//! - inside the session the action belongs to (`in_place`): that session
//!   runs again (its status back to running), and the action gets a new
//!   outcome (a later start or end time, or another result). The session
//!   then shows it itself; nothing is folded in.
//!
//! `updatedDateUTC` is no evidence either way: what moves it is not
//! documented (it may move on every read).

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::{ActionRerun, ActionRerunState, FailedActionsRetry};
use crate::controller::session::status_mapping::listing_order;
use immybot_client::{MaintenanceAction, MaintenanceActionResult, MaintenanceSession, SessionStatus};

/// A failed action a request may rerun.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub computer_id: i32,
    pub session_id: i32,
    pub action_id: i32,
    pub name: String,
    /// When the failed outcome ended, on ImmyBot's clock (if rows say):
    /// a later start or end of the same action is a rerun in place.
    pub failed_at: Option<Time>,
}

/// The name status shows for an action (`status_mapping` and the reruns'
/// filters both name it so).
pub fn action_name(a: &MaintenanceAction) -> String {
    a.maintenance_display_name
        .clone()
        .or_else(|| a.maintenance_identifier.clone())
        .unwrap_or_else(|| format!("action {}", a.id))
}

/// The failed actions of each computer's newest session (as `overlay`
/// shows them), worst computers first, that match the request's filters
/// and were not rerun already. Only `Failed` counts: an `Indeterminable`
/// action (a suppressed reboot, an offline computer) would not pass on a
/// rerun either.
pub fn choose(shown: &[MaintenanceSession], asked: &FailedActionsRetry, done: &[ActionRerun]) -> Vec<Candidate> {
    let computer_matches = |s: &MaintenanceSession| match asked.computer.as_deref().map(str::trim) {
        None => true,
        Some(want) => {
            s.computer_id.is_some_and(|id| id.to_string() == want)
                || s.computer_name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(want))
        }
    };
    let action_matches = |name: &str| {
        asked
            .action
            .as_deref()
            .is_none_or(|want| name.eq_ignore_ascii_case(want.trim()))
    };
    let mut out = Vec::new();
    for s in listing_order(shown) {
        let Some(computer_id) = s.computer_id.filter(|_| computer_matches(s)) else {
            continue;
        };
        for a in s.maintenance_actions.iter().flatten() {
            let name = action_name(a);
            if a.result == Some(MaintenanceActionResult::Failed)
                && action_matches(&name)
                && !done.iter().any(|r| r.action_id == a.id)
            {
                out.push(Candidate {
                    computer_id,
                    // The session that ran the action: a rerun's own, when
                    // the failure shown is a rerun's.
                    session_id: if a.maintenance_session_id > 0 {
                        a.maintenance_session_id
                    } else {
                        s.id
                    },
                    action_id: a.id,
                    name,
                    failed_at: a.end_time.map(|t| Time(t.0)),
                });
            }
        }
    }
    out
}

/// The sessions as status shows them: each rerun session is folded into
/// the session whose action it reran. Until it ends, that action shows as
/// pending and the computer as running again; once it ended, its action
/// (the one of the same maintenance item) replaces the failed one, and a
/// session none of whose actions failed any more shows `Passed`. A rerun
/// session that ended without action rows changes nothing.
/// Without a rerun's session to fold in (nearly always), the sessions as
/// they are, borrowed: a tenant's thousands are not copied per reconcile.
pub fn overlay<'a>(sessions: &'a [MaintenanceSession], reruns: &[ActionRerun]) -> Cow<'a, [MaintenanceSession]> {
    if reruns.iter().all(|r| r.rerun_session_id.is_none()) {
        return Cow::Borrowed(sessions);
    }
    Cow::Owned(folded(sessions, reruns))
}

fn folded(sessions: &[MaintenanceSession], reruns: &[ActionRerun]) -> Vec<MaintenanceSession> {
    let by_id: BTreeMap<i32, &MaintenanceSession> = sessions.iter().map(|s| (s.id, s)).collect();
    // A rerun in place shows in its own session: nothing to fold.
    let reruns: Vec<&ActionRerun> = reruns.iter().filter(|r| !in_place(r)).collect();
    let rerun_ids: Vec<i32> = reruns.iter().filter_map(|r| r.rerun_session_id).collect();
    let mut shown: Vec<MaintenanceSession> = sessions
        .iter()
        .filter(|s| !rerun_ids.contains(&s.id))
        .cloned()
        .collect();
    // Which shown sessions had an action replaced, and whether a rerun of
    // theirs still runs.
    let mut touched: BTreeMap<i32, bool> = BTreeMap::new();
    for r in reruns {
        let Some(rerun) = r.rerun_session_id.and_then(|id| by_id.get(&id)) else {
            continue;
        };
        let Some((host, index)) = shown.iter_mut().find_map(|s| {
            let i = s
                .maintenance_actions
                .iter()
                .flatten()
                .position(|a| a.id == r.action_id)?;
            Some((s, i))
        }) else {
            continue;
        };
        let Some(actions) = host.maintenance_actions.as_mut() else {
            continue;
        };
        let running = !ended(rerun);
        let failed = &actions[index];
        let same_item = |a: &&MaintenanceAction| {
            (a.maintenance_identifier.is_some() && a.maintenance_identifier == failed.maintenance_identifier)
                || action_name(a) == action_name(failed)
        };
        if running {
            let pending = MaintenanceAction {
                result: Some(MaintenanceActionResult::Pending),
                status: None,
                result_reason: None,
                result_reason_message: None,
                end_time: None,
                maintenance_session_id: rerun.id,
                ..failed.clone()
            };
            actions[index] = pending;
        } else if let Some(outcome) = rerun.maintenance_actions.iter().flatten().find(same_item) {
            actions[index] = outcome.clone();
        } else {
            continue;
        }
        let still = touched.entry(host.id).or_insert(false);
        *still |= running;
    }
    for s in &mut shown {
        let Some(&running) = touched.get(&s.id) else { continue };
        if running {
            s.session_status = Some(SessionStatus::Running);
        } else if !s
            .maintenance_actions
            .iter()
            .flatten()
            .any(|a| a.result == Some(MaintenanceActionResult::Failed))
            && matches!(
                s.session_status,
                Some(SessionStatus::Failed | SessionStatus::PartialPassed)
            )
        {
            s.session_status = Some(SessionStatus::Passed);
        }
    }
    shown
}

/// Moves each rerun whose session ImmyBot shows ended to `Ended`.
/// Also records a rerun whose call may have reached ImmyBot (`Sent`,
/// `Accepted`) as running or ended in place once its own session shows it
/// (`seen_in_place`).
pub fn advance(reruns: &mut [ActionRerun], sessions: &[MaintenanceSession]) {
    for r in reruns.iter_mut() {
        match r.state {
            ActionRerunState::Sent | ActionRerunState::Accepted if r.rerun_session_id.is_none() => {
                let Some(host) = sessions.iter().find(|s| s.id == r.session_id) else {
                    continue;
                };
                let seen = seen_in_place(r, host);
                if seen != InPlace::NotSeen {
                    r.rerun_session_id = Some(r.session_id);
                    r.message = None;
                    r.state = if seen == InPlace::Running {
                        ActionRerunState::Running
                    } else {
                        ActionRerunState::Ended
                    };
                }
            }
            ActionRerunState::Running => {
                if let Some(s) = r.rerun_session_id.and_then(|id| sessions.iter().find(|s| s.id == id))
                    && ended(s)
                {
                    r.state = ActionRerunState::Ended;
                }
            }
            _ => {}
        }
    }
}

/// Whether any rerun is still on its way (chosen, sent or running).
pub fn in_flight(reruns: &[ActionRerun]) -> bool {
    reruns.iter().any(|r| !r.state.is_done())
}

/// Whether ImmyBot reran the action inside the session it belongs to.
pub fn in_place(r: &ActionRerun) -> bool {
    r.rerun_session_id == Some(r.session_id)
}

/// What the session an action belongs to shows of a rerun of it there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InPlace {
    NotSeen,
    /// The session runs again.
    Running,
    /// The action has a new outcome and the session ended again.
    Ended,
}

/// Reads `host` (the session the rerun's action failed in, read after the
/// rerun was sent) for a rerun in place. The host had ended before any
/// rerun was chosen, so running again is the rerun; ended, the action's
/// outcome is new when it started or ended after the failure did
/// (`failed_at`, ImmyBot's own clock), or no longer is `Failed`.
pub fn seen_in_place(r: &ActionRerun, host: &MaintenanceSession) -> InPlace {
    if !ended(host) {
        return InPlace::Running;
    }
    let Some(action) = host.maintenance_actions.iter().flatten().find(|a| a.id == r.action_id) else {
        return InPlace::NotSeen;
    };
    // In whole seconds: `failedAt` is stored as status stores times, and
    // the same instant read back with its fraction is not later.
    let later = |t: Option<&immybot_client::WireTime>| matches!((t, r.failed_at.as_ref()), (Some(t), Some(failed)) if t.0.as_second() > failed.0.as_second());
    let new_result = action.result.is_some() && action.result != Some(MaintenanceActionResult::Failed);
    if new_result || later(action.start_time.as_ref()) || later(action.end_time.as_ref()) {
        InPlace::Ended
    } else {
        InPlace::NotSeen
    }
}

/// The sessions whose ended state a rerun may reopen (ImmyBot may rerun
/// an action inside its session): those of reruns whose call may have
/// reached ImmyBot and whose run is not seen, or that run in place. They
/// must be read afresh, not served as ended for good.
pub fn reopened(reruns: &[ActionRerun]) -> impl Iterator<Item = i32> + '_ {
    reruns
        .iter()
        .filter(|r| {
            matches!(r.state, ActionRerunState::Sent | ActionRerunState::Accepted)
                || (r.state == ActionRerunState::Running && in_place(r))
        })
        .map(|r| r.session_id)
}

fn ended(s: &MaintenanceSession) -> bool {
    s.session_status.as_ref().is_some_and(SessionStatus::is_terminal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(id: i32, session: i32, name: &str, result: MaintenanceActionResult) -> MaintenanceAction {
        MaintenanceAction {
            id,
            maintenance_session_id: session,
            maintenance_display_name: Some(name.into()),
            maintenance_identifier: Some(name.to_lowercase()),
            result: Some(result),
            ..Default::default()
        }
    }

    fn session(id: i32, computer: i32, status: SessionStatus, actions: Vec<MaintenanceAction>) -> MaintenanceSession {
        MaintenanceSession {
            id,
            computer_id: Some(computer),
            computer_name: Some(format!("PC-{computer}")),
            session_status: Some(status),
            maintenance_actions: Some(actions),
            ..Default::default()
        }
    }

    fn rerun(action_id: i32, session_id: Option<i32>, state: ActionRerunState) -> ActionRerun {
        ActionRerun {
            request: 1,
            requested_by: "carol".into(),
            computer_id: 102,
            name: "Legacy VPN".into(),
            session_id: 7,
            action_id,
            state,
            sent_at: None,
            rerun_session_id: session_id,
            looked_at: None,
            failed_at: None,
            message: None,
        }
    }

    fn partly_passed() -> MaintenanceSession {
        session(
            7,
            102,
            SessionStatus::PartialPassed,
            vec![
                action(70, 7, "Legacy VPN", MaintenanceActionResult::Failed),
                action(71, 7, "7-Zip", MaintenanceActionResult::Success),
            ],
        )
    }

    #[test]
    fn a_request_picks_the_failed_actions_that_match_once() {
        let shown = [
            partly_passed(),
            session(
                8,
                103,
                SessionStatus::Failed,
                vec![action(80, 8, "Legacy VPN", MaintenanceActionResult::Failed)],
            ),
            session(
                9,
                104,
                SessionStatus::PartialPassed,
                vec![action(90, 9, "Reboot Check", MaintenanceActionResult::Indeterminable)],
            ),
        ];
        let all = FailedActionsRetry {
            requests: 1,
            ..Default::default()
        };
        let ids = |c: Vec<Candidate>| c.iter().map(|c| c.action_id).collect::<Vec<_>>();
        assert_eq!(ids(choose(&shown, &all, &[])), vec![80, 70], "worst computer first");
        let one = FailedActionsRetry {
            computer: Some("pc-102".into()),
            action: Some("legacy vpn".into()),
            ..all.clone()
        };
        assert_eq!(ids(choose(&shown, &one, &[])), vec![70]);
        let by_id = FailedActionsRetry {
            computer: Some("103".into()),
            ..all.clone()
        };
        assert_eq!(ids(choose(&shown, &by_id, &[])), vec![80]);
        let done = [rerun(70, Some(20), ActionRerunState::Ended)];
        assert_eq!(
            ids(choose(&shown, &one, &done)),
            Vec::<i32>::new(),
            "never the same action twice"
        );
    }

    #[test]
    fn a_running_rerun_shows_the_computer_running_then_its_outcome_replaces_the_failure() {
        let running = session(20, 102, SessionStatus::Running, vec![]);
        let reruns = [rerun(70, Some(20), ActionRerunState::Running)];
        let sessions = [partly_passed(), running];
        let shown = overlay(&sessions, &reruns);
        assert_eq!(shown.len(), 1, "the rerun session is folded in, not listed");
        assert_eq!(shown[0].session_status, Some(SessionStatus::Running));
        let vpn = &shown[0].maintenance_actions.as_ref().unwrap()[0];
        assert_eq!(
            (vpn.result.clone(), vpn.maintenance_session_id),
            (Some(MaintenanceActionResult::Pending), 20)
        );

        let passed = session(
            20,
            102,
            SessionStatus::Passed,
            vec![action(200, 20, "Legacy VPN", MaintenanceActionResult::Success)],
        );
        let sessions = [partly_passed(), passed.clone()];
        let shown = overlay(&sessions, &reruns);
        assert_eq!(shown[0].session_status, Some(SessionStatus::Passed));
        assert_eq!(shown[0].maintenance_actions.as_ref().unwrap()[0].id, 200);

        let failed_again = session(
            20,
            102,
            SessionStatus::Failed,
            vec![action(201, 20, "Legacy VPN", MaintenanceActionResult::Failed)],
        );
        let sessions = [partly_passed(), failed_again];
        let shown = overlay(&sessions, &reruns);
        assert_eq!(shown[0].session_status, Some(SessionStatus::PartialPassed));
        let again = choose(
            &shown,
            &FailedActionsRetry {
                requests: 2,
                ..Default::default()
            },
            &reruns,
        );
        assert_eq!(
            again,
            vec![Candidate {
                computer_id: 102,
                session_id: 20,
                action_id: 201,
                name: "Legacy VPN".into(),
                failed_at: None,
            }],
            "a failed rerun is rerun from its own session"
        );
    }

    #[test]
    fn without_a_rerun_session_nothing_is_copied() {
        let sessions = [partly_passed()];
        assert!(matches!(overlay(&sessions, &[]), Cow::Borrowed(_)));
        let chosen = [rerun(70, None, ActionRerunState::Pending)];
        assert!(matches!(overlay(&sessions, &chosen), Cow::Borrowed(_)));
    }

    #[test]
    fn a_rerun_that_ended_without_rows_changes_nothing() {
        let bare = session(20, 102, SessionStatus::Passed, vec![]);
        let reruns = [rerun(70, Some(20), ActionRerunState::Ended)];
        let sessions = [partly_passed(), bare];
        let shown = overlay(&sessions, &reruns);
        assert_eq!(shown[0].session_status, Some(SessionStatus::PartialPassed));
        assert_eq!(shown[0].maintenance_actions.as_ref().unwrap()[0].id, 70);
    }

    #[test]
    fn a_rerun_in_place_is_seen_in_its_own_session_and_not_folded() {
        use immybot_client::WireTime;
        let failed_at = jiff::Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_secs(100);
        let mut r = rerun(70, None, ActionRerunState::Accepted);
        r.failed_at = Some(Time(failed_at));
        let mut host = partly_passed();
        host.maintenance_actions.as_mut().unwrap()[0].end_time = Some(WireTime(failed_at));
        assert_eq!(
            seen_in_place(&r, &host),
            InPlace::NotSeen,
            "the old outcome is no rerun"
        );
        host.maintenance_actions.as_mut().unwrap()[0].end_time =
            Some(WireTime(failed_at + jiff::SignedDuration::from_millis(375)));
        assert_eq!(
            seen_in_place(&r, &host),
            InPlace::NotSeen,
            "the old outcome, read with the fraction status drops"
        );
        host.session_status = Some(SessionStatus::Running);
        assert_eq!(seen_in_place(&r, &host), InPlace::Running);
        host.session_status = Some(SessionStatus::PartialPassed);
        host.maintenance_actions.as_mut().unwrap()[0].end_time =
            Some(WireTime(failed_at + jiff::SignedDuration::from_secs(30)));
        assert_eq!(seen_in_place(&r, &host), InPlace::Ended, "failed again, later");
        let mut passed = partly_passed();
        passed.maintenance_actions.as_mut().unwrap()[0].result = Some(MaintenanceActionResult::Success);
        let mut no_times = r.clone();
        no_times.failed_at = None;
        assert_eq!(seen_in_place(&no_times, &passed), InPlace::Ended, "a new result");
        // Recorded in place: the session is shown as it is, not folded away.
        let mut done = rerun(70, Some(7), ActionRerunState::Ended);
        done.session_id = 7;
        let sessions = [passed.clone()];
        let shown = overlay(&sessions, std::slice::from_ref(&done));
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].id, 7);
    }

    #[test]
    fn a_rerun_ends_when_its_session_does() {
        let mut reruns = [
            rerun(70, Some(20), ActionRerunState::Running),
            rerun(71, None, ActionRerunState::Sent),
        ];
        advance(&mut reruns, &[session(20, 102, SessionStatus::Running, vec![])]);
        assert!(in_flight(&reruns));
        assert_eq!(reruns[0].state, ActionRerunState::Running);
        advance(&mut reruns, &[session(20, 102, SessionStatus::Failed, vec![])]);
        assert_eq!(reruns[0].state, ActionRerunState::Ended);
        assert!(in_flight(&reruns), "the sent one is still on its way");
    }
}
