//! Standing approval: a MaintenanceApproval of a MaintenanceSchedule's
//! template digest (with an expiry) lets that schedule's runs start without
//! an approval of their own. Pure; the session controller asks it for a run
//! its own approvals do not approve.
//!
//! A run is covered only if all of these hold, so that a standing approval
//! never approves anything but what its approver saw:
//! - the run names the schedule (`spec.scheduledBy`, immutable) and was
//!   requested by the operator itself (admission makes `requestedBy` the
//!   creator, so nobody else can make a run that passes);
//! - the schedule is the one named (same uid);
//! - the run does exactly what the template does now (a run made from an
//!   earlier template is not covered by an approval of the new one);
//! - the template digest is approved, unexpired, by someone who did not ask
//!   for the schedule.

use jiff::Timestamp;

use super::digest::{effect_fields, template_digest, template_effect};
use super::{ApprovalMethod, ApprovalPolicy, PlanNeed, Subject, Verdict, evaluate};
use crate::api::{ApprovedKind, MaintenanceApproval, MaintenanceSchedule, MaintenanceSession};

/// The template's own verdict: whether runs start by themselves.
pub fn template_verdict(
    schedule: &MaintenanceSchedule,
    approvals: &[MaintenanceApproval],
    policy: &ApprovalPolicy,
    now: Timestamp,
) -> Verdict {
    let (namespace, name, uid) = (
        schedule.metadata.namespace.as_deref().unwrap_or_default(),
        schedule.metadata.name.as_deref().unwrap_or_default(),
        schedule.metadata.uid.as_deref().unwrap_or_default(),
    );
    let subject = Subject {
        kind: ApprovedKind::MaintenanceSchedule,
        namespace,
        name,
        uid,
        plan: PlanNeed::None,
    };
    evaluate(
        subject,
        &schedule.spec,
        &template_digest(uid, &schedule.spec),
        approvals,
        policy,
        now,
    )
}

/// Whether `run` is covered by its schedule's standing approval: `Ok` with
/// the verdict to record, or `Err` with why not (for the run's message).
pub fn run_verdict(
    run: &MaintenanceSession,
    operator: &str,
    schedule: Option<&MaintenanceSchedule>,
    approvals: &[MaintenanceApproval],
    policy: &ApprovalPolicy,
    now: Timestamp,
) -> Result<Verdict, String> {
    let Some(by) = run.spec.scheduled_by.as_ref() else {
        return Err("it is not a run of a MaintenanceSchedule".into());
    };
    if run.spec.requested_by != operator {
        return Err(format!(
            "it was requested by {}, not created by the operator for MaintenanceSchedule {}",
            run.spec.requested_by, by.schedule
        ));
    }
    let Some(schedule) = schedule.filter(|s| s.metadata.uid.as_deref() == Some(by.uid.as_str())) else {
        return Err(format!(
            "MaintenanceSchedule {} (uid {}) no longer exists",
            by.schedule, by.uid
        ));
    };
    if effect_fields(&run.spec) != template_effect(&schedule.spec.session_template.spec) {
        return Err(format!(
            "MaintenanceSchedule {}'s template has changed since this run was made from it",
            by.schedule
        ));
    }
    match template_verdict(schedule, approvals, policy, now) {
        Verdict::Approved {
            approved_by,
            method,
            source,
            comment,
            at,
            computers,
            ..
        } => Ok(Verdict::Approved {
            approved_by,
            // A standing approval's count bounds every run it approves.
            computers,
            // A run has no plan of its own (plans are not in templates).
            plan_digest: None,
            // Policy (a namespace without approval) stays what it is.
            method: match method {
                ApprovalMethod::Policy => ApprovalMethod::Policy,
                _ => ApprovalMethod::Standing,
            },
            source: Some(format!(
                "standing approval of MaintenanceSchedule {} ({})",
                by.schedule,
                source.unwrap_or_else(|| method.as_str().to_owned())
            )),
            comment,
            at,
            // What the approver saw: the template's digest, not the run's.
            digest: Some(template_digest(&by.uid, &schedule.spec).to_string()),
        }),
        Verdict::NotApproved { message, .. } => Err(format!("MaintenanceSchedule {}: {message}", by.schedule)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::maintenance_schedule::template::run_for;
    use crate::test_fixtures::now;

    const OPERATOR: &str = "system:serviceaccount:immybot:operator";

    fn schedule() -> MaintenanceSchedule {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSchedule",
            "metadata": {"name": "nightly", "namespace": "ops", "uid": "s-1"},
            "spec": {
                "requestedBy": "alice", "schedule": "0 2 * * *",
                "sessionTemplate": {"spec": {"target": {"tenant": {"id": 2}}, "reason": "CHG-1"}}
            }
        }))
        .unwrap()
    }

    fn standing(by: &str, schedule: &MaintenanceSchedule, expires_in_hours: i64) -> MaintenanceApproval {
        let digest = template_digest("s-1", &schedule.spec);
        serde_json::from_value(serde_json::json!({
            "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
            "metadata": {"name": format!("nightly-{by}"), "namespace": "ops"},
            "spec": {
                "kind": "MaintenanceSchedule", "sessionName": "nightly", "sessionUid": "s-1",
                "digest": digest.as_str(), "approver": by,
                "expiresAt": now().checked_add(jiff::SignedDuration::from_hours(expires_in_hours)).unwrap().to_string(),
            }
        }))
        .unwrap()
    }

    fn run(s: &MaintenanceSchedule) -> MaintenanceSession {
        run_for(s, OPERATOR, now())
    }

    fn verdict(
        run: &MaintenanceSession,
        s: &MaintenanceSchedule,
        approvals: &[MaintenanceApproval],
    ) -> Result<Verdict, String> {
        run_verdict(run, OPERATOR, Some(s), approvals, &ApprovalPolicy::default(), now())
    }

    #[test]
    fn a_valid_standing_approval_covers_the_schedules_own_runs() {
        let s = schedule();
        let v = verdict(&run(&s), &s, &[standing("bob", &s, 24)]).unwrap();
        assert!(
            matches!(&v, Verdict::Approved { approved_by, method: ApprovalMethod::Standing, source: Some(src), digest: Some(d), .. }
                if approved_by == "bob" && src.contains("nightly-bob") && *d == template_digest("s-1", &s.spec).to_string()),
            "{v:?}"
        );
    }

    #[test]
    fn it_covers_nothing_else() {
        let s = schedule();
        let approvals = [standing("bob", &s, 24)];
        // Expired.
        let err = verdict(&run(&s), &s, &[standing("bob", &s, -1)]).unwrap_err();
        assert!(err.contains("expired"), "{err}");
        // Given by the schedule's requester.
        let err = verdict(&run(&s), &s, &[standing("alice", &s, 24)]).unwrap_err();
        assert!(err.contains("cannot also approve"), "{err}");
        // A run someone made by hand, naming the schedule.
        let mut forged = run(&s);
        forged.spec.requested_by = "mallory".into();
        assert!(verdict(&forged, &s, &approvals).unwrap_err().contains("mallory"));
        // A session that is not a run.
        let mut plain = run(&s);
        plain.spec.scheduled_by = None;
        assert!(verdict(&plain, &s, &approvals).is_err());
        // Another schedule of the same name.
        let mut other = s.clone();
        other.metadata.uid = Some("s-2".into());
        assert!(
            verdict(&run(&s), &other, &approvals)
                .unwrap_err()
                .contains("no longer exists")
        );
        assert!(run_verdict(&run(&s), OPERATOR, None, &approvals, &ApprovalPolicy::default(), now()).is_err());
    }

    #[test]
    fn a_template_change_revokes_it_for_new_runs_and_unstarted_old_ones() {
        let s = schedule();
        let approvals = [standing("bob", &s, 24)];
        let old_run = run(&s);
        let mut changed = s.clone();
        changed.spec.session_template.spec.reboot.policy = crate::api::RebootPolicy::Always;
        // The new template's digest differs: the approval no longer matches.
        let err = verdict(&run(&changed), &changed, &approvals).unwrap_err();
        assert!(err.contains("changed"), "{err}");
        // A run made from the old template is not what the schedule does now.
        let err = verdict(&old_run, &changed, &approvals).unwrap_err();
        assert!(err.contains("template has changed"), "{err}");
    }
}
