//! ImmyBot's own view of what is still out of compliance, read after
//! maintenance. Every reading of these routes' answers is here.
//!
//! GUESS (all three): what a row carries. The tenant route's items are
//! untyped (`{}`) in the document; the other two are typed as
//! `GetMaintenanceActionResponse`, but which fields a live instance fills
//! is not known. A row is kept only for its `computerId` and item
//! (`maintenanceDisplayName`, else `maintenanceIdentifier`); the rest of a
//! row (it may hold task parameters in clear text) is never kept. A row
//! without a `computerId` or an item says nothing usable and is counted as
//! `unusable`, so a caller can tell "all compliant" from "unreadable".
//! GUESS: the tenant route answers only that tenant's computers; callers
//! still match rows to the computers they targeted (a row's own fields
//! decide). `dateUtc` is never sent: nothing says what it does.

use super::{Call, ImmyBotClient};
use crate::error::ImmyBotError;

/// One item one computer still needs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NonCompliance {
    pub computer_id: i32,
    /// The item's display name where the row has one, else its identifier.
    pub item: String,
    /// The computer's name where the row has one.
    pub computer_name: Option<String>,
}

/// What a compliance route answered, read down to what is used.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComplianceRows {
    pub rows: Vec<NonCompliance>,
    /// Rows without a computer id or an item.
    pub unusable: usize,
}

fn text(row: &serde_json::Value, field: &str) -> Option<String> {
    row.get(field)
        .and_then(serde_json::Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Reads rows down to computer and item (see the module's GUESS).
pub fn read_rows(rows: Vec<serde_json::Value>) -> ComplianceRows {
    let mut out = ComplianceRows::default();
    for row in &rows {
        let computer = row
            .get("computerId")
            .and_then(serde_json::Value::as_i64)
            .and_then(|id| i32::try_from(id).ok());
        let item = text(row, "maintenanceDisplayName").or_else(|| text(row, "maintenanceIdentifier"));
        match (computer, item) {
            (Some(computer_id), Some(item)) => out.rows.push(NonCompliance {
                computer_id,
                item,
                computer_name: text(row, "computerName"),
            }),
            _ => out.unusable += 1,
        }
    }
    out.rows.sort();
    out.rows.dedup();
    out
}

impl ImmyBotClient {
    /// The latest non-compliant actions of a tenant's computers: one call
    /// for the whole tenant, however many computers it has.
    pub async fn non_compliant_in_tenant(&self, tenant_id: i32) -> Result<ComplianceRows, ImmyBotError> {
        let rows: Vec<serde_json::Value> = self
            .json(Call::get(
                "GET /api/v1/maintenance-actions/latest-non-compliant-actions-for-tenant/{tenantId}",
                format!("api/v1/maintenance-actions/latest-non-compliant-actions-for-tenant/{tenant_id}"),
            ))
            .await?;
        Ok(read_rows(rows))
    }

    /// What one computer still needs (its non-compliant actions).
    pub async fn needs_attention(&self, computer_id: i32) -> Result<ComplianceRows, ImmyBotError> {
        let rows: Vec<serde_json::Value> = self
            .json(Call::get(
                "GET /api/v1/maintenance-actions/computer/{computerId}/needs-attention",
                format!("api/v1/maintenance-actions/computer/{computer_id}/needs-attention"),
            ))
            .await?;
        Ok(read_rows(rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_are_read_down_to_computer_and_item() {
        let read = read_rows(vec![
            json!({"id": 1, "computerId": 101, "maintenanceIdentifier": "vpn"}),
            json!({"id": 2, "computerId": 102, "maintenanceDisplayName": "Legacy VPN", "maintenanceIdentifier": "vpn",
                   "computerName": "PC-2", "scriptParameters": {"password": "hunter2"}}),
            json!({"id": 3, "maintenanceIdentifier": "vpn"}),
            json!({"id": 4, "computerId": 103}),
            json!({"id": 5, "computerId": 101, "maintenanceIdentifier": "vpn"}),
        ]);
        assert_eq!(
            read.rows,
            vec![
                NonCompliance {
                    computer_id: 101,
                    item: "vpn".into(),
                    computer_name: None
                },
                NonCompliance {
                    computer_id: 102,
                    item: "Legacy VPN".into(),
                    computer_name: Some("PC-2".into())
                },
            ]
        );
        assert_eq!(read.unusable, 2, "no computer, no item");
        assert!(
            !format!("{read:?}").contains("hunter2"),
            "nothing else of a row is kept"
        );
    }
}
