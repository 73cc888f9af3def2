//! `status.controls`: who used a control, shared by every kind that has
//! controls (see `approval_coverage.rs` for which fields are controls).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde::{Deserialize, Serialize};

/// The last change of one control, as the controller observed it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ControlRecord {
    /// The spec path of the control, e.g. `suspend`, `cancel`,
    /// `retry.requests`'s parent `retry`.
    pub field: String,
    /// Its value after the change, as compact JSON (at most 256 characters).
    pub value: String,
    /// Who changed it: the user the API server stamped on the change
    /// (annotation `controls.immybot.io/<field>`), the requester for a value
    /// set at creation, or `unknown` where no stamp was written (the control
    /// audit policies are not installed).
    pub by: String,
    /// When the controller observed the change.
    pub at: Time,
}
