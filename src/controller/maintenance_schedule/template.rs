//! A run made from the template: its deterministic name, the object, and
//! the template digest a standing approval names. Pure.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::api::{MaintenanceSchedule, MaintenanceSession, ScheduledBy};
use crate::controller::clock::stored_time;

/// The label every run carries: its schedule's name.
pub const SCHEDULE_LABEL: &str = "immybot.io/schedule";
/// The annotation every run carries: its scheduled time (RFC 3339).
pub const SCHEDULED_AT_ANNOTATION: &str = "immybot.io/scheduled-at";

/// `<schedule>-<minutes since the epoch>`, as CronJob names its Jobs: the
/// same time always gives the same name, so creating it twice is refused
/// by the API server.
pub fn run_name(schedule: &str, scheduled: Timestamp) -> String {
    format!("{schedule}-{}", scheduled.as_second().div_euclid(60))
}

/// The run for `scheduled`: the template's spec requested by the operator
/// (`requested_by`, its own user: admission requires the creator), with
/// the template's labels and annotations plus the schedule label and the
/// scheduled time, owned (as controller) by the schedule.
pub fn run_for(schedule: &MaintenanceSchedule, requested_by: &str, scheduled: Timestamp) -> MaintenanceSession {
    let name = schedule.metadata.name.clone().unwrap_or_default();
    let uid = schedule.metadata.uid.clone().unwrap_or_default();
    let template = &schedule.spec.session_template;
    let mut labels: BTreeMap<String, String> = template.metadata.labels.clone();
    labels.insert(SCHEDULE_LABEL.into(), name.clone());
    // A run is its schedule's shard's: the shard that owns the schedule
    // watches its runs (a shard label set by hand on the schedule, to split
    // a connection, would otherwise not reach them).
    if let Some(shard) = schedule
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(crate::api::SHARD_LABEL))
    {
        labels.insert(crate::api::SHARD_LABEL.into(), shard.clone());
    }
    let mut annotations = template.metadata.annotations.clone();
    annotations.insert(SCHEDULED_AT_ANNOTATION.into(), scheduled.to_string());
    let scheduled_by = ScheduledBy {
        schedule: name.clone(),
        uid: uid.clone(),
        requested_by: schedule.spec.requested_by.clone(),
        scheduled_time: stored_time(scheduled),
    };
    MaintenanceSession {
        metadata: ObjectMeta {
            name: Some(run_name(&name, scheduled)),
            namespace: schedule.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: "immybot.io/v1alpha1".into(),
                kind: "MaintenanceSchedule".into(),
                name,
                uid,
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: template.spec.to_session_spec(requested_by, Some(scheduled_by)),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::approval::digest::{effect_fields, template_digest, template_effect};

    fn schedule() -> MaintenanceSchedule {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSchedule",
            "metadata": {"name": "nightly", "namespace": "ops", "uid": "s-1"},
            "spec": {
                "requestedBy": "alice", "schedule": "0 2 * * *", "timeZone": "Europe/Berlin",
                "sessionTemplate": {
                    "metadata": {"labels": {"team": "desk"}},
                    "spec": {"target": {"tenant": {"id": 2}}, "reason": "CHG-1 nightly"}
                }
            }
        }))
        .unwrap()
    }

    #[test]
    fn a_run_is_named_by_its_minute_and_carries_its_schedule() {
        let at: Timestamp = "2026-05-04T00:00:00Z".parse().unwrap();
        let run = run_for(&schedule(), "system:serviceaccount:immybot:operator", at);
        assert_eq!(run.metadata.name.as_deref(), Some("nightly-29630880"));
        assert_eq!(
            run_name("nightly", at.checked_add(jiff::SignedDuration::from_secs(59)).unwrap()),
            "nightly-29630880"
        );
        let labels = run.metadata.labels.unwrap();
        assert_eq!(labels.get("team").map(String::as_str), Some("desk"));
        assert_eq!(labels.get(SCHEDULE_LABEL).map(String::as_str), Some("nightly"));
        let owner = &run.metadata.owner_references.unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
            ("MaintenanceSchedule", "s-1", Some(true))
        );
        assert_eq!(run.spec.requested_by, "system:serviceaccount:immybot:operator");
        let by = run.spec.scheduled_by.unwrap();
        assert_eq!(
            (by.schedule.as_str(), by.requested_by.as_str(), by.scheduled_time.0),
            ("nightly", "alice", at)
        );
        assert_eq!(run.spec.reason, "CHG-1 nightly");
        assert!(
            !labels.contains_key(crate::api::SHARD_LABEL),
            "no shard: none on the run"
        );
        // The schedule's shard, hand-set or from admission, is its runs'.
        let mut sharded = schedule();
        sharded
            .metadata
            .labels
            .get_or_insert_default()
            .insert(crate::api::SHARD_LABEL.into(), "lab-a".into());
        let run = run_for(&sharded, "op", at);
        assert_eq!(
            run.metadata
                .labels
                .unwrap()
                .get(crate::api::SHARD_LABEL)
                .map(String::as_str),
            Some("lab-a")
        );
    }

    /// A named edit of a schedule.
    type Change<'a> = (&'a str, &'a dyn Fn(&mut MaintenanceSchedule));

    #[test]
    fn the_template_digest_covers_effect_and_recurrence_not_housekeeping() {
        let base = schedule();
        let digest = |f: &dyn Fn(&mut MaintenanceSchedule)| {
            let mut s = base.clone();
            f(&mut s);
            template_digest(s.metadata.uid.as_deref().unwrap(), &s.spec)
        };
        let original = digest(&|_| {});
        assert!(original.as_str().starts_with("sha256:"));
        let changes: [Change<'_>; 5] = [
            ("mode", &|s| {
                s.spec.session_template.spec.mode = crate::api::SessionMode::DetectionOnly
            }),
            ("reboot", &|s| {
                s.spec.session_template.spec.reboot.policy = crate::api::RebootPolicy::Always
            }),
            ("schedule", &|s| s.spec.schedule = "0 3 * * *".into()),
            ("timeZone", &|s| s.spec.time_zone = "UTC".into()),
            ("uid", &|s| s.metadata.uid = Some("s-2".into())),
        ];
        for (what, change) in changes {
            assert_ne!(digest(change), original, "{what} must revoke a standing approval");
        }
        let kept: [Change<'_>; 5] = [
            ("suspend", &|s| s.spec.suspend = true),
            ("reason", &|s| s.spec.session_template.spec.reason = "CHG-2".into()),
            ("labels", &|s| {
                s.spec.session_template.metadata.labels.insert("x".into(), "y".into());
            }),
            ("concurrencyPolicy", &|s| {
                s.spec.concurrency_policy = crate::api::ConcurrencyPolicy::Forbid
            }),
            ("history", &|s| s.spec.successful_runs_history_limit = 10),
        ];
        for (what, change) in kept {
            assert_eq!(digest(change), original, "{what} is housekeeping, not what is approved");
        }
    }

    #[test]
    fn a_run_has_exactly_its_templates_effect() {
        let s = schedule();
        let run = run_for(&s, "operator", "2026-05-04T00:00:00Z".parse().unwrap());
        assert_eq!(effect_fields(&run.spec), template_effect(&s.spec.session_template.spec));
    }
}
