//! The one place where the operator's vocabulary for what every kind shares
//! (`Never`, `IfRequired`, `ApplyOnConnect`, ...) meets ImmyBot's: a
//! session's start body and a schedule's definition both map through here.

use crate::api::{OfflineBehavior, PromptTimeoutAction, RebootPolicy};

/// ImmyBot's `rebootPreference` for a reboot policy (sessions and schedules).
pub fn reboot_preference(policy: RebootPolicy) -> immybot_client::RebootPreference {
    match policy {
        RebootPolicy::Never => immybot_client::RebootPreference::Suppress,
        RebootPolicy::IfRequired => immybot_client::RebootPreference::Normal,
        RebootPolicy::Always => immybot_client::RebootPreference::Force,
        RebootPolicy::Prompt => immybot_client::RebootPreference::Prompt,
    }
}

/// ImmyBot's `promptTimeoutAction`.
pub fn prompt_timeout_action(action: PromptTimeoutAction) -> immybot_client::PromptTimeoutAction {
    match action {
        PromptTimeoutAction::Reboot => immybot_client::PromptTimeoutAction::Reboot,
        PromptTimeoutAction::Suppress => immybot_client::PromptTimeoutAction::Suppress,
        PromptTimeoutAction::FailSession => immybot_client::PromptTimeoutAction::FailSession,
    }
}

/// ImmyBot's `offlineBehavior`.
pub fn offline_behavior(offline: OfflineBehavior) -> immybot_client::ComputerOfflineMaintenanceSessionBehavior {
    match offline {
        OfflineBehavior::Skip => immybot_client::ComputerOfflineMaintenanceSessionBehavior::Skip,
        OfflineBehavior::ApplyOnConnect => immybot_client::ComputerOfflineMaintenanceSessionBehavior::ApplyOnConnect,
    }
}
