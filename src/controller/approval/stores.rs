//! Where approvals are read from: the store the one approval watch fills
//! (`watch.rs`), and the MaintenanceSchedules whose standing approvals may
//! cover a run (filled by that kind's watch).

use crate::api::{ApprovedKind, MaintenanceApproval, MaintenanceSchedule};
use crate::controller::store_slot::StoreSlot;

/// The stores approvals are judged from.
#[derive(Default)]
pub struct Approvals {
    /// Every MaintenanceApproval in scope, as the approval watch keeps them.
    pub approvals: StoreSlot<MaintenanceApproval>,
    /// The MaintenanceSchedules, as their controller's watch keeps them (a
    /// run's standing approval is checked against its schedule).
    pub schedules: StoreSlot<MaintenanceSchedule>,
}

impl Approvals {
    /// The approvals in `namespace` that name the `kind` object `name`,
    /// once the store has synced.
    pub fn naming_kind(&self, kind: ApprovedKind, namespace: &str, name: &str) -> Option<Vec<MaintenanceApproval>> {
        self.approvals.select(|a| {
            a.metadata.namespace.as_deref() == Some(namespace) && a.spec.session_name == name && a.spec.kind == kind
        })
    }
}
