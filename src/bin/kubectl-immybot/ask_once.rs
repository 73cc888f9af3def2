//! Asking the operator a question answered once (a SessionSearch, a
//! MaintenanceReport): create it, wait for the answer, delete it. RBAC on
//! the kind is the only key; the person never holds ImmyBot credentials.

use std::time::Duration;

use anyhow::{Context as _, bail};
use immybot_operator::api::{AnsweredOnce, SearchPhase};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::wait::await_condition;
use kube::{Resource, ResourceExt as _};

use super::commands::Ctx;

/// Creates `question` named `prefix` and a generated suffix, waits up to
/// `timeout` for the operator to answer it, deletes it (asked and
/// answered, or given up on: it has done its job) and returns it as
/// answered. A refusal is an error carrying the operator's message.
pub async fn ask<K>(ctx: &Ctx, mut question: K, prefix: &str, timeout: Duration) -> anyhow::Result<K>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + AnsweredOnce
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let kind = K::kind(&());
    question.meta_mut().name = None;
    question.meta_mut().generate_name = Some(prefix.to_owned());
    let api: Api<K> = ctx.api();
    let created = api
        .create(&PostParams::default(), &question)
        .await
        .with_context(|| format!("creating a {kind} in namespace {}", ctx.namespace))?;
    let name = created.name_any();
    let answered = |q: Option<&K>| q.is_some_and(AnsweredOnce::is_answered);
    let result = tokio::time::timeout(timeout, await_condition(api.clone(), &name, answered)).await;
    let _ = api.delete(&name, &DeleteParams::default()).await;
    let answer = result
        .with_context(|| format!("the operator did not answer {kind} {name} within {timeout:?}; is it running?"))?
        .with_context(|| format!("watching the {kind}"))?
        .with_context(|| format!("the {kind} was deleted before it was answered"))?;
    if let Some(refused) = answer.answer().filter(|a| a.phase == Some(SearchPhase::Failed)) {
        bail!("{}", refused.message.unwrap_or("the operator refused it"));
    }
    Ok(answer)
}
