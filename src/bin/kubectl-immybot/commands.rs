//! The plugin's commands. Every change is a patch a person could make with
//! kubectl; the plugin adds the checks and the wording.

use std::io::{BufRead as _, Write as _};

use anyhow::{Context as _, bail};
use immybot_operator::api::{
    ApprovedKind, MaintenanceApproval, MaintenanceSession, NamedId, Phase, PlanState, PlanStatus, session_coverage,
};
use immybot_operator::controller::parse_duration;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::api::{Api, Patch, PatchParams, PostParams};

use super::approval_prompt::{self, Approving};
use super::render;

pub struct Ctx {
    pub client: kube::Client,
    pub namespace: String,
}

impl Ctx {
    /// The `K`s of the namespace the command works in.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// One `K` by name; an error names the kind and the namespace.
    pub async fn get<K>(&self, name: &str) -> anyhow::Result<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned,
    {
        self.api::<K>()
            .get(name)
            .await
            .with_context(|| format!("{} {name} in namespace {}", K::kind(&()), self.namespace))
    }
}

/// Who the API server says we are.
pub async fn whoami(client: &kube::Client) -> anyhow::Result<String> {
    let review: SelfSubjectReview = serde_json::from_value(serde_json::json!({}))?;
    let answer = Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .context("asking the API server who you are")?;
    answer
        .status
        .and_then(|s| s.user_info)
        .and_then(|u| u.username)
        .context("the API server did not say who you are")
}

pub async fn approve(
    ctx: &Ctx,
    name: &str,
    comment: Option<String>,
    expires_in: Option<String>,
    yes: bool,
    before_plan: bool,
) -> anyhow::Result<()> {
    let session = ctx.get::<MaintenanceSession>(name).await?;
    let status = session.status.clone().unwrap_or_default();
    let Some(digest) = status.approval_digest.clone() else {
        bail!("{name} has no approval digest yet: the operator has not looked at it (is it running?)");
    };
    if status.immybot.as_ref().is_some_and(|r| !r.attempts.is_empty()) && status.phase.is_some_and(Phase::is_final) {
        bail!(
            "{name} has already finished ({}); there is nothing to approve",
            status.phase.map_or("-", Phase::as_str)
        );
    }
    let me = whoami(&ctx.client).await?;
    if me == session.spec.requested_by {
        bail!("you ({me}) requested {name}; someone else must approve it");
    }
    let expires_at = expires_at(expires_in.as_deref())?;
    // With spec.plan, what is approved is the plan as well: shown first,
    // and approved only once it is made for this spec.
    let plan = if before_plan {
        println!(
            "Approving the spec before its plan: the plan's detection may run; the start waits for an approval of the plan."
        );
        None
    } else {
        plan_to_approve(&session, &digest)?
    };
    if let Some(p) = plan {
        print!("{}", crate::render_plan::plan_lines(p));
    }
    print!(
        "{}",
        approval_prompt::render(&session_approving(&session, &digest, &me)?)
    );
    if !yes && !ask("Approve?")? {
        println!("not approved");
        return Ok(());
    }
    let uid = session
        .metadata
        .uid
        .clone()
        .context("the MaintenanceSession has no uid")?;
    // The approval records the blast radius it was given (measured for
    // this digest): a tenant that grows past it needs a new approval.
    let computers = status
        .blast_radius
        .as_ref()
        .filter(|b| b.digest == digest)
        .map(|b| b.computers);
    let created = create_approval(
        ctx,
        ApprovedKind::MaintenanceSession,
        name,
        &uid,
        &digest,
        &me,
        comment,
        expires_at,
        computers,
        plan.and_then(|p| p.digest.as_deref()),
    )
    .await?;
    println!("approved {name} as {me} (maintenanceapproval/{created})");
    Ok(())
}

/// The plan an approval of `digest` must name, when the session asks for
/// one: refused until it is made for this spec.
fn plan_to_approve<'a>(session: &'a MaintenanceSession, digest: &str) -> anyhow::Result<Option<&'a PlanStatus>> {
    let name = session.metadata.name.as_deref().unwrap_or_default();
    if !session.spec.plan.as_ref().is_some_and(|p| p.enabled) {
        return Ok(None);
    }
    let plan = session.status.as_ref().and_then(|s| s.plan.as_ref());
    match plan {
        Some(p) if p.spec_digest == digest && p.state == PlanState::Ready && p.digest.is_some() => Ok(Some(p)),
        Some(p) if p.spec_digest == digest => bail!(
            "{name} has spec.plan and its plan #{} is still being made (a detection-only session in ImmyBot); approve it once it is ready: kubectl immybot status {name}",
            p.number
        ),
        _ => bail!(
            "{name} has spec.plan and no plan for its current spec yet; the operator makes one before anyone can approve (kubectl immybot status {name}). Where the operator makes detection wait for an approval of the spec, approve that first: kubectl immybot approve {name} --before-plan"
        ),
    }
}

/// A session as its approver sees it: the computers (to size the waves)
/// are the planned rollout's, or the computers target's as resolved.
fn session_approving<'a>(
    session: &'a MaintenanceSession,
    digest: &'a str,
    me: &'a str,
) -> anyhow::Result<Approving<'a>> {
    let status = session.status.clone().unwrap_or_default();
    let computers = match (&status.rollout, &session.spec.target.computers) {
        (Some(plan), _) if !plan.computer_ids.is_empty() => {
            Some(plan.computer_ids.iter().map(|&id| NamedId { id, name: None }).collect())
        }
        (_, Some(list)) => {
            let resolved = status.resolved_target.map(|r| r.computers).unwrap_or_default();
            list.iter()
                .map(|c| {
                    c.id.or_else(|| resolved.iter().find(|r| r.name == c.name).map(|r| r.id))
                })
                .map(|id| id.map(|id| NamedId { id, name: None }))
                .collect::<Option<Vec<_>>>()
        }
        _ => None,
    };
    Ok(Approving {
        coverage: session_coverage(),
        name: session.metadata.name.as_deref().unwrap_or_default(),
        spec: serde_json::to_value(&session.spec)?,
        digest,
        approver: me,
        now: jiff::Timestamp::now(),
        computers,
        target_summary: status.target_summary,
        blast_radius: status.blast_radius,
    })
}

/// `--expires-in` as a point in time.
pub fn expires_at(expires_in: Option<&str>) -> anyhow::Result<Option<jiff::Timestamp>> {
    let Some(text) = expires_in else { return Ok(None) };
    let d = parse_duration(Some(text))
        .with_context(|| format!("--expires-in {text:?} is not a duration like 24h or 90m"))?;
    Ok(Some(
        jiff::Timestamp::now().checked_add(jiff::SignedDuration::try_from(d)?)?,
    ))
}

/// Asks on the terminal; only y/yes is a yes.
pub fn ask(question: &str) -> anyhow::Result<bool> {
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Creates the MaintenanceApproval of `digest` for the object `name`/`uid`
/// of `kind`, owned by that object so it goes when the object goes.
/// Returns the approval's name.
#[allow(clippy::too_many_arguments)] // every one is a field of the approval
pub async fn create_approval(
    ctx: &Ctx,
    kind: ApprovedKind,
    name: &str,
    uid: &str,
    digest: &str,
    me: &str,
    comment: Option<String>,
    expires_at: Option<jiff::Timestamp>,
    computers: Option<i32>,
    plan_digest: Option<&str>,
) -> anyhow::Result<String> {
    let kind_name = match kind {
        ApprovedKind::MaintenanceSession => "MaintenanceSession",
        ApprovedKind::ImmyBotSchedule => "ImmyBotSchedule",
        ApprovedKind::MaintenanceSchedule => "MaintenanceSchedule",
    };
    let short = digest.trim_start_matches("sha256:").chars().take(8).collect::<String>();
    let mut spec = serde_json::json!({"kind": kind_name, "sessionName": name, "sessionUid": uid, "digest": digest, "approver": me});
    if let Some(c) = comment {
        spec["comment"] = c.into();
    }
    if let Some(t) = expires_at {
        spec["expiresAt"] = t.to_string().into();
    }
    if let Some(n) = computers {
        spec["computers"] = n.into();
    }
    if let Some(p) = plan_digest {
        spec["planDigest"] = p.into();
    }
    let base = format!("{name}-{short}-{}", sanitize(me));
    // The same person approving the same digest again (a tenant that grew
    // since): a name of its own, with the count it approves.
    let taken = Api::<MaintenanceApproval>::namespaced(ctx.client.clone(), &ctx.namespace)
        .get_opt(&base)
        .await
        .context("looking for an earlier approval")?
        .is_some();
    // Likewise a new plan of the same spec: named by its digest.
    let approval_name = match (taken, computers, plan_digest) {
        (true, _, Some(p)) => format!(
            "{base}-{}",
            p.trim_start_matches("sha256:").chars().take(8).collect::<String>()
        ),
        (true, Some(n), None) => format!("{base}-{n}"),
        _ => base,
    };
    let approval: MaintenanceApproval = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceApproval",
        "metadata": {
            "name": approval_name,
            "ownerReferences": [{"apiVersion": "immybot.io/v1alpha1", "kind": kind_name, "name": name, "uid": uid}],
        },
        "spec": spec,
    }))?;
    Api::<MaintenanceApproval>::namespaced(ctx.client.clone(), &ctx.namespace)
        .create(&PostParams::default(), &approval)
        .await
        .context("creating the MaintenanceApproval")?;
    Ok(approval_name)
}

/// A name fragment from a user name (`system:serviceaccount:x:y` -> `system-serviceaccount-x-y`).
fn sanitize(user: &str) -> String {
    let s = immybot_operator::api::name_slug(user);
    s.trim_matches('-').chars().take(40).collect()
}

pub async fn status(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    print!("{}", render::status(&ctx.get::<MaintenanceSession>(name).await?));
    Ok(())
}

pub async fn logs(ctx: &Ctx, name: &str, filter: &render::LogFilter) -> anyhow::Result<()> {
    print!("{}", render::logs(&ctx.get::<MaintenanceSession>(name).await?, filter));
    Ok(())
}

/// Merges `spec` into the object's spec: the patch a person could make
/// with `kubectl patch --type merge`. `shown` names the object in errors.
pub async fn merge_spec<K>(api: &Api<K>, name: &str, shown: &str, spec: serde_json::Value) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(&serde_json::json!({"spec": spec})),
    )
    .await
    .with_context(|| format!("changing {shown}"))?;
    Ok(())
}

/// Tries of a read-modify-write before it gives up (each lost to someone
/// else's change in between).
const UPDATE_TRIES: usize = 10;

/// A read-modify-write of the spec, safe against another person doing the
/// same at once: reads the object, lets `change` make the spec's merge
/// patch from what it read, and sends it with the resourceVersion it read
/// as a precondition. If the object changed in between (another `retry`),
/// the API server answers 409 and the whole step starts again from a fresh
/// read: two concurrent `retry`s both count. Returns the object as read
/// for the patch that went through, and that patch.
pub async fn update_spec<K>(
    api: &Api<K>,
    name: &str,
    shown: &str,
    change: impl Fn(&K) -> anyhow::Result<serde_json::Value>,
) -> anyhow::Result<(K, serde_json::Value)>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    for _ in 0..UPDATE_TRIES {
        let current = api.get(name).await.with_context(|| format!("reading {shown}"))?;
        let spec = change(&current)?;
        let patch = serde_json::json!({
            "metadata": {"resourceVersion": current.meta().resource_version},
            "spec": spec,
        });
        match api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => return Ok((current, spec)),
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(e) => return Err(e).with_context(|| format!("changing {shown}")),
        }
    }
    bail!("{shown} kept changing while it was being updated ({UPDATE_TRIES} tries); run the command again")
}

async fn update_session(
    ctx: &Ctx,
    name: &str,
    change: impl Fn(&MaintenanceSession) -> anyhow::Result<serde_json::Value>,
) -> anyhow::Result<(MaintenanceSession, serde_json::Value)> {
    update_spec(&ctx.api::<MaintenanceSession>(), name, name, change).await
}

async fn patch_spec(ctx: &Ctx, name: &str, spec: serde_json::Value) -> anyhow::Result<()> {
    merge_spec(&ctx.api::<MaintenanceSession>(), name, name, spec).await
}

pub async fn set_suspend(ctx: &Ctx, name: &str, suspend: bool) -> anyhow::Result<()> {
    let session = ctx.get::<MaintenanceSession>(name).await?;
    patch_spec(ctx, name, serde_json::json!({"suspend": suspend})).await?;
    let started = session.status.as_ref().and_then(|s| s.start_time.as_ref()).is_some();
    match (suspend, started) {
        (true, true) => println!(
            "suspended {name}: no new attempt starts; ImmyBot cannot pause sessions already running, they go on"
        ),
        (true, false) => println!("suspended {name}: nothing starts until it is resumed"),
        (false, _) => println!("resumed {name}"),
    }
    Ok(())
}

/// Continues what is held: lifts `spec.suspend` and, if ImmyBot sessions
/// wait for a user who postponed a reboot, asks the operator to resume them
/// (`spec.resume.requests`, acted on once and recorded in status).
pub async fn resume(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    let halted_or_postponed = |session: &MaintenanceSession| {
        let phase = session.status.as_ref().and_then(|s| s.phase);
        // A halted rollout continues through the same request (accepting the
        // failures so far), as its halt message says.
        let halted = phase == Some(Phase::Halted);
        (halted, phase == Some(Phase::Postponed) || halted)
    };
    let (session, _) = update_session(ctx, name, |session| {
        let (_, postponed) = halted_or_postponed(session);
        if !session.spec.suspend && !postponed {
            bail!("{name} is neither suspended, postponed nor halted; there is nothing to resume");
        }
        let mut spec = serde_json::json!({});
        if session.spec.suspend {
            spec["suspend"] = false.into();
        }
        if postponed {
            spec["resume"] = serde_json::json!({"requests": session.spec.resume.requests + 1});
        }
        Ok(spec)
    })
    .await?;
    let (halted, postponed) = halted_or_postponed(&session);
    if session.spec.suspend {
        println!("resumed {name}: spec.suspend is false");
    }
    if halted {
        println!(
            "asked the operator to continue {name}'s halted rollout, accepting the failures so far (resume.requests = {})",
            session.spec.resume.requests + 1
        );
    } else if postponed {
        println!(
            "asked the operator to resume {name}'s postponed ImmyBot sessions (resume.requests = {})",
            session.spec.resume.requests + 1
        );
    }
    Ok(())
}

pub async fn cancel(ctx: &Ctx, name: &str, reason: &str) -> anyhow::Result<()> {
    if reason.trim().is_empty() {
        bail!("--reason must say why");
    }
    ctx.get::<MaintenanceSession>(name).await?;
    patch_spec(ctx, name, serde_json::json!({"cancel": {"reason": reason}})).await?;
    println!("cancelling {name}: the operator cancels its ImmyBot sessions; this cannot be undone");
    Ok(())
}

pub async fn retry(ctx: &Ctx, name: &str) -> anyhow::Result<()> {
    let (session, _) = update_session(ctx, name, |session| {
        Ok(serde_json::json!({"retry": {"requests": session.spec.retry.requests + 1}}))
    })
    .await?;
    let requests = session.spec.retry.requests + 1;
    println!("asked for one more rerun of {name}'s failed computers (retry.requests = {requests})");
    Ok(())
}

/// Asks for a rerun of the failed actions that match `filter`
/// (`spec.retry.failedActions.requests` + 1, with the filters), and shows
/// which of those the status lists.
pub async fn retry_failed_actions(ctx: &Ctx, name: &str, filter: &crate::render::LogFilter) -> anyhow::Result<()> {
    let asked = |session: &MaintenanceSession| session.spec.retry.failed_actions.as_ref().map_or(0, |f| f.requests) + 1;
    let (session, _) = update_session(ctx, name, |session| {
        Ok(serde_json::json!({"retry": {"failedActions": {
            "requests": asked(session), "computer": filter.computer, "action": filter.action
        }}}))
    })
    .await?;
    let requests = asked(&session);
    let listed = crate::render::failed_actions(&session, filter);
    println!(
        "asked to rerun {name}'s failed actions (retry.failedActions.requests = {requests}); the status lists these:"
    );
    if listed.is_empty() {
        println!("  none (the operator reruns what ImmyBot shows failed; status lists the worst computers only)");
    }
    for line in listed {
        println!("  {line}");
    }
    println!("follow it with: kubectl immybot status {name}");
    Ok(())
}

/// Creates an observe-only MaintenanceSession for ImmyBot session `id`,
/// requested by whoever runs the plugin.
pub async fn import(ctx: &Ctx, id: i32, name: Option<String>, reason: Option<String>) -> anyhow::Result<()> {
    if id < 1 {
        bail!("an ImmyBot session id is a positive number");
    }
    let me = whoami(&ctx.client).await?;
    let name = name.unwrap_or_else(|| format!("immybot-session-{id}"));
    let reason = reason.unwrap_or_else(|| format!("observe ImmyBot session {id}"));
    let spec: immybot_operator::api::MaintenanceSessionSpec = serde_json::from_value(serde_json::json!({
        "requestedBy": me, "reason": reason, "observe": {"sessionId": id}
    }))?;
    let obj = MaintenanceSession::new(&name, spec);
    Api::<MaintenanceSession>::namespaced(ctx.client.clone(), &ctx.namespace)
        .create(&PostParams::default(), &obj)
        .await
        .with_context(|| format!("creating MaintenanceSession {name} in namespace {}", ctx.namespace))?;
    println!(
        "created {name}: it mirrors ImmyBot session {id} and starts nothing; follow it with kubectl immybot status {name}"
    );
    Ok(())
}
