//! The shell of `blast_radius::count`: an ImmyBotSchedule's target counted
//! in ImmyBot. A tenant costs the tenant list and one `computers/dx`
//! listing per 500 computers (`controller::blast_radius::tenant_reader`);
//! a computer no call at all.

use super::ScheduleContext;
use super::definition::ResolvedTarget;
use crate::api::{BlastRadius, DeviceFilter, ImmyBotScheduleSpec};
use crate::controller::blast_radius::tenant_reader::tenant_computers;
use crate::controller::blast_radius::{SeenComputer, summarise};
use crate::controller::error::Error;
use immybot_client::Priority;

pub async fn measure(
    ctx: &ScheduleContext,
    spec: &ImmyBotScheduleSpec,
    target: ResolvedTarget,
    digest: &str,
    counted_for: Option<String>,
    now: jiff::Timestamp,
) -> Result<BlastRadius, Error> {
    // A person waits for the count before approving; a recount does not.
    let priority = if counted_for.is_none() {
        Priority::Ending
    } else {
        Priority::Progress
    };
    let (computers, names) = match target {
        ResolvedTarget::Computer(id) => (
            vec![SeenComputer {
                id,
                name: spec.target.computer.as_ref().and_then(|c| c.name.clone()),
                ..Default::default()
            }],
            Default::default(),
        ),
        ResolvedTarget::Tenant { id, include_children } => {
            tenant_computers(&ctx.immybot.at(priority), id, include_children, None).await?
        }
    };
    let mut radius = summarise(&computers, &names, spec.offline, digest, now);
    radius.counted_for = counted_for;
    if spec.target.device_filter != DeviceFilter::All {
        radius.upper_bound = Some(format!(
            "deviceFilter {:?}: ImmyBot picks those device types at each run, and its computer list does not say which computer is which, so every computer of the target is counted",
            spec.target.device_filter
        ));
    }
    Ok(radius)
}
