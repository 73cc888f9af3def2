//! Plan, then approve (`spec.plan`; docs/design.md, "Plan, then approve").
//!
//! - `content`: a plan's status from what detection found, and the
//!   comparisons with an approved plan (drift, unplanned). Pure.
//! - `detection_reading`: what detection-only rows mean; every guess about
//!   ImmyBot's detection in one place. Pure.
//! - `protocol`: the shell's steps: start a detection-only session (the
//!   start protocol's rules: intent first, a derived group id, never sent
//!   twice) and read it into the plan once it ended.
//!
//! This file: what the state machine and the approval ask of a plan.

pub mod content;
pub mod detection_reading;
pub mod protocol;

use jiff::{SignedDuration, Timestamp};

use super::group_id::SessionGroupId;
use crate::api::{
    Attempt, DEFAULT_PLAN_MAX_AGE, MaintenanceSessionSpec, MaintenanceSessionStatus, OnDrift, PlanSpec, PlanState,
    PlanStatus,
};
use crate::controller::approval::PlanNeed;

/// Why a plan (or check) was made: `PlanStatus.purpose`.
pub mod purpose {
    pub const INITIAL: &str = "Initial";
    pub const EXPIRED: &str = "Expired";
    pub const DRIFT_CHECK: &str = "DriftCheck";
    /// The attempt purpose of a plan's detection-only start.
    pub const PLAN_ATTEMPT: &str = "Plan";
    pub const CHECK_ATTEMPT: &str = "PlanCheck";
}

/// The object's plan settings, when it asks for a plan (observe-only
/// objects start nothing and so plan nothing).
pub fn planned(spec: &MaintenanceSessionSpec) -> Option<&PlanSpec> {
    spec.plan.as_ref().filter(|p| p.enabled && spec.observe.is_none())
}

/// Whether a fresh detection runs right before the start.
pub fn checks_drift(spec: &MaintenanceSessionSpec) -> bool {
    planned(spec).is_some_and(|p| p.on_drift == OnDrift::Reapprove)
}

/// `maxAge`, or the default; the CRD's pattern admits only what parses.
pub fn max_age(plan: &PlanSpec) -> SignedDuration {
    let text = plan.max_age.as_deref().unwrap_or(DEFAULT_PLAN_MAX_AGE);
    crate::controller::clock::parse_duration(Some(text))
        .and_then(|d| SignedDuration::try_from(d).ok())
        .unwrap_or(SignedDuration::from_hours(24))
}

/// The plan this spec's approval is about: made for this spec digest.
pub fn current<'a>(st: Option<&'a MaintenanceSessionStatus>, digest: &str) -> Option<&'a PlanStatus> {
    st?.plan.as_ref().filter(|p| p.spec_digest == digest)
}

/// What an approval of this object must name (`approval::PlanNeed`).
pub fn need<'a>(
    spec: &MaintenanceSessionSpec,
    st: Option<&'a MaintenanceSessionStatus>,
    digest: &str,
    now: Timestamp,
) -> PlanNeed<'a> {
    let Some(settings) = planned(spec) else {
        return PlanNeed::None;
    };
    match current(st, digest) {
        Some(plan) if plan.state == PlanState::Ready && !expired(plan, settings, now) => {
            plan.digest.as_deref().map_or(PlanNeed::NotReady, PlanNeed::Digest)
        }
        _ => PlanNeed::NotReady,
    }
}

/// Whether a ready plan is older than `maxAge` at `now`.
pub fn expired(plan: &PlanStatus, settings: &PlanSpec, now: Timestamp) -> bool {
    expires_at(plan, settings).is_some_and(|at| at <= now)
}

/// When a ready plan expires.
pub fn expires_at(plan: &PlanStatus, settings: &PlanSpec) -> Option<Timestamp> {
    let done = plan.completed_at.as_ref()?.0;
    done.checked_add(max_age(settings)).ok()
}

/// The number of the next detection (plan or check) of this object.
pub fn next_detection(st: &MaintenanceSessionStatus) -> i32 {
    st.plan
        .as_ref()
        .map(|p| p.number.max(p.check.as_ref().map_or(0, |c| c.attempt.number)))
        .unwrap_or(0)
        + 1
}

/// A detection-only start, recorded before it is sent.
pub fn detection_attempt(uid: &str, number: i32, now: Timestamp, computer_ids: Vec<i32>, purpose: &str) -> Attempt {
    super::attempts::attempt_of_group(
        SessionGroupId::for_plan(uid, number),
        number,
        now,
        computer_ids,
        purpose,
    )
}

/// A new plan in the making.
pub fn new_plan(spec_digest: &str, purpose: &str, attempt: Attempt) -> PlanStatus {
    PlanStatus {
        number: attempt.number,
        spec_digest: spec_digest.to_owned(),
        purpose: purpose.to_owned(),
        state: PlanState::Detecting,
        attempt,
        completed_at: None,
        digest: None,
        summary: None,
        computers: 0,
        changing: 0,
        items: vec![],
        items_omitted: 0,
        not_detected: vec![],
        reboots: String::new(),
        drift: vec![],
        unplanned: vec![],
        check: None,
    }
}
