//! Per-action results in the live shape: `GET {id}` without
//! `maintenanceActions`, and `GET /maintenance-actions/dx` with the filters,
//! `select`, paging, grouping and quirks live clients meet.

use immybot_client::*;

use crate::support::*;

/// A finished session of FINANCE-LT01 (Acrobat updated, Legacy VPN failed)
/// on the live-shaped simulator.
async fn finished_finance() -> (Bed, i32) {
    let bed = Bed::live().await;
    let (_, outcome) = bed.start_computers(&[FINANCE_LT], |_| {}).await;
    bed.advance(60);
    (bed, Bed::started_ids(&outcome)[0])
}

#[tokio::test]
async fn live_sessions_come_without_actions_and_the_list_has_them() {
    let (bed, id) = finished_finance().await;
    let session = bed.client.session(id, true, true).await.unwrap();
    assert_eq!(
        session.maintenance_actions, None,
        "the live shape: no actions in GET {{id}}"
    );
    let page = bed
        .client
        .find_actions(&ActionQuery {
            session_id: Some(id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let vpn = page
        .items
        .iter()
        .find(|a| a.maintenance_display_name.as_deref() == Some("Legacy VPN"))
        .unwrap();
    assert_eq!(vpn.result, Some(MaintenanceActionResult::Failed));
    assert_eq!(vpn.result_name.as_deref(), Some("Failed"));
    assert_eq!(vpn.action_type, Some(MaintenanceActionType::Install));
    assert!(vpn.created_date_utc.is_some());
    // The document's shape, as an option: the same actions embedded.
    bed.sim.state.update_shape(|s| s.actions_in_get = true);
    let embedded = bed
        .client
        .session(id, true, false)
        .await
        .unwrap()
        .maintenance_actions
        .unwrap();
    let ids = |a: &[MaintenanceAction]| {
        let mut v: Vec<(i32, Option<MaintenanceActionResult>)> = a.iter().map(|a| (a.id, a.result.clone())).collect();
        v.sort_by_key(|(id, _)| *id);
        v
    };
    assert_eq!(ids(&embedded), ids(&page.items), "GET and the list agree");
}

#[tokio::test]
async fn the_list_selects_filters_windows_and_pages() {
    let (bed, id) = finished_finance().await;
    // `select` sends only the mirrored fields; a field outside it is absent.
    let page = bed
        .client
        .find_actions(&ActionQuery {
            session_id: Some(id),
            exclude_no_action: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        page.items
            .iter()
            .all(|a| a.action_type != Some(MaintenanceActionType::NoAction))
    );
    // A window on the tenant and the creation date, one row per page.
    let mut query = ActionQuery {
        tenant_id: Some(FABRIKAM),
        created_from: Some(WireTime(
            bed.sim
                .state
                .now()
                .checked_sub(jiff::SignedDuration::from_hours(1))
                .unwrap(),
        )),
        take: 1,
        ..Default::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = bed.client.find_actions(&query).await.unwrap();
        seen.extend(page.items.iter().map(|a| a.id));
        if !page.full {
            break;
        }
        query.skip += 1;
    }
    assert_eq!(seen.len(), 2, "paged one by one: {seen:?}");
    // A window that ended before the session: nothing.
    let before = bed
        .client
        .find_actions(&ActionQuery {
            tenant_id: Some(FABRIKAM),
            created_before: Some(WireTime(
                bed.sim
                    .state
                    .now()
                    .checked_sub(jiff::SignedDuration::from_hours(1))
                    .unwrap(),
            )),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(before.items.is_empty());
    // Counted per item, server-side.
    let counts = bed
        .client
        .count_actions_by_item(&ActionQuery {
            session_id: Some(id),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut keys: Vec<(Option<String>, i64)> = counts.items.into_iter().map(|g| (g.key, g.count)).collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![(Some("Adobe Acrobat Reader".into()), 1), (Some("Legacy VPN".into()), 1)]
    );
}

#[tokio::test]
async fn the_documented_array_shape_decodes_too() {
    let (bed, id) = finished_finance().await;
    bed.sim.state.update_shape(|s| s.actions_dx_as_array = true);
    let page = bed
        .client
        .find_actions(&ActionQuery {
            session_id: Some(id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let counts = bed
        .client
        .count_actions_by_item(&ActionQuery {
            session_id: Some(id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(counts.items.len(), 2, "grouped counts in the array shape: {counts:?}");
}

#[tokio::test]
async fn iso_dates_and_or_across_sessions_are_refused_like_live_instances() {
    let bed = Bed::live().await;
    let iso = serde_json::json!(["createdDateUTC", ">=", "2026-07-07T00:00:00Z"]).to_string();
    let or = serde_json::json!([["maintenanceSessionId", "=", 1], "or", ["maintenanceSessionId", "=", 2]]).to_string();
    let client = reqwest::Client::new();
    let token = bed.token().await;
    let ask = |filter: String| {
        client
            .get(bed.sim.base_url().join("api/v1/maintenance-actions/dx").unwrap())
            .bearer_auth(&token)
            .query(&[("filter", filter)])
            .send()
    };
    assert_eq!(
        ask(iso.clone()).await.unwrap().status().as_u16(),
        400,
        "ISO dates are not known to work"
    );
    assert_eq!(
        ask(or).await.unwrap().status().as_u16(),
        500,
        "OR across session ids answers 500"
    );
    bed.sim.state.update_shape(|s| s.accept_iso_dates = true);
    assert_eq!(ask(iso).await.unwrap().status().as_u16(), 200);
}

#[tokio::test]
async fn counts_stay_right_when_an_instance_ignores_group() {
    let (bed, id) = finished_finance().await;
    let query = ActionQuery {
        session_id: Some(id),
        ..Default::default()
    };
    let sorted = |page: Page<GroupCount>| {
        let mut v: Vec<(Option<String>, i64)> = page.items.into_iter().map(|g| (g.key, g.count)).collect();
        v.sort();
        v
    };
    let grouped = sorted(bed.client.count_actions_by_item(&query).await.unwrap());
    bed.sim.state.update_shape(|s| s.actions_dx_ignores_group = true);
    let rows = sorted(bed.client.count_actions_by_item(&query).await.unwrap());
    assert_eq!(rows, grouped, "one count per row, under its display name");
}

/// A detection-only session's rows carry what the document promises of
/// them (`actionType`, `maintenanceDisplayName`) and, by default, nothing
/// a plan could lean on that a live instance may not fill: no versions, no
/// result. `detectionRowsInFull` is the other reading. A full session's
/// rows keep their versions either way.
#[tokio::test]
async fn detection_only_rows_are_thin_unless_asked_for_in_full() {
    let bed = Bed::live().await;
    let (_, outcome) = bed
        .start_computers(&[FINANCE_LT], |r| {
            r.full_maintenance = false;
            r.detection_only = true;
        })
        .await;
    bed.advance(60);
    let id = Bed::started_ids(&outcome)[0];
    let rows = |bed: &Bed| {
        let client = bed.client.clone();
        async move {
            client
                .find_actions(&ActionQuery {
                    session_id: Some(id),
                    ..Default::default()
                })
                .await
                .unwrap()
                .items
        }
    };
    let thin = rows(&bed).await;
    let vpn = thin
        .iter()
        .find(|a| a.maintenance_display_name.as_deref() == Some("Legacy VPN"))
        .expect("the planned install is a row");
    assert_eq!(vpn.action_type, Some(MaintenanceActionType::Install));
    assert_eq!(
        (&vpn.desired_version_string, &vpn.detected_version_string, &vpn.result),
        (&None, &None, &None)
    );
    bed.sim.state.update_shape(|s| s.detection_rows_in_full = true);
    let full = rows(&bed).await;
    let reader = full
        .iter()
        .find(|a| a.maintenance_display_name.as_deref() == Some("Adobe Acrobat Reader"))
        .unwrap();
    assert_eq!(
        (
            reader.detected_version_string.as_deref(),
            reader.desired_version_string.as_deref()
        ),
        (Some("2024.001"), Some("2024.004"))
    );
}
