//! The names people see for the operator's enums: in messages, events,
//! metrics labels, logs and the plugin's tables, exactly as they are
//! written in a manifest (the serde names the CRDs carry). One place, so
//! that nothing shows a Rust `Debug` form; a test checks each name against
//! the type's own serialisation.

use super::*;

/// `as_str()` and `Display` for enums whose serde names are their variant
/// names.
macro_rules! names {
    ($($ty:ident { $($variant:ident),* $(,)? })*) => {
        $(
            impl $ty {
                /// The name as written in a manifest.
                pub fn as_str(self) -> &'static str {
                    match self {
                        $($ty::$variant => stringify!($variant),)*
                    }
                }

                #[cfg(test)]
                const ALL: &'static [$ty] = &[$($ty::$variant),*];
            }

            impl std::fmt::Display for $ty {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str(self.as_str())
                }
            }
        )*

        #[cfg(test)]
        mod tests {
            use super::*;

            #[test]
            fn every_name_is_the_one_a_manifest_carries() {
                $(
                    for v in $ty::ALL {
                        assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(v.as_str()), "{}", stringify!($ty));
                    }
                )*
            }
        }
    };
}

names! {
    Weekday { Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday }
    DeviceFilter { All, Servers, Workstations, PortableDevices, WorkstationsAndPortableDevices, DomainControllers, PrimaryDomainControllers }
    MaintenanceItemType { GlobalSoftware, LocalSoftware, ChocolateySoftware, NiniteSoftware, LocalMaintenanceTask, GlobalMaintenanceTask }
    ScheduleDeletionPolicy { Delete, Orphan }
    DriftPolicy { Correct, Report }
    ApprovedKind { MaintenanceSession, ImmyBotSchedule, MaintenanceSchedule }
    ConnectionKind { ImmyBotConnection, ClusterImmyBotConnection }
    ConcurrencyPolicy { Allow, Forbid, Replace }
    DeploymentType { Local, Global }
    DeletionPolicy { Cancel, Orphan }
    SessionMode { Full, DetectionOnly, ResolutionOnly, InventoryOnly }
    PromptTimeoutAction { Reboot, Suppress, FailSession }
    RebootPolicy { Never, IfRequired, Always, Prompt }
    OfflineBehavior { Skip, ApplyOnConnect }
    SessionPriority { Normal, High }
    Phase { Pending, AwaitingApproval, WaitingForWindow, Suspended, Starting, Queued, Running, Postponed, Halted, Succeeded, PartiallySucceeded, Failed, Cancelled, TimedOut }
    RolloutStrategy { AllAtOnce, Waves }
}

/// `text` as a fragment of a Kubernetes object name: ASCII letters and
/// digits lowercased, everything else a dash (`system:serviceaccount:x:y`
/// -> `system-serviceaccount-x-y`). Callers trim and cut it to their
/// length.
pub fn name_slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}
