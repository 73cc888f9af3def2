//! An ImmyBotSchedule's spec as the ImmyBot schedule definition it asks for,
//! and the digest an approval names. Pure.
//!
//! GUESSES about ImmyBot's schedule semantics, all here (the shared notes do
//! not say how `time`, `day`, `maintenanceTime` and `customCronExpression`
//! combine):
//! - Every form of "when" is sent as `customCronExpression`, the one the
//!   notes call unambiguous: `daily` becomes `M H * * *`, `weekly` `M H * *
//!   d1,d2`, `monthly` `M H D * *`. `time`, `day` and `maintenanceTime` are
//!   not sent (null), which we read as "execute at once after detection",
//!   i.e. the whole maintenance runs at the cron's time.
//! - A computer target is `targetType` Computer, `targetCategory` Computer
//!   and `target` = the computer id as a string; a tenant target is
//!   `targetType` AllForTenant with `tenantId` and
//!   `propagateToChildTenants`.
//! - `timeZoneInfoId` is sent as the IANA name (.NET 6+ resolves it).
//! - Fields we do not set are ImmyBot's: they are neither sent nor compared.

use crate::api::{DeviceFilter, ImmyBotScheduleSpec, MaintenanceItemType, Weekday, immybot_schedule_coverage};
use crate::controller::spec_mapping::{offline_behavior, prompt_timeout_action, reboot_preference};
use immybot_client::{self, ScheduleDefinition, TargetCategory, TargetGroupFilter, TargetType};

/// The target with names resolved to ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolvedTarget {
    Computer(i32),
    Tenant { id: i32, include_children: bool },
}

/// The 5-field cron expression for the spec's "when".
pub fn cron_of(spec: &ImmyBotScheduleSpec) -> Option<String> {
    let hm = |time: &str| -> Option<(u8, u8)> {
        let (h, m) = time.split_once(':')?;
        Some((h.parse().ok()?, m.parse().ok()?))
    };
    if let Some(d) = &spec.daily {
        let (h, m) = hm(&d.time)?;
        return Some(format!("{m} {h} * * *"));
    }
    if let Some(w) = &spec.weekly {
        let (h, m) = hm(&w.time)?;
        let mut days: Vec<u8> = w.days.iter().map(|d| weekday_number(*d)).collect();
        days.sort_unstable();
        days.dedup();
        let days: Vec<String> = days.iter().map(u8::to_string).collect();
        return Some(format!("{m} {h} * * {}", days.join(",")));
    }
    if let Some(mo) = &spec.monthly {
        let (h, m) = hm(&mo.time)?;
        return Some(format!("{m} {h} {} * *", mo.day));
    }
    spec.cron
        .as_ref()
        .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn weekday_number(d: Weekday) -> u8 {
    match d {
        Weekday::Sunday => 0,
        Weekday::Monday => 1,
        Weekday::Tuesday => 2,
        Weekday::Wednesday => 3,
        Weekday::Thursday => 4,
        Weekday::Friday => 5,
        Weekday::Saturday => 6,
    }
}

/// The target a definition names (back from `definition`): what a blast
/// radius counts.
pub fn target_of(def: &ScheduleDefinition) -> Option<ResolvedTarget> {
    match def.target_type.as_ref()? {
        TargetType::Computer => def.target.as_deref()?.parse().ok().map(ResolvedTarget::Computer),
        TargetType::AllForTenant => Some(ResolvedTarget::Tenant {
            id: def.tenant_id?,
            include_children: def.propagate_to_child_tenants.unwrap_or(false),
        }),
        _ => None,
    }
}

/// The definition the spec asks for, `disabled` following `suspend`.
pub fn definition(spec: &ImmyBotScheduleSpec, target: ResolvedTarget) -> ScheduleDefinition {
    let (target_type, target_value, tenant_id, propagate) = match target {
        ResolvedTarget::Computer(id) => (TargetType::Computer, Some(id.to_string()), None, None),
        ResolvedTarget::Tenant { id, include_children } => {
            (TargetType::AllForTenant, None, Some(id), Some(include_children))
        }
    };
    ScheduleDefinition {
        target: target_value,
        target_type: Some(target_type),
        target_group_filter: Some(match spec.target.device_filter {
            DeviceFilter::All => TargetGroupFilter::All,
            DeviceFilter::Servers => TargetGroupFilter::Servers,
            DeviceFilter::Workstations => TargetGroupFilter::Workstations,
            DeviceFilter::PortableDevices => TargetGroupFilter::PortableDevices,
            DeviceFilter::WorkstationsAndPortableDevices => TargetGroupFilter::WorkstationsAndPortableDevices,
            DeviceFilter::DomainControllers => TargetGroupFilter::DomainControllers,
            DeviceFilter::PrimaryDomainControllers => TargetGroupFilter::PrimaryDomainControllers,
        }),
        target_category: Some(TargetCategory::Computer),
        tenant_id,
        propagate_to_child_tenants: propagate,
        custom_cron_expression: cron_of(spec),
        time: None,
        day: None,
        maintenance_time: None,
        disabled: Some(spec.suspend),
        send_detection_email: Some(spec.emails.detection),
        send_detection_email_when_all_actions_are_compliant: Some(spec.emails.detection_when_compliant),
        send_follow_up_email: Some(spec.emails.follow_up),
        send_follow_up_only_if_action_needed: Some(spec.emails.follow_up_only_if_action_needed),
        show_run_now_button: Some(spec.prompts.show_run_now_button),
        show_postpone_button: Some(spec.prompts.show_postpone_button),
        show_maintenance_actions: Some(spec.prompts.show_maintenance_actions),
        maintenance_type: spec.maintenance_item.as_ref().map(|i| match i.item_type {
            MaintenanceItemType::GlobalSoftware => immybot_client::MaintenanceType::GlobalSoftware,
            MaintenanceItemType::LocalSoftware => immybot_client::MaintenanceType::LocalSoftware,
            MaintenanceItemType::ChocolateySoftware => immybot_client::MaintenanceType::ChocolateySoftware,
            MaintenanceItemType::NiniteSoftware => immybot_client::MaintenanceType::NiniteSoftware,
            MaintenanceItemType::LocalMaintenanceTask => immybot_client::MaintenanceType::LocalMaintenanceTask,
            MaintenanceItemType::GlobalMaintenanceTask => immybot_client::MaintenanceType::GlobalMaintenanceTask,
        }),
        maintenance_identifier: spec.maintenance_item.as_ref().map(|i| i.identifier.clone()),
        apply_windows_updates: Some(spec.apply_windows_updates && spec.maintenance_item.is_none()),
        time_zone_info_id: Some(spec.time_zone.clone()),
        use_computers_timezone_for_execution: Some(spec.use_computers_time_zone),
        schedule_execution_after_active_hours: Some(spec.after_active_hours),
        reboot_preference: Some(reboot_preference(spec.reboot.policy)),
        prompt_timeout_action: spec.reboot.prompt_timeout_action.map(prompt_timeout_action),
        prompt_timeout_minutes: spec.reboot.prompt_timeout_minutes,
        auto_consent_to_reboots: Some(spec.reboot.auto_consent),
        suppress_reboots_during_business_hours: Some(spec.reboot.suppress_during_business_hours),
        offline_behavior: Some(offline_behavior(spec.offline)),
    }
}

/// The approval digest: the object's uid and requester and every field
/// `api::immybot_schedule_coverage` declares covered (what the schedule
/// does to computers, when, and which existing schedule it takes over).
pub fn approval_digest(uid: &str, spec: &ImmyBotScheduleSpec) -> String {
    crate::controller::approval::digest::ApprovalDigest::of_kind(
        immybot_schedule_coverage(),
        uid,
        &spec.requested_by,
        spec,
    )
    .as_str()
    .to_owned()
}

/// The digest of a definition (what `status.appliedDigest` records).
pub fn definition_digest(def: &ScheduleDefinition) -> String {
    crate::controller::approval::digest::sha256_of(&serde_json::to_value(def).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DailyWhen, MonthlyWhen, WeeklyWhen};

    fn spec() -> ImmyBotScheduleSpec {
        serde_json::from_value(serde_json::json!({
            "requestedBy": "alice",
            "reason": "CHG-1",
            "target": {"tenant": {"id": 3}},
            "daily": {"time": "22:30"},
            "timeZone": "Europe/Berlin",
        }))
        .unwrap()
    }

    #[test]
    fn every_when_becomes_a_cron_expression() {
        let mut s = spec();
        assert_eq!(cron_of(&s).as_deref(), Some("30 22 * * *"));
        s.daily = None;
        s.weekly = Some(WeeklyWhen {
            days: vec![Weekday::Friday, Weekday::Monday, Weekday::Friday],
            time: "06:05".into(),
        });
        assert_eq!(cron_of(&s).as_deref(), Some("5 6 * * 1,5"));
        s.weekly = None;
        s.monthly = Some(MonthlyWhen {
            day: 15,
            time: "00:00".into(),
        });
        assert_eq!(cron_of(&s).as_deref(), Some("0 0 15 * *"));
        s.monthly = None;
        s.cron = Some("  0   3 * *  6 ".into());
        assert_eq!(cron_of(&s).as_deref(), Some("0 3 * * 6"));
        s.cron = None;
        s.daily = Some(DailyWhen { time: "7:00".into() });
        assert_eq!(cron_of(&s).as_deref(), Some("0 7 * * *"));
    }

    #[test]
    fn suspend_changes_the_definition_but_not_the_digest() {
        let s = spec();
        let mut suspended = s.clone();
        suspended.suspend = true;
        let target = ResolvedTarget::Tenant {
            id: 3,
            include_children: false,
        };
        assert_ne!(definition(&s, target), definition(&suspended, target));
        assert_eq!(approval_digest("u", &s), approval_digest("u", &suspended));
        let mut moved = s.clone();
        moved.daily = Some(DailyWhen { time: "23:30".into() });
        assert_ne!(approval_digest("u", &s), approval_digest("u", &moved));
        assert_ne!(
            approval_digest("u", &s),
            approval_digest("v", &s),
            "bound to the object"
        );
    }

    #[test]
    fn the_definition_fits_the_documents_create_request() {
        let def = definition(
            &spec(),
            ResolvedTarget::Tenant {
                id: 3,
                include_children: true,
            },
        );
        assert_eq!(
            target_of(&def),
            Some(ResolvedTarget::Tenant {
                id: 3,
                include_children: true
            })
        );
        assert_eq!(
            target_of(&definition(&spec(), ResolvedTarget::Computer(7))),
            Some(ResolvedTarget::Computer(7))
        );
        let v = serde_json::to_value(&def).unwrap();
        assert_eq!(v["targetType"], 21);
        assert_eq!(v["tenantId"], 3);
        assert_eq!(v["propagateToChildTenants"], true);
        assert_eq!(v["customCronExpression"], "30 22 * * *");
        assert_eq!(v["timeZoneInfoId"], "Europe/Berlin");
        assert_eq!(v["disabled"], false);
        assert!(v.get("time").is_none() && v.get("maintenanceType").is_none());
    }
}
