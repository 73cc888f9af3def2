//! Every client call against the simulator, with the answers it must decode.

use immybot_client::*;
use immybot_sim::StartResponseShape;

use crate::support::*;

#[tokio::test]
async fn start_returns_sessions_and_they_echo_the_group_id() {
    let bed = Bed::new().await;
    let (group, outcome) = bed.start_computers(&[RECEPTION_PC, FINANCE_LT], |_| {}).await;
    let ids = Bed::started_ids(&outcome);
    assert_eq!(ids.len(), 2);
    for id in ids {
        let s = bed.client.session(id, false, false).await.unwrap();
        assert_eq!(s.session_group_id(), Some(group));
        assert_eq!(s.session_status, Some(SessionStatus::Created));
    }
}

#[tokio::test]
async fn a_busy_computer_is_reported_not_started_twice() {
    let bed = Bed::new().await;
    let (_, first) = bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    let first_id = Bed::started_ids(&first)[0];
    let (_, second) = bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    match second {
        StartOutcome::AllAlreadyInProgress(busy) => assert_eq!(busy[0].session_id, first_id),
        other => panic!("expected AllAlreadyInProgress, got {other:?}"),
    }
    let (_, mixed) = bed.start_computers(&[RECEPTION_PC, FINANCE_LT], |_| {}).await;
    match mixed {
        StartOutcome::Started {
            started,
            already_in_progress,
        } => {
            assert_eq!(started.len(), 1);
            assert_eq!(started[0].computer_id, Some(FINANCE_LT));
            assert_eq!(already_in_progress[0].session_id, first_id);
        }
        other => panic!("expected one started and one busy, got {other:?}"),
    }
    assert_eq!(bed.sim.state.ledger().len(), 2, "exactly two sessions exist");
}

#[tokio::test]
async fn every_start_response_shape_decodes() {
    let bed = Bed::new().await;
    bed.sim.state.set_start_shape(StartResponseShape::IdOnly);
    let (_, outcome) = bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    let ledger = bed.sim.state.ledger();
    assert_eq!(Bed::started_ids(&outcome), vec![ledger[0].id]);

    bed.sim.state.set_start_shape(StartResponseShape::Empty);
    let (group, outcome) = bed.start_computers(&[FINANCE_LT], |_| {}).await;
    assert_eq!(outcome, StartOutcome::Accepted);
    // No id came back: the sessions are found through dx and the group id.
    let found = bed
        .sessions_of_group(
            SessionQuery {
                computer_id: Some(FINANCE_LT),
                ..Default::default()
            },
            group,
        )
        .await;
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn queued_start_with_a_group_id_answers_202_and_is_found_through_dx() {
    let bed = Bed::new().await;
    let group = uuid::Uuid::new_v4();
    let request = StartRequest {
        tenants: Some(vec![TenantTarget { tenant_id: NORTHWIND }]),
        session_group_id: Some(group),
        full_maintenance: true,
        ..Default::default()
    };
    let outcome = bed.client.start(&request, StartEndpoint::Queued).await.unwrap();
    assert_eq!(outcome, StartOutcome::Accepted);
    assert_eq!(bed.calls("POST /api/v1/run-immy-service-new"), 1);
    let query = SessionQuery {
        tenant_id: Some(NORTHWIND),
        ..Default::default()
    };
    let page = bed.client.find_sessions(&query).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].computer_id, Some(DC));
    assert_eq!(
        page.items[0].session_group_id(),
        None,
        "dx rows are untyped: no sessionJobArgs by default"
    );
    assert_eq!(
        bed.sessions_of_group(query.clone(), group).await,
        vec![page.items[0].id]
    );
    // The generous reading, as an option: rows that do carry it.
    bed.sim.state.update_shape(|s| s.dx_rows_with_job_args = true);
    let page = bed.client.find_sessions(&query).await.unwrap();
    assert_eq!(page.items[0].session_group_id(), Some(group));
}

#[tokio::test]
async fn find_sessions_filters_by_status_and_creation_time_newest_first() {
    let bed = Bed::new().await;
    let (_, a) = bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    bed.advance(2);
    let cutoff = WireTime(bed.sim.state.now());
    let (_, b) = bed.start_computers(&[FINANCE_LT], |_| {}).await;
    let (a, b) = (Bed::started_ids(&a)[0], Bed::started_ids(&b)[0]);

    let all = bed.client.find_sessions(&SessionQuery::default()).await.unwrap();
    assert_eq!(
        all.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![b, a],
        "newest first"
    );
    assert!(!all.full);

    let recent = bed
        .client
        .find_sessions(&SessionQuery {
            created_after: Some(cutoff),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(recent.items.iter().map(|s| s.id).collect::<Vec<_>>(), vec![b]);

    // a is Running (it left Created after 1 s), b is still Created.
    let running = bed
        .client
        .find_sessions(&SessionQuery {
            statuses: vec![SessionStatus::Running],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(running.items.iter().map(|s| s.id).collect::<Vec<_>>(), vec![a]);
}

#[tokio::test]
async fn active_sessions_page_with_skip_and_take() {
    let bed = Bed::new().await;
    bed.start_computers(&[RECEPTION_PC, FINANCE_LT, DC], |_| {}).await;
    let first = bed.client.active_sessions(0, 2).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert!(first.full, "a full page means there may be more");
    let second = bed.client.active_sessions(2, 2).await.unwrap();
    assert_eq!(second.items.len(), 1);
    assert!(!second.full);
    let mut ids: Vec<i32> = first.items.iter().chain(&second.items).map(|s| s.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    // A finished session is not active.
    bed.advance(60);
    assert!(
        bed.client
            .active_sessions(0, 50)
            .await
            .unwrap()
            .items
            .iter()
            .all(|s| s.computer_id == Some(DC))
    );
}

#[tokio::test]
async fn status_counts_count_sessions_by_status() {
    let bed = Bed::new().await;
    bed.start_computers(&[RECEPTION_PC, FINANCE_LT], |_| {}).await;
    bed.advance(60);
    bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    let counts = bed.client.status_counts().await.unwrap();
    let map = counts.counts.unwrap();
    assert_eq!(map.get("Passed"), Some(&1));
    assert_eq!(map.get("PartialPassed"), Some(&1));
    assert_eq!(map.get("Created"), Some(&1));
    assert_eq!(counts.total, 3.0);
}

#[tokio::test]
async fn phases_logs_and_last_log() {
    let bed = Bed::new().await;
    let (_, outcome) = bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    let id = Bed::started_ids(&outcome)[0];
    assert_eq!(bed.client.phases(id).await.unwrap().len(), 0, "nothing has run yet");
    bed.advance(1 + STAGE + 1);
    let phases = bed.client.phases(id).await.unwrap();
    assert_eq!(phases.len(), 2);
    assert_eq!(phases[0].status, Some(SessionPhaseStatus::Succeeded));
    assert_eq!(phases[1].status, Some(SessionPhaseStatus::Running));
    let logs = bed.client.logs(id).await.unwrap();
    assert!(
        logs.iter()
            .any(|l| l.message.as_deref() == Some("7-Zip: detected 23.01, desired 24.08")),
        "{logs:?}"
    );
    let last = bed.client.last_log(id).await.unwrap().unwrap();
    assert_eq!(last.id, logs.last().unwrap().id);
}

#[tokio::test]
async fn cancel_one_with_get_and_many_with_post() {
    let bed = Bed::new().await;
    let (_, outcome) = bed.start_computers(&[RECEPTION_PC, FINANCE_LT, DC], |_| {}).await;
    let ids = Bed::started_ids(&outcome);
    bed.advance(3);
    bed.client.cancel(ids[0]).await.unwrap();
    assert_eq!(bed.calls("GET /api/v1/maintenance-sessions/{sessionId}/cancel"), 1);
    bed.client.cancel_many(&ids[1..]).await.unwrap();
    assert_eq!(bed.calls("POST /api/v1/maintenance-sessions/cancel"), 1);
    for id in ids {
        let s = bed.client.session(id, true, true).await.unwrap();
        assert_eq!(s.session_status, Some(SessionStatus::Cancelled), "session {id}");
        assert!(
            s.maintenance_actions
                .unwrap()
                .iter()
                .all(|a| a.result != Some(MaintenanceActionResult::Pending))
        );
    }
    // Cancelling a finished session again is harmless.
    bed.client.cancel(Bed::started_ids(&outcome)[0]).await.unwrap();
}

#[tokio::test]
async fn resume_a_postponed_session_and_rerun_sessions_and_actions() {
    let bed = Bed::new().await;
    let (_, outcome) = bed
        .start_computers(&[DC], |r| r.reboot_preference = Some(RebootPreference::Prompt))
        .await;
    let id = Bed::started_ids(&outcome)[0];
    bed.advance(1 + 2 * STAGE);
    assert_eq!(
        bed.client.session(id, false, false).await.unwrap().session_status,
        Some(SessionStatus::Postponed)
    );
    let err = bed.client.cancel(999_999).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    bed.client.resume(id).await.unwrap();
    bed.advance(STAGE);
    assert_eq!(
        bed.client.session(id, false, false).await.unwrap().session_status,
        Some(SessionStatus::Passed)
    );
    let resume_again = bed.client.resume(id).await.unwrap_err();
    assert_eq!(resume_again.kind(), ErrorKind::Permanent, "{resume_again}");

    let rerun_id = bed.client.rerun(id).await.unwrap();
    assert_ne!(rerun_id, id);
    assert_eq!(
        bed.client.session(rerun_id, false, false).await.unwrap().computer_id,
        Some(DC)
    );
    bed.advance(60);

    let (_, outcome) = bed.start_computers(&[FINANCE_LT], |_| {}).await;
    let finance = Bed::started_ids(&outcome)[0];
    bed.advance(60);
    let failed = bed.client.session(finance, true, false).await.unwrap();
    let vpn = failed
        .maintenance_actions
        .unwrap()
        .into_iter()
        .find(|a| a.result == Some(MaintenanceActionResult::Failed))
        .unwrap();
    bed.client.rerun_action(finance, vpn.id).await.unwrap();
    let newest = bed
        .client
        .find_sessions(&SessionQuery {
            computer_id: Some(FINANCE_LT),
            ..Default::default()
        })
        .await
        .unwrap();
    // dx rows are untyped: the rerun's arguments come from GET {id}.
    let rerun = bed.client.session(newest.items[0].id, false, false).await.unwrap();
    let args = rerun.session_job_args.clone().unwrap();
    assert!(args.rerunning_action);
    assert_eq!(args.action_id_to_rerun, Some(vpn.id));
    let logs = bed.client.action_logs(vpn.id).await.unwrap();
    assert!(logs.iter().any(|l| l.message.contains("1603")), "{logs:?}");
}

#[tokio::test]
async fn computer_and_tenant_look_ups_by_id_and_by_name() {
    let bed = Bed::new().await;
    let c = bed.client.computer(RECEPTION_PC).await.unwrap();
    assert_eq!(
        (c.computer_name.as_deref(), c.tenant_id),
        (Some("RECEPTION-PC"), FABRIKAM)
    );
    let named = bed.client.computers_named("reception-pc").await.unwrap();
    assert_eq!(named.iter().map(|c| c.id).collect::<Vec<_>>(), vec![RECEPTION_PC]);
    assert!(bed.client.computers_named("NO-SUCH-PC").await.unwrap().is_empty());
    assert_eq!(bed.client.computer(4242).await.unwrap_err().kind(), ErrorKind::NotFound);

    let t = bed.client.tenant(FABRIKAM).await.unwrap();
    assert_eq!(
        (t.name.as_deref(), t.parent_tenant_id),
        (Some("Fabrikam"), Some(MSP_TENANT))
    );
    assert_eq!(bed.client.tenants().await.unwrap().len(), 5);
    assert_eq!(bed.client.tenants_named("northwind").await.unwrap()[0].id, NORTHWIND);
    assert_eq!(bed.client.tenant(99).await.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn enum_names_encoding_is_understood() {
    let bed = Bed::with(
        immybot_sim::SimConfig {
            seed: fleet(),
            ..Default::default()
        },
        |c| c.enum_encoding = EnumEncoding::Names,
    )
    .await;
    let (_, outcome) = bed
        .start_computers(&[RECEPTION_PC], |r| r.reboot_preference = Some(RebootPreference::Force))
        .await;
    let sent = bed.sim.state.bodies("POST /api/v1/run-immy-service");
    assert_eq!(sent[0]["rebootPreference"], "Force", "names on the wire: {}", sent[0]);
    let s = bed
        .client
        .session(Bed::started_ids(&outcome)[0], false, false)
        .await
        .unwrap();
    assert_eq!(
        s.session_job_args.unwrap().reboot_preference,
        Some(RebootPreference::Force)
    );
}
