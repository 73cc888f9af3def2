//! Rollouts in waves through the state machine: a driver plays the shell
//! (records the plan, records each start's intent and sessions) and a fake
//! ImmyBot ends every session at once with the outcome chosen per computer.

use std::collections::BTreeMap;

use super::*;
use crate::api::RolloutSpec;
use crate::controller::conditions::{READY, RECONCILING, STALLED};
use crate::controller::session::attempts::first_targets;
use crate::controller::session::rollout;
use crate::test_fixtures::*;
use immybot_client::{MaintenanceSession as ImmySession, SessionStatus};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

struct Drive {
    obj: MaintenanceSession,
    sessions: Vec<ImmySession>,
    outcome: BTreeMap<i32, SessionStatus>,
    /// Every computer ever started, in order.
    started: Vec<i32>,
    verdict: crate::controller::approval::Verdict,
    /// The health gate's reading the shell hands over.
    gate: Option<crate::controller::health_gate::GateReading>,
    /// Started sessions stay Running until `finish_running`.
    keep_running: bool,
}

impl Drive {
    fn new(computers: &[i32], rollout: serde_json::Value) -> Self {
        let mut obj = session().computers(computers).build();
        obj.spec.rollout = Some(serde_json::from_value::<RolloutSpec>(rollout).unwrap());
        Self {
            obj,
            sessions: vec![],
            outcome: BTreeMap::new(),
            started: vec![],
            verdict: approved(),
            gate: None,
            keep_running: false,
        }
    }

    fn failing(mut self, computers: &[i32]) -> Self {
        for c in computers {
            self.outcome.insert(*c, SessionStatus::Failed);
        }
        self
    }

    /// One reconcile: decide, then do what the shell would.
    fn step(&mut self) -> Decision {
        let digest = ApprovalDigest::of("uid-1", &self.obj.spec);
        let mut o = super::tests::observed(&self.obj, &digest, &self.verdict, &self.sessions);
        o.health_gate = self.gate.as_ref();
        let d = decide(&o);
        let mut st = d.status.clone();
        match &d.step {
            Step::PlanRollout => {
                let candidates: Vec<_> = first_targets(&self.obj.spec, &st)
                    .into_iter()
                    .map(|id| crate::api::NamedId { id, name: None })
                    .collect();
                st.rollout = Some(rollout::plan(self.obj.spec.rollout.as_ref().unwrap(), &candidates).unwrap());
            }
            Step::Start(a) => {
                let mut a = a.clone();
                for &c in &a.computer_ids {
                    let id = 1000 + self.sessions.len() as i32;
                    let status = if self.keep_running {
                        SessionStatus::Running
                    } else {
                        self.outcome.get(&c).cloned().unwrap_or(SessionStatus::Passed)
                    };
                    self.sessions.push(ImmySession {
                        id,
                        computer_id: Some(c),
                        session_status: Some(status),
                        ..Default::default()
                    });
                    a.session_ids.push(id);
                    self.started.push(c);
                }
                st.immybot.get_or_insert_with(Default::default).attempts.push(a);
            }
            _ => {}
        }
        self.obj.status = Some(st);
        d
    }

    /// Steps until nothing more happens on its own.
    fn settle(&mut self) -> Decision {
        for _ in 0..50 {
            let d = self.step();
            if d.step == Step::None {
                return d;
            }
        }
        panic!("no fixed point after 50 steps");
    }

    /// The running sessions end with their outcomes.
    fn finish_running(&mut self) {
        self.keep_running = false;
        for s in &mut self.sessions {
            if s.session_status == Some(SessionStatus::Running) {
                let c = s.computer_id.unwrap_or_default();
                s.session_status = Some(self.outcome.get(&c).cloned().unwrap_or(SessionStatus::Passed));
            }
        }
    }

    fn status(&self) -> &MaintenanceSessionStatus {
        self.obj.status.as_ref().unwrap()
    }

    fn rollout(&self) -> &crate::api::RolloutStatus {
        self.status().rollout.as_ref().unwrap()
    }
}

fn condition(st: &MaintenanceSessionStatus, t: &str) -> Option<String> {
    conditions::get(&st.conditions, t).map(|c| c.status.clone())
}

#[test]
fn a_pilot_then_waves_run_every_computer_once_in_order() {
    let computers: Vec<i32> = (101..=107).collect();
    let mut drive = Drive::new(
        &computers,
        serde_json::json!({
            "strategy": "Waves", "pilot": {"count": 1}, "maxConcurrent": 3
        }),
    );
    let d = drive.settle();
    assert_eq!(d.status.phase, Some(Phase::Succeeded), "{:?}", d.status.conditions);
    assert_eq!(drive.started, computers, "each computer once, pilot first, by id");
    let purposes: Vec<_> = drive
        .status()
        .immybot
        .as_ref()
        .unwrap()
        .attempts
        .iter()
        .map(|a| (a.purpose.clone().unwrap(), a.computer_ids.len()))
        .collect();
    assert_eq!(
        purposes,
        vec![("Pilot".into(), 1), ("Wave".into(), 3), ("Wave".into(), 3)]
    );
    let r = drive.rollout();
    assert_eq!(
        (r.current_wave, r.waves, r.started, r.passed, r.failed, r.remaining),
        (3, 3, 7, 7, 0, 0)
    );
    assert_eq!(d.status.summary.as_ref().unwrap().computers, 7);
}

#[test]
fn a_failed_pilot_halts_before_any_wave_and_resume_continues() {
    let mut drive = Drive::new(
        &[1, 2, 3, 4, 5],
        serde_json::json!({
            "strategy": "Waves", "pilot": {"count": 1}, "maxConcurrent": 2, "maxFailures": 3
        }),
    )
    .failing(&[1]);
    let d = drive.settle();
    assert_eq!(d.status.phase, Some(Phase::Halted));
    assert_eq!(
        drive.started,
        vec![1],
        "no wave after a failed pilot, whatever the budget"
    );
    assert_eq!(condition(&d.status, STALLED).as_deref(), Some("True"));
    assert_eq!(condition(&d.status, RECONCILING), None);
    let message = &conditions::get(&d.status.conditions, STALLED).unwrap().message;
    assert!(
        message.contains("kubectl immybot resume") && message.contains("cancel"),
        "{message}"
    );
    // Nothing moves on its own.
    assert_eq!(drive.step().step, Step::None);
    assert_eq!(drive.started, vec![1]);
    // `kubectl immybot resume`: one more request.
    drive.obj.spec.resume.requests += 1;
    let d = drive.settle();
    assert_eq!(d.status.phase, Some(Phase::PartiallySucceeded));
    assert_eq!(drive.started, vec![1, 2, 3, 4, 5]);
    assert_eq!(drive.rollout().accepted_failures, 1);
}

#[test]
fn the_failure_budget_halts_between_waves_and_raising_it_continues() {
    let mut drive = Drive::new(
        &[1, 2, 3, 4, 5, 6],
        serde_json::json!({
            "strategy": "Waves", "maxConcurrent": 2, "maxFailures": 1
        }),
    )
    .failing(&[1, 3]);
    let d = drive.settle();
    assert_eq!(d.status.phase, Some(Phase::Halted));
    assert_eq!(
        conditions::get(&d.status.conditions, STALLED).unwrap().reason,
        "FailureBudgetExhausted"
    );
    assert_eq!(
        drive.started,
        vec![1, 2, 3, 4],
        "the wave that crossed the budget finished, no more"
    );
    let r = drive.rollout();
    assert_eq!((r.failed, r.failure_budget, r.budget_left, r.remaining), (2, 1, 0, 2));
    // Raising the budget (no new approval: it is not in the digest) continues.
    let before = ApprovalDigest::of("uid-1", &drive.obj.spec);
    drive.obj.spec.rollout.as_mut().unwrap().max_failures = Some(IntOrString::Int(2));
    assert_eq!(ApprovalDigest::of("uid-1", &drive.obj.spec), before);
    let d = drive.settle();
    assert_eq!(d.status.phase, Some(Phase::PartiallySucceeded));
    assert_eq!(drive.started, vec![1, 2, 3, 4, 5, 6]);
}

#[test]
fn cancelling_a_halted_rollout_ends_it_and_starts_nothing() {
    let mut drive = Drive::new(
        &[1, 2, 3, 4],
        serde_json::json!({
            "strategy": "Waves", "maxConcurrent": 2
        }),
    )
    .failing(&[2]);
    assert_eq!(drive.settle().status.phase, Some(Phase::Halted));
    drive.obj.spec.cancel = Some(crate::api::CancelRequest {
        reason: "CHG-9 rolled back".into(),
    });
    let d = drive.settle();
    assert_eq!(d.status.phase, Some(Phase::Cancelled));
    assert_eq!(drive.started, vec![1, 2]);
}

#[test]
fn suspend_holds_the_next_wave_and_lifting_it_continues() {
    let mut drive = Drive::new(
        &[1, 2, 3, 4],
        serde_json::json!({
            "strategy": "Waves", "maxConcurrent": 2
        }),
    );
    // The first wave starts, then the person suspends.
    while drive.started.is_empty() {
        drive.step();
    }
    drive.obj.spec.suspend = true;
    let d = drive.settle();
    assert_eq!(d.status.phase, Some(Phase::Suspended));
    assert_eq!(drive.started, vec![1, 2]);
    assert!(
        conditions::get(&d.status.conditions, READY)
            .unwrap()
            .message
            .contains("next wave"),
        "{:?}",
        d.status.conditions
    );
    drive.obj.spec.suspend = false;
    assert_eq!(drive.settle().status.phase, Some(Phase::Succeeded));
    assert_eq!(drive.started, vec![1, 2, 3, 4]);
}

#[test]
fn a_closed_window_holds_the_next_wave() {
    use crate::api::Weekday;
    let mut drive = Drive::new(
        &[1, 2, 3, 4],
        serde_json::json!({
            "strategy": "Waves", "maxConcurrent": 2
        }),
    );
    while drive.started.is_empty() {
        drive.step();
    }
    // now() is Sunday 10:00 UTC: a Monday window is closed.
    drive.obj = {
        let mut b = session()
            .computers(&[1, 2, 3, 4])
            .window(&[Weekday::Monday], "01:00", "2h", "UTC")
            .build();
        b.spec.rollout = drive.obj.spec.rollout.clone();
        b.status = drive.obj.status.clone();
        b
    };
    let d = drive.settle();
    assert_eq!(d.status.phase, Some(Phase::WaitingForWindow));
    assert!(d.status.next_window_opening.is_some());
    assert_eq!(drive.started, vec![1, 2], "the wave that ran finished; the next waits");
}

#[test]
fn a_restart_between_the_intent_and_the_answer_neither_repeats_nor_skips() {
    // The controller "dies" after recording wave 2's intent (no sessions
    // yet): the next reconcile must adopt that attempt, not plan a new wave.
    let mut drive = Drive::new(
        &[1, 2, 3, 4],
        serde_json::json!({
            "strategy": "Waves", "maxConcurrent": 2
        }),
    );
    while drive.started.len() < 2 {
        drive.step();
    }
    let d = drive.step();
    let Step::Start(wave2) = d.step else {
        panic!("{:?}", d.step)
    };
    assert_eq!(wave2.computer_ids, vec![3, 4]);
    // The intent landed (the driver already played the start; undo the
    // sessions, as if the start's answer was lost).
    drive.sessions.retain(|s| s.computer_id.is_some_and(|c| c <= 2));
    drive.started.truncate(2);
    let mut st = drive.obj.status.clone().unwrap();
    st.immybot
        .as_mut()
        .unwrap()
        .attempts
        .last_mut()
        .unwrap()
        .session_ids
        .clear();
    drive.obj.status = Some(st);
    let d = drive.step();
    assert!(
        matches!(d.step, Step::None | Step::Adopt { .. }),
        "an unanswered wave is waited for or adopted, never started afresh: {:?}",
        d.step
    );
}

mod health_gate {
    use super::*;
    use crate::controller::health_gate::GateReading;

    fn gated(computers: &[i32]) -> Drive {
        Drive::new(
            computers,
            serde_json::json!({
                "strategy": "Waves", "maxConcurrent": 2,
                "healthGate": {"alertmanager": {"address": "http://am:9093", "matchers": ["severity=\"critical\""]}}
            }),
        )
    }

    fn firing() -> Option<GateReading> {
        Some(GateReading::Firing(vec!["alertmanager: EndpointDown (pc-7)".into()]))
    }

    fn reason(st: &MaintenanceSessionStatus) -> String {
        conditions::get(&st.conditions, READY).unwrap().reason.clone()
    }

    #[test]
    fn a_firing_gate_never_lets_a_wave_start_and_resume_continues_once_it_is_clear() {
        let mut drive = gated(&[1, 2, 3, 4, 5, 6]);
        drive.gate = Some(GateReading::Clear);
        drive.keep_running = true;
        while drive.started.is_empty() {
            drive.step();
        }
        // The alert fires while wave 1 runs: recorded, wave 1 goes on.
        drive.gate = firing();
        let d = drive.step();
        assert_eq!(d.status.phase, Some(Phase::Running));
        assert!(drive.rollout().gate_halt.is_some(), "recorded while the wave runs");
        // It clears before the wave ends: the rollout halts all the same.
        drive.gate = Some(GateReading::Clear);
        drive.finish_running();
        let d = drive.settle();
        assert_eq!(d.status.phase, Some(Phase::Halted));
        assert_eq!(reason(&d.status), "HealthGateFailed");
        let message = &conditions::get(&d.status.conditions, READY).unwrap().message;
        assert!(
            message.contains("EndpointDown (pc-7)") && message.contains("resume"),
            "{message}"
        );
        assert_eq!(drive.started, vec![1, 2], "nothing after the wave that ran");
        // A resume while the gate fires again waits for it to clear.
        drive.gate = firing();
        drive.obj.spec.resume.requests += 1;
        let d = drive.settle();
        assert_eq!(d.status.phase, Some(Phase::Halted));
        assert!(
            conditions::get(&d.status.conditions, READY)
                .unwrap()
                .message
                .contains("resumed")
        );
        assert_eq!(drive.started, vec![1, 2]);
        // Clear: the rest runs, with no further request.
        drive.gate = Some(GateReading::Clear);
        let d = drive.settle();
        assert_eq!(d.status.phase, Some(Phase::Succeeded), "{:?}", d.status.conditions);
        assert_eq!(drive.started, vec![1, 2, 3, 4, 5, 6]);
        assert!(drive.rollout().gate_halt.is_none());
    }

    #[test]
    fn a_resume_while_the_halting_wave_still_runs_is_taken_for_the_gate() {
        let mut drive = gated(&[1, 2, 3, 4]);
        drive.gate = Some(GateReading::Clear);
        drive.keep_running = true;
        while drive.started.is_empty() {
            drive.step();
        }
        drive.gate = firing();
        drive.step();
        assert!(drive.rollout().gate_halt.is_some());
        // The person who saw the event resumes before the wave ends.
        drive.obj.spec.resume.requests += 1;
        let d = drive.step();
        assert_eq!(d.step, Step::None, "nothing to resume in ImmyBot");
        assert!(drive.rollout().gate_halt.as_ref().is_some_and(|h| h.resumed));
        // The wave ends while the gate still fires: it waits, then goes on
        // once clear without another request.
        drive.finish_running();
        let d = drive.settle();
        assert_eq!(d.status.phase, Some(Phase::Halted));
        assert_eq!(drive.started, vec![1, 2]);
        drive.gate = Some(GateReading::Clear);
        assert_eq!(drive.settle().status.phase, Some(Phase::Succeeded));
        assert_eq!(drive.started, vec![1, 2, 3, 4]);
    }

    #[test]
    fn a_gate_firing_before_the_first_wave_halts_it_and_a_resume_there_is_taken() {
        let mut drive = gated(&[1, 2, 3]);
        drive.gate = firing();
        let d = drive.settle();
        assert_eq!(
            (d.status.phase, reason(&d.status).as_str()),
            (Some(Phase::Halted), "HealthGateFailed")
        );
        assert!(drive.started.is_empty());
        // Clearing alone does not continue: a person looks first.
        drive.gate = Some(GateReading::Clear);
        let d = drive.settle();
        assert_eq!(d.status.phase, Some(Phase::Halted));
        assert!(drive.started.is_empty());
        drive.obj.spec.resume.requests += 1;
        let d = drive.settle();
        assert_eq!(d.status.phase, Some(Phase::Succeeded));
        assert_eq!(drive.started, vec![1, 2, 3]);
    }

    #[test]
    fn an_unreadable_gate_holds_by_default_and_proceeds_when_told() {
        let mut drive = gated(&[1, 2, 3, 4]);
        drive.gate = Some(GateReading::Clear);
        while drive.started.len() < 2 {
            drive.step();
        }
        drive.gate = Some(GateReading::Unreachable(
            "alertmanager at http://am did not answer".into(),
        ));
        let d = drive.settle();
        assert_eq!(
            (d.status.phase, reason(&d.status).as_str()),
            (Some(Phase::Halted), "HealthGateUnreachable")
        );
        assert!(d.requeue_after.is_some(), "read again by itself");
        assert_eq!(drive.started, vec![1, 2]);
        assert!(drive.rollout().gate_halt.is_none(), "not a halt a person must resume");
        // Readable and clear again: it goes on by itself.
        drive.gate = Some(GateReading::Clear);
        assert_eq!(drive.settle().status.phase, Some(Phase::Succeeded));
        // With Proceed, an unreadable gate does not hold.
        let mut drive = gated(&[1, 2, 3, 4]);
        drive
            .obj
            .spec
            .rollout
            .as_mut()
            .unwrap()
            .health_gate
            .as_mut()
            .unwrap()
            .on_unreachable = crate::api::OnUnreachable::Proceed;
        drive.gate = Some(GateReading::Unreachable("no answer".into()));
        assert_eq!(drive.settle().status.phase, Some(Phase::Succeeded));
        assert_eq!(drive.started, vec![1, 2, 3, 4]);
    }
}
