//! The MaintenanceSession controller. The core decides and has no
//! Kubernetes or HTTP client (`state_machine`, `approval`, `status_mapping`,
//! `start_request`, `digest`, `group_id`); a thin shell performs what it
//! decides.

mod approval;
mod conditions;
mod digest;
mod group_id;
mod start_request;
mod state_machine;
mod status_mapping;

pub use approval::{ApprovalMethod, ApprovalPolicy, Verdict, evaluate as evaluate_approval};
pub use digest::ApprovalDigest;
pub use group_id::SessionGroupId;
pub use start_request::{StartTargets, start_request};
pub use state_machine::{Decision, Observed, Step, decide, needs_resolution, parse_duration};
pub use status_mapping::{Aggregate, Mapped, log_tail, map_sessions};
