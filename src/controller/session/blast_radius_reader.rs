//! The shell of `Step::MeasureBlastRadius`: what ImmyBot shows of the
//! target's computers now, summarised (`blast_radius`) into the status
//! before anyone approves.
//!
//! What it costs, by target (it runs once per approval digest, and once
//! more after a tenant's approval):
//! - a tenant (with its child tenants): `blast_radius::tenant_reader`;
//! - a computer or a list: no ImmyBot call. The names are the spec's (and
//!   their resolution's); busy comes from the poller's listing of active
//!   sessions; whether each is online is not read (a call per computer
//!   before anyone approved), so they count as not described.

use std::collections::{BTreeMap, HashMap};

use kube::runtime::controller::Action;

use super::SessionContext;
use super::attempts::first_targets;
use super::start_protocol::tenant_id;
use crate::api::{MaintenanceSession, MaintenanceSessionStatus};
use crate::controller::blast_radius::tenant_reader::tenant_computers;
use crate::controller::blast_radius::{SeenComputer, summarise};
use crate::controller::error::Error;
use crate::controller::status_writer::{SessionApi, replace_status};
use immybot_client::Priority;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};

use crate::api::pilot::tenant_size_key;

pub async fn measure(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    mut status: MaintenanceSessionStatus,
    digest: String,
    counted_for: Option<String>,
) -> Result<Action, Error> {
    let busy = ctx.state.active_sessions.busy_computers();
    let (computers, tenant_names) = match (tenant_id(&obj.spec, Some(&status)), obj.spec.target.tenant.as_ref()) {
        (Some(root), Some(t)) => {
            let client = ctx.immybot.at(Priority::Ending);
            tenant_computers(&client, root, t.include_child_tenants, busy.as_ref()).await?
        }
        _ => (listed_computers(obj, &status, busy.as_ref()), BTreeMap::new()),
    };
    let mut radius = summarise(
        &computers,
        &tenant_names,
        obj.spec.offline,
        &digest,
        crate::controller::clock::stored_time(ctx.clock.now()).0,
    );
    radius.counted_for = counted_for;
    if let Some(tenant) = obj.spec.target.tenant.as_ref() {
        record_tenant_size(ctx, tenant, radius.computers).await;
    }
    status.blast_radius = Some(radius);
    // A write that changed nothing (the same count in the same second)
    // triggers nothing: look again in a second.
    replace_status(api, obj, status).await?;
    Ok(Action::requeue(std::time::Duration::from_secs(1)))
}

/// A computer or list target's computers, from the spec and the names it
/// resolved; nothing read from ImmyBot.
fn listed_computers(
    obj: &MaintenanceSession,
    status: &MaintenanceSessionStatus,
    busy: Option<&HashMap<i32, i32>>,
) -> Vec<SeenComputer> {
    let resolved = status
        .resolved_target
        .as_ref()
        .map(|r| r.computers.as_slice())
        .unwrap_or_default();
    first_targets(&obj.spec, status)
        .into_iter()
        .map(|id| SeenComputer {
            id,
            name: resolved.iter().find(|n| n.id == id).and_then(|n| n.name.clone()),
            tenant_id: None,
            online: None,
            busy: busy.map(|b| b.contains_key(&id)),
        })
        .collect()
}

/// Writes the tenant's count into the settings ConfigMap, where the pilot
/// rule's admission policy reads it (`api::pilot`), when the operator is
/// set to. A failure costs only the admission check (the controller checks
/// its own count), so it is logged, not returned.
async fn record_tenant_size(ctx: &SessionContext, tenant: &crate::api::TenantRef, computers: i32) {
    let (Some((namespace, name)), Some(key)) = (ctx.policy.pilot.settings.as_ref(), tenant_size_key(tenant)) else {
        return;
    };
    let recorded = &ctx.state.recorded_tenant_sizes;
    // A poisoned lock only loses the dedup: write again.
    let known = recorded
        .lock()
        .map(|m| m.get(&key) == Some(&computers))
        .unwrap_or(false);
    if known {
        return;
    }
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
    let patch = serde_json::json!({"data": {key.clone(): computers.to_string()}});
    match api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(_) => {
            if let Ok(mut m) = recorded.lock() {
                m.insert(key, computers);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, configmap = %name, key = %key, "could not record the tenant's count for the pilot rule");
        }
    }
}
