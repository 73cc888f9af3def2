//! The shell around `machine::decide`: observe Kubernetes and ImmyBot,
//! decide, perform the one step, write the status. Inside kube-runtime's
//! `finalizer()`; every `.await` may be cancelled, and each step is safe to
//! repeat (the create through its recorded intent).

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt as _;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};

use super::blast_radius::{Count, count};
use super::blast_radius_reader::measure;
use super::definition::{ResolvedTarget, approval_digest, cron_of, definition, definition_digest, target_of};
use super::machine::{Decision, Observed, Remote, Standing, Step, decide};
use super::{ScheduleContext, ScheduleState};
use crate::api::{ApprovedKind, ImmyBotSchedule, ImmyBotScheduleStatus, PendingCreate, ScheduleDeletionPolicy};
use crate::controller::approval::{Subject, Verdict, evaluate};
use crate::controller::clock::stored_time;
use crate::controller::conditions::{self, APPROVED, READY, RECONCILING, STALLED};
use crate::controller::connections::{ConnectionKey, ConnectionProblem, Connections, LiveConnection, PerConnection};
use crate::controller::error::Error;
use crate::controller::events::{announce_controls, publish};
use crate::controller::status_writer::replace_status_if_changed;
use immybot_client::cron::{Cron, time_zone};
use immybot_client::{ErrorKind, Schedule, ScheduleDefinition};

pub const FINALIZER: &str = "immybot.io/schedules";
const SYNCED: &str = "Synced";
const DRIFTED: &str = "Drifted";

/// The connection `obj` uses: the one its schedule was created or adopted
/// through (recorded in status), else the one its spec names or the
/// default.
pub fn connection_of(
    connections: &Connections,
    obj: &ImmyBotSchedule,
) -> Result<Arc<LiveConnection>, ConnectionProblem> {
    let ns = obj.namespace().unwrap_or_default();
    match obj.status.as_ref() {
        Some(st) if st.schedule_id.is_some() || st.pending_create.is_some() => match &st.instance {
            Some(instance) => connections.pinned(st.connection.as_ref(), &ns, instance),
            // Recorded before connections existed: the flags made it.
            None => connections.get(&ConnectionKey::Flags),
        },
        _ => connections.resolve(obj.spec.connection_ref.as_ref(), &ns),
    }
}

pub async fn reconcile(obj: Arc<ImmyBotSchedule>, kind: Arc<PerConnection<ScheduleState>>) -> Result<Action, Error> {
    let live = connection_of(&kind.shared.connections, &obj).map_err(Error::Connection)?;
    let (ctx, _) = kind.context_for(&live);
    reconcile_through(obj, ctx).await
}

async fn reconcile_through(obj: Arc<ImmyBotSchedule>, ctx: Arc<ScheduleContext>) -> Result<Action, Error> {
    if ctx.is_crashed() {
        // A test's crash point was hit: a dead process does nothing.
        return Ok(Action::await_change());
    }
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<ImmyBotSchedule> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(obj) => apply(&obj, &ctx, &api).await,
            Finalizer::Cleanup(obj) => cleanup(&obj, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

pub fn error_policy(obj: Arc<ImmyBotSchedule>, error: &Error, _kind: Arc<PerConnection<ScheduleState>>) -> Action {
    tracing::warn!(schedule = %obj.name_any(), error = %error, label = error.metric_label(), "schedule reconcile failed");
    match error {
        Error::ImmyBot(e) if e.kind() == ErrorKind::RateLimited => {
            Action::requeue(e.retry_after().unwrap_or(Duration::from_secs(30)))
        }
        Error::Conflict => Action::requeue(Duration::from_millis(200)),
        Error::Connection(_) => Action::requeue(Duration::from_secs(30)),
        _ => Action::requeue(Duration::from_secs(5)),
    }
}

/// The spec's target with names resolved (one look-up each reconcile that
/// needs a definition; names are rare in schedules, ids the norm).
async fn resolve(ctx: &ScheduleContext, obj: &ImmyBotSchedule) -> Result<Result<ResolvedTarget, String>, Error> {
    let t = &obj.spec.target;
    if let Some(c) = &t.computer {
        if let Some(id) = c.id {
            return Ok(Ok(ResolvedTarget::Computer(id)));
        }
        let name = c.name.clone().unwrap_or_default();
        let found = ctx.immybot.computers_named(&name).await?;
        return Ok(match found.as_slice() {
            [one] => Ok(ResolvedTarget::Computer(one.id)),
            [] => Err(format!(
                "no ImmyBot computer is named {name:?}; fix spec.target.computer.name or use its id"
            )),
            _ => Err(format!(
                "{} ImmyBot computers are named {name:?}; use spec.target.computer.id",
                found.len()
            )),
        });
    }
    if let Some(tenant) = &t.tenant {
        let id = match (tenant.id, &tenant.name) {
            (Some(id), _) => id,
            (None, Some(name)) => match ctx.immybot.tenants_named(name).await?.as_slice() {
                [one] => one.id,
                [] => return Ok(Err(format!("no ImmyBot tenant is named {name:?}"))),
                _ => {
                    return Ok(Err(format!(
                        "several ImmyBot tenants are named {name:?}; use spec.target.tenant.id"
                    )));
                }
            },
            (None, None) => return Ok(Err("spec.target.tenant names no tenant".into())),
        };
        return Ok(Ok(ResolvedTarget::Tenant {
            id,
            include_children: tenant.include_child_tenants,
        }));
    }
    Ok(Err("spec.target sets neither computer nor tenant".into()))
}

/// What the spec asks ImmyBot for, or why it cannot be said.
async fn wanted(ctx: &ScheduleContext, obj: &ImmyBotSchedule) -> Result<Result<ScheduleDefinition, String>, Error> {
    if let Err(e) = time_zone(&obj.spec.time_zone) {
        return Ok(Err(format!("spec.timeZone: {e}")));
    }
    match cron_of(&obj.spec).map(|c| Cron::parse(&c)) {
        Some(Ok(c)) if c.at_most_daily() => {}
        Some(Ok(_)) => {
            return Ok(Err(
                "ImmyBot runs a schedule at most once a day: the minute and hour must be single numbers".into(),
            ));
        }
        Some(Err(e)) => return Ok(Err(format!("the schedule's time: {e}"))),
        None => return Ok(Err("set exactly one of daily, weekly, monthly or cron".into())),
    }
    Ok(resolve(ctx, obj).await?.map(|t| definition(&obj.spec, t)))
}

async fn apply(obj: &ImmyBotSchedule, ctx: &ScheduleContext, api: &Api<ImmyBotSchedule>) -> Result<Action, Error> {
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let uid = obj.uid().unwrap_or_default();
    let now = stored_time(ctx.clock.now()).0;
    let mut status = obj.status.clone().unwrap_or_default();
    let digest = approval_digest(&uid, &obj.spec);
    status.approval_digest = Some(digest.clone());
    // The instance in use: the one pinned once a schedule exists there
    // (`connection_of`), so this only changes before that.
    status.instance = Some(ctx.instance.clone());
    status.connection = ctx.connection.clone();
    status.observed_generation = obj.metadata.generation;

    // From the approval store only; before it has synced (just after
    // start), look again shortly rather than LIST.
    let Some(approvals) = ctx.approvals.naming_kind(ApprovedKind::ImmyBotSchedule, &ns, &name) else {
        return Ok(Action::requeue(Duration::from_millis(500)));
    };
    let verdict = evaluate(
        Subject {
            kind: ApprovedKind::ImmyBotSchedule,
            namespace: &ns,
            name: &name,
            uid: &uid,
            plan: crate::controller::approval::PlanNeed::None,
        },
        &obj.spec,
        &crate::controller::approval::digest::ApprovalDigest::from_string(digest.clone()),
        &approvals,
        &ctx.policy,
        now,
    );
    let approved = match &verdict {
        Verdict::Approved { approved_by, .. } => Ok(approved_by.clone()),
        Verdict::NotApproved { message, .. } => Err(message.clone()),
    };
    let wanted = wanted(ctx, obj).await?;

    // ImmyBot's side.
    let lookup = status.schedule_id.or(obj.spec.adopt.as_ref().map(|a| a.schedule_id));
    let remote = match lookup {
        None => Remote::NotCreated,
        Some(id) => match ctx.immybot.schedule(id).await {
            Ok(s) => Remote::Found(Box::new(s)),
            Err(e) if e.kind() == ErrorKind::NotFound => Remote::Gone,
            Err(e) => return Err(e.into()),
        },
    };
    let pending_matches = match (&status.pending_create, status.schedule_id) {
        (Some(pending), None) => Some(find_created(ctx, obj, pending, &status).await?),
        _ => None,
    };
    let grew = count_target(ctx, obj, &mut status, &wanted, &digest, &verdict, now).await?;
    let decision = decide(&Observed {
        spec: &obj.spec,
        status: &status,
        wanted,
        approved,
        remote: remote.clone(),
        pending_matches,
        grew,
    });
    let Decision {
        step,
        standing,
        status: mut next,
        event,
    } = decision;
    if let Some((reason, message, warning)) = &event {
        let t = if *warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        publish(ctx, obj, t, reason, message).await;
    }
    if let Remote::Found(s) = &remote {
        next.observed_definition = serde_json::to_value(&s.definition).ok();
    }
    let id_running = match next.schedule_id {
        // Shared by every schedule for half the active poll interval.
        Some(id) => ctx
            .state
            .running_schedules
            .ids(&ctx.immybot, ctx.timing.poll_active / 2)
            .await?
            .contains(&id),
        None => false,
    };
    next.running = id_running;
    if let Some(id) = next.schedule_id {
        next.runs = super::runs::read(ctx, id).await?;
        next.last_run = next.runs.first().cloned();
    }
    set_timing(obj, &mut next, now);
    set_conditions(&mut next, &verdict, &standing, obj.metadata.generation, now);
    static DEFAULTS: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
        crate::controller::controls::defaults_of::<crate::api::ImmyBotScheduleSpec>(
            serde_json::json!({"requestedBy": "", "reason": "", "target": {}}),
        )
    });
    let control_changes = crate::controller::controls::observe_object(
        &mut next.controls,
        crate::api::immybot_schedule_coverage(),
        &obj.spec,
        &DEFAULTS,
        &obj.metadata,
        &obj.spec.requested_by,
        now,
    );
    let approver = match &verdict {
        Verdict::Approved { approved_by, .. } => Some(approved_by.as_str()),
        Verdict::NotApproved { .. } => None,
    };
    let key = format!("{ns}/{name}");
    ctx.observer.schedule_standing(&key, Some(standing_label(&standing)));

    match step {
        Step::None => {}
        Step::Create(def) => {
            // The intent first: a crash after the POST finds the schedule
            // by this definition instead of creating a second one.
            let def_digest = definition_digest(&def);
            next.pending_create = Some(PendingCreate {
                digest: def_digest.clone(),
                intent_time: stored_time(now),
            });
            next.applied_definition = serde_json::to_value(&def).ok();
            next.applied_digest = None;
            let written = write_status(api, obj, &next).await?;
            crate::crash_point!(ctx, AfterIntent, "after the schedule's create intent");
            let created = ctx.immybot.create_schedule(&def).await?;
            ctx.observer.schedule_write("create");
            crate::crash_point!(ctx, AfterStart, "after the schedule's create");
            let Some(id) = created else {
                // No id in the answer: the next reconcile finds it.
                return Ok(Action::requeue(Duration::from_millis(500)));
            };
            let mut done = next.clone();
            done.schedule_id = Some(id);
            done.pending_create = None;
            done.applied_digest = Some(def_digest);
            set_conditions(&mut done, &verdict, &Standing::InSync, obj.metadata.generation, now);
            write_status(api, &written, &done).await?;
            announce_controls(ctx, obj, &control_changes, approver).await;
            publish(
                ctx,
                obj,
                EventType::Normal,
                "Created",
                &format!("created ImmyBot schedule {id}"),
            )
            .await;
            return Ok(Action::requeue(Duration::from_secs(1)));
        }
        Step::Update {
            id,
            definition,
            fields,
            drift,
        } => {
            ctx.immybot.update_schedule(id, &definition).await?;
            ctx.observer
                .schedule_write(if drift { "correct_drift" } else { "update" });
            ctx.observer.schedule_standing(&key, Some("Ready"));
            next.applied_digest = Some(definition_digest(&definition));
            next.applied_definition = serde_json::to_value(&definition).ok();
            next.observed_definition = next.applied_definition.clone();
            set_conditions(&mut next, &verdict, &Standing::InSync, obj.metadata.generation, now);
            let (reason, note) = if drift {
                (
                    "DriftCorrected",
                    format!(
                        "ImmyBot schedule {id} had been changed in ImmyBot ({}); put back the approved definition",
                        fields.join(", ")
                    ),
                )
            } else {
                (
                    "Updated",
                    format!("updated ImmyBot schedule {id} ({})", fields.join(", ")),
                )
            };
            publish(
                ctx,
                obj,
                if drift { EventType::Warning } else { EventType::Normal },
                reason,
                &note,
            )
            .await;
        }
        Step::RunNow { id, request } => {
            next.run_now_pending = Some(request);
            let written = write_status(api, obj, &next).await?;
            ctx.immybot.run_schedule_now(id).await?;
            ctx.observer.schedule_write("run_now");
            ctx.state.running_schedules.invalidate().await;
            next.run_now_pending = None;
            next.run_now_handled = request;
            write_status(api, &written, &next).await?;
            announce_controls(ctx, obj, &control_changes, approver).await;
            publish(
                ctx,
                obj,
                EventType::Normal,
                "RunNow",
                &format!("ran ImmyBot schedule {id} now (request {request})"),
            )
            .await;
            return Ok(Action::requeue(Duration::from_secs(1)));
        }
        Step::CancelRunning { id, request } => {
            ctx.immybot.cancel_schedule(id).await?;
            ctx.observer.schedule_write("cancel_running");
            ctx.state.running_schedules.invalidate().await;
            next.cancel_running_handled = request;
            publish(
                ctx,
                obj,
                EventType::Normal,
                "CancelledRunning",
                &format!("cancelled the sessions ImmyBot schedule {id} was running (request {request})"),
            )
            .await;
        }
    }
    write_status(api, obj, &next).await?;
    announce_controls(ctx, obj, &control_changes, approver).await;
    let every = if next.running {
        ctx.timing.poll_active
    } else {
        ctx.timing.poll_idle
    };
    Ok(Action::requeue(every))
}

/// The target's blast radius, counted when `blast_radius::count` says so
/// (into `status`); `Some` when it outgrew the approval's count.
async fn count_target(
    ctx: &ScheduleContext,
    obj: &ImmyBotSchedule,
    status: &mut ImmyBotScheduleStatus,
    wanted: &Result<ScheduleDefinition, String>,
    digest: &str,
    verdict: &Verdict,
    now: jiff::Timestamp,
) -> Result<Option<String>, Error> {
    let Some(target) = wanted.as_ref().ok().and_then(target_of) else {
        return Ok(None);
    };
    let tenant = matches!(target, ResolvedTarget::Tenant { .. });
    let radius = status.blast_radius.as_ref();
    if let Count::Measure { counted_for } = count(radius, digest, verdict, tenant, now) {
        let measured = measure(ctx, &obj.spec, target, digest, counted_for, now).await?;
        status.blast_radius = Some(measured);
    }
    Ok(
        match count(status.blast_radius.as_ref(), digest, verdict, tenant, now) {
            Count::Counted { grew } => grew,
            // Just counted: fresh by construction.
            Count::Measure { .. } => None,
        },
    )
}

/// With a create interrupted: ImmyBot's schedules with exactly the intended
/// definition, created since the intent (when ImmyBot says when), and not
/// another object's.
async fn find_created(
    ctx: &ScheduleContext,
    obj: &ImmyBotSchedule,
    pending: &PendingCreate,
    status: &ImmyBotScheduleStatus,
) -> Result<Vec<i32>, Error> {
    let Some(def) = status
        .applied_definition
        .clone()
        .and_then(|v| serde_json::from_value::<ScheduleDefinition>(v).ok())
    else {
        return Ok(vec![]);
    };
    let since = pending
        .intent_time
        .0
        .checked_sub(jiff::SignedDuration::from_secs(600))
        .unwrap_or(pending.intent_time.0);
    let claimed = claimed_ids(ctx, obj).await;
    let all: Vec<Schedule> = ctx.immybot.schedules(def.tenant_id).await?;
    Ok(all
        .into_iter()
        .filter(|s| s.differences(&def).is_empty() && s.present.contains("customCronExpression"))
        .filter(|s| s.created_date_utc.is_none_or(|c| c.0 >= since))
        .filter(|s| !claimed.contains(&s.id))
        .map(|s| s.id)
        .collect())
}

/// The ImmyBot schedule ids other ImmyBotSchedules of the namespace hold.
/// (The namespace, not the cluster: a controller may serve one namespace
/// of several, each against its own ImmyBot instance, where the same id
/// means another schedule.)
async fn claimed_ids(ctx: &ScheduleContext, obj: &ImmyBotSchedule) -> Vec<i32> {
    let all: Api<ImmyBotSchedule> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    match all.list(&ListParams::default()).await {
        Ok(list) => list
            .items
            .iter()
            .filter(|o| o.uid() != obj.uid())
            .filter_map(|o| o.status.as_ref().and_then(|s| s.schedule_id))
            .collect(),
        Err(e) => {
            tracing::debug!(error = %e, "could not list ImmyBotSchedules");
            vec![]
        }
    }
}

fn set_timing(obj: &ImmyBotSchedule, status: &mut ImmyBotScheduleStatus, now: jiff::Timestamp) {
    let cron = cron_of(&obj.spec);
    status.schedule_summary = cron.as_ref().map(|c| format!("{c} {}", obj.spec.time_zone));
    status.next_run_time = None;
    let in_immybot = status.schedule_id.is_some();
    let enabled = status
        .applied_definition
        .as_ref()
        .and_then(|d| d.get("disabled"))
        .and_then(serde_json::Value::as_bool)
        == Some(false);
    if !in_immybot || !enabled {
        return;
    }
    // From the definition ImmyBot holds (the approved one), not a spec
    // change still waiting for approval.
    let def = status.applied_definition.as_ref();
    let expr = def.and_then(|d| d.get("customCronExpression")).and_then(|v| v.as_str());
    let zone = def.and_then(|d| d.get("timeZoneInfoId")).and_then(|v| v.as_str());
    if let (Some(expr), Some(zone)) = (expr, zone)
        && let (Ok(c), Ok(tz)) = (Cron::parse(expr), time_zone(zone))
    {
        status.next_run_time = c.next_after(now, &tz).map(stored_time);
    }
}

/// The standing's name in metrics.
fn standing_label(standing: &Standing) -> &'static str {
    match standing {
        Standing::InSync => "Ready",
        Standing::Waiting { .. } => "Waiting",
        Standing::Progressing { .. } => "Progressing",
        Standing::Stalled { .. } => "Stalled",
        Standing::Drifted { .. } => "Drifted",
    }
}

fn set_conditions(
    status: &mut ImmyBotScheduleStatus,
    verdict: &Verdict,
    standing: &Standing,
    generation: Option<i64>,
    now: jiff::Timestamp,
) {
    let c = &mut status.conditions;
    match verdict {
        Verdict::Approved { approved_by, .. } => conditions::set(
            c,
            APPROVED,
            true,
            "Approved",
            format!("approved by {approved_by}"),
            generation,
            now,
        ),
        Verdict::NotApproved { reason, message } => {
            conditions::set(c, APPROVED, false, reason, message, generation, now)
        }
    }
    conditions::remove(c, STALLED);
    conditions::remove(c, RECONCILING);
    match standing {
        Standing::InSync => {
            conditions::set(
                c,
                READY,
                true,
                "InSync",
                "the ImmyBot schedule matches the approved definition",
                generation,
                now,
            );
            conditions::set(
                c,
                SYNCED,
                true,
                "InSync",
                "ImmyBot holds the approved definition",
                generation,
                now,
            );
            conditions::set(
                c,
                DRIFTED,
                false,
                "NoDrift",
                "ImmyBot's schedule is as approved",
                generation,
                now,
            );
        }
        Standing::Waiting { reason, message } => {
            conditions::set(c, READY, false, reason, message, generation, now);
        }
        Standing::Stalled { reason, message } => {
            conditions::set(c, READY, false, reason, message, generation, now);
            conditions::set(c, STALLED, true, reason, message, generation, now);
        }
        Standing::Drifted { message } => {
            conditions::set(c, READY, false, "Drifted", message, generation, now);
            conditions::set(c, SYNCED, false, "Drifted", message, generation, now);
            conditions::set(c, DRIFTED, true, "Drifted", message, generation, now);
            // Under Report the operator will not put it back: only a person
            // can (kstatus and Argo CD then say Failed / Degraded, not wait).
            conditions::set(c, STALLED, true, "Drifted", message, generation, now);
        }
        Standing::Progressing { reason, message } => {
            conditions::set(c, READY, false, reason, message, generation, now);
            conditions::set(c, RECONCILING, true, reason, message, generation, now);
        }
    }
}

/// The status written (or `obj` as it was, when nothing changed).
async fn write_status(
    api: &Api<ImmyBotSchedule>,
    obj: &ImmyBotSchedule,
    status: &ImmyBotScheduleStatus,
) -> Result<ImmyBotSchedule, Error> {
    Ok(replace_status_if_changed(api, obj, status)
        .await?
        .unwrap_or_else(|| obj.clone()))
}

async fn cleanup(obj: &ImmyBotSchedule, ctx: &ScheduleContext) -> Result<Action, Error> {
    let key = format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any());
    if obj.spec.deletion_policy == ScheduleDeletionPolicy::Orphan {
        ctx.observer.schedule_standing(&key, None);
        return Ok(Action::await_change());
    }
    let status = obj.status.clone().unwrap_or_default();
    let mut ids: Vec<i32> = status.schedule_id.into_iter().collect();
    if ids.is_empty()
        && let Some(pending) = &status.pending_create
    {
        // An interrupted create: delete what it made, if it is unambiguous.
        let found = find_created(ctx, obj, pending, &status).await?;
        if found.len() == 1 {
            ids = found;
        }
    }
    for id in ids {
        match ctx.immybot.cancel_schedule(id).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        match ctx.immybot.delete_schedule(id).await {
            Ok(()) => {}
            // Gone already (deleted in ImmyBot, or by an earlier cleanup
            // whose record was lost): what deletion wants.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        ctx.observer.schedule_write("delete");
        tracing::info!(schedule = %obj.name_any(), id, "deleted the ImmyBot schedule");
        // Recorded before the finalizer goes: a cleanup run again (its
        // removal conflicted) finds nothing left to delete, and sends no
        // second DELETE.
        let api: Api<ImmyBotSchedule> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
        let mut forgotten = status.clone();
        forgotten.schedule_id = None;
        forgotten.pending_create = None;
        write_status(&api, obj, &forgotten).await?;
    }
    ctx.observer.schedule_standing(&key, None);
    Ok(Action::await_change())
}
