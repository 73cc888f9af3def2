//! Compliance after a session: once an object's maintenance has ended and
//! nothing can reopen it, ImmyBot is asked once, at the budget's lowest
//! priority, what it still shows out of compliance on the computers the
//! object maintained (`status.compliance`, the `Compliant` condition, a
//! `NotCompliant` event). The decisions are `machine`'s; this shell asks.

mod machine;

use std::time::Duration;

use immybot_client::{ComplianceRows, Priority};
use jiff::Timestamp;
use kube::runtime::events::EventType;

pub use machine::{Ask, Due, MAX_TRIES, PER_COMPUTER_AT_MOST, ask, condition, due, failed, summarize};

use super::SessionContext;
use crate::api::{MaintenanceSession, MaintenanceSessionStatus};
use crate::controller::conditions;
use crate::controller::events::publish;

/// The condition's type.
pub const COMPLIANT: &str = "Compliant";

/// What ImmyBot answered for `ask`, every call in the background: after
/// every start, end and progress read waiting, never moved ahead by age.
async fn read(ctx: &SessionContext, ask: &Ask) -> Result<ComplianceRows, String> {
    let client = ctx.immybot.at(Priority::Background);
    let mut all = ComplianceRows::default();
    let mut add = |answer: ComplianceRows| {
        all.rows.extend(answer.rows);
        all.unusable += answer.unusable;
    };
    match ask {
        Ask::PerComputer(ids) => {
            for id in ids {
                add(client.needs_attention(*id).await.map_err(|e| e.to_string())?);
            }
        }
        Ask::PerTenant { tenants, .. } => {
            for id in tenants {
                add(client.non_compliant_in_tenant(*id).await.map_err(|e| e.to_string())?);
            }
        }
    }
    if all.rows.is_empty() && all.unusable > 0 {
        return Err(format!(
            "ImmyBot answered {} row(s) naming no computer or no item",
            all.unusable
        ));
    }
    Ok(all)
}

/// For a settled object: asks when due and records the answer (or the
/// failure) in `st`. Returns whether `st` changed, and when to look again.
pub async fn check(
    ctx: &SessionContext,
    obj: &MaintenanceSession,
    st: &mut MaintenanceSessionStatus,
    now: Timestamp,
) -> (bool, Option<Duration>) {
    match due(st, now) {
        Due::No => (false, None),
        Due::After(wait) => (false, Some(wait)),
        Due::Now => {
            let found = match ask(&obj.spec, st) {
                // No computer ran (cancelled before a start): no compliance to show.
                Ok(None) => return (false, None),
                Ok(Some(ask)) => read(ctx, &ask).await.map(|rows| summarize(&ask, &rows, st, now)),
                // It cannot be asked, for good: not tried again.
                Err(why) => {
                    let mut never = failed(st.compliance.as_ref(), why, now);
                    never.failed_reads = MAX_TRIES;
                    Ok(never)
                }
            };
            let compliance = found.unwrap_or_else(|why| failed(st.compliance.as_ref(), why, now));
            let (status, reason, message) = condition(&compliance);
            conditions::set_raw(
                &mut st.conditions,
                COMPLIANT,
                status,
                reason,
                message,
                obj.metadata.generation,
                now,
            );
            let again =
                (compliance.error.is_some() && compliance.failed_reads < MAX_TRIES).then_some(machine::RETRY_AFTER);
            st.compliance = Some(compliance);
            (true, again)
        }
    }
}

/// The event of a read that found computers still out of compliance.
pub async fn announce(ctx: &SessionContext, obj: &MaintenanceSession, st: &MaintenanceSessionStatus) {
    let Some(c) = st
        .compliance
        .as_ref()
        .filter(|c| c.error.is_none() && c.computers_needing_attention > 0)
    else {
        return;
    };
    let (_, reason, message) = condition(c);
    publish(ctx, obj, EventType::Warning, reason, &message).await;
}
