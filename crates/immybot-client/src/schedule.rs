//! ImmyBot's own maintenance schedules on the wire: the definition we send
//! (`CreateScheduleRequest` / `UpdateScheduleRequest`) and the schedule
//! ImmyBot answers (`GetScheduleResponse`), field names as the document
//! writes them.
//!
//! The definition is both what we send and what we compare for drift, so
//! its fields are all optional: `None` is not sent (ImmyBot then applies its
//! default, which for the nullable ones is null), and in a schedule read
//! back a field ImmyBot left out is not taken as a difference.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::enums::*;
use super::windows_zones;
use super::wire::WireTime;

/// The fields of a schedule that say what it does, when and to whom.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ScheduleDefinition {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_type: Option<TargetType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group_filter: Option<TargetGroupFilter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_category: Option<TargetCategory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagate_to_child_tenants: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_cron_expression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_detection_email: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_detection_email_when_all_actions_are_compliant: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_follow_up_email: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_follow_up_only_if_action_needed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_run_now_button: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_postpone_button: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_maintenance_actions: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_type: Option<MaintenanceType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_windows_updates: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone_info_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_computers_timezone_for_execution: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_execution_after_active_hours: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reboot_preference: Option<RebootPreference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_timeout_action: Option<PromptTimeoutAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_timeout_minutes: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_consent_to_reboots: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppress_reboots_during_business_hours: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline_behavior: Option<ComputerOfflineMaintenanceSessionBehavior>,
}

/// `UpdateScheduleRequest`: the definition and the schedule's id.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateScheduleRequest<'a> {
    pub id: i32,
    #[serde(flatten)]
    pub definition: &'a ScheduleDefinition,
}

/// A schedule as ImmyBot answers it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Schedule {
    pub id: i32,
    #[serde(flatten)]
    pub definition: ScheduleDefinition,
    #[serde(rename = "createdDateUTC", skip_serializing_if = "Option::is_none")]
    pub created_date_utc: Option<WireTime>,
    #[serde(rename = "updatedDateUTC", skip_serializing_if = "Option::is_none")]
    pub updated_date_utc: Option<WireTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_occurence_date: Option<WireTime>,
    /// The fields the answer carried (null or not): only those can differ.
    #[serde(skip)]
    pub present: BTreeSet<String>,
}

impl Schedule {
    /// Decodes one schedule and notes which fields it carried.
    pub fn from_value(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        let present: BTreeSet<String> = value
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let mut schedule: Schedule = serde_json::from_value(value)?;
        schedule.present = present;
        Ok(schedule)
    }

    /// The definition fields (camelCase, as on the wire) where this schedule
    /// differs from `wanted`. Only the fields `wanted` sets are ours to
    /// compare (how ImmyBot combines `time` with a custom cron, say, is not
    /// documented), and only those the answer carried; time zones compare
    /// by meaning (ImmyBot may answer the Windows id of the IANA zone it was
    /// given).
    pub fn differences(&self, wanted: &ScheduleDefinition) -> Vec<String> {
        let (Ok(ours), Ok(theirs)) = (serde_json::to_value(wanted), serde_json::to_value(&self.definition)) else {
            return vec![];
        };
        let null = serde_json::Value::Null;
        let mut out = Vec::new();
        for field in DEFINITION_FIELDS {
            if !self.present.contains(*field) || ours.get(*field).is_none() {
                continue;
            }
            let (a, b) = (ours.get(*field).unwrap_or(&null), theirs.get(*field).unwrap_or(&null));
            let same = if *field == "timeZoneInfoId" {
                windows_zones::same_zone(a.as_str(), b.as_str())
            } else {
                a == b
            };
            if !same {
                out.push((*field).to_owned());
            }
        }
        out
    }
}

/// Every field of [`ScheduleDefinition`], as on the wire.
pub const DEFINITION_FIELDS: &[&str] = &[
    "target",
    "targetType",
    "targetGroupFilter",
    "targetCategory",
    "tenantId",
    "propagateToChildTenants",
    "customCronExpression",
    "time",
    "day",
    "maintenanceTime",
    "disabled",
    "sendDetectionEmail",
    "sendDetectionEmailWhenAllActionsAreCompliant",
    "sendFollowUpEmail",
    "sendFollowUpOnlyIfActionNeeded",
    "showRunNowButton",
    "showPostponeButton",
    "showMaintenanceActions",
    "maintenanceType",
    "maintenanceIdentifier",
    "applyWindowsUpdates",
    "timeZoneInfoId",
    "useComputersTimezoneForExecution",
    "scheduleExecutionAfterActiveHours",
    "rebootPreference",
    "promptTimeoutAction",
    "promptTimeoutMinutes",
    "autoConsentToReboots",
    "suppressRebootsDuringBusinessHours",
    "offlineBehavior",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted() -> ScheduleDefinition {
        ScheduleDefinition {
            target_type: Some(TargetType::AllForTenant),
            tenant_id: Some(3),
            custom_cron_expression: Some("30 22 * * *".into()),
            time_zone_info_id: Some("Europe/Berlin".into()),
            disabled: Some(false),
            reboot_preference: Some(RebootPreference::Suppress),
            ..Default::default()
        }
    }

    #[test]
    fn the_field_list_is_the_definition() {
        let full = serde_json::to_value(ScheduleDefinition {
            target: Some(String::new()),
            target_type: Some(TargetType::All),
            target_group_filter: Some(TargetGroupFilter::All),
            target_category: Some(TargetCategory::Computer),
            tenant_id: Some(1),
            propagate_to_child_tenants: Some(true),
            custom_cron_expression: Some(String::new()),
            time: Some(String::new()),
            day: Some(1),
            maintenance_time: Some(String::new()),
            disabled: Some(true),
            send_detection_email: Some(true),
            send_detection_email_when_all_actions_are_compliant: Some(true),
            send_follow_up_email: Some(true),
            send_follow_up_only_if_action_needed: Some(true),
            show_run_now_button: Some(true),
            show_postpone_button: Some(true),
            show_maintenance_actions: Some(true),
            maintenance_type: Some(MaintenanceType::GlobalSoftware),
            maintenance_identifier: Some(String::new()),
            apply_windows_updates: Some(true),
            time_zone_info_id: Some(String::new()),
            use_computers_timezone_for_execution: Some(true),
            schedule_execution_after_active_hours: Some(true),
            reboot_preference: Some(RebootPreference::Normal),
            prompt_timeout_action: Some(PromptTimeoutAction::Reboot),
            prompt_timeout_minutes: Some(1),
            auto_consent_to_reboots: Some(true),
            suppress_reboots_during_business_hours: Some(true),
            offline_behavior: Some(ComputerOfflineMaintenanceSessionBehavior::Skip),
        })
        .unwrap();
        let keys: BTreeSet<&str> = full.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, DEFINITION_FIELDS.iter().copied().collect());
    }

    #[test]
    fn only_fields_the_answer_carried_can_differ() {
        let answer = serde_json::json!({"id": 5, "tenantId": 3, "rebootPreference": "Normal", "customCronExpression": "30 22 * * *"});
        let s = Schedule::from_value(answer).unwrap();
        assert_eq!(s.differences(&wanted()), vec!["rebootPreference".to_owned()]);
    }

    #[test]
    fn names_and_integers_and_zone_forms_compare_by_meaning() {
        let answer = serde_json::json!({
            "id": 5, "tenantId": 3, "targetType": "AllForTenant", "rebootPreference": 1,
            "customCronExpression": "30 22 * * *", "timeZoneInfoId": "W. Europe Standard Time",
            "disabled": false, "time": null,
        });
        let s = Schedule::from_value(answer).unwrap();
        assert_eq!(s.differences(&wanted()), Vec::<String>::new());
        // `time` is not ours (the definition does not set it).
        let moved = serde_json::json!({"id": 5, "time": "14:00", "timeZoneInfoId": "Eastern Standard Time"});
        let s = Schedule::from_value(moved).unwrap();
        assert_eq!(s.differences(&wanted()), vec!["timeZoneInfoId".to_owned()]);
    }
}
