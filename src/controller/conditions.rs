//! Conditions in the kstatus / Tekton style: stable CamelCase reasons, a
//! message a person can act on, `lastTransitionTime` that moves only when the
//! status does.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";
pub const APPROVED: &str = "Approved";
pub const SUCCEEDED: &str = "Succeeded";
/// Something ran that the approved plan did not have (`spec.plan`).
pub const UNPLANNED: &str = "Unplanned";
/// A rerun ImmyBot accepted whose run is not seen (`ActionRerunState::Accepted`).
pub const RERUN_NOT_SEEN: &str = "RerunNotSeen";

/// Sets (or replaces) a condition, keeping its transition time when only the
/// reason or message changed.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    now: Timestamp,
) {
    set_raw(
        conditions,
        type_,
        if status { "True" } else { "False" },
        reason,
        message,
        generation,
        now,
    );
}

/// Like [`set`], for the tri-state `Succeeded` (`Unknown` until the end).
pub fn set_raw(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    now: Timestamp,
) {
    let message = message.into();
    let transition = conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| super::clock::stored_time(now));
    conditions.retain(|c| c.type_ != type_);
    conditions.push(Condition {
        type_: type_.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time: transition,
    });
    conditions.sort_by_key(|c| order(&c.type_));
}

pub fn remove(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

pub fn get<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

fn order(type_: &str) -> u8 {
    match type_ {
        READY => 0,
        RECONCILING => 1,
        STALLED => 2,
        APPROVED => 3,
        SUCCEEDED => 4,
        _ => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn transition_time_moves_only_with_the_status() {
        let mut c = Vec::new();
        set(&mut c, READY, false, "Starting", "a", Some(1), at(0));
        set(&mut c, READY, false, "Running", "b", Some(1), at(10));
        assert_eq!(c[0].last_transition_time, Time(at(0)));
        assert_eq!((c[0].reason.as_str(), c[0].message.as_str()), ("Running", "b"));
        set(&mut c, READY, true, "Succeeded", "done", Some(1), at(20));
        assert_eq!(c[0].last_transition_time, Time(at(20)));
        assert_eq!(c.len(), 1);
    }
}
