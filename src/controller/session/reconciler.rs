//! The shell around the state machine: observe (Kubernetes and ImmyBot),
//! decide, write the status, perform the one step. Runs inside kube-runtime's
//! `finalizer()`: `apply` for live objects, `cleanup` for deleted ones. Both
//! are idempotent and may be cancelled at any `.await`.

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Resource as _, ResourceExt as _};

use super::SessionContext;
use super::action_reader;
use super::action_rerun_protocol;
use super::announce::announce;
use super::deferrable::only_progress_changed;
use super::excerpt_reader::{explain_how, still_owed};
use super::health_gate_reading::{Freshness, read as read_gate};
use super::machine::{Observed, Step, decide, is_settled};
use super::rollout_planning;
use super::session_reader::{Need, Observation, observe_logs, observe_sessions, recorded_attempts, worth_logs};
use super::start_protocol;
use super::target_resolution;
use crate::api::{MaintenanceApproval, MaintenanceSession, Phase};
use crate::controller::approval::digest::ApprovalDigest;
use crate::controller::approval::{Subject, evaluate};
use crate::controller::error::Error;
use crate::controller::events::{announce_controls, publish};
use crate::controller::status_writer::{SessionApi, add_finalizer, persist_answer, replace_status};
use crate::controller::write_gate::WritePriority;
use immybot_client::ErrorKind;

pub const FINALIZER: &str = "immybot.io/sessions";

pub async fn reconcile(obj: Arc<MaintenanceSession>, ctx: Arc<SessionContext>) -> Result<Action, Error> {
    if ctx.is_crashed() {
        // A test's crash point was hit: a dead process does nothing.
        return Ok(Action::await_change());
    }
    let started = std::time::Instant::now();
    let result = reconcile_timed(obj, &ctx).await;
    ctx.observer.reconcile_took(started.elapsed());
    result
}

async fn reconcile_timed(obj: Arc<MaintenanceSession>, ctx: &Arc<SessionContext>) -> Result<Action, Error> {
    // Our own last write has not reached the cache yet: the watch event
    // that brings it triggers the next reconcile. The requeue only covers
    // a lost event.
    tracing::debug!(name = %obj.name_any(), phase = ?obj.status.as_ref().and_then(|s| s.phase), "reconcile");
    if ctx.superseded.is_stale(&obj) {
        return Ok(Action::requeue(Duration::from_secs(2)));
    }
    let ns = obj.namespace().unwrap_or_default();
    let api = SessionApi::new(
        Api::namespaced(ctx.client.clone(), &ns),
        ctx.superseded.clone(),
        ctx.write_gate.clone(),
        ctx.observer.clone(),
    )
    .notifying(ctx.notifications.clone());
    if obj.metadata.deletion_timestamp.is_none() && !obj.finalizers().iter().any(|f| f == FINALIZER) {
        // The write that brings the finalizer triggers the next reconcile.
        add_finalizer(&api, &obj, FINALIZER).await?;
        return Ok(Action::await_change());
    }
    // Boxed, as are the large steps in `apply`: a reconcile waiting at the
    // write gate holds its whole future, and unboxed every one was 17 KB
    // (the objects-10,000 bench peaked at 225 MiB unboxed, 94 MiB boxed).
    Box::pin(finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(obj) => apply(&obj, ctx, &api).await,
            Finalizer::Cleanup(obj) => {
                ctx.state.deferrals.forget(&(ns.clone(), obj.name_any()));
                cleanup(&obj, ctx, &api).await
            }
        }
    }))
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

/// How soon a reconcile that failed with `error` is tried again.
pub fn error_action(obj: &MaintenanceSession, error: &Error) -> Action {
    let inner = match error {
        Error::Finalizer(f) => match &**f {
            kube::runtime::finalizer::Error::ApplyFailed(e) | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
            _ => error,
        },
        e => e,
    };
    // kube's `finalizer()` removes the finalizer with a JSON patch that
    // tests the list first: it fails (409/422) when the cached object is
    // older than the stored one, right after our own write. Retry once the
    // watch has caught up, not a minute later. (The add is ours,
    // `add_finalizer`, and conflicts as `Error::Conflict`.)
    if let Error::Finalizer(f) = error
        && let kube::runtime::finalizer::Error::RemoveFinalizer(kube::Error::Api(s)) = &**f
        && (s.code == 409 || s.code == 422)
    {
        return Action::requeue(Duration::from_millis(200));
    }
    let wait = match inner {
        Error::Conflict => Duration::from_millis(200),
        Error::AwaitingCancellation(_) => Duration::from_secs(2),
        #[cfg(any(test, feature = "test-hooks"))]
        Error::SimulatedCrash(_) => Duration::from_millis(200),
        Error::ImmyBot(e) if e.kind() == ErrorKind::RateLimited => e.retry_after().unwrap_or(Duration::from_secs(30)),
        Error::ImmyBot(e) if e.kind() == ErrorKind::Transient => Duration::from_secs(15),
        _ => Duration::from_secs(60),
    };
    if !matches!(inner, Error::Conflict | Error::AwaitingCancellation(_)) {
        tracing::warn!(name = %obj.name_any(), error = %error, label = error.metric_label(), "reconcile failed");
    }
    Action::requeue(wait)
}

async fn apply(obj: &MaintenanceSession, ctx: &SessionContext, api: &SessionApi) -> Result<Action, Error> {
    if is_settled(obj) {
        return settled(obj, ctx, api).await;
    }
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let uid = obj.uid().unwrap_or_default();
    let digest = ApprovalDigest::of(&uid, &obj.spec);
    let approvals_api = Api::<MaintenanceApproval>::namespaced(ctx.client.clone(), &ns);
    let approvals = ctx
        .approvals_naming(crate::api::ApprovedKind::MaintenanceSession, &ns, &name)
        .await?;
    own_approvals(&approvals_api, obj, &approvals).await;
    let subject = Subject {
        kind: crate::api::ApprovedKind::MaintenanceSession,
        namespace: &ns,
        name: &name,
        uid: &uid,
        plan: crate::controller::approval::PlanNeed::None,
    };
    let final_already = obj.status.as_ref().and_then(|s| s.phase).is_some_and(Phase::is_final);
    let observed_at = super::super::clock::stored_time(ctx.clock.now()).0;
    // A cancel cannot wait for the poller to list what was just started.
    let need = if obj.spec.cancel.is_some() {
        Need::Everything
    } else {
        Need::Mirror
    };
    // A session whose failed action is being rerun may run again in place:
    // its end is not for good, so it is read afresh, never served ended.
    let reruns = obj.status.as_ref().and_then(|s| s.action_reruns.as_ref());
    for id in super::action_reruns::reopened(reruns.map(|r| r.actions.as_slice()).unwrap_or_default()) {
        ctx.state.immybot_cache.forget(id);
    }
    let Observation {
        mut sessions,
        fresh,
        incomplete,
    } = observe_sessions(ctx, &recorded_attempts(obj), need, observed_at).await?;
    if incomplete {
        // Sessions just started are not listed yet: the poller's next
        // cycle lists them (they are new there) and triggers this object;
        // reading them one by one now was most of the calls a start cost.
        // The requeue only covers a lost trigger: at the active interval,
        // 1,000 objects waiting out a long burst of starts were 70,000
        // reconciles that decided nothing.
        return Ok(Action::requeue(ctx.timing.poll_idle));
    }
    // Outcome first, explanation after: when every session has ended, the
    // status that reports the outcome is written with the logs and
    // excerpts already known, and the rest is read once it is (at the
    // budget's lowest priority: at 10 requests/s, reading them first put
    // 0.17 calls per session of a fleet that fails 17% ahead of every
    // outcome behind them). While sessions run, they are read as they end.
    let logs_pending = obj.status.as_ref().is_some_and(|s| s.logs_pending);
    let every_ended = !sessions.is_empty()
        && sessions
            .iter()
            .all(|s| s.session_status.as_ref().is_some_and(|x| x.is_terminal()));
    let explain = explain_how(final_already, every_ended, logs_pending);
    // Actions and logs at once: a session that just ended needs both, and
    // one round trip after the other was most of its status lag.
    let for_logs = if final_already && !logs_pending {
        vec![]
    } else {
        worth_logs(&sessions, &fresh, ctx.action_log_excerpts)
    };
    let actions_client = ctx.immybot.at(immybot_client::Priority::Ending);
    let (compliant, logs) = futures::join!(
        action_reader::attach_actions(
            &actions_client,
            &ctx.state.immybot_cache,
            &uid,
            &mut sessions,
            Some(&fresh)
        ),
        observe_logs(ctx, &for_logs, explain),
    );
    let compliant = compliant?;
    let (logs, logs_owed) = logs;
    // Why what failed failed, read once per failed action.
    let shown = super::action_reruns::overlay(&sessions, reruns.map(|r| r.actions.as_slice()).unwrap_or_default());
    let (action_excerpts, excerpts_owed) = super::excerpt_reader::read_excerpts(ctx, &shown, explain).await;
    // "Now" is read after ImmyBot was observed, so that a decision never
    // pairs what ImmyBot shows with an older time (a window that closed
    // while the observation was under way is closed for this decision).
    // In whole seconds, as every time written to status is stored.
    let now = crate::controller::clock::stored_time(ctx.clock.now()).0;
    // The plan an approval must name, as it stands at `now` (a plan past
    // its `maxAge` names nothing that can start).
    let planned_subject = Subject {
        plan: super::plan::need(&obj.spec, obj.status.as_ref(), digest.as_str(), now),
        ..subject
    };
    let verdict = evaluate(planned_subject, &obj.spec, &digest, &approvals, &ctx.policy, now);
    // For the cautious, a plan's detection waits for an approval of the
    // spec itself (any plan, or none, named).
    let plan_detection_approved = !ctx.policy.plans.detection_needs_approval
        || super::plan::planned(&obj.spec).is_none()
        || evaluate(subject, &obj.spec, &digest, &approvals, &ctx.policy, now).is_approved();
    let verdict = crate::controller::approval::lookup::with_standing_approval(ctx, obj, verdict, now).await?;
    let observed = |gate: Option<&'_ crate::controller::health_gate::GateReading>| {
        decide(&Observed {
            object: obj,
            digest: &digest,
            verdict: &verdict,
            sessions: &sessions,
            compliant_by_item: compliant.as_ref(),
            logs: &logs,
            action_excerpts: &action_excerpts,
            now,
            instance: &ctx.instance,
            connection: ctx.connection.as_ref(),
            start_grace: ctx.timing.start_grace,
            busy_retry: ctx.timing.busy_retry,
            pilot_required_above: ctx
                .policy
                .pilot
                .threshold(obj.metadata.namespace.as_deref().unwrap_or_default()),
            plan_required_above: ctx.policy.plans.required_above,
            plan_detection_approved,
            health_gate: gate,
        })
    };
    let gate = read_gate(ctx, obj, Freshness::WhileRunning).await;
    let mut decision = observed(gate.gate.as_ref());
    // A start is decided on a reading asked now, never a shared one.
    if gate.cached && matches!(decision.step, Step::Start(_)) {
        let fresh = read_gate(ctx, obj, Freshness::Now).await;
        decision = observed(fresh.gate.as_ref());
    }
    let ended = decision.status.completion_time.as_ref().map(|t| t.0);
    let retry = still_owed(explain, logs_owed || excerpts_owed, ended, now, ctx.timing.poll_active);
    decision.status.logs_pending = retry.is_some();
    if let Some(again) = retry {
        decision.requeue_after = Some(decision.requeue_after.map_or(again, |d| d.min(again)));
    }
    let control_changes = record_controls(obj, &mut decision.status, now);
    name_rerun_requesters(&mut decision.status);
    // A start's own event names the approver, so an approval that starts
    // the object at once needs no event of its own.
    if !matches!(decision.step, Step::None) {
        let starting = matches!(decision.step, Step::Start(_));
        announce(ctx, obj, &decision.status, starting).await;
    }
    let done = match decision.step {
        Step::None => {
            // Announced once written: a write that conflicts is decided
            // again, and announcing before it would repeat the event.
            let key = (ns.clone(), name.clone());
            if obj.status.as_ref() != Some(&decision.status) {
                // While writes that end sessions or start new ones queue
                // at the gate, where a session in progress stands can wait:
                // a later reconcile writes it (or the final status) afresh.
                // (Progress writes do not put each other off: which goes
                // first does not matter.)
                if ctx.write_gate.is_congested_for(WritePriority::Start)
                    && obj
                        .status
                        .as_ref()
                        .is_some_and(|current| only_progress_changed(current, &decision.status))
                {
                    ctx.observer.status_write_deferred();
                    let t = &ctx.timing;
                    let cap = (t.poll_active * 8).min(t.poll_idle.max(t.poll_active));
                    let delay = ctx.state.deferrals.next_delay(key, t.poll_active, cap);
                    return Ok(Action::requeue(delay));
                }
                ctx.state.deferrals.forget(&key);
                let next = decision.status.clone();
                replace_status(api, obj, decision.status).await?;
                announce(ctx, obj, &next, false).await;
            } else {
                ctx.state.deferrals.forget(&key);
            }
            Ok(decision
                .requeue_after
                .map(Action::requeue)
                .unwrap_or_else(Action::await_change))
        }
        Step::ResolveTargets => Box::pin(target_resolution::resolve(ctx, api, obj, decision.status)).await,
        Step::MeasureBlastRadius { digest, counted_for } => {
            Box::pin(super::blast_radius_reader::measure(
                ctx,
                api,
                obj,
                decision.status,
                digest,
                counted_for,
            ))
            .await
        }
        Step::Detect { check } => Box::pin(super::plan::protocol::detect(ctx, api, obj, decision.status, check)).await,
        Step::ReadDetection { check } => {
            Box::pin(super::plan::protocol::read(ctx, api, obj, decision.status, check)).await
        }
        Step::PlanRollout => Box::pin(rollout_planning::plan(ctx, api, obj, decision.status)).await,
        Step::Start(attempt) => Box::pin(start_protocol::start(ctx, api, obj, decision.status, attempt)).await,
        Step::Adopt { attempt, restart } => {
            Box::pin(start_protocol::adopt(ctx, api, obj, decision.status, attempt, restart)).await
        }
        Step::Resume { session_ids } => Box::pin(resume(ctx, api, obj, decision.status, session_ids)).await,
        Step::Cancel { session_ids } => Box::pin(cancel(ctx, api, obj, decision.status, session_ids)).await,
        Step::RerunAction { action_id } => {
            Box::pin(action_rerun_protocol::rerun(ctx, api, obj, decision.status, action_id)).await
        }
        Step::FindActionRerun { action_id, resend } => {
            Box::pin(action_rerun_protocol::find(
                ctx,
                api,
                obj,
                decision.status,
                action_id,
                resend,
            ))
            .await
        }
    };
    if done.is_ok() {
        announce_controls(ctx, obj, &control_changes, approver(obj)).await;
    }
    done
}

/// The session's controls as they stand (`status.controls`), and those a
/// person changed since the last look. Decided once per reconcile, after
/// the state machine (it does not decide from them).
fn record_controls(
    obj: &MaintenanceSession,
    status: &mut crate::api::MaintenanceSessionStatus,
    now: jiff::Timestamp,
) -> Vec<crate::api::ControlRecord> {
    static DEFAULTS: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
        crate::controller::controls::defaults_of::<crate::api::MaintenanceSessionSpec>(
            serde_json::json!({"requestedBy": "", "reason": "", "target": {}}),
        )
    });
    crate::controller::controls::observe_object(
        &mut status.controls,
        crate::api::session_coverage(),
        &obj.spec,
        &DEFAULTS,
        &obj.metadata,
        &obj.spec.requested_by,
        now,
    )
}

/// Action reruns chosen now are asked for by whoever last changed
/// `spec.retry` (as `status.controls` records it).
fn name_rerun_requesters(status: &mut crate::api::MaintenanceSessionStatus) {
    let by = status
        .controls
        .iter()
        .find(|c| c.field == "retry")
        .map(|c| c.by.clone())
        .unwrap_or_else(|| crate::controller::controls::UNKNOWN.to_owned());
    for r in status.action_reruns.iter_mut().flat_map(|r| r.actions.iter_mut()) {
        if r.requested_by.is_empty() {
            r.requested_by = by.clone();
        }
    }
}

/// Who approved the session, for the events that name who used a control.
fn approver(obj: &MaintenanceSession) -> Option<&str> {
    obj.status.as_ref()?.approval.as_ref().map(|a| a.approved_by.as_str())
}

/// Resumes the postponed sessions `spec.resume` asked for. Recorded first:
/// a crash after the write loses a resume (a person asks again), never
/// repeats one.
async fn resume(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    status: crate::api::MaintenanceSessionStatus,
    session_ids: Vec<i32>,
) -> Result<Action, Error> {
    let written = replace_status(api, obj, status).await?;
    let mut resumed = Vec::new();
    for id in &session_ids {
        match ctx.immybot.resume(*id).await {
            Ok(()) => resumed.push(*id),
            Err(e) => tracing::warn!(session = id, error = %e, "ImmyBot refused to resume a session"),
        }
    }
    let note = if session_ids.is_empty() {
        "spec.resume.requests was incremented, but no session was postponed; nothing resumed".to_string()
    } else if resumed.len() == session_ids.len() {
        format!("resumed postponed ImmyBot sessions {resumed:?}")
    } else {
        format!("resumed ImmyBot sessions {resumed:?}; ImmyBot refused to resume the others of {session_ids:?}")
    };
    let type_ = if resumed.len() == session_ids.len() {
        EventType::Normal
    } else {
        EventType::Warning
    };
    publish(ctx, &written, type_, "Resumed", &note).await;
    Ok(Action::requeue(Duration::from_secs(2)))
}

/// Records the cancel being under way, then asks ImmyBot to cancel.
async fn cancel(
    ctx: &SessionContext,
    api: &SessionApi,
    obj: &MaintenanceSession,
    status: crate::api::MaintenanceSessionStatus,
    session_ids: Vec<i32>,
) -> Result<Action, Error> {
    let written = if obj.status.as_ref() != Some(&status) {
        replace_status(api, obj, status).await?
    } else {
        obj.clone()
    };
    ctx.immybot.cancel_many(&session_ids).await?;
    // Accepted: never asked again (a 2xx is an answer).
    let written = accept_cancel(api, written, &session_ids).await?;
    publish(
        ctx,
        &written,
        EventType::Normal,
        "CancelRequested",
        &format!("asked ImmyBot to cancel sessions {session_ids:?}"),
    )
    .await;
    Ok(Action::requeue(Duration::from_secs(2)))
}

/// Records sessions whose cancel ImmyBot accepted (`status.cancelAccepted`).
async fn accept_cancel(
    api: &SessionApi,
    written: MaintenanceSession,
    ids: &[i32],
) -> Result<MaintenanceSession, Error> {
    let ids = ids.to_vec();
    persist_answer(api.clone(), written.name_any(), Some(written), move |st| {
        for id in &ids {
            if !st.cancel_accepted.contains(id) {
                st.cancel_accepted.push(*id);
            }
        }
        true
    })
    .await
}

/// A settled object (see `is_settled`): no ImmyBot call, no approval list;
/// a spec change (a control) only moves `observedGeneration`, so that kstatus
/// and GitOps tools see the change observed.
///
/// Its maintenance over, ImmyBot is asked once what it still shows out of
/// compliance on the computers (`compliance`), at the lowest priority.
async fn settled(obj: &MaintenanceSession, ctx: &SessionContext, api: &SessionApi) -> Result<Action, Error> {
    let mut status = obj.status.clone().unwrap_or_default();
    let now = crate::controller::clock::stored_time(ctx.clock.now()).0;
    let changed = record_controls(obj, &mut status, now);
    let (read, again) = super::compliance::check(ctx, obj, &mut status, now).await;
    if status.observed_generation != obj.metadata.generation || !changed.is_empty() || read {
        status.observed_generation = obj.metadata.generation;
        let written = status.clone();
        replace_status(api, obj, status).await?;
        announce_controls(ctx, obj, &changed, approver(obj)).await;
        if read {
            super::compliance::announce(ctx, obj, &written).await;
        }
    }
    Ok(again.map(Action::requeue).unwrap_or_else(Action::await_change))
}

/// Makes this session the owner of the approvals that approve it (same name
/// and uid), so that they are garbage-collected with it and can never
/// approve a later object of the same name. Best effort: the uid in the
/// approval and in the digest already bind it; ownership is housekeeping.
async fn own_approvals(api: &Api<MaintenanceApproval>, obj: &MaintenanceSession, approvals: &[MaintenanceApproval]) {
    let (Some(name), Some(uid)) = (obj.metadata.name.clone(), obj.metadata.uid.clone()) else {
        return;
    };
    // Not a controller reference and not blocking deletion: the approval is
    // the approver's object, the session only carries it away.
    let owner = k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        api_version: MaintenanceSession::api_version(&()).into_owned(),
        kind: MaintenanceSession::kind(&()).into_owned(),
        name,
        uid,
        controller: None,
        block_owner_deletion: None,
    };
    for approval in approvals.iter().filter(|a| {
        a.spec.session_name == owner.name
            && a.spec.session_uid == owner.uid
            && !a.owner_references().iter().any(|r| r.uid == owner.uid)
    }) {
        let mut refs = approval.owner_references().to_vec();
        refs.push(owner.clone());
        let patch = serde_json::json!({"metadata": {"ownerReferences": refs}});
        if let Err(e) = api
            .patch(&approval.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            tracing::warn!(approval = %approval.name_any(), error = %e, "could not make the session own its approval");
        }
    }
}

/// Deletion. `Orphan` releases at once; `Cancel` cancels what still runs in
/// ImmyBot, waits (bounded) for confirmation, then releases. An object that
/// never started releases at once.
async fn cleanup(obj: &MaintenanceSession, ctx: &SessionContext, api: &SessionApi) -> Result<Action, Error> {
    let attempts = obj
        .status
        .as_ref()
        .and_then(|s| s.immybot.as_ref())
        .map(|r| r.attempts.clone())
        .unwrap_or_default();
    if attempts.is_empty() {
        return Ok(Action::await_change());
    }
    if obj.spec.deletion_policy == crate::api::DeletionPolicy::Orphan {
        publish(
            ctx,
            obj,
            EventType::Normal,
            "Orphaned",
            "deleted with deletionPolicy Orphan: ImmyBot sessions are left running",
        )
        .await;
        return Ok(Action::await_change());
    }
    let now = super::super::clock::stored_time(ctx.clock.now()).0;
    let mut sessions = observe_sessions(ctx, &recorded_attempts(obj), Need::Everything, now)
        .await?
        .sessions;
    for unanswered in attempts
        .iter()
        .filter(|a| a.session_ids.is_empty() && a.busy_computer_ids.is_empty())
    {
        let (ours, unknown) = start_protocol::find_ids(ctx, obj, unanswered).await?;
        if !unknown.is_empty() {
            publish(
                ctx,
                obj,
                EventType::Warning,
                "AdoptionUndetermined",
                &format!(
                    "deleting: ImmyBot did not say whether sessions {unknown:?} belong to attempt {}; they are not cancelled, check them in ImmyBot",
                    unanswered.number
                ),
            )
            .await;
        }
        for id in ours {
            sessions.push(
                ctx.immybot
                    .at(immybot_client::Priority::Ending)
                    .session(id, false, false)
                    .await?,
            );
        }
    }
    // A session the object only observes was not the operator's to start,
    // and is not its to cancel on deletion either.
    let observed: Vec<i32> = attempts
        .iter()
        .filter(|a| a.purpose.as_deref() == Some(crate::api::attempt_purpose::OBSERVED))
        .flat_map(|a| a.session_ids.iter().copied())
        .collect();
    let active: Vec<i32> = sessions
        .iter()
        .filter(|s| !observed.contains(&s.id))
        .filter(|s| !s.session_status.as_ref().is_some_and(|x| x.is_terminal()))
        .map(|s| s.id)
        .collect();
    if active.is_empty() {
        return Ok(Action::await_change());
    }
    // A cancel ImmyBot accepted is not asked again: what is left is waiting
    // for ImmyBot to end those sessions.
    let accepted = obj
        .status
        .as_ref()
        .map(|s| s.cancel_accepted.as_slice())
        .unwrap_or_default();
    let to_ask: Vec<i32> = active.iter().copied().filter(|id| !accepted.contains(id)).collect();
    let deleting_for = obj
        .metadata
        .deletion_timestamp
        .as_ref()
        .map(|t| Duration::try_from(jiff::Timestamp::now().duration_since(t.0)).unwrap_or(Duration::ZERO))
        .unwrap_or(Duration::ZERO);
    if deleting_for > ctx.timing.cancel_confirm_timeout {
        publish(
            ctx,
            obj,
            EventType::Warning,
            "CancellationUnconfirmed",
            &format!("ImmyBot did not confirm the cancellation of sessions {active:?} in time; released anyway, check them in ImmyBot"),
        )
        .await;
        return Ok(Action::await_change());
    }
    if !to_ask.is_empty() {
        ctx.immybot.cancel_many(&to_ask).await?;
        accept_cancel(api, obj.clone(), &to_ask).await?;
        publish(
            ctx,
            obj,
            EventType::Normal,
            "CancelRequested",
            &format!("deleting: asked ImmyBot to cancel sessions {to_ask:?}"),
        )
        .await;
    }
    Err(Error::AwaitingCancellation(active))
}
