//! What a MaintenanceSession's spec asks of ImmyBot, as a start body (the
//! words both kinds share are mapped in `controller::spec_mapping`).

use crate::api::{DeploymentType, MaintenanceSessionSpec, SessionMode, SessionPriority};
use immybot_client::{self, ComputerTarget, StartRequest, TenantTarget};

use super::group_id::SessionGroupId;
use crate::controller::spec_mapping::{offline_behavior, prompt_timeout_action, reboot_preference};

/// Which computers one start covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartTargets {
    Computers(Vec<i32>),
    Tenant { id: i32, include_children: bool },
}

pub fn start_request(spec: &MaintenanceSessionSpec, targets: &StartTargets, group: SessionGroupId) -> StartRequest {
    let (computers, tenants, propagate) = match targets {
        StartTargets::Computers(ids) => (
            Some(ids.iter().map(|&computer_id| ComputerTarget { computer_id }).collect()),
            None,
            false,
        ),
        StartTargets::Tenant { id, include_children } => {
            (None, Some(vec![TenantTarget { tenant_id: *id }]), *include_children)
        }
    };
    StartRequest {
        computers,
        tenants,
        skip_background_job: spec.priority == SessionPriority::High,
        // The contract lists a single deployment (`deploymentId` +
        // `deploymentType`) as the alternative to `fullMaintenance`, not an
        // addition to it: with a deployment, full maintenance is off and the
        // mode flags narrow what runs of that one deployment.
        full_maintenance: spec.mode == SessionMode::Full && spec.deployment.is_none(),
        detection_only: spec.mode == SessionMode::DetectionOnly,
        resolution_only: spec.mode == SessionMode::ResolutionOnly,
        inventory_only: spec.mode == SessionMode::InventoryOnly,
        deployment_id: spec.deployment.as_ref().map(|d| d.id),
        deployment_type: spec.deployment.as_ref().map(|d| match d.deployment_type {
            DeploymentType::Local => immybot_client::DatabaseType::Local,
            DeploymentType::Global => immybot_client::DatabaseType::Global,
        }),
        reboot_preference: Some(reboot_preference(spec.reboot.policy)),
        prompt_timeout_action: spec.reboot.prompt_timeout_action.map(prompt_timeout_action),
        prompt_timeout_minutes: spec.reboot.prompt_timeout_minutes,
        auto_consent_to_reboots: spec.reboot.auto_consent,
        suppress_reboots_during_business_hours: spec.reboot.suppress_during_business_hours,
        offline_behavior: Some(offline_behavior(spec.offline)),
        session_group_id: Some(group.0),
        propagate_to_child_tenants: propagate,
        // The operator reports through Kubernetes; ImmyBot's own e-mails stay off.
        send_detection_email: false,
        send_follow_up_email: false,
    }
}

/// A plan's detection-only start (`spec.plan`) for what `spec` would run:
/// the same deployment and targets, detection only (so no execution and no
/// reboot; reboots suppressed all the same), offline computers skipped so
/// that the plan ends (they are reported as not detected), no e-mails,
/// never bypassing ImmyBot's concurrency limit.
pub fn detection_request(spec: &MaintenanceSessionSpec, targets: &StartTargets, group: SessionGroupId) -> StartRequest {
    let mut r = start_request(spec, targets, group);
    r.full_maintenance = false;
    r.detection_only = true;
    r.resolution_only = false;
    r.inventory_only = false;
    r.skip_background_job = false;
    r.reboot_preference = Some(immybot_client::RebootPreference::Suppress);
    r.prompt_timeout_action = None;
    r.prompt_timeout_minutes = None;
    r.auto_consent_to_reboots = false;
    r.offline_behavior = Some(immybot_client::ComputerOfflineMaintenanceSessionBehavior::Skip);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DeploymentRef, OfflineBehavior, PromptTimeoutAction, RebootPolicy};
    use crate::test_fixtures::*;

    /// The body as it goes on the wire, for the fields that say what runs.
    fn what_runs(mode: SessionMode, deployment: Option<DeploymentRef>) -> serde_json::Value {
        let mut spec = session().spec.clone();
        spec.mode = mode;
        spec.deployment = deployment;
        let body = start_request(
            &spec,
            &StartTargets::Computers(vec![1]),
            SessionGroupId::for_attempt("u", 1),
        );
        let v = serde_json::to_value(body).unwrap();
        serde_json::json!({
            "fullMaintenance": v["fullMaintenance"], "detectionOnly": v["detectionOnly"],
            "resolutionOnly": v["resolutionOnly"], "inventoryOnly": v["inventoryOnly"],
            "deploymentId": v.get("deploymentId"), "deploymentType": v.get("deploymentType"),
        })
    }

    #[test]
    fn every_mode_and_a_single_deployment_send_exactly_their_flags() {
        use serde_json::json;
        let none = serde_json::Value::Null;
        let only = |full, det, res, inv| {
            json!({"fullMaintenance": full, "detectionOnly": det, "resolutionOnly": res, "inventoryOnly": inv,
                   "deploymentId": none, "deploymentType": none})
        };
        assert_eq!(what_runs(SessionMode::Full, None), only(true, false, false, false));
        assert_eq!(
            what_runs(SessionMode::DetectionOnly, None),
            only(false, true, false, false)
        );
        assert_eq!(
            what_runs(SessionMode::ResolutionOnly, None),
            only(false, false, true, false)
        );
        assert_eq!(
            what_runs(SessionMode::InventoryOnly, None),
            only(false, false, false, true)
        );
        let deployment = || {
            Some(DeploymentRef {
                id: 42,
                deployment_type: DeploymentType::Local,
            })
        };
        // One deployment: never together with fullMaintenance.
        assert_eq!(
            what_runs(SessionMode::Full, deployment()),
            json!({"fullMaintenance": false, "detectionOnly": false, "resolutionOnly": false, "inventoryOnly": false,
                   "deploymentId": 42, "deploymentType": 1})
        );
        assert_eq!(
            what_runs(SessionMode::DetectionOnly, deployment()),
            json!({"fullMaintenance": false, "detectionOnly": true, "resolutionOnly": false, "inventoryOnly": false,
                   "deploymentId": 42, "deploymentType": 1})
        );
    }

    #[test]
    fn prompt_reboots_send_timeout_and_action() {
        let mut spec = session().spec.clone();
        spec.reboot.policy = RebootPolicy::Prompt;
        spec.reboot.prompt_timeout_minutes = Some(15);
        spec.reboot.prompt_timeout_action = Some(PromptTimeoutAction::FailSession);
        spec.reboot.auto_consent = true;
        spec.reboot.suppress_during_business_hours = true;
        let body = serde_json::to_value(start_request(
            &spec,
            &StartTargets::Computers(vec![1]),
            SessionGroupId::for_attempt("u", 1),
        ))
        .unwrap();
        assert_eq!(body["rebootPreference"], 2);
        assert_eq!(body["promptTimeoutMinutes"], 15);
        assert_eq!(body["promptTimeoutAction"], 2);
        assert_eq!(body["autoConsentToReboots"], true);
        assert_eq!(body["suppressRebootsDuringBusinessHours"], true);
        // Without Prompt, no prompt fields are sent.
        let plain = serde_json::to_value(start_request(
            &session().spec,
            &StartTargets::Computers(vec![1]),
            SessionGroupId::for_attempt("u", 1),
        ))
        .unwrap();
        assert!(plain.get("promptTimeoutMinutes").is_none() && plain.get("promptTimeoutAction").is_none());
    }

    #[test]
    fn maps_policies_to_immybot_values() {
        let mut spec = session().spec.clone();
        spec.reboot.policy = RebootPolicy::Never;
        spec.mode = SessionMode::DetectionOnly;
        spec.priority = SessionPriority::High;
        spec.offline = OfflineBehavior::ApplyOnConnect;
        let group = SessionGroupId::for_attempt("u", 1);
        let r = start_request(
            &spec,
            &StartTargets::Tenant {
                id: 3,
                include_children: true,
            },
            group,
        );
        assert_eq!(r.reboot_preference, Some(immybot_client::RebootPreference::Suppress));
        assert!(r.detection_only && !r.full_maintenance);
        assert!(r.skip_background_job);
        assert!(r.propagate_to_child_tenants);
        assert_eq!(r.tenants, Some(vec![TenantTarget { tenant_id: 3 }]));
        assert_eq!(r.session_group_id, Some(group.0));
        assert_eq!(
            r.offline_behavior,
            Some(immybot_client::ComputerOfflineMaintenanceSessionBehavior::ApplyOnConnect)
        );
        for (policy, want) in [
            (RebootPolicy::IfRequired, immybot_client::RebootPreference::Normal),
            (RebootPolicy::Always, immybot_client::RebootPreference::Force),
            (RebootPolicy::Prompt, immybot_client::RebootPreference::Prompt),
        ] {
            spec.reboot.policy = policy;
            assert_eq!(
                start_request(&spec, &StartTargets::Computers(vec![1]), group).reboot_preference,
                Some(want)
            );
        }
    }

    #[test]
    fn a_plan_detects_only_and_can_reboot_nothing() {
        let mut spec = session().spec.clone();
        spec.reboot.policy = RebootPolicy::Always;
        spec.offline = OfflineBehavior::ApplyOnConnect;
        spec.priority = SessionPriority::High;
        let body = detection_request(
            &spec,
            &StartTargets::Computers(vec![1]),
            SessionGroupId::for_plan("u", 1),
        );
        let v = serde_json::to_value(body).unwrap();
        assert_eq!(
            (
                &v["fullMaintenance"],
                &v["detectionOnly"],
                &v["rebootPreference"],
                &v["offlineBehavior"],
                &v["skipBackgroundJob"]
            ),
            (
                &serde_json::json!(false),
                &serde_json::json!(true),
                &serde_json::json!(1),
                &serde_json::json!(1),
                &serde_json::json!(false)
            ),
            "{v}"
        );
    }
}
