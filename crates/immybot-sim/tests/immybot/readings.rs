//! The simulator's switches for what the document leaves open, each seen
//! through the client next to its default, and the ledger of destructive
//! calls the end-to-end harness checks "never twice" against.

use immybot_client::*;

use crate::support::*;

/// FINANCE-LT01's session run to its end (Legacy VPN failed): its id and
/// the failed action's id.
async fn failed_vpn(bed: &Bed) -> (i32, i32) {
    let (_, outcome) = bed.start_computers(&[FINANCE_LT], |_| {}).await;
    let id = Bed::started_ids(&outcome)[0];
    bed.advance(1 + 3 * STAGE);
    let s = bed.client.session(id, true, true).await.unwrap();
    assert_eq!(s.session_status, Some(SessionStatus::PartialPassed));
    let vpn = s
        .maintenance_actions
        .iter()
        .flatten()
        .find(|a| a.maintenance_display_name.as_deref() == Some("Legacy VPN"))
        .expect("Legacy VPN");
    assert_eq!(vpn.result, Some(MaintenanceActionResult::Failed));
    (id, vpn.id)
}

#[tokio::test]
async fn an_action_rerun_runs_in_a_session_of_its_own_by_default_and_in_place_when_asked() {
    let bed = Bed::new().await;
    let (id, vpn) = failed_vpn(&bed).await;
    bed.client.rerun_action(id, vpn).await.unwrap();
    let ledger = bed.sim.state.ledger();
    assert_eq!(ledger.len(), 2, "a new session: {ledger:?}");
    let rerun = bed.client.session(ledger[1].id, true, true).await.unwrap();
    let args = rerun.session_job_args.expect("GET carries sessionJobArgs");
    assert_eq!(args.action_id_to_rerun, Some(vpn));

    let bed = Bed::new().await;
    bed.sim.state.update_shape(|s| s.action_rerun_in_place = true);
    let (id, vpn) = failed_vpn(&bed).await;
    let before = bed.client.session(id, true, true).await.unwrap();
    let failed_end = before
        .maintenance_actions
        .iter()
        .flatten()
        .find(|a| a.id == vpn)
        .and_then(|a| a.end_time);
    bed.client.rerun_action(id, vpn).await.unwrap();
    let again = bed.client.session(id, true, true).await.unwrap();
    assert_eq!(
        again.session_status,
        Some(SessionStatus::Running),
        "the same session runs again"
    );
    let pending = again
        .maintenance_actions
        .iter()
        .flatten()
        .find(|a| a.id == vpn)
        .unwrap();
    assert_eq!(pending.result, Some(MaintenanceActionResult::Pending));
    bed.advance(2 * STAGE);
    let ended = bed.client.session(id, true, true).await.unwrap();
    assert_eq!(ended.session_status, Some(SessionStatus::PartialPassed));
    let outcome = ended
        .maintenance_actions
        .iter()
        .flatten()
        .find(|a| a.id == vpn)
        .unwrap();
    assert_eq!(outcome.result, Some(MaintenanceActionResult::Failed));
    assert!(outcome.end_time > failed_end, "a new outcome, later than the failure");
    assert_eq!(bed.sim.state.ledger().len(), 1, "no new session");
}

#[tokio::test]
async fn a_cancel_ends_the_session_at_once_or_when_its_stage_ends() {
    let bed = Bed::new().await;
    bed.sim.state.update_shape(|s| s.cancel_after_the_stage = true);
    let (_, outcome) = bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    let id = Bed::started_ids(&outcome)[0];
    bed.advance(1);
    bed.client.cancel_many(&[id]).await.unwrap();
    let s = bed.client.session(id, false, false).await.unwrap();
    assert_eq!(
        s.session_status,
        Some(SessionStatus::Running),
        "accepted, not ended yet"
    );
    bed.advance(STAGE);
    let s = bed.client.session(id, true, true).await.unwrap();
    assert_eq!(s.session_status, Some(SessionStatus::Cancelled));
    assert!(
        s.maintenance_actions
            .iter()
            .flatten()
            .all(|a| a.result != Some(MaintenanceActionResult::Pending)),
        "{s:?}"
    );
}

#[tokio::test]
async fn a_session_list_that_ignores_its_filter_answers_ended_rows_to_an_active_listing() {
    let bed = Bed::live().await;
    let (_, outcome) = bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    let id = Bed::started_ids(&outcome)[0];
    bed.advance(1 + 3 * STAGE);
    let active = bed.client.active_sessions(0, 200).await.unwrap();
    assert!(active.items.is_empty(), "the filter applies by default");
    bed.sim.state.update_shape(|s| s.sessions_dx_ignores_filter = true);
    let active = bed.client.active_sessions(0, 200).await.unwrap();
    let row = active
        .items
        .iter()
        .find(|r| r.id == id)
        .expect("the ended row is answered");
    assert_eq!(row.session_status, Some(SessionStatus::Passed));
}

#[tokio::test]
async fn updated_date_moves_on_status_changes_or_on_every_read() {
    let bed = Bed::live().await;
    let (_, outcome) = bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    let id = Bed::started_ids(&outcome)[0];
    bed.advance(2);
    let first = bed.client.session(id, false, false).await.unwrap().updated_date_utc;
    bed.advance(1);
    let second = bed.client.session(id, false, false).await.unwrap().updated_date_utc;
    assert_eq!(first, second, "nothing changed, nothing moved");
    bed.sim.state.update_shape(|s| s.updated_on_every_read = true);
    bed.advance(1);
    let third = bed.client.session(id, false, false).await.unwrap().updated_date_utc;
    assert!(third > second, "every read carries its own time");
}

#[tokio::test]
async fn the_ledger_counts_what_was_carried_out_by_intent() {
    let bed = Bed::new().await;
    let (id, vpn) = failed_vpn(&bed).await;
    bed.client.rerun_action(id, vpn).await.unwrap();
    // Refused (the computer is busy with the rerun): not carried out.
    assert!(bed.client.rerun_action(id, vpn).await.is_err());
    assert!(bed.sim.state.repeated_intents().is_empty());
    bed.advance(1 + 3 * STAGE);
    bed.client.rerun_action(id, vpn).await.unwrap();
    assert_eq!(
        bed.sim.state.repeated_intents(),
        vec![(format!("rerun action {id}/{vpn}"), 2)],
        "one action rerun twice"
    );
    let calls = bed.sim.state.destructive_calls();
    assert!(
        calls.iter().any(|c| c.status >= 400),
        "the refusal is kept with its status"
    );
}
