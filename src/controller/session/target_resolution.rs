//! Resolves computer and tenant names in the spec to ImmyBot ids, once, and
//! records the result in status. A name that matches nothing, or more than
//! one thing, stops the session with a condition that says what to fix.

use std::time::Duration;

use kube::runtime::controller::Action;

use super::SessionContext;
use crate::api::{MaintenanceSession, MaintenanceSessionStatus, NamedId};
use crate::controller::conditions::{self, READY, RECONCILING, STALLED};
use crate::controller::error::Error;
use crate::controller::status_writer::{SessionApi, replace_status};
use immybot_client::Priority;

pub async fn resolve(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    mut status: MaintenanceSessionStatus,
) -> Result<Action, Error> {
    let spec = &obj.spec;
    let mut resolved = status.resolved_target.clone().unwrap_or_default();
    let mut problems = Vec::new();
    let names: Vec<String> = spec
        .target
        .computer
        .iter()
        .chain(spec.target.computers.iter().flatten())
        .filter_map(|c| c.name.clone())
        .collect();
    for name in names {
        if resolved
            .computers
            .iter()
            .any(|c| c.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(&name)))
        {
            continue;
        }
        match ctx
            .immybot
            .at(Priority::Ending)
            .computers_named_confirmed(&name)
            .await?
            .as_slice()
        {
            [one] => resolved.computers.push(NamedId {
                id: one.id,
                name: one.computer_name.clone().or(Some(name)),
            }),
            [] => problems.push(format!("computer name {name:?} matches no ImmyBot computer")),
            _ => problems.push(format!(
                "computer name {name:?} matches more than one ImmyBot computer; name it by id"
            )),
        }
    }
    if let Some(tenant) = &spec.target.tenant
        && let Some(name) = &tenant.name
        && resolved.tenant.is_none()
    {
        match ctx.immybot.at(Priority::Ending).tenants_named(name).await?.as_slice() {
            [one] => {
                resolved.tenant = Some(NamedId {
                    id: one.id,
                    name: one.name.clone(),
                })
            }
            [] => problems.push(format!("tenant name {name:?} matches no ImmyBot tenant")),
            _ => problems.push(format!(
                "tenant name {name:?} matches more than one ImmyBot tenant; name it by id"
            )),
        }
    }
    status.resolved_target = Some(resolved);
    if problems.is_empty() {
        conditions::remove(&mut status.conditions, STALLED);
        // The status write itself triggers the next reconcile.
        replace_status(api, obj, status).await?;
        return Ok(Action::await_change());
    }
    let message = format!("{}; fix spec.target (nothing has started)", problems.join("; "));
    let (generation, now) = (obj.metadata.generation, ctx.clock.now());
    // Stalled, not reconciling: kstatus (and so Flux's wait) must report a
    // failure a person has to fix, not progress that will never come.
    conditions::remove(&mut status.conditions, RECONCILING);
    conditions::set(
        &mut status.conditions,
        READY,
        false,
        "TargetNotFound",
        message.clone(),
        generation,
        now,
    );
    conditions::set(
        &mut status.conditions,
        STALLED,
        true,
        "TargetNotFound",
        message,
        generation,
        now,
    );
    replace_status(api, obj, status).await?;
    // The computer may yet be onboarded; look again now and then.
    Ok(Action::requeue(Duration::from_secs(300)))
}
