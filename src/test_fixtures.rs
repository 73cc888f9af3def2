//! Fluent fixtures for unit tests: `session().tenant(3).suspended().build()`,
//! `approval("bob").digest_of(&spec).expired().build()`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ops::{Deref, DerefMut};

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::*;
use crate::controller::ApprovalDigest;

/// The fixed "now" of every unit test.
pub fn now() -> Timestamp {
    "2026-03-01T10:00:00Z".parse().unwrap()
}

pub fn at(seconds_after_now: i64) -> Timestamp {
    now()
        .checked_add(jiff::SignedDuration::from_secs(seconds_after_now))
        .unwrap()
}

/// A MaintenanceSession `ops/patch` requested by alice for computer 101.
pub fn session() -> SessionBuilder {
    let mut s: MaintenanceSession = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1",
        "kind": "MaintenanceSession",
        "metadata": {"name": "patch", "namespace": "ops", "uid": "uid-1", "generation": 1},
        "spec": {"requestedBy": "alice", "reason": "CHG-1 monthly patching", "target": {"computer": {"id": 101}}}
    }))
    .unwrap();
    s.status = None;
    SessionBuilder(s)
}

pub struct SessionBuilder(pub MaintenanceSession);

impl Deref for SessionBuilder {
    type Target = MaintenanceSession;
    fn deref(&self) -> &MaintenanceSession {
        &self.0
    }
}

impl DerefMut for SessionBuilder {
    fn deref_mut(&mut self) -> &mut MaintenanceSession {
        &mut self.0
    }
}

impl SessionBuilder {
    pub fn build(self) -> MaintenanceSession {
        self.0
    }
    pub fn computers(mut self, ids: &[i32]) -> Self {
        self.0.spec.target = SessionTarget {
            computers: Some(
                ids.iter()
                    .map(|&id| ComputerRef {
                        id: Some(id),
                        name: None,
                    })
                    .collect(),
            ),
            ..Default::default()
        };
        self
    }
    pub fn computer_named(mut self, name: &str) -> Self {
        self.0.spec.target = SessionTarget {
            computer: Some(ComputerRef {
                id: None,
                name: Some(name.into()),
            }),
            ..Default::default()
        };
        self
    }
    /// Waves with a one-computer pilot.
    pub fn waves_with_pilot(mut self) -> Self {
        self.0.spec.rollout = serde_json::from_value(serde_json::json!({"strategy": "Waves", "pilot": {"count": 1}}))
            .expect("a valid rollout");
        self
    }

    pub fn tenant(mut self, id: i32) -> Self {
        self.0.spec.target = SessionTarget {
            tenant: Some(TenantRef {
                id: Some(id),
                name: None,
                include_child_tenants: false,
            }),
            ..Default::default()
        };
        self
    }
    pub fn inline_approval(mut self, by: &str) -> Self {
        self.0.spec.approval = Some(InlineApproval {
            approved_by: by.into(),
            reference: "https://git.example/pr/7".into(),
        });
        self
    }
    /// Adds a window on `days` from `start` for `duration`, in `zone`.
    pub fn window(mut self, days: &[Weekday], start: &str, duration: &str, zone: &str) -> Self {
        self.0.spec.windows.push(MaintenanceWindow {
            days: days.to_vec(),
            start: start.into(),
            duration: duration.into(),
            time_zone: zone.into(),
        });
        self
    }
    pub fn suspended(mut self) -> Self {
        self.0.spec.suspend = true;
        self
    }
    pub fn cancelled(mut self, reason: &str) -> Self {
        self.0.spec.cancel = Some(CancelRequest { reason: reason.into() });
        self
    }
    pub fn timeout(mut self, t: &str) -> Self {
        self.0.spec.timeout = Some(t.into());
        self
    }
    pub fn retries(mut self, limit: i32) -> Self {
        self.0.spec.retry.limit = limit;
        self
    }
    pub fn status(mut self, f: impl FnOnce(&mut MaintenanceSessionStatus)) -> Self {
        let mut status = self.0.status.take().unwrap_or_default();
        f(&mut status);
        self.0.status = Some(status);
        self
    }
    /// The last attempt found these computers busy (held by session 9000+id).
    pub fn busy(self, computers: &[i32]) -> Self {
        self.status(|s| {
            let a = s.immybot.as_mut().unwrap().attempts.last_mut().unwrap();
            a.busy_computer_ids = computers.to_vec();
            s.waiting_computers = computers
                .iter()
                .map(|&id| WaitingComputer {
                    id,
                    held_by_session_id: Some(9000 + id),
                })
                .collect();
            if s.start_time.is_none() {
                s.start_time = Some(a.intent_time.clone());
            }
        })
    }
    /// The attempt's purpose (`Start`, `Rerun`, `ComputersBusy`).
    pub fn purpose(self, purpose: &str) -> Self {
        self.status(|s| {
            s.immybot.as_mut().unwrap().attempts.last_mut().unwrap().purpose = Some(purpose.into());
        })
    }
    /// An attempt recorded `age` seconds ago, with these session ids.
    pub fn attempt(self, number: i32, age_seconds: i64, session_ids: &[i32]) -> Self {
        let uid = self.0.metadata.uid.clone().unwrap();
        self.status(|s| {
            let refs = s.immybot.get_or_insert_with(|| ImmyBotRefs {
                instance: "https://acme.immy.bot/".into(),
                connection: None,
                attempts: vec![],
            });
            refs.attempts.push(Attempt {
                number,
                session_group_id: crate::controller::SessionGroupId::for_attempt(&uid, number).to_string(),
                intent_time: Time(at(-age_seconds)),
                computer_ids: vec![],
                session_ids: session_ids.to_vec(),
                ids_from: (!session_ids.is_empty()).then(|| "StartResponse".into()),
                busy_computer_ids: vec![],
                purpose: Some(if number == 1 { "Start" } else { "Rerun" }.into()),
                busy_round: 0,
            });
            if !session_ids.is_empty() && s.start_time.is_none() {
                s.start_time = Some(Time(at(-age_seconds)));
            }
        })
    }
}

/// A MaintenanceApproval `ops/<approver>-ok` for session `patch`.
pub fn approval(approver: &str) -> ApprovalBuilder {
    let a: MaintenanceApproval = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1",
        "kind": "MaintenanceApproval",
        "metadata": {"name": format!("{approver}-ok"), "namespace": "ops", "creationTimestamp": "2026-03-01T09:00:00Z"},
        "spec": {"sessionName": "patch", "sessionUid": "uid-1", "digest": "sha256:unset", "approver": approver}
    }))
    .unwrap();
    ApprovalBuilder(a)
}

pub struct ApprovalBuilder(MaintenanceApproval);

impl ApprovalBuilder {
    pub fn build(self) -> MaintenanceApproval {
        self.0
    }
    pub fn digest(mut self, d: &str) -> Self {
        self.0.spec.digest = d.into();
        self
    }
    pub fn digest_of(mut self, spec: &MaintenanceSessionSpec) -> Self {
        self.0.spec.digest = ApprovalDigest::of(&self.0.spec.session_uid, spec).to_string();
        self
    }
    /// Approves an earlier object of the same name (another uid).
    pub fn for_uid(mut self, uid: &str) -> Self {
        self.0.spec.session_uid = uid.into();
        self
    }
    pub fn expired(mut self) -> Self {
        self.0.spec.expires_at = Some(Time(at(-60)));
        self
    }
    /// Names the plan it approves (`spec.plan`).
    pub fn plan(mut self, digest: &str) -> Self {
        self.0.spec.plan_digest = Some(digest.into());
        self
    }
    pub fn for_session(mut self, name: &str) -> Self {
        self.0.spec.session_name = name.into();
        self
    }
}

/// bob's MaintenanceApproval accepted.
pub fn approved() -> crate::controller::Verdict {
    approved_for(None, None)
}

/// bob's approval, given `at`, of at most `computers`.
pub fn approved_for(computers: Option<i32>, at: Option<Timestamp>) -> crate::controller::Verdict {
    crate::controller::Verdict::Approved {
        approved_by: "bob".into(),
        method: crate::controller::ApprovalMethod::MaintenanceApproval,
        source: Some("bob-ok".into()),
        comment: None,
        at,
        digest: None,
        computers,
        plan_digest: None,
    }
}

/// Still waiting for an approval.
pub fn refused() -> crate::controller::Verdict {
    crate::controller::Verdict::NotApproved {
        reason: "AwaitingApproval",
        message: "waiting for someone other than alice".into(),
    }
}
