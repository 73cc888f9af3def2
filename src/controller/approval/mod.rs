//! Whether a MaintenanceSession is approved, decided from the approvals that
//! name it, the operator's policy for its namespace, and the clock. Pure.
//!
//! An approval counts only if it names this object (name and uid) and the
//! current digest, has not expired, and was given by someone other than the
//! requester. Admission has already checked that `approver` is the user who
//! created the approval, and that only the requester changed the fields the
//! digest covers (docs/design.md, "The approval model").

use std::collections::BTreeSet;

use jiff::Timestamp;

pub mod digest;
pub mod lookup;
pub mod standing;
pub mod stores;
pub mod watch;

use crate::api::{
    ApprovedKind, ImmyBotScheduleSpec, InlineApproval, MaintenanceApproval, MaintenanceScheduleSpec,
    MaintenanceSessionSpec,
};
use digest::ApprovalDigest;

/// What approval needs from an object's spec: who asked, and an inline
/// approval if the manifest carries one.
pub trait Requested {
    fn requested_by(&self) -> &str;
    /// Someone else who asked for it and so may not approve it either: a
    /// schedule run's `requestedBy` is the operator, and the schedule's
    /// requester is the person behind it.
    fn also_requested_by(&self) -> Option<&str> {
        None
    }
    fn inline_approval(&self) -> Option<&InlineApproval>;

    /// Whether `user` asked for this (and so cannot approve it).
    fn is_requester(&self, user: &str) -> bool {
        user == self.requested_by() || self.also_requested_by() == Some(user)
    }

    /// Who asked, for messages.
    fn requesters(&self) -> String {
        match self.also_requested_by() {
            Some(other) if other != self.requested_by() => format!("{} and {other}", self.requested_by()),
            _ => self.requested_by().to_owned(),
        }
    }
}

impl Requested for MaintenanceSessionSpec {
    fn requested_by(&self) -> &str {
        &self.requested_by
    }
    fn also_requested_by(&self) -> Option<&str> {
        self.scheduled_by.as_ref().map(|s| s.requested_by.as_str())
    }
    fn inline_approval(&self) -> Option<&InlineApproval> {
        self.approval.as_ref()
    }
}

impl Requested for MaintenanceScheduleSpec {
    fn requested_by(&self) -> &str {
        &self.requested_by
    }
    fn inline_approval(&self) -> Option<&InlineApproval> {
        self.approval.as_ref()
    }
}

impl Requested for ImmyBotScheduleSpec {
    fn requested_by(&self) -> &str {
        &self.requested_by
    }
    fn inline_approval(&self) -> Option<&InlineApproval> {
        self.approval.as_ref()
    }
}

/// The operator-wide approval policy. Secure by default: every namespace
/// needs a `MaintenanceApproval`; a session can never relax this itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApprovalPolicy {
    /// Namespaces where `spec.approval` (GitOps: the merged pull request) counts.
    pub inline_namespaces: BTreeSet<String>,
    /// Namespaces where no approval is needed at all (labs, demos).
    pub unapproved_namespaces: BTreeSet<String>,
    /// The pilot rule (`api::pilot`).
    pub pilot: PilotRule,
    /// What the operator asks of plans (`spec.plan`).
    pub plans: PlanRule,
}

/// Plans made mandatory, and how cautious their detection is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanRule {
    /// A session of more computers than this needs `spec.plan`; `None`: no rule.
    pub required_above: Option<i32>,
    /// A plan's detection waits for an approval of the spec first.
    pub detection_needs_approval: bool,
}

/// How many computers a tenant-wide session may start without a pilot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PilotRule {
    /// Operator-wide; `None`: no rule.
    pub required_above: Option<i32>,
    /// Per namespace, overriding it (`None`: no rule there).
    pub per_namespace: std::collections::BTreeMap<String, Option<i32>>,
    /// The settings ConfigMap (namespace, name) where the operator records
    /// each tenant's count for the admission policy; `None`: not recorded.
    pub settings: Option<(String, String)>,
}

impl PilotRule {
    /// The threshold in `namespace`.
    pub fn threshold(&self, namespace: &str) -> Option<i32> {
        crate::api::pilot::threshold(self.required_above, &self.per_namespace, namespace)
    }
}

/// How a session came to be approved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalMethod {
    MaintenanceApproval,
    Inline,
    Policy,
    /// A standing approval of the schedule that made this run.
    Standing,
}

impl ApprovalMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            ApprovalMethod::MaintenanceApproval => "MaintenanceApproval",
            ApprovalMethod::Inline => "Inline",
            ApprovalMethod::Policy => "Policy",
            ApprovalMethod::Standing => "StandingApproval",
        }
    }
}

/// The outcome, with a reason (stable, CamelCase) and a message for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Approved {
        approved_by: String,
        method: ApprovalMethod,
        source: Option<String>,
        comment: Option<String>,
        /// When the approval was given, if known (MaintenanceApproval creation).
        at: Option<Timestamp>,
        /// The digest approved, where it is not the object's own: a run
        /// approved by its schedule's standing approval records the
        /// template digest its approver saw.
        digest: Option<String>,
        /// The most computers the approval lets start (`spec.computers`
        /// of a MaintenanceApproval); `None`: any number.
        computers: Option<i32>,
        /// The plan approved (`spec.planDigest`), for an object with
        /// `spec.plan`.
        plan_digest: Option<String>,
    },
    NotApproved {
        reason: &'static str,
        message: String,
    },
}

impl Verdict {
    pub fn is_approved(&self) -> bool {
        matches!(self, Verdict::Approved { .. })
    }
}

/// The object an approval must name.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub kind: ApprovedKind,
    pub namespace: &'a str,
    pub name: &'a str,
    pub uid: &'a str,
    /// The plan an approval must name as well.
    pub plan: PlanNeed<'a>,
}

/// Whether an approval must name a plan (`spec.plan` of a session).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanNeed<'a> {
    /// No plan: the spec's digest is what is approved.
    None,
    /// A plan is asked for and not made yet: nothing can approve it.
    NotReady,
    /// This plan digest (`status.plan.digest`).
    Digest(&'a str),
}

pub fn evaluate(
    subject: Subject<'_>,
    spec: &impl Requested,
    digest: &ApprovalDigest,
    approvals: &[MaintenanceApproval],
    policy: &ApprovalPolicy,
    now: Timestamp,
) -> Verdict {
    let Subject {
        kind,
        namespace,
        name: session_name,
        uid,
        plan,
    } = subject;
    let approve_command = match kind {
        ApprovedKind::MaintenanceSession => format!("kubectl immybot approve {session_name}"),
        ApprovedKind::ImmyBotSchedule => format!("kubectl immybot approve schedule/{session_name}"),
        ApprovedKind::MaintenanceSchedule => {
            format!("kubectl immybot approve maintenanceschedule/{session_name} --expires-in 720h")
        }
    };
    if policy.unapproved_namespaces.contains(namespace) {
        return Verdict::Approved {
            approved_by: "operator policy".into(),
            method: ApprovalMethod::Policy,
            source: Some(format!("namespace {namespace} does not require approval")),
            comment: None,
            at: None,
            digest: None,
            computers: None,
            plan_digest: None,
        };
    }
    let mine: Vec<&MaintenanceApproval> = approvals
        .iter()
        .filter(|a| a.spec.session_name == session_name && a.spec.kind == kind)
        .collect();
    let mut refusals: Vec<(u8, &'static str, String)> = Vec::new();
    let mut valid: Vec<&MaintenanceApproval> = Vec::new();
    for approval in &mine {
        let name = approval.metadata.name.clone().unwrap_or_default();
        let expired = approval.spec.expires_at.as_ref().is_some_and(|t| t.0 <= now);
        if approval.spec.session_uid != uid {
            refusals.push((
                4,
                "ApprovalForAnotherObject",
                format!(
                    "MaintenanceApproval {name} by {} approved an earlier {kind} named {session_name} (uid {}), not this one (uid {uid}); an approval does not carry over to a new object: review this one and approve it",
                    approval.spec.approver, approval.spec.session_uid
                ),
            ));
        } else if approval.spec.digest != digest.as_str() {
            refusals.push((
                3,
                "DigestMismatch",
                format!(
                    "MaintenanceApproval {name} by {} approved {}, but the spec has changed since and its digest is now {digest}; review the change and approve again",
                    approval.spec.approver, approval.spec.digest
                ),
            ));
        } else if let Some(why) = plan_refusal(plan, approval.spec.plan_digest.as_deref()) {
            refusals.push((
                3,
                why.0,
                format!("MaintenanceApproval {name} by {}: {}", approval.spec.approver, why.1),
            ));
        } else if expired {
            refusals.push((
                2,
                "ApprovalExpired",
                format!(
                    "MaintenanceApproval {name} by {} has expired; approve again",
                    approval.spec.approver
                ),
            ));
        } else if spec.is_requester(&approval.spec.approver) {
            refusals.push((
                1,
                "SelfApproval",
                format!(
                    "{} requested this maintenance and cannot also approve it (MaintenanceApproval {name}); someone other than {} must approve",
                    approval.spec.approver,
                    spec.requesters()
                ),
            ));
        } else {
            valid.push(approval);
        }
    }
    // Of several valid approvals, the one that lets most computers start
    // (one without a count lets any number): a later approval of a grown
    // tenant takes over from the first.
    if let Some(approval) = valid
        .into_iter()
        .max_by_key(|a| a.spec.computers.map_or(i64::MAX, i64::from))
    {
        return Verdict::Approved {
            approved_by: approval.spec.approver.clone(),
            method: ApprovalMethod::MaintenanceApproval,
            source: approval.metadata.name.clone(),
            comment: approval.spec.comment.clone(),
            at: approval.metadata.creation_timestamp.as_ref().map(|t| t.0),
            digest: None,
            computers: approval.spec.computers,
            plan_digest: approval.spec.plan_digest.clone(),
        };
    }
    if let Some(inline) = spec.inline_approval() {
        if plan != PlanNeed::None {
            refusals.push((
                0,
                "InlineApprovalCannotNameAPlan",
                format!(
                    "spec.approval is set, but this session has spec.plan and an inline approval cannot name the plan it approves; approve the plan with a MaintenanceApproval ({approve_command})"
                ),
            ));
        } else if !policy.inline_namespaces.contains(namespace) {
            refusals.push((
                0,
                "InlineApprovalNotAllowed",
                format!(
                    "spec.approval is set, but inline approval is not enabled for namespace {namespace}; create a MaintenanceApproval ({approve_command}) or ask the operator's administrator"
                ),
            ));
        } else if spec.is_requester(&inline.approved_by) {
            refusals.push((
                1,
                "SelfApproval",
                format!(
                    "{} requested this maintenance and cannot also approve it inline",
                    inline.approved_by
                ),
            ));
        } else {
            return Verdict::Approved {
                approved_by: inline.approved_by.clone(),
                method: ApprovalMethod::Inline,
                source: Some(inline.reference.clone()),
                comment: None,
                at: None,
                digest: None,
                computers: None,
                plan_digest: None,
            };
        }
    }
    if plan == PlanNeed::NotReady && refusals.is_empty() {
        return Verdict::NotApproved {
            reason: "AwaitingPlan",
            message: format!(
                "spec.plan: the plan is being made (a detection-only session in ImmyBot); once status.plan is Ready, someone other than {} approves it: {approve_command}",
                spec.requesters()
            ),
        };
    }
    // The most specific refusal explains best what to do.
    refusals.sort_by_key(|(rank, _, _)| std::cmp::Reverse(*rank));
    match refusals.into_iter().next() {
        Some((_, reason, message)) => Verdict::NotApproved { reason, message },
        None => Verdict::NotApproved {
            reason: "AwaitingApproval",
            message: format!(
                "waiting for someone other than {} to approve digest {digest}: {approve_command}",
                spec.requesters()
            ),
        },
    }
}

/// Why an approval does not approve the plan `need` asks for (reason,
/// message), if it does not.
fn plan_refusal(need: PlanNeed<'_>, named: Option<&str>) -> Option<(&'static str, String)> {
    match (need, named) {
        (PlanNeed::None, _) => None,
        (PlanNeed::NotReady, _) => Some((
            "AwaitingPlan",
            "the plan for this spec is not ready yet (status.plan): it names no plan that can start; approve the plan once it is Ready".into(),
        )),
        (PlanNeed::Digest(want), Some(got)) if got == want => None,
        (PlanNeed::Digest(want), Some(got)) => Some((
            "PlanDigestMismatch",
            format!(
                "it approved plan {got}, but the plan is now {want} (made again: it expired, or the computers changed since); review status.plan and approve again"
            ),
        )),
        (PlanNeed::Digest(want), None) => Some((
            "PlanDigestMismatch",
            format!(
                "it names no plan, and this session has spec.plan: review status.plan and approve plan {want} (kubectl immybot approve fills it in)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::*;

    const PATCH: Subject<'static> = Subject {
        kind: ApprovedKind::MaintenanceSession,
        namespace: "ops",
        name: "patch",
        uid: "uid-1",
        plan: PlanNeed::None,
    };

    fn subject(namespace: &str) -> Subject<'_> {
        Subject { namespace, ..PATCH }
    }

    fn verdict(approvals: &[MaintenanceApproval], policy: &ApprovalPolicy) -> Verdict {
        let spec = session().build().spec;
        evaluate(
            PATCH,
            &spec,
            &ApprovalDigest::of("uid-1", &spec),
            approvals,
            policy,
            now(),
        )
    }

    fn reason(v: Verdict) -> &'static str {
        match v {
            Verdict::NotApproved { reason, .. } => reason,
            Verdict::Approved { .. } => "Approved",
        }
    }

    #[test]
    fn a_matching_approval_by_someone_else_approves() {
        let v = verdict(
            &[approval("bob").digest_of(&session().spec).build()],
            &ApprovalPolicy::default(),
        );
        assert!(
            matches!(v, Verdict::Approved { ref approved_by, method: ApprovalMethod::MaintenanceApproval, .. } if approved_by == "bob"),
            "{v:?}"
        );
    }

    #[test]
    fn nothing_means_awaiting_approval_with_the_digest_in_the_message() {
        let v = verdict(&[], &ApprovalPolicy::default());
        match v {
            Verdict::NotApproved { reason, message } => {
                assert_eq!(reason, "AwaitingApproval");
                assert!(
                    message.contains(ApprovalDigest::of("uid-1", &session().spec).as_str()),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refusals_say_why() {
        let policy = ApprovalPolicy::default();
        assert_eq!(
            reason(verdict(&[approval("bob").digest("sha256:00").build()], &policy)),
            "DigestMismatch"
        );
        assert_eq!(
            reason(verdict(
                &[approval("bob").digest_of(&session().spec).expired().build()],
                &policy
            )),
            "ApprovalExpired"
        );
        assert_eq!(
            reason(verdict(
                &[approval("alice").digest_of(&session().spec).build()],
                &policy
            )),
            "SelfApproval"
        );
        assert_eq!(
            reason(verdict(
                &[approval("bob").digest_of(&session().spec).for_session("other").build()],
                &policy
            )),
            "AwaitingApproval"
        );
        // An approval of an earlier object with the same name and spec.
        let earlier = approval("bob").for_uid("uid-0").digest_of(&session().spec).build();
        match verdict(std::slice::from_ref(&earlier), &policy) {
            Verdict::NotApproved { reason, message } => {
                assert_eq!(reason, "ApprovalForAnotherObject");
                assert!(message.contains("uid-0") && message.contains("uid-1"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // One valid approval among bad ones is enough.
        let mixed = [
            approval("alice").digest_of(&session().spec).build(),
            approval("bob").digest_of(&session().spec).build(),
        ];
        assert_eq!(reason(verdict(&mixed, &policy)), "Approved");
    }

    #[test]
    fn inline_approval_counts_only_where_the_operator_allows_it() {
        let spec = session().inline_approval("carol").build().spec;
        let digest = ApprovalDigest::of("uid-1", &spec);
        let denied = evaluate(PATCH, &spec, &digest, &[], &ApprovalPolicy::default(), now());
        assert_eq!(reason(denied), "InlineApprovalNotAllowed");
        let policy = ApprovalPolicy {
            inline_namespaces: ["ops".to_string()].into(),
            ..Default::default()
        };
        let allowed = evaluate(PATCH, &spec, &digest, &[], &policy, now());
        assert!(
            matches!(
                allowed,
                Verdict::Approved {
                    method: ApprovalMethod::Inline,
                    ..
                }
            ),
            "{allowed:?}"
        );
        let own = session().inline_approval("alice").build().spec;
        assert_eq!(
            reason(evaluate(
                PATCH,
                &own,
                &ApprovalDigest::of("uid-1", &own),
                &[],
                &policy,
                now()
            )),
            "SelfApproval"
        );
    }

    #[test]
    fn the_policy_can_waive_approval_per_namespace_only() {
        let policy = ApprovalPolicy {
            unapproved_namespaces: ["lab".to_string()].into(),
            ..Default::default()
        };
        let spec = session().build().spec;
        let digest = ApprovalDigest::of("uid-1", &spec);
        assert!(evaluate(subject("lab"), &spec, &digest, &[], &policy, now()).is_approved());
        assert!(!evaluate(subject("ops"), &spec, &digest, &[], &policy, now()).is_approved());
    }

    #[test]
    fn the_person_behind_a_schedule_cannot_approve_its_runs() {
        let mut spec = session().build().spec;
        spec.requested_by = "system:serviceaccount:immybot:operator".into();
        spec.scheduled_by = Some(crate::api::ScheduledBy {
            schedule: "nightly".into(),
            uid: "sched-uid".into(),
            requested_by: "alice".into(),
            scheduled_time: crate::controller::clock::stored_time(now()),
        });
        let digest = ApprovalDigest::of("uid-1", &spec);
        let policy = ApprovalPolicy::default();
        let by = |who: &str| approval(who).digest(digest.as_str()).build();
        match evaluate(PATCH, &spec, &digest, &[by("alice")], &policy, now()) {
            Verdict::NotApproved { reason, message } => {
                assert_eq!(reason, "SelfApproval");
                assert!(message.contains("alice"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(evaluate(PATCH, &spec, &digest, &[by("bob")], &policy, now()).is_approved());
        let waiting = evaluate(PATCH, &spec, &digest, &[], &policy, now());
        assert!(
            matches!(&waiting, Verdict::NotApproved { message, .. } if message.contains("operator and alice")),
            "{waiting:?}"
        );
    }

    #[test]
    fn with_a_plan_only_an_approval_of_the_current_plan_approves() {
        let spec = session().build().spec;
        let digest = ApprovalDigest::of("uid-1", &spec);
        let policy = ApprovalPolicy::default();
        let judge = |need: PlanNeed<'_>, approvals: &[MaintenanceApproval]| {
            evaluate(
                Subject { plan: need, ..PATCH },
                &spec,
                &digest,
                approvals,
                &policy,
                now(),
            )
        };
        let of_spec = approval("bob").digest_of(&spec);
        let current = PlanNeed::Digest("sha256:plan-2");
        match judge(current, &[of_spec.build()]) {
            Verdict::NotApproved { reason, message } => {
                assert_eq!(reason, "PlanDigestMismatch");
                assert!(
                    message.contains("names no plan") && message.contains("sha256:plan-2"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        let stale = approval("bob").digest_of(&spec).plan("sha256:plan-1").build();
        match judge(current, std::slice::from_ref(&stale)) {
            Verdict::NotApproved { reason, message } => {
                assert_eq!(reason, "PlanDigestMismatch");
                assert!(
                    message.contains("sha256:plan-1") && message.contains("sha256:plan-2"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        let fresh = approval("bob").digest_of(&spec).plan("sha256:plan-2").build();
        assert!(
            matches!(judge(current, &[stale.clone(), fresh.clone()]), Verdict::Approved { plan_digest: Some(ref p), .. } if p == "sha256:plan-2")
        );
        // The plan approved by its requester is still a self-approval.
        let own = approval("alice").digest_of(&spec).plan("sha256:plan-2").build();
        assert_eq!(reason(judge(current, &[own])), "SelfApproval");
        // No plan yet: nothing approves, and the message says why.
        assert_eq!(reason(judge(PlanNeed::NotReady, &[])), "AwaitingPlan");
        assert_eq!(reason(judge(PlanNeed::NotReady, &[fresh])), "AwaitingPlan");
        // An inline approval cannot name a plan, even where inline counts.
        let inline = session().inline_approval("carol").build().spec;
        let inline_policy = ApprovalPolicy {
            inline_namespaces: ["ops".to_string()].into(),
            ..Default::default()
        };
        let v = evaluate(
            Subject { plan: current, ..PATCH },
            &inline,
            &ApprovalDigest::of("uid-1", &inline),
            &[],
            &inline_policy,
            now(),
        );
        assert_eq!(reason(v), "InlineApprovalCannotNameAPlan");
    }
}
