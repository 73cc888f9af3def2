//! Stage 1 (first of all): an observe-only object (`spec.observe`) mirrors
//! one ImmyBot session the operator did not start. Its session is recorded
//! as its only attempt (purpose `Observed`) without any call, so every
//! later stage mirrors it as it would a session of its own; nothing starts
//! (`not_started` never runs: there is an attempt). What acts on ImmyBot
//! (a cancel, a timeout's cancel, a rerun of failed actions) waits for an
//! approval of the object, as a start would (`may_act`).

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::seen::Seen;
use super::{Next, Observed};
use crate::api::{Attempt, ImmyBotRefs, MaintenanceSessionStatus, Phase, attempt_purpose};

pub(super) fn begin(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Option<Next> {
    let observe = seen.spec.observe.as_ref()?;
    if seen.current().is_none() {
        let refs = st.immybot.get_or_insert_with(|| ImmyBotRefs {
            instance: o.instance.to_owned(),
            connection: o.connection.cloned(),
            attempts: vec![],
        });
        refs.attempts.push(Attempt {
            number: 1,
            session_group_id: String::new(),
            intent_time: Time(o.now),
            computer_ids: vec![],
            session_ids: vec![observe.session_id],
            ids_from: Some(attempt_purpose::OBSERVED.into()),
            busy_computer_ids: vec![],
            purpose: Some(attempt_purpose::OBSERVED.into()),
            busy_round: 0,
        });
        return Some(
            Next::show(
                Phase::Queued,
                "Observing",
                format!(
                    "observing ImmyBot session {} (started outside the operator); nothing is started",
                    observe.session_id
                ),
            )
            .requeue(Some(Duration::from_secs(1))),
        );
    }
    // Read, and ImmyBot has no such session: a person must check the id.
    if !o.sessions.iter().any(|s| s.id == observe.session_id) {
        return Some(
            Next::show(
                Phase::Failed,
                "SessionNotFound",
                format!(
                    "ImmyBot has no maintenance session {}: check spec.observe.sessionId (kubectl immybot import <session-id> creates a new object)",
                    observe.session_id
                ),
            )
            .stalled(),
        );
    }
    None
}

/// Whether the object may act on ImmyBot: always for a session of its own
/// (within its approval, as each stage checks); for an observed one only
/// once approved, since nobody approved what it mirrors.
pub(super) fn may_act(seen: &Seen<'_>) -> bool {
    seen.spec.observe.is_none() || seen.approved
}

#[cfg(test)]
mod tests {
    use super::super::tests::{immy, observe_with_status};
    use super::*;
    use crate::api::ObserveRef;
    use crate::test_fixtures::*;
    use immybot_client::SessionStatus;

    fn stage(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Option<Next> {
        begin(st, o, seen)
    }

    fn observing(id: i32) -> crate::api::MaintenanceSession {
        let mut b = session();
        b.0.spec.target = Default::default();
        b.0.spec.observe = Some(ObserveRef { session_id: id });
        b.build()
    }

    #[test]
    fn the_observed_session_is_recorded_as_the_only_attempt_without_a_call() {
        let mut status = None;
        let next = observe_with_status(&observing(4711), &[], stage, &mut status).unwrap();
        assert_eq!(next.step, super::super::Step::None, "nothing is started");
        let attempts = status.and_then(|s| s.immybot).unwrap().attempts;
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].session_ids, vec![4711]);
        assert_eq!(attempts[0].purpose.as_deref(), Some("Observed"));
    }

    #[test]
    fn a_session_immybot_does_not_have_fails_the_object_for_a_person_to_check() {
        let mut object = observing(4711);
        object.status = Some(MaintenanceSessionStatus {
            immybot: Some(ImmyBotRefs {
                instance: "https://acme.immy.bot/".into(),
                connection: None,
                attempts: vec![Attempt {
                    number: 1,
                    session_group_id: String::new(),
                    intent_time: Time(now()),
                    computer_ids: vec![],
                    session_ids: vec![4711],
                    ids_from: None,
                    busy_computer_ids: vec![],
                    purpose: Some("Observed".into()),
                    busy_round: 0,
                }],
            }),
            ..Default::default()
        });
        let mut status = None;
        let next = observe_with_status(&object, &[], stage, &mut status).unwrap();
        assert_eq!(
            next.shown.as_ref().map(|s| (s.phase, s.stalled)),
            Some((Phase::Failed, true))
        );
        let found = observe_with_status(&object, &[immy(4711, 102, SessionStatus::Running)], stage, &mut status);
        assert_eq!(found, None, "found: the later stages mirror it");
    }
}
