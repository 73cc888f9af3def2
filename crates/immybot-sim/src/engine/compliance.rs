//! ImmyBot's own view of compliance after maintenance: for each computer and
//! maintenance item, the latest action of an ended session. An item is out
//! of compliance when that action was a change (not `NoAction`) that did not
//! end `Success` or `Resolved`: a failed or cancelled install, or one a
//! detection-only session found still to do. Computers never maintained
//! have no rows.

use super::*;

impl Engine {
    /// The latest action of each (computer, item) that left the item out of
    /// compliance, for the computers `of` selects (by computer and tenant
    /// id), in computer then item order.
    pub fn non_compliant(&self, of: impl Fn(i32, i32) -> bool) -> Vec<MaintenanceAction> {
        self.latest_actions(of)
            .into_values()
            .filter(|a| {
                a.action_type != Some(MaintenanceActionType::NoAction)
                    && !matches!(
                        a.result,
                        Some(MaintenanceActionResult::Success | MaintenanceActionResult::Resolved)
                    )
            })
            .collect()
    }

    /// The latest action of `identifier` on each of `computers` (compliant
    /// or not), as `latest-action-for-computers` answers.
    pub fn latest_action_for(&self, computers: &[i32], identifier: &str) -> Vec<MaintenanceAction> {
        self.latest_actions(|c, _| computers.contains(&c))
            .into_iter()
            .filter(|((_, item), _)| item == identifier)
            .map(|(_, a)| a)
            .collect()
    }

    /// Whether a tenant or a computer exists (the routes answer 404 otherwise).
    pub fn knows_tenant(&self, id: i32) -> bool {
        self.tenants.contains_key(&id)
    }

    pub fn knows_computer(&self, id: i32) -> bool {
        self.computers.contains_key(&id)
    }

    fn latest_actions(&self, of: impl Fn(i32, i32) -> bool) -> BTreeMap<(i32, String), MaintenanceAction> {
        let mut latest = BTreeMap::new();
        // Sessions in id order: a later session's action replaces an earlier one's.
        for s in self.sessions.values() {
            if !s.status.is_terminal() || !of(s.computer_id, s.tenant_id) {
                continue;
            }
            for a in &s.actions {
                let item = a
                    .maintenance_identifier
                    .clone()
                    .or_else(|| a.maintenance_display_name.clone())
                    .unwrap_or_default();
                latest.insert((s.computer_id, item), a.clone().with_names_resolved());
            }
        }
        latest
    }
}
