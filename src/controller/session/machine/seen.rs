//! Stage 0: what was observed, mirrored into the status before anything is
//! decided (digest, approval, target summary, ImmyBot's sessions, the log
//! tail, the start time), and the facts the later stages decide from.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::Observed;
use crate::api::{Attempt, MaintenanceSessionSpec, MaintenanceSessionStatus, RolloutSpec, RolloutStatus};
use crate::controller::session::action_reruns;
use crate::controller::session::attempts::first_targets;
use crate::controller::session::phase::{record_approval, target_summary};
use crate::controller::session::rollout;
use crate::controller::session::status_mapping::{Mapped, log_tail, map_sessions};

/// What the stages decide from.
pub(super) struct Seen<'a> {
    pub spec: &'a MaintenanceSessionSpec,
    pub uid: String,
    pub approved: bool,
    /// Every start recorded, oldest first; the last is current.
    pub attempts: Vec<Attempt>,
    /// `spec.rollout` when it is in waves.
    pub waves: Option<&'a RolloutSpec>,
    /// Computers the current attempt found busy and nothing has started yet.
    pub waiting: Vec<i32>,
    /// ImmyBot's sessions as status, when there are any.
    pub mapped: Option<Mapped>,
    /// The ImmyBot sessions not finished yet.
    pub active_ids: Vec<i32>,
    /// The sessions as status shows them: reruns of failed actions folded
    /// into the sessions whose actions they reran (`action_reruns::overlay`).
    pub shown: std::borrow::Cow<'a, [immybot_client::MaintenanceSession]>,
}

impl Seen<'_> {
    pub fn current(&self) -> Option<&Attempt> {
        self.attempts.last()
    }

    /// The current attempt, if its answer was never recorded.
    pub fn unanswered(&self) -> Option<&Attempt> {
        self.current().filter(|a| super::is_unanswered(a))
    }
}

/// Progress counts against the whole target: in a rollout the mapping
/// counts the computers started so far (later waves are not failures), so
/// three of six started and finished read `3/6`, not `3/3`.
fn progress(m: &Mapped, rollout: Option<&RolloutStatus>) -> String {
    match rollout {
        Some(plan) => format!("{}/{}", m.finished, (m.total as usize).max(plan.computer_ids.len())),
        None => m.progress.clone(),
    }
}

/// The status with what was observed, and the facts.
pub(super) fn refresh<'a>(o: &Observed<'a>) -> (MaintenanceSessionStatus, Seen<'a>) {
    let spec = &o.object.spec;
    let mut st = o.object.status.clone().unwrap_or_default();
    st.observed_generation = o.object.metadata.generation;
    st.approval_digest = Some(o.digest.to_string());
    st.target_summary = Some(target_summary(spec, &st));
    st.reason = Some(spec.reason.clone());
    let approved = record_approval(&mut st, o.verdict, o.digest, o.at());
    let attempts: Vec<Attempt> = st.immybot.as_ref().map(|r| r.attempts.clone()).unwrap_or_default();
    let waves = spec.rollout.as_ref().filter(|r| r.is_waves());
    // In a rollout, what has been started so far is what is targeted: the
    // computers of later waves have not run, and are not failures.
    let targeted: Option<Vec<i32>> = match (waves, st.rollout.as_ref()) {
        (Some(_), Some(plan)) => Some(rollout::started_ids(plan, &attempts)),
        _ => (spec.target.computer.is_some() || spec.target.computers.is_some()).then(|| first_targets(spec, &st)),
    };
    // Computers ImmyBot reported busy and no later attempt has started: only
    // the last attempt can hold them (see `busy`).
    let waiting: Vec<i32> = attempts.last().map(|a| a.busy_computer_ids.clone()).unwrap_or_default();
    st.waiting_computers.retain(|w| waiting.contains(&w.id));
    // Reruns of failed actions: where each stands, and their sessions
    // folded into the sessions whose actions they reran.
    let reruns = st
        .action_reruns
        .as_mut()
        .map(|r| r.actions.as_mut_slice())
        .unwrap_or_default();
    action_reruns::advance(reruns, o.sessions);
    let shown = action_reruns::overlay(o.sessions, reruns);
    let mapped = map_sessions(
        &shown,
        targeted.as_deref(),
        &waiting,
        o.compliant_by_item,
        o.action_excerpts,
    );
    if let Some(m) = &mapped {
        st.summary = Some(m.summary.clone());
        st.items = m.items.clone();
        st.computers = m.computers.clone();
        st.progress = Some(progress(m, waves.and(st.rollout.as_ref())));
    }
    if !o.logs.is_empty() {
        st.log_tail = log_tail(o.logs);
    }
    // The maintenance counts as started once ImmyBot answered a start, with
    // sessions or with computers it found busy: from then on the timeout runs
    // and what was approved is frozen.
    if st.start_time.is_none()
        && let Some(first) = attempts.iter().find(|a| !super::is_unanswered(a))
    {
        st.start_time = Some(Time(first.intent_time.0));
    }
    let active_ids: Vec<i32> = o
        .sessions
        .iter()
        .filter(|s| !s.session_status.as_ref().is_some_and(|x| x.is_terminal()))
        .map(|s| s.id)
        .collect();
    let seen = Seen {
        spec,
        uid: o.object.metadata.uid.clone().unwrap_or_default(),
        approved,
        attempts,
        waves,
        waiting,
        mapped,
        active_ids,
        shown,
    };
    (st, seen)
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::controller::approval::digest::ApprovalDigest;
    use crate::test_fixtures::*;
    use immybot_client::{MaintenanceSession as ImmySession, SessionStatus};

    fn refreshed(
        object: &crate::api::MaintenanceSession,
        sessions: &[ImmySession],
    ) -> (MaintenanceSessionStatus, bool, Vec<i32>) {
        let digest = ApprovalDigest::of("uid-1", &object.spec);
        let verdict = approved();
        let o = super::super::tests::observed(object, &digest, &verdict, sessions);
        let (st, seen) = refresh(&o);
        (st, seen.approved, seen.active_ids)
    }

    #[test]
    fn what_was_observed_is_mirrored_before_anything_is_decided() {
        let running = ImmySession {
            id: 7,
            computer_id: Some(101),
            session_status: Some(SessionStatus::Running),
            ..Default::default()
        };
        let object = session().attempt(1, 30, &[7]).build();
        let (st, approved, active) = refreshed(&object, &[running]);
        assert!(approved);
        assert_eq!(active, vec![7]);
        assert!(st.approval_digest.is_some_and(|d| d.starts_with("sha256:")));
        assert_eq!(st.progress.as_deref(), Some("0/1"));
        assert!(st.start_time.is_some(), "an answered start starts the clock");
        assert_eq!(st.target_summary.as_deref(), Some("computer #101"));
    }

    #[test]
    fn an_unanswered_start_does_not_start_the_clock() {
        let object = session().attempt(1, 10, &[]).build();
        let (st, _, active) = refreshed(&object, &[]);
        assert!(st.start_time.is_none());
        assert!(active.is_empty());
    }

    #[test]
    fn a_rollout_counts_progress_against_every_computer_it_will_start() {
        let passed = |id: i32, computer: i32| ImmySession {
            id,
            computer_id: Some(computer),
            session_status: Some(SessionStatus::Passed),
            ..Default::default()
        };
        // Six computers in three waves; the pilot (1) and the first wave (2)
        // started and passed.
        let object = session()
            .tenant(2)
            .waves_with_pilot()
            .attempt(1, 60, &[1])
            .purpose("Pilot")
            .attempt(2, 30, &[2, 3])
            .purpose("Wave")
            .status(|s| {
                s.rollout = Some(crate::api::RolloutStatus {
                    computer_ids: vec![101, 102, 103, 104, 105, 106],
                    pilot_size: 1,
                    wave_size: 2,
                    waves: 4,
                    ..Default::default()
                });
                let attempts = &mut s.immybot.as_mut().unwrap().attempts;
                attempts[0].computer_ids = vec![101];
                attempts[1].computer_ids = vec![102, 103];
            })
            .build();
        let sessions = [passed(1, 101), passed(2, 102), passed(3, 103)];
        let (st, _, _) = refreshed(&object, &sessions);
        assert_eq!(st.progress.as_deref(), Some("3/6"), "not 3/3: three more will start");
        assert_eq!(st.summary.map(|s| s.failed), Some(0), "later waves are not failures");
    }
}
