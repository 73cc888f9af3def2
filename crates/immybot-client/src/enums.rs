//! ImmyBot's enums, as the shared API notes list them.
//!
//! ImmyBot sends enums as integers, and since 0.70 may send names instead. A
//! value we do not know (a newer ImmyBot) is kept as [`RawEnum`] rather than
//! failing the whole response: one unknown stage status must not hide a
//! session's outcome. We always serialise known values as integers, which is
//! what the OpenAPI document declares; [`super::EnumEncoding::Names`] rewrites
//! request bodies afterwards (see `start.rs`).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An enum value ImmyBot sent that this client does not know, as it came.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RawEnum {
    Int(i64),
    Name(String),
}

impl fmt::Display for RawEnum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawEnum::Int(i) => write!(f, "{i}"),
            RawEnum::Name(n) => f.write_str(n),
        }
    }
}

/// What every ImmyBot enum offers besides its variants.
pub trait WireEnum: Sized {
    /// Every known variant with its integer code and name.
    const VARIANTS: &'static [(i64, &'static str)];
    fn from_raw(raw: RawEnum) -> Self;
    /// The integer code, or `None` for an unknown name.
    fn code(&self) -> Option<i64>;
    /// The ImmyBot name, or the raw value for an unknown one.
    fn name(&self) -> Cow<'static, str>;

    /// The name for a known integer code.
    fn name_of(code: i64) -> Option<&'static str> {
        Self::VARIANTS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
    }
}

/// Decodes an integer, a name (any case) or a numeric string.
pub(crate) struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawEnum;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an enum value as an integer or a name")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawEnum, E> {
        Ok(RawEnum::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawEnum, E> {
        i64::try_from(v)
            .map(RawEnum::Int)
            .map_err(|_| E::custom("enum value out of range"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawEnum, E> {
        if v.fract() == 0.0 && v.abs() < 1e15 {
            Ok(RawEnum::Int(v as i64))
        } else {
            Err(E::custom("enum value is not an integer"))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawEnum, E> {
        Ok(match v.trim().parse::<i64>() {
            Ok(i) => RawEnum::Int(i),
            Err(_) => RawEnum::Name(v.to_owned()),
        })
    }
}

/// Resolves a raw value against a variant table.
pub(crate) fn lookup(table: &[(i64, &'static str)], raw: &RawEnum) -> Option<usize> {
    match raw {
        RawEnum::Int(i) => table.iter().position(|(c, _)| c == i),
        RawEnum::Name(n) => table.iter().position(|(_, name)| name.eq_ignore_ascii_case(n)),
    }
}

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this client does not know, kept as ImmyBot sent it.
            Unknown(RawEnum),
        }

        impl WireEnum for $name {
            const VARIANTS: &'static [(i64, &'static str)] = &[$(($code, stringify!($variant))),+];
            fn from_raw(raw: RawEnum) -> Self {
                const ALL: &[$name] = &[$($name::$variant),+];
                match lookup(Self::VARIANTS, &raw) {
                    Some(i) => ALL[i].clone(),
                    None => $name::Unknown(raw),
                }
            }
            fn code(&self) -> Option<i64> {
                match self {
                    $($name::$variant => Some($code),)+
                    $name::Unknown(RawEnum::Int(i)) => Some(*i),
                    $name::Unknown(RawEnum::Name(_)) => None,
                }
            }
            fn name(&self) -> Cow<'static, str> {
                match self {
                    $($name::$variant => Cow::Borrowed(stringify!($variant)),)+
                    $name::Unknown(raw) => Cow::Owned(raw.to_string()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.name())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match (self.code(), self) {
                    (Some(code), _) => s.serialize_i64(code),
                    (None, $name::Unknown(RawEnum::Name(n))) => s.serialize_str(n),
                    (None, other) => s.serialize_str(&other.name()),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(RawVisitor).map(Self::from_raw)
            }
        }
    };
}

wire_enum! {
    /// Where a session, or one of its stages, stands.
    SessionStatus {
        Passed = 0, Running = 1, Failed = 2, Created = 3, Cancelled = 4, Postponed = 5,
        Pending = 6, PartialPassed = 7, PendingConnectivity = 8, Missed = 9,
        MaxTrackedDevicesPerMonthExceeded = 10, PendingPreflight = 11,
        PendingEphemeralAgentConnection = 12, MaintenanceForTrackableDevicesNotAllowed = 13,
    }
}

impl SessionStatus {
    /// Whether ImmyBot will not move this session any further.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            SessionStatus::Passed
                | SessionStatus::Failed
                | SessionStatus::Cancelled
                | SessionStatus::PartialPassed
                | SessionStatus::Missed
                | SessionStatus::MaxTrackedDevicesPerMonthExceeded
                | SessionStatus::MaintenanceForTrackableDevicesNotAllowed
        )
    }
}

wire_enum! {
    /// The stages a session passes through.
    SessionStageType { Onboarding = 0, Detection = 1, Execution = 2, AgentUpdates = 3, Resolution = 4, Inventory = 5 }
}

wire_enum! {
    /// The status of one phase of a session.
    SessionPhaseStatus { Unstarted = 0, Skipped = 1, Running = 2, Succeeded = 3, Failed = 4 }
}

wire_enum! {
    /// What a session targets.
    SessionType { Cloud = 1, Computer = 2, Person = 3 }
}

wire_enum! {
    /// The kind of a session log line.
    SessionLogType { Generic = 0, Error = 1, Command = 2, CommandResult = 3, Progress = 4 }
}

wire_enum! {
    /// How reboots are handled.
    RebootPreference { Normal = 0, Suppress = 1, Prompt = 2, Force = -1 }
}

wire_enum! {
    /// What happens when a reboot prompt times out. Newer documents list a
    /// fourth value, 3, with no published name: it decodes as `Unknown(3)`.
    PromptTimeoutAction { Reboot = 0, Suppress = 1, FailSession = 2 }
}

wire_enum! {
    /// `offlineBehavior`: what a session does with offline computers.
    ComputerOfflineMaintenanceSessionBehavior { Skip = 1, ApplyOnConnect = 2 }
}

wire_enum! {
    /// Where one maintenance action stands.
    MaintenanceActionStatus {
        NotStarted = 0, Downloading = 1, PerformingAction = 2, DeterminingResult = 3, Complete = 4,
        WaitingForPrerequisite = 5, DeterminingAction = 6, Skipped = 7, PendingExecution = 8,
    }
}

wire_enum! {
    /// How one maintenance action ended.
    MaintenanceActionResult { Pending = 0, Success = 1, Failed = 2, Cancelled = 3, Indeterminable = 4, Resolved = 5 }
}

wire_enum! {
    /// What a maintenance action does.
    MaintenanceActionType {
        NoAction = 0, Install = 1, Update = 2, Uninstall = 3, Download = 4, Reinstall = 5,
        Downgrade = 6, Undetermined = 7, TaskEnforce = 8, TaskMonitor = 9, TaskAudit = 10,
    }
}

wire_enum! {
    /// Why a maintenance action ended as it did.
    MaintenanceActionResultReason {
        NoLicenseAvailable = 0, SoftwareNotFound = 1, DetectionActionFailed = 2, TaskNotFound = 3,
        TaskNotCompliant = 4, TaskCompliant = 5, TaskSetIsMissing = 6, TaskTestIsMissing = 7,
        TaskGetIsMissing = 8, SoftwareConfigurationTaskMissing = 9, TaskModeIsMissing = 10,
        DeviceOffline = 11, RebootsSuppressed = 12,
    }
}

wire_enum! {
    /// The kind of item a maintenance action maintains.
    MaintenanceType {
        GlobalSoftware = 0, LocalSoftware = 1, WindowsUpdate = 2, ChocolateySoftware = 3,
        NiniteSoftware = 4, LocalMaintenanceTask = 5, GlobalMaintenanceTask = 6, AgentUpdate = 7,
    }
}

wire_enum! {
    /// What a schedule targets (`targetType`).
    TargetType {
        All = 1, Computer = 2, Metascript = 5, Person = 7, AzureGroup = 8, TenantMetascript = 20,
        AllForTenant = 21, ProviderDeviceGroup = 22, ProviderClientGroup = 23, TenantFilterScript = 24,
        FilterScript = 25, AllTenants = 28, SpecificTenant = 29, Tag = 30, TenantTag = 31, CloudTag = 40,
        CloudProviderClientGroup = 42,
    }
}

wire_enum! {
    /// What kind of thing a schedule's target is (`targetCategory`).
    TargetCategory { Computer = 0, Tenant = 1, Person = 2 }
}

wire_enum! {
    /// Which devices of the target a schedule maintains (`targetGroupFilter`).
    TargetGroupFilter {
        All = 0, Servers = 1, Workstations = 2, PortableDevices = 3, WorkstationsAndPortableDevices = 4,
        DomainControllers = 5, PrimaryDomainControllers = 6,
    }
}

wire_enum! {
    /// `deploymentType`: where a deployment is stored. GUESS: the shared notes
    /// give no values for `DatabaseType`; ImmyBot's convention elsewhere is
    /// Global 0, Local 1. Kept here, in one place, until a document says more.
    DatabaseType { Global = 0, Local = 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_integers_names_and_numeric_strings() {
        let from_int: SessionStatus = serde_json::from_str("7").unwrap();
        let from_name: SessionStatus = serde_json::from_str("\"PartialPassed\"").unwrap();
        let from_lower: SessionStatus = serde_json::from_str("\"partialpassed\"").unwrap();
        let from_numeric_string: SessionStatus = serde_json::from_str("\"7\"").unwrap();
        for got in [from_int, from_name, from_lower, from_numeric_string] {
            assert_eq!(got, SessionStatus::PartialPassed);
        }
        let negative: RebootPreference = serde_json::from_str("-1").unwrap();
        assert_eq!(negative, RebootPreference::Force);
    }

    #[test]
    fn unknown_values_are_kept_not_rejected() {
        let int: SessionStatus = serde_json::from_str("99").unwrap();
        assert_eq!(int, SessionStatus::Unknown(RawEnum::Int(99)));
        assert_eq!(serde_json::to_string(&int).unwrap(), "99");
        let name: PromptTimeoutAction = serde_json::from_str("\"AskAgainLater\"").unwrap();
        assert_eq!(
            name,
            PromptTimeoutAction::Unknown(RawEnum::Name("AskAgainLater".into()))
        );
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"AskAgainLater\"");
        let documented_fourth: PromptTimeoutAction = serde_json::from_str("3").unwrap();
        assert_eq!(documented_fourth.code(), Some(3));
        assert!(!SessionStatus::Unknown(RawEnum::Int(99)).is_terminal());
    }

    #[test]
    fn known_values_serialise_as_integers() {
        assert_eq!(serde_json::to_string(&RebootPreference::Force).unwrap(), "-1");
        assert_eq!(serde_json::to_string(&SessionStatus::Missed).unwrap(), "9");
        assert_eq!(SessionStatus::name_of(4), Some("Cancelled"));
    }

    #[test]
    fn terminal_statuses_match_the_notes() {
        let terminal: Vec<i64> = SessionStatus::VARIANTS
            .iter()
            .map(|(c, _)| *c)
            .filter(|c| SessionStatus::from_raw(RawEnum::Int(*c)).is_terminal())
            .collect();
        assert_eq!(terminal, vec![0, 2, 4, 7, 9, 10, 13]);
    }

    #[test]
    fn rejects_what_is_not_an_enum() {
        assert!(serde_json::from_str::<SessionStatus>("{}").is_err());
        assert!(serde_json::from_str::<SessionStatus>("1.5").is_err());
    }
}
