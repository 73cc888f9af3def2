//! How the simulator moves sessions, seen through the client: stages on the
//! clock, actions and results, and the start body's options honoured.

use std::time::Duration;

use immybot_client::*;
use immybot_sim::{EngineSettings, SimConfig};

use crate::support::*;

fn action<'a>(s: &'a MaintenanceSession, name: &str) -> &'a MaintenanceAction {
    s.maintenance_actions
        .as_ref()
        .and_then(|a| a.iter().find(|a| a.maintenance_display_name.as_deref() == Some(name)))
        .unwrap_or_else(|| panic!("no action {name} in {s:?}"))
}

#[tokio::test]
async fn a_full_session_moves_through_its_stages_on_the_clock() {
    let bed = Bed::new().await;
    let (_, outcome) = bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    let id = Bed::started_ids(&outcome)[0];
    let at = |bed: &Bed| {
        let client = bed.client.clone();
        async move { client.session(id, true, true).await.unwrap() }
    };

    let s = at(&bed).await;
    assert_eq!(s.session_status, Some(SessionStatus::Created));
    assert_eq!(s.maintenance_actions.as_deref(), Some(&[][..]));

    bed.advance(1);
    let s = at(&bed).await;
    assert_eq!(s.session_status, Some(SessionStatus::Running));
    assert_eq!(s.detection_stage_status, Some(SessionStatus::Running));
    assert_eq!(s.execution_stage_status, Some(SessionStatus::Created));

    bed.advance(STAGE);
    let s = at(&bed).await;
    assert_eq!(s.detection_stage_status, Some(SessionStatus::Passed));
    assert_eq!(s.execution_stage_status, Some(SessionStatus::Running));
    let zip = action(&s, "7-Zip");
    assert_eq!(zip.action_type, Some(MaintenanceActionType::Update));
    assert_eq!(zip.status, Some(MaintenanceActionStatus::PendingExecution));
    assert_eq!(
        (
            zip.detected_version_string.as_deref(),
            zip.desired_version_string.as_deref()
        ),
        (Some("23.01"), Some("24.08"))
    );
    let chrome = action(&s, "Google Chrome");
    assert_eq!(
        (chrome.action_type.clone(), chrome.result.clone()),
        (
            Some(MaintenanceActionType::NoAction),
            Some(MaintenanceActionResult::Success)
        )
    );

    bed.advance(STAGE);
    let s = at(&bed).await;
    assert_eq!(s.inventory_stage_status, Some(SessionStatus::Running));
    assert_eq!(action(&s, "7-Zip").result, Some(MaintenanceActionResult::Success));

    bed.advance(STAGE);
    let s = at(&bed).await;
    assert_eq!(s.session_status, Some(SessionStatus::Passed));
    assert_eq!(s.stages.as_ref().map(Vec::len), Some(3));

    // The update stuck: a second run finds nothing to do.
    let (_, again) = bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    bed.advance(1 + STAGE);
    let s = bed.first_session(&again).await;
    assert_eq!(action(&s, "7-Zip").action_type, Some(MaintenanceActionType::NoAction));
}

#[tokio::test]
async fn a_failing_item_makes_the_session_partial_and_says_why() {
    let bed = Bed::new().await;
    let (_, outcome) = bed.start_computers(&[FINANCE_LT], |_| {}).await;
    bed.advance(60);
    let s = bed.first_session(&outcome).await;
    assert_eq!(s.session_status, Some(SessionStatus::PartialPassed));
    let vpn = action(&s, "Legacy VPN");
    assert_eq!(
        (vpn.action_type.clone(), vpn.result.clone()),
        (
            Some(MaintenanceActionType::Install),
            Some(MaintenanceActionResult::Failed)
        )
    );
    assert_eq!(
        vpn.result_reason_message.as_deref(),
        Some("The installer exited with code 1603")
    );
}

#[tokio::test]
async fn detection_only_detects_and_changes_nothing() {
    let bed = Bed::new().await;
    let (_, outcome) = bed
        .start_computers(&[RECEPTION_PC], |r| {
            r.full_maintenance = false;
            r.detection_only = true;
        })
        .await;
    bed.advance(1 + STAGE);
    let s = bed.first_session(&outcome).await;
    assert_eq!(s.session_status, Some(SessionStatus::Passed));
    assert_eq!(
        s.execution_stage_status, None,
        "no execution stage in detection-only mode"
    );
    assert_eq!(
        action(&s, "7-Zip").status,
        Some(MaintenanceActionStatus::PendingExecution)
    );
    // Nothing was installed: a full run still has the update to do.
    let (_, full) = bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    bed.advance(1 + STAGE);
    let s = bed.first_session(&full).await;
    assert_eq!(action(&s, "7-Zip").action_type, Some(MaintenanceActionType::Update));
}

#[tokio::test]
async fn suppressed_reboots_give_reboots_suppressed() {
    let bed = Bed::new().await;
    let (_, outcome) = bed
        .start_computers(&[DC], |r| r.reboot_preference = Some(RebootPreference::Suppress))
        .await;
    bed.advance(60);
    let s = bed.first_session(&outcome).await;
    let kb = action(&s, "Windows Update KB5044284");
    assert_eq!(kb.result_reason, Some(MaintenanceActionResultReason::RebootsSuppressed));
    assert_eq!(
        s.session_status,
        Some(SessionStatus::Failed),
        "the only action could not finish"
    );
}

#[tokio::test]
async fn offline_computers_are_skipped_or_wait_for_connection() {
    let bed = Bed::new().await;
    let (_, skipped) = bed.start_computers(&[KIOSK], |_| {}).await;
    bed.advance(2);
    let s = bed
        .client
        .session(Bed::started_ids(&skipped)[0], false, false)
        .await
        .unwrap();
    assert_eq!(s.session_status, Some(SessionStatus::Missed));

    let (_, waiting) = bed
        .start_computers(&[KIOSK], |r| {
            r.offline_behavior = Some(ComputerOfflineMaintenanceSessionBehavior::ApplyOnConnect)
        })
        .await;
    let id = Bed::started_ids(&waiting)[0];
    bed.advance(30);
    assert_eq!(
        bed.client.session(id, false, false).await.unwrap().session_status,
        Some(SessionStatus::PendingConnectivity)
    );
    bed.sim.state.with_engine(|e, _| e.set_online(KIOSK, true)).unwrap();
    bed.advance(0);
    assert_eq!(
        bed.client.session(id, false, false).await.unwrap().session_status,
        Some(SessionStatus::Running)
    );
}

#[tokio::test]
async fn a_tenant_start_covers_child_tenants_only_when_asked() {
    let bed = Bed::new().await;
    let start = |propagate: bool| StartRequest {
        tenants: Some(vec![TenantTarget { tenant_id: MSP_TENANT }]),
        propagate_to_child_tenants: propagate,
        full_maintenance: true,
        ..Default::default()
    };
    let err = bed
        .client
        .start(&start(false), StartEndpoint::Immediate)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Permanent,
        "the MSP tenant has no computers of its own: {err}"
    );
    let outcome = bed.client.start(&start(true), StartEndpoint::Immediate).await.unwrap();
    let mut computers: Vec<i32> = match outcome {
        StartOutcome::Started { started, .. } => started.iter().filter_map(|s| s.computer_id).collect(),
        other => panic!("{other:?}"),
    };
    computers.sort();
    assert_eq!(computers, vec![RECEPTION_PC, FINANCE_LT, KIOSK]);
}

#[tokio::test]
async fn the_concurrency_limit_queues_sessions_unless_skip_background_job() {
    let config = SimConfig {
        seed: fleet(),
        engine: EngineSettings {
            max_concurrent_sessions: 1,
            stage_duration: Duration::from_secs(STAGE),
            ..Default::default()
        },
        ..Default::default()
    };
    let bed = Bed::with(config, |_| {}).await;
    let (_, first) = bed.start_computers(&[RECEPTION_PC], |_| {}).await;
    let (_, second) = bed.start_computers(&[FINANCE_LT], |_| {}).await;
    let (_, urgent) = bed.start_computers(&[DC], |r| r.skip_background_job = true).await;
    bed.advance(2);
    let status = |ids: Vec<i32>| {
        let c = bed.client.clone();
        async move { c.session(ids[0], false, false).await.unwrap().session_status.unwrap() }
    };
    assert_eq!(status(Bed::started_ids(&first)).await, SessionStatus::Running);
    assert_eq!(status(Bed::started_ids(&second)).await, SessionStatus::Pending);
    assert_eq!(
        status(Bed::started_ids(&urgent)).await,
        SessionStatus::Running,
        "skipBackgroundJob bypasses the limit"
    );
    bed.advance(60);
    assert_eq!(status(Bed::started_ids(&first)).await, SessionStatus::Passed);
    assert_ne!(
        status(Bed::started_ids(&second)).await,
        SessionStatus::Pending,
        "the slot went to the waiting session"
    );
}
