//! `spec.windows`: when a MaintenanceSession may start work in ImmyBot.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::Weekday;

/// A weekly time in which maintenance may start: on each of `days`, from
/// `start` for `duration`, in `timeZone`. A window may run past midnight
/// (`start: "22:00"`, `duration: 6h` ends at 04:00 the next day); `days`
/// name the day it opens. Across a daylight-saving change the start follows
/// the wall clock (a start inside the skipped hour opens when the hour
/// ends, e.g. 02:30 becomes 03:30; in the repeated hour it opens at the
/// first 02:30) and the duration is elapsed time.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceWindow {
    /// The days the window opens.
    #[schemars(length(min = 1, max = 7))]
    pub days: Vec<Weekday>,
    /// When it opens, `HH:mm` (24 h) in `timeZone`.
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub start: String,
    /// How long it stays open (e.g. `4h`, `90m`), at most a week.
    #[schemars(regex(pattern = r"^([0-9]+(m|h))+$"))]
    pub duration: String,
    /// An IANA time zone, e.g. `Europe/Berlin`.
    #[serde(default = "utc")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: String,
}

fn utc() -> String {
    "UTC".into()
}
