//! Admission on the real API server, with impersonated users: an approval
//! cannot be forged, a request cannot be made in someone else's name.

use immybot_operator::api::{ImmyBotSchedule, MaintenanceApproval, MaintenanceSession};
use kube::api::{Patch, PatchParams, PostParams};

use crate::harness::{Context as _, TestContext, TestFn, TestResult};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        an_approval_in_someone_elses_name_is_refused,
        a_request_in_someone_elses_name_is_refused,
        users_without_rbac_cannot_approve,
        only_the_requester_changes_what_a_schedule_does,
    ]
}

fn approval(approver: &str) -> Result<MaintenanceApproval, String> {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
        "metadata": {"name": format!("by-{approver}")},
        "spec": {"sessionName": "patch", "sessionUid": "0b5c0000-0000-4000-8000-000000000001", "digest": format!("sha256:{}", "a".repeat(64)), "approver": approver},
    }))
    .ctx("approval fixture")
}

fn session(requester: &str) -> Result<MaintenanceSession, String> {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSession",
        "metadata": {"name": format!("for-{requester}")},
        "spec": {"requestedBy": requester, "reason": "CHG-13", "target": {"computer": {"id": 101}}},
    }))
    .ctx("session fixture")
}

async fn an_approval_in_someone_elses_name_is_refused(ctx: TestContext) -> TestResult {
    let as_bob = ctx.api_as::<MaintenanceApproval>("bob").await?;
    match as_bob.create(&PostParams::default(), &approval("carol")?).await {
        Err(kube::Error::Api(s))
            if s.message
                .contains("spec.approver must be the user creating this approval (bob), not carol") => {}
        other => return Err(format!("bob approving as carol must be refused, got {other:?}")),
    }
    as_bob
        .create(&PostParams::default(), &approval("bob")?)
        .await
        .ctx("bob approving as bob")?;
    Ok(())
}

async fn a_request_in_someone_elses_name_is_refused(ctx: TestContext) -> TestResult {
    let as_mallory = ctx.api_as::<MaintenanceSession>("mallory").await?;
    match as_mallory.create(&PostParams::default(), &session("alice")?).await {
        Err(kube::Error::Api(s))
            if s.message
                .contains("spec.requestedBy must be the user creating this session (mallory), not alice") => {}
        other => return Err(format!("mallory requesting as alice must be refused, got {other:?}")),
    }
    as_mallory
        .create(&PostParams::default(), &session("mallory")?)
        .await
        .ctx("mallory requesting as mallory")?;
    Ok(())
}

async fn users_without_rbac_cannot_approve(ctx: TestContext) -> TestResult {
    // Impersonated without the test users' group: no role grants anything.
    let outsider = {
        let client = ctx.client_as_outsider("eve").await?;
        kube::Api::<MaintenanceApproval>::namespaced(client, &ctx.namespace)
    };
    match outsider.create(&PostParams::default(), &approval("eve")?).await {
        Err(kube::Error::Api(s)) if s.code == 403 => Ok(()),
        other => Err(format!("a user without RBAC must get 403, got {other:?}")),
    }
}

/// Otherwise someone with edit rights could change what an ImmyBotSchedule
/// does and then approve it themselves (they are not its requester).
async fn only_the_requester_changes_what_a_schedule_does(ctx: TestContext) -> TestResult {
    let schedule: ImmyBotSchedule = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "ImmyBotSchedule",
        "metadata": {"name": "nightly"},
        "spec": {"requestedBy": "alice", "reason": "CHG-14", "target": {"tenant": {"id": 2}},
                 "daily": {"time": "22:30"}, "timeZone": "Europe/Berlin"},
    }))
    .ctx("schedule fixture")?;
    ctx.api_as::<ImmyBotSchedule>("alice")
        .await?
        .create(&PostParams::default(), &schedule)
        .await
        .ctx("alice creates")?;
    let as_bob = ctx.api_as::<ImmyBotSchedule>("bob").await?;
    let retarget = serde_json::json!({"spec": {"target": {"tenant": {"id": 3}}}});
    match as_bob
        .patch("nightly", &PatchParams::default(), &Patch::Merge(&retarget))
        .await
    {
        Err(kube::Error::Api(s)) if s.message.contains("only the requester (alice) may change") => {}
        other => {
            return Err(format!(
                "bob retargeting alice's schedule must be refused, got {other:?}"
            ));
        }
    }
    // The controls stay open.
    as_bob
        .patch(
            "nightly",
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"suspend": true}})),
        )
        .await
        .ctx("bob suspends")?;
    ctx.api_as::<ImmyBotSchedule>("alice")
        .await?
        .patch("nightly", &PatchParams::default(), &Patch::Merge(&retarget))
        .await
        .ctx("alice retargets her own schedule")?;
    Ok(())
}
