//! Attempt bookkeeping and the other small pure questions `decide` asks:
//! whether an object is settled, which attempts count as reruns, when busy
//! computers are tried again, what the first attempt targets, the timeout.
//! No clients, no clock: `now` comes in.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::group_id::SessionGroupId;
use crate::api::{
    Attempt, MaintenanceSession, MaintenanceSessionSpec, MaintenanceSessionStatus, Phase, attempt_purpose,
};
pub use crate::controller::clock::parse_duration;

/// A final object that nothing can reopen: no rerun left or asked for, no
/// resume asked for. ImmyBot cannot change what its status says, so the
/// shell reads nothing from ImmyBot for it (a fleet's finished work costs no
/// calls); a spec change only moves `observedGeneration`.
pub fn is_settled(obj: &MaintenanceSession) -> bool {
    let Some(st) = obj.status.as_ref() else {
        return false;
    };
    let Some(phase) = st.phase.filter(|p| p.is_final()) else {
        return false;
    };
    // The outcome was written before its explanation: the logs are read
    // next, on the way that reads sessions.
    if st.logs_pending {
        return false;
    }
    let spec = &obj.spec;
    let resume_asked = spec.resume.requests > st.resume.as_ref().map(|r| r.requests).unwrap_or(0);
    let attempts = st.immybot.as_ref().map(|r| r.attempts.as_slice()).unwrap_or_default();
    let used = 1 + attempts.iter().filter(|a| is_rerun(a)).count() as i32;
    let allowed = 1 + spec.retry.limit.max(0) + spec.retry.requests.max(0);
    let rerun_possible =
        matches!(phase, Phase::PartiallySucceeded | Phase::Failed) && used < allowed && spec.cancel.is_none();
    let reruns = st.action_reruns.as_ref();
    let action_rerun_asked = spec
        .retry
        .failed_actions
        .as_ref()
        .is_some_and(|f| f.requests > reruns.map(|r| r.requests).unwrap_or(0) && spec.cancel.is_none());
    let action_reruns_on_their_way = reruns.is_some_and(|r| super::action_reruns::in_flight(&r.actions));
    !resume_asked && !rerun_possible && !action_rerun_asked && !action_reruns_on_their_way
}

/// Every session id recorded in a status, each with when it was asked
/// for: the attempts' sessions and the sessions of action reruns. What the
/// readers (the poller, the session reader) follow; decisions look at
/// attempts and reruns apart.
pub fn recorded_sessions(st: &MaintenanceSessionStatus) -> impl Iterator<Item = (i32, Timestamp)> + '_ {
    let attempts = st
        .immybot
        .iter()
        .flat_map(|r| r.attempts.iter())
        .flat_map(|a| a.session_ids.iter().map(|id| (*id, a.intent_time.0)));
    let reruns = st.action_reruns.iter().flat_map(|r| r.actions.iter()).filter_map(|r| {
        let at = r.sent_at.as_ref()?.0;
        Some((r.rerun_session_id?, at))
    });
    attempts.chain(reruns)
}

/// The attempts whose sessions are read: the recorded ones (borrowed
/// while there is no rerun session), and one stand-in per action rerun
/// whose session is known (purpose `ActionRerun`, number 0). For the
/// session reader only.
pub fn read_attempts(st: &MaintenanceSessionStatus) -> std::borrow::Cow<'_, [Attempt]> {
    let recorded = st.immybot.as_ref().map(|r| r.attempts.as_slice()).unwrap_or_default();
    let reruns = st.action_reruns.iter().flat_map(|r| r.actions.iter());
    if reruns
        .clone()
        .all(|r| r.rerun_session_id.is_none_or(|id| id == r.session_id))
    {
        return std::borrow::Cow::Borrowed(recorded);
    }
    let mut out: Vec<Attempt> = recorded.to_vec();
    for r in reruns {
        // A rerun in place runs in a session already recorded.
        if let (Some(id), Some(at)) = (r.rerun_session_id, r.sent_at.as_ref())
            && id != r.session_id
        {
            out.push(Attempt {
                number: 0,
                session_group_id: String::new(),
                intent_time: at.clone(),
                computer_ids: vec![r.computer_id],
                session_ids: vec![id],
                ids_from: None,
                busy_computer_ids: vec![],
                purpose: Some(attempt_purpose::ACTION_RERUN.into()),
                busy_round: 0,
            });
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Whether an attempt reran failed computers (and so counts against
/// `spec.retry`). Attempts recorded before `purpose` existed: every one after
/// the first was a rerun.
pub(super) fn is_rerun(a: &Attempt) -> bool {
    match a.purpose.as_deref() {
        Some(p) => p == attempt_purpose::RERUN,
        None => a.number > 1,
    }
}

/// When computers found busy are tried again: a minute after the answer,
/// doubling with every round that found all of them still busy.
pub(super) fn busy_retry_after(attempt: &Attempt, base: Duration) -> Duration {
    let factor = 1u32 << attempt.busy_round.clamp(0, 8);
    base.saturating_mul(factor).min(base.saturating_mul(10))
}

pub(super) fn age(attempt: &Attempt, now: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(attempt.intent_time.0)).unwrap_or(Duration::ZERO)
}

pub(super) fn new_attempt(uid: &str, number: i32, now: Timestamp, computer_ids: Vec<i32>, purpose: &str) -> Attempt {
    attempt_of_group(
        SessionGroupId::for_attempt(uid, number),
        number,
        now,
        computer_ids,
        purpose,
    )
}

/// An attempt's intent under `group` (a maintenance attempt's, or a plan's
/// detection: `plan::detection_attempt`).
pub(super) fn attempt_of_group(
    group: SessionGroupId,
    number: i32,
    now: Timestamp,
    computer_ids: Vec<i32>,
    purpose: &str,
) -> Attempt {
    Attempt {
        number,
        session_group_id: group.to_string(),
        intent_time: Time(now),
        computer_ids,
        session_ids: vec![],
        ids_from: None,
        busy_computer_ids: vec![],
        purpose: Some(purpose.into()),
        busy_round: 0,
    }
}

/// The computer ids of the first attempt (empty for a tenant target).
pub(super) fn first_targets(spec: &MaintenanceSessionSpec, st: &MaintenanceSessionStatus) -> Vec<i32> {
    let refs: Vec<&crate::api::ComputerRef> = spec
        .target
        .computer
        .iter()
        .chain(spec.target.computers.iter().flatten())
        .collect();
    let resolved = st
        .resolved_target
        .as_ref()
        .map(|r| r.computers.clone())
        .unwrap_or_default();
    refs.iter()
        .filter_map(|r| {
            r.id.or_else(|| {
                resolved
                    .iter()
                    .find(|n| {
                        n.name
                            .as_deref()
                            .is_some_and(|x| r.name.as_deref().is_some_and(|y| x.eq_ignore_ascii_case(y)))
                    })
                    .map(|n| n.id)
            })
        })
        .collect()
}

/// Whether any name in the target still lacks an id.
pub fn needs_resolution(spec: &MaintenanceSessionSpec, st: &MaintenanceSessionStatus) -> bool {
    let computers = spec
        .target
        .computer
        .iter()
        .chain(spec.target.computers.iter().flatten());
    let named_computers = computers.filter(|c| c.id.is_none()).count();
    let named_tenant = spec.target.tenant.as_ref().is_some_and(|t| t.id.is_none());
    let resolved = st.resolved_target.as_ref();
    let have_computers = resolved.map(|r| r.computers.len()).unwrap_or(0);
    let have_tenant = resolved.is_some_and(|r| r.tenant.is_some());
    named_computers > have_computers || (named_tenant && !have_tenant)
}

pub(super) fn timeout_passed(spec: &MaintenanceSessionSpec, st: &MaintenanceSessionStatus, now: Timestamp) -> bool {
    match (parse_duration(spec.timeout.as_deref()), &st.start_time) {
        (Some(limit), Some(start)) => now.duration_since(start.0).as_secs_f64() >= limit.as_secs_f64(),
        _ => false,
    }
}

pub(super) fn timeout_recheck(
    spec: &MaintenanceSessionSpec,
    old: &Option<MaintenanceSessionStatus>,
    now: Timestamp,
) -> Option<Duration> {
    let start = old.as_ref()?.start_time.as_ref()?;
    let limit = parse_duration(spec.timeout.as_deref())?;
    let elapsed = Duration::try_from(now.duration_since(start.0)).unwrap_or(Duration::ZERO);
    limit.checked_sub(elapsed)
}
