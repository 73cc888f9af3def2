//! Stage 4: a person incremented `spec.resume.requests`. The request is
//! recorded (`status.resume`) with the sessions a user postponed, and those
//! are resumed; a halted rollout has nothing postponed, so there the
//! request continues the rollout, accepting the failures so far.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::seen::Seen;
use super::{Next, Observed, Step};
use crate::api::{MaintenanceSessionStatus, Phase, ResumeRecord};

/// What a resume request asks for now.
pub(super) enum Resume {
    /// Resume these sessions (the record is in the status already).
    Send(Box<Next>),
    /// Continue a halted rollout (`mirror` starts the next wave).
    ContinueHalted,
    Nothing,
}

pub(super) fn requested(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Resume {
    let handled = st.resume.as_ref().map(|r| r.requests).unwrap_or(0);
    let asked = seen.spec.resume.requests;
    if asked <= handled {
        return Resume::Nothing;
    }
    let postponed: Vec<i32> = o
        .sessions
        .iter()
        .filter(|s| s.session_status == Some(immybot_client::SessionStatus::Postponed))
        .map(|s| s.id)
        .collect();
    st.resume = Some(ResumeRecord {
        requests: asked,
        session_ids: postponed.clone(),
        time: Time(o.now),
    });
    // A halted rollout has nothing running: the request continues it,
    // accepting the failures so far (recorded with the next wave's intent,
    // or with this status).
    if st.phase == Some(Phase::Halted) && postponed.is_empty() {
        return Resume::ContinueHalted;
    }
    // The health gate fired while a wave runs: the person who resumes has
    // seen it; the next wave starts once the gate is clear.
    if postponed.is_empty() && st.rollout.as_ref().is_some_and(|r| r.gate_halt.is_some()) {
        super::health_gate::resumed(st);
        return Resume::Nothing;
    }
    Resume::Send(Box::new(Next::keep().step(Step::Resume { session_ids: postponed })))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{immy, observe};
    use super::*;
    use crate::test_fixtures::*;
    use immybot_client::SessionStatus;

    fn stage(st: &mut MaintenanceSessionStatus, o: &Observed<'_>, seen: &Seen<'_>) -> Option<Next> {
        match requested(st, o, seen) {
            Resume::Send(next) => Some(*next),
            Resume::ContinueHalted => Some(Next::keep().requeue(Some(std::time::Duration::from_secs(1)))),
            Resume::Nothing => None,
        }
    }

    #[test]
    fn a_new_request_resumes_the_postponed_sessions_once() {
        let mut asked = session().attempt(1, 30, &[7, 8]);
        asked.spec.resume.requests = 1;
        let sessions = [
            immy(7, 101, SessionStatus::Postponed),
            immy(8, 102, SessionStatus::Running),
        ];
        let next = observe(&asked.build(), &sessions, stage).unwrap();
        assert_eq!(next.step, Step::Resume { session_ids: vec![7] });
        let mut handled = session().attempt(1, 30, &[7, 8]).status(|s| {
            s.resume = Some(ResumeRecord {
                requests: 1,
                session_ids: vec![7],
                time: Time(now()),
            })
        });
        handled.spec.resume.requests = 1;
        assert_eq!(observe(&handled.build(), &sessions, stage), None, "acted on once");
    }

    #[test]
    fn a_halted_rollout_is_continued_not_resumed() {
        let mut halted = session().attempt(1, 30, &[7]).status(|s| s.phase = Some(Phase::Halted));
        halted.spec.resume.requests = 1;
        let next = observe(&halted.build(), &[immy(7, 101, SessionStatus::Failed)], stage).unwrap();
        assert_eq!(
            next.step,
            Step::None,
            "nothing to resume in ImmyBot: the rollout continues"
        );
    }
}
