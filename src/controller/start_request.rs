//! What the spec asks of ImmyBot, as a start body. The one place where the
//! operator's vocabulary (`Never`, `IfRequired`, ...) meets ImmyBot's.

use crate::api::{
    DeploymentType, MaintenanceSessionSpec, OfflineBehavior, PromptTimeoutAction, RebootPolicy, SessionMode,
    SessionPriority,
};
use crate::immybot::{self, ComputerTarget, StartRequest, TenantTarget};

use super::group_id::SessionGroupId;

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
        full_maintenance: spec.mode == SessionMode::Full,
        detection_only: spec.mode == SessionMode::DetectionOnly,
        resolution_only: spec.mode == SessionMode::ResolutionOnly,
        inventory_only: spec.mode == SessionMode::InventoryOnly,
        deployment_id: spec.deployment.as_ref().map(|d| d.id),
        deployment_type: spec.deployment.as_ref().map(|d| match d.deployment_type {
            DeploymentType::Local => immybot::DatabaseType::Local,
            DeploymentType::Global => immybot::DatabaseType::Global,
        }),
        reboot_preference: Some(match spec.reboot.policy {
            RebootPolicy::Never => immybot::RebootPreference::Suppress,
            RebootPolicy::IfRequired => immybot::RebootPreference::Normal,
            RebootPolicy::Always => immybot::RebootPreference::Force,
            RebootPolicy::Prompt => immybot::RebootPreference::Prompt,
        }),
        prompt_timeout_action: spec.reboot.prompt_timeout_action.map(|a| match a {
            PromptTimeoutAction::Reboot => immybot::PromptTimeoutAction::Reboot,
            PromptTimeoutAction::Suppress => immybot::PromptTimeoutAction::Suppress,
            PromptTimeoutAction::FailSession => immybot::PromptTimeoutAction::FailSession,
        }),
        prompt_timeout_minutes: spec.reboot.prompt_timeout_minutes,
        auto_consent_to_reboots: spec.reboot.auto_consent,
        suppress_reboots_during_business_hours: spec.reboot.suppress_during_business_hours,
        offline_behavior: Some(match spec.offline {
            OfflineBehavior::Skip => immybot::ComputerOfflineMaintenanceSessionBehavior::Skip,
            OfflineBehavior::ApplyOnConnect => immybot::ComputerOfflineMaintenanceSessionBehavior::ApplyOnConnect,
        }),
        session_group_id: Some(group.0),
        propagate_to_child_tenants: propagate,
        // The operator reports through Kubernetes; ImmyBot's own e-mails stay off.
        send_detection_email: false,
        send_follow_up_email: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::*;

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
        assert_eq!(r.reboot_preference, Some(immybot::RebootPreference::Suppress));
        assert!(r.detection_only && !r.full_maintenance);
        assert!(r.skip_background_job);
        assert!(r.propagate_to_child_tenants);
        assert_eq!(r.tenants, Some(vec![TenantTarget { tenant_id: 3 }]));
        assert_eq!(r.session_group_id, Some(group.0));
        assert_eq!(
            r.offline_behavior,
            Some(immybot::ComputerOfflineMaintenanceSessionBehavior::ApplyOnConnect)
        );
        for (policy, want) in [
            (RebootPolicy::IfRequired, immybot::RebootPreference::Normal),
            (RebootPolicy::Always, immybot::RebootPreference::Force),
            (RebootPolicy::Prompt, immybot::RebootPreference::Prompt),
        ] {
            spec.reboot.policy = policy;
            assert_eq!(
                start_request(&spec, &StartTargets::Computers(vec![1]), group).reboot_preference,
                Some(want)
            );
        }
    }
}
