//! Creating the objects of a workload (as a user would: a session from
//! alice, its approval from bob through `kubectl immybot approve`), and the floor: the same creation followed
//! by the API-server writes the operator cannot avoid per session, done by a
//! bare client as fast as it can at the same concurrency.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::{StreamExt as _, TryStreamExt as _};
use immybot_operator::api::{MaintenanceApproval, MaintenanceSession};
use immybot_operator::controller::{ApprovalDigest, FINALIZER};
use kube::api::{Api, Patch, PatchParams, PostParams};

/// What one object targets.
#[derive(Clone, Copy)]
pub enum Target {
    Computer(i32),
    Tenant(i32),
}

pub fn name(i: usize) -> String {
    format!("s-{i:05}")
}

/// The shard label `--shards N` gives object `i` (none for one shard: the
/// operator then serves every object, as an unsharded install does).
pub fn shard_of(i: usize, shards: usize) -> Option<String> {
    (shards > 1).then(|| format!("s{}", i % shards))
}

fn session(name: &str, target: Target, shard: Option<String>) -> anyhow::Result<MaintenanceSession> {
    let target = match target {
        Target::Computer(id) => serde_json::json!({"computer": {"id": id}}),
        Target::Tenant(id) => serde_json::json!({"tenant": {"id": id}}),
    };
    // The label the admission policy would give (the bench's API server
    // runs without admission policies).
    let labels: serde_json::Map<String, serde_json::Value> = shard
        .map(|s| (immybot_operator::api::SHARD_LABEL.to_owned(), s.into()))
        .into_iter()
        .collect();
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSession",
        "metadata": {"name": name, "labels": labels},
        "spec": {"requestedBy": "alice", "reason": "bench", "target": target},
    }))?)
}

/// Creates one session and (with `approve`) bob's approval of it.
async fn create_one(
    client: &kube::Client,
    ns: &str,
    name: &str,
    target: Target,
    shard: Option<String>,
    approve: bool,
) -> anyhow::Result<()> {
    let sessions: Api<MaintenanceSession> = Api::namespaced(client.clone(), ns);
    let created = sessions
        .create(&PostParams::default(), &session(name, target, shard)?)
        .await
        .with_context(|| format!("creating {name}"))?;
    if !approve {
        return Ok(());
    }
    let uid = created.metadata.uid.clone().unwrap_or_default();
    // The digest of the spec as stored (after the schema's defaults).
    let digest = ApprovalDigest::of(&uid, &created.spec).to_string();
    let approval: MaintenanceApproval = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
        // As `kubectl immybot approve` writes it: owned by the session, so
        // the operator has no ownership to add.
        "metadata": {"name": format!("{name}-ok"), "ownerReferences": [{
            "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSession", "name": name, "uid": uid,
        }]},
        "spec": {"sessionName": name, "sessionUid": uid, "digest": digest, "approver": "bob"},
    }))?;
    Api::<MaintenanceApproval>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &approval)
        .await
        .with_context(|| format!("approving {name}"))?;
    Ok(())
}

/// Creates every object, `concurrency` at a time, spread over `shards`.
pub async fn create_all(
    client: &kube::Client,
    ns: &str,
    targets: &[Target],
    approve: bool,
    concurrency: usize,
    shards: usize,
) -> anyhow::Result<()> {
    futures::stream::iter(targets.iter().enumerate())
        .map(|(i, t)| async move { create_one(client, ns, &name(i), *t, shard_of(i, shards), approve).await })
        .buffer_unordered(concurrency)
        .try_collect::<()>()
        .await
}

/// The writes the operator must make per session, whatever its design:
/// adding its finalizer, recording the start intent before calling ImmyBot
/// (crash safety), recording the session ids ImmyBot answered, and the final
/// phase. Events, approval ownership and intermediate progress are extra.
pub const FLOOR_WRITES: [&str; 4] = [
    "PATCH metadata.finalizers",
    "PUT status (start intent)",
    "PUT status (session ids)",
    "PUT status (final phase)",
];

/// Creation plus the floor writes, by a bare client in namespace `ns`.
pub async fn floor(
    client: &kube::Client,
    ns: &str,
    targets: &[Target],
    concurrency: usize,
) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    futures::stream::iter(targets.iter().enumerate())
        .map(|(i, t)| async move {
            let name = name(i);
            create_one(client, ns, &name, *t, None, true).await?;
            let api: Api<MaintenanceSession> = Api::namespaced(client.clone(), ns);
            let patch = serde_json::json!({"metadata": {"finalizers": [FINALIZER]}});
            let mut obj = api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
            for status in [
                serde_json::json!({"phase": "Starting", "immybot": {"instance": "http://bench/", "attempts": [attempt(i, false)]}}),
                serde_json::json!({"phase": "Running", "immybot": {"instance": "http://bench/", "attempts": [attempt(i, true)]}}),
                serde_json::json!({"phase": "Succeeded", "immybot": {"instance": "http://bench/", "attempts": [attempt(i, true)]}}),
            ] {
                let mut next = obj.clone();
                next.status = Some(serde_json::from_value(status)?);
                next.metadata.managed_fields = None;
                obj = api.replace_status(&name, &PostParams::default(), &next).await?;
            }
            anyhow::Ok(())
        })
        .buffer_unordered(concurrency)
        .try_collect::<()>()
        .await?;
    Ok(t0.elapsed())
}

/// An attempt as the operator records it: the intent, then with the ids.
fn attempt(i: usize, answered: bool) -> serde_json::Value {
    let mut a = serde_json::json!({
        "number": 1,
        "sessionGroupId": uuid::Uuid::new_v4().to_string(),
        "intentTime": "2026-11-24T09:00:00Z",
        "computerIds": [i],
    });
    if answered {
        a["sessionIds"] = serde_json::json!([i]);
    }
    a
}
