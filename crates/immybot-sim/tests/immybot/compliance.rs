//! ImmyBot's compliance routes after maintenance, read by the client: the
//! thin rows the evidence allows by default (`id`, `computerId`,
//! `maintenanceIdentifier`), whole rows as the other reading, the same
//! computers and items either way.

use immybot_client::*;

use crate::support::*;

/// RECEPTION-PC (7-Zip updated, Chrome compliant) and FINANCE-LT01
/// (Acrobat updated, Legacy VPN failed), maintained and ended.
async fn maintained() -> Bed {
    let bed = Bed::live().await;
    bed.start_computers(&[RECEPTION_PC, FINANCE_LT], |_| {}).await;
    bed.advance(60);
    bed
}

fn pairs(read: &ComplianceRows) -> Vec<(i32, String)> {
    read.rows.iter().map(|r| (r.computer_id, r.item.clone())).collect()
}

#[tokio::test]
async fn what_failed_is_still_out_of_compliance_in_either_reading() {
    let bed = maintained().await;
    // Thin rows: the item by its identifier, no names.
    let tenant = bed.client.non_compliant_in_tenant(FABRIKAM).await.unwrap();
    assert_eq!(tenant.unusable, 0);
    assert_eq!(tenant.rows.len(), 1, "only the failed VPN: {tenant:?}");
    assert_eq!(tenant.rows[0].computer_id, FINANCE_LT);
    assert_eq!(tenant.rows[0].computer_name, None, "thin rows carry no names");
    let thin_item = tenant.rows[0].item.clone();
    assert_eq!(bed.client.needs_attention(FINANCE_LT).await.unwrap(), tenant);
    assert!(bed.client.needs_attention(RECEPTION_PC).await.unwrap().rows.is_empty());
    // Whole rows: the display name and the computer's name.
    bed.sim.state.update_shape(|s| s.compliance_rows_in_full = true);
    let full = bed.client.non_compliant_in_tenant(FABRIKAM).await.unwrap();
    assert_eq!(pairs(&full), vec![(FINANCE_LT, "Legacy VPN".to_string())]);
    assert_eq!(full.rows[0].computer_name.as_deref(), Some("FINANCE-LT01"));
    assert_ne!(
        thin_item, "Legacy VPN",
        "the thin reading names the item by its identifier"
    );
    // One call per tenant, one per computer: nothing else was asked.
    assert_eq!(
        bed.calls("GET /api/v1/maintenance-actions/latest-non-compliant-actions-for-tenant/{tenantId}"),
        2
    );
    assert_eq!(
        bed.calls("GET /api/v1/maintenance-actions/computer/{computerId}/needs-attention"),
        2
    );
}

#[tokio::test]
async fn a_tenant_nobody_maintained_has_nothing_and_unknown_ids_are_not_found() {
    let bed = maintained().await;
    assert!(
        bed.client
            .non_compliant_in_tenant(NORTHWIND)
            .await
            .unwrap()
            .rows
            .is_empty()
    );
    let missing = bed.client.non_compliant_in_tenant(999).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
    let missing = bed.client.needs_attention(999).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing}");
}

#[tokio::test]
async fn a_later_success_makes_an_item_compliant_again() {
    let bed = maintained().await;
    // The VPN is fixed in ImmyBot's catalogue, and the computer maintained again.
    bed.sim
        .state
        .with_engine(|e, _| e.set_behaviour(FINANCE_LT, "Legacy VPN", immybot_sim::SoftwareBehaviour::Succeeds))
        .unwrap();
    bed.start_computers(&[FINANCE_LT], |_| {}).await;
    bed.advance(60);
    assert!(bed.client.needs_attention(FINANCE_LT).await.unwrap().rows.is_empty());
}
