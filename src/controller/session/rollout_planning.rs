//! The shell of `Step::PlanRollout`: finds the target's computers once (a
//! tenant's from ImmyBot, with its child tenants' when it includes them, a
//! list's from the spec and its resolved names),
//! has `rollout::plan` order them into waves, and records the plan. A plan
//! that cannot be made stalls with what to fix; nothing starts.

use std::time::Duration;

use kube::runtime::controller::Action;

use super::SessionContext;
use super::attempts::first_targets;
use super::rollout::{self, Candidate};
use super::start_protocol::tenant_id;
use crate::api::{MaintenanceSession, MaintenanceSessionStatus, NamedId};
use crate::controller::blast_radius::tenant_reader::read_tree;
use crate::controller::conditions::{self, READY, RECONCILING, STALLED};
use crate::controller::error::Error;
use crate::controller::status_writer::{SessionApi, replace_status};
use immybot_client::Priority;

pub async fn plan(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    mut status: MaintenanceSessionStatus,
) -> Result<Action, Error> {
    let Some(spec) = obj.spec.rollout.as_ref() else {
        return Ok(Action::await_change());
    };
    let children = obj.spec.target.tenant.as_ref().is_some_and(|t| t.include_child_tenants);
    let planned = match (tenant_id(&obj.spec, Some(&status)), children) {
        (Some(root), true) => match tree_candidates(ctx, root).await? {
            Ok((candidates, tenants)) => rollout::plan_tree(spec, &candidates, &tenants),
            Err(why) => Err(why),
        },
        _ => match candidates(ctx, obj, &status).await? {
            Ok(candidates) => rollout::plan(spec, &candidates),
            Err(why) => Err(why),
        },
    };
    match planned {
        Ok(plan) => {
            status.rollout = Some(plan);
            conditions::remove(&mut status.conditions, STALLED);
            // The status write itself triggers the next reconcile, which
            // starts the first wave.
            replace_status(api, obj, status).await?;
            Ok(Action::await_change())
        }
        Err(why) => {
            let message = format!("{why}; fix spec.rollout or the target (nothing has started)");
            let (generation, now) = (obj.metadata.generation, ctx.clock.now());
            conditions::remove(&mut status.conditions, RECONCILING);
            for c in [READY, STALLED] {
                conditions::set(
                    &mut status.conditions,
                    c,
                    c == STALLED,
                    "InvalidRollout",
                    message.clone(),
                    generation,
                    now,
                );
            }
            replace_status(api, obj, status).await?;
            // A tenant may yet get computers; look again now and then.
            Ok(Action::requeue(Duration::from_secs(300)))
        }
    }
}

/// A tenant tree's computers with their tenants, and the tree's tenants in
/// order (the parent first), or why they cannot all be listed.
async fn tree_candidates(
    ctx: &SessionContext,
    root: i32,
) -> Result<Result<(Vec<Candidate>, Vec<(i32, Option<String>)>), String>, Error> {
    let tree = read_tree(&ctx.immybot.at(Priority::Ending), root, true).await?;
    if tree.unreadable > 0 {
        return Ok(Err(format!(
            "{} computer row(s) of tenant {root} and its child tenants could not be read from ImmyBot, so the rollout cannot account for every computer",
            tree.unreadable
        )));
    }
    let candidates = tree
        .rows
        .into_iter()
        .map(|c| Candidate {
            computer: NamedId {
                id: c.id,
                name: c.computer_name,
            },
            tenant: Some(c.tenant_id),
        })
        .collect();
    Ok(Ok((candidates, tree.tenants)))
}

/// The target's computers with their names, or why they cannot be listed.
async fn candidates(
    ctx: &SessionContext,
    obj: &MaintenanceSession,
    status: &MaintenanceSessionStatus,
) -> Result<Result<Vec<NamedId>, String>, Error> {
    match tenant_id(&obj.spec, Some(status)) {
        Some(id) => {
            let (rows, unreadable) = ctx.immybot.at(Priority::Ending).computers_in_tenant(id).await?;
            if unreadable > 0 {
                return Ok(Err(format!(
                    "{unreadable} computer row(s) of tenant {id} could not be read from ImmyBot, so the rollout cannot account for every computer"
                )));
            }
            Ok(Ok(rows
                .into_iter()
                .map(|c| NamedId {
                    id: c.id,
                    name: c.computer_name,
                })
                .collect()))
        }
        None => {
            let names = status
                .resolved_target
                .as_ref()
                .map(|r| r.computers.clone())
                .unwrap_or_default();
            let named = |id: i32| {
                names
                    .iter()
                    .find(|n| n.id == id)
                    .and_then(|n| n.name.clone())
                    .or_else(|| {
                        obj.spec
                            .target
                            .computers
                            .iter()
                            .flatten()
                            .find(|r| r.id == Some(id))
                            .and_then(|r| r.name.clone())
                    })
            };
            Ok(Ok(first_targets(&obj.spec, status)
                .into_iter()
                .map(|id| NamedId { id, name: named(id) })
                .collect()))
        }
    }
}
