//! Every transition of the state machine, on fixtures.

use std::time::Duration;

use super::*;
use crate::api::{NamedId, ResolvedTarget, Weekday};
use crate::controller::conditions::{APPROVED, READY, RECONCILING, STALLED, SUCCEEDED};
use crate::controller::session::group_id::SessionGroupId;
use crate::test_fixtures::*;
use immybot_client::{MaintenanceSession as ImmySession, SessionStatus};

pub(super) const GRACE: Duration = Duration::from_secs(90);

/// Nothing read for excerpts.
static NO_EXCERPTS: std::collections::BTreeMap<i32, Vec<String>> = std::collections::BTreeMap::new();

/// What a reconcile observes, with the fixtures' instance, clock and
/// intervals: the one place the tests build an `Observed`.
pub(super) fn observed<'a>(
    object: &'a MaintenanceSession,
    digest: &'a ApprovalDigest,
    verdict: &'a Verdict,
    sessions: &'a [ImmySession],
) -> Observed<'a> {
    Observed {
        object,
        digest,
        verdict,
        sessions,
        compliant_by_item: None,
        action_excerpts: &NO_EXCERPTS,
        logs: &[],
        now: now(),
        instance: "https://acme.immy.bot/",
        connection: None,
        start_grace: GRACE,
        busy_retry: Duration::from_secs(60),
        pilot_required_above: None,
        plan_required_above: None,
        plan_detection_approved: true,
        health_gate: None,
    }
}

fn run(object: &MaintenanceSession, verdict: &Verdict, sessions: &[ImmySession]) -> Decision {
    let digest = ApprovalDigest::of("uid-1", &object.spec);
    decide(&observed(object, &digest, verdict, sessions))
}

/// One stage alone, on `object` approved by bob, with `sessions` observed.
pub(super) fn observe(
    object: &MaintenanceSession,
    sessions: &[ImmySession],
    stage: impl Fn(&mut MaintenanceSessionStatus, &Observed<'_>, &super::seen::Seen<'_>) -> Option<Next>,
) -> Option<Next> {
    observe_with(object, &approved(), sessions, stage)
}

/// `observe` with another verdict.
pub(super) fn observe_with(
    object: &MaintenanceSession,
    verdict: &Verdict,
    sessions: &[ImmySession],
    stage: impl Fn(&mut MaintenanceSessionStatus, &Observed<'_>, &super::seen::Seen<'_>) -> Option<Next>,
) -> Option<Next> {
    let digest = ApprovalDigest::of("uid-1", &object.spec);
    let o = observed(object, &digest, verdict, sessions);
    let (mut st, seen) = super::seen::refresh(&o);
    stage(&mut st, &o, &seen)
}

/// `observe_with` for a stage that also looks at the status it left.
pub(super) fn run_stage(
    object: &MaintenanceSession,
    verdict: &Verdict,
    mut stage: impl FnMut(&mut MaintenanceSessionStatus, &Observed<'_>, &super::seen::Seen<'_>) -> Option<Next>,
) -> Option<Next> {
    let digest = ApprovalDigest::of("uid-1", &object.spec);
    let o = observed(object, &digest, verdict, &[]);
    let (mut st, seen) = super::seen::refresh(&o);
    stage(&mut st, &o, &seen)
}

/// `observe`, keeping the status the stage left (`out`).
pub(super) fn observe_with_status(
    object: &MaintenanceSession,
    sessions: &[ImmySession],
    stage: impl Fn(&mut MaintenanceSessionStatus, &Observed<'_>, &super::seen::Seen<'_>) -> Option<Next>,
    out: &mut Option<MaintenanceSessionStatus>,
) -> Option<Next> {
    let digest = ApprovalDigest::of("uid-1", &object.spec);
    let verdict = approved();
    let o = observed(object, &digest, &verdict, sessions);
    let (mut st, seen) = super::seen::refresh(&o);
    let next = stage(&mut st, &o, &seen);
    *out = Some(st);
    next
}

pub(super) fn immy(id: i32, computer: i32, status: SessionStatus) -> ImmySession {
    ImmySession {
        id,
        computer_id: Some(computer),
        session_status: Some(status),
        ..Default::default()
    }
}

fn condition<'a>(d: &'a Decision, t: &str) -> Option<&'a str> {
    conditions::get(&d.status.conditions, t).map(|c| c.status.as_str())
}

mod busy;
mod running;
mod starting;
mod stopping;
mod windows;
