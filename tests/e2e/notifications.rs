//! Notifications as CloudEvents, at a receiver in the harness:
//! - while the sink takes events and answers errors, the session is not
//!   held up (it runs to its end: awaiting approval, ended with failures,
//!   compliance not reached); the operator is restarted meanwhile;
//!   once the sink accepts, every occurrence arrives, redeliveries carry
//!   the same id, and the status records them `Sent`: nothing lost, nothing
//!   new made by the restart;
//! - a rollout halted by its failure budget arrives as
//!   `rollout.halted` with the reason, structured JSON throughout.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use immybot_operator::api::{MaintenanceSession, NotificationState, Phase};
use immybot_operator::controller::notifications::Notifications;
use immybot_operator::controller::{ApprovalPolicy, Context};
use immybot_sim::FleetSeed;

use crate::harness::cloud_events::{Answer, Receiver};
use crate::harness::{Context as _, TestContext, TestFn, TestResult, simulator_of, until, wait_for};
use crate::lifecycle::{approve, create_session};

pub fn tests() -> Vec<(String, TestFn)> {
    crate::tests![
        notifications_arrive_once_per_occurrence_by_id_across_a_restart_while_the_sink_fails,
        a_halted_rollout_is_a_notification_with_its_reason,
    ]
}

const LONG: Duration = Duration::from_secs(60);

fn notifying(sink: &url::Url) -> impl FnOnce(&mut Context) {
    let mut n = Notifications::new(sink.clone(), Duration::from_secs(3600));
    // Quick retries for the test; the shape of the backoff is the same.
    n.backoff = (Duration::from_millis(100), Duration::from_millis(800));
    n.settle = Duration::from_millis(300);
    let n = Arc::new(n);
    move |ctx: &mut Context| ctx.notifications = Some(n)
}

async fn records(ctx: &TestContext, name: &str) -> Result<Vec<immybot_operator::api::NotificationRecord>, String> {
    let s = ctx.api::<MaintenanceSession>().get(name).await.ctx("get")?;
    Ok(s.status.map(|s| s.notifications).unwrap_or_default())
}

/// Deliveries per id, with each id's types (one, if every delivery of an
/// id is the same event).
fn by_id(received: &[serde_json::Value]) -> BTreeMap<String, (usize, BTreeSet<String>)> {
    let mut out: BTreeMap<String, (usize, BTreeSet<String>)> = BTreeMap::new();
    for e in received {
        let entry = out.entry(e["id"].as_str().unwrap_or_default().to_owned()).or_default();
        entry.0 += 1;
        entry.1.insert(e.to_string());
    }
    out
}

async fn notifications_arrive_once_per_occurrence_by_id_across_a_restart_while_the_sink_fails(
    ctx: TestContext,
) -> TestResult {
    let receiver = Receiver::start(Answer::RecordAndFail).await?;
    // Tenant 1's computer 10 fails an install: the session ends with failures.
    let sim = simulator_of(FleetSeed::generate(2, 12), 100).await?;
    let first = ctx
        .controller_customized(&sim, ApprovalPolicy::default(), notifying(&receiver.url))
        .await?;
    create_session(
        &ctx,
        "told",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-95", "target": {"tenant": {"id": 1}}}),
    )
    .await?;
    // The wait for an approval is told (and the sink fails it).
    wait_for("the approval notification delivered and failed", LONG, || async {
        let got = receiver.received();
        let awaiting = got
            .iter()
            .filter(|e| e["type"] == "io.immybot.maintenancesession.approval.awaiting.v1")
            .count();
        if awaiting >= 2 {
            return Ok(Some(()));
        }
        Err(format!("{awaiting} deliveries so far"))
    })
    .await?;
    // A failing sink holds nothing up: the session runs to its end.
    approve(&ctx, "told", "bob").await?;
    ctx.wait_phase("told", Phase::PartiallySucceeded, LONG).await?;
    // Awaiting approval, ended with failures, and (ImmyBot still shows the
    // failed computer needing attention) compliance not reached.
    let pending = wait_for("three occurrences recorded pending", LONG, || async {
        let r = records(&ctx, "told").await?;
        let types: Vec<&str> = r.iter().map(|r| r.type_.as_str()).collect();
        if r.len() == 3 && r.iter().all(|r| r.state == NotificationState::Pending) {
            return Ok(Some(r));
        }
        Err(format!("records {types:?}"))
    })
    .await?;
    // The operator restarts while deliveries fail; then the sink recovers.
    drop(first);
    let failed = receiver.answer(Answer::Accept);
    let _second = ctx
        .controller_customized(&sim, ApprovalPolicy::default(), notifying(&receiver.url))
        .await?;
    let sent = wait_for("every record marked sent", LONG, || async {
        let r = records(&ctx, "told").await?;
        if r.len() == 3
            && r.iter()
                .all(|r| r.state == NotificationState::Sent && r.sent_at.is_some())
        {
            return Ok(Some(r));
        }
        Err(format!(
            "{:?}",
            r.iter().map(|r| (&r.type_, r.state)).collect::<Vec<_>>()
        ))
    })
    .await?;
    let ids: BTreeSet<String> = sent.iter().map(|r| r.id.clone()).collect();
    if ids != pending.iter().map(|r| r.id.clone()).collect::<BTreeSet<_>>() {
        return Err("the restart made new records instead of sending the pending ones".into());
    }
    let received = receiver.received();
    let got = by_id(&received);
    if got.keys().cloned().collect::<BTreeSet<_>>() != ids {
        return Err(format!(
            "the receiver's ids {:?} are the occurrences' {ids:?}",
            got.keys()
        ));
    }
    for (id, (_, bodies)) in &got {
        if bodies.len() != 1 {
            return Err(format!("every delivery of {id} is the same event: {bodies:?}"));
        }
    }
    // What the sink took and failed before the restart came again after
    // it, under the same id.
    let again: BTreeSet<&str> = received[failed..].iter().filter_map(|e| e["id"].as_str()).collect();
    for e in &received[..failed] {
        let id = e["id"].as_str().unwrap_or_default();
        if !again.contains(id) {
            return Err(format!("{id} was answered an error and never delivered again"));
        }
    }
    // Once marked, a record is not sent again: a later occurrence (another
    // session waiting for approval) arrives, the earlier ids no more.
    let before = received.len();
    create_session(
        &ctx,
        "later",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-97", "target": {"computer": {"id": 1}}}),
    )
    .await?;
    wait_for("the later session's notification", LONG, || async {
        let got = receiver.received();
        let later = got.iter().any(|e| e["subject"] == "later");
        until(later, || format!("{} received", got.len()))
    })
    .await?;
    let after = receiver.received();
    if after[before..]
        .iter()
        .any(|e| ids.contains(e["id"].as_str().unwrap_or_default()))
    {
        return Err("a record marked Sent was delivered again".into());
    }
    let received: Vec<serde_json::Value> = after[..before].to_vec();
    let types: BTreeSet<String> = received
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    let want: BTreeSet<String> = [
        "io.immybot.maintenancesession.approval.awaiting.v1",
        "io.immybot.maintenancesession.endedwithfailures.v1",
        "io.immybot.maintenancesession.compliance.notreached.v1",
    ]
    .map(String::from)
    .into();
    if types != want {
        return Err(format!("types {types:?}"));
    }
    let ended = received
        .into_iter()
        .find(|e| e["type"] == "io.immybot.maintenancesession.endedwithfailures.v1")
        .ok_or("no ended event")?;
    let source = format!(
        "/apis/immybot.io/v1alpha1/namespaces/{}/maintenancesessions/told",
        ctx.namespace
    );
    if ended["specversion"] != "1.0" || ended["source"] != source.as_str() || ended["data"]["requestedBy"] != "alice" {
        return Err(format!("a CloudEvent naming the object: {ended}"));
    }
    Ok(())
}

async fn a_halted_rollout_is_a_notification_with_its_reason(ctx: TestContext) -> TestResult {
    let receiver = Receiver::start(Answer::Accept).await?;
    let sim = simulator_of(FleetSeed::generate(2, 12), 100).await?;
    let _controller = ctx
        .controller_customized(&sim, ApprovalPolicy::default(), notifying(&receiver.url))
        .await?;
    create_session(
        &ctx,
        "halting",
        serde_json::json!({"requestedBy": "alice", "reason": "CHG-96", "target": {"tenant": {"id": 1}},
                           "rollout": {"strategy": "Waves", "maxConcurrent": 5}}),
    )
    .await?;
    approve(&ctx, "halting", "bob").await?;
    ctx.wait_phase("halting", Phase::Halted, LONG).await?;
    let halted = wait_for("the halt's notification", LONG, || async {
        let got = receiver.received();
        match got
            .iter()
            .find(|e| e["type"] == "io.immybot.maintenancesession.rollout.halted.v1")
        {
            Some(e) => Ok(Some(e.clone())),
            None => Err(format!("{} received", got.len())),
        }
    })
    .await?;
    if halted["data"]["reason"] != "FailureBudgetExhausted"
        || !halted["data"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("failed")
    {
        return Err(format!("the halt says why: {halted}"));
    }
    Ok(())
}
