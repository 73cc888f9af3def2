//! The shell around `machine::decide`: count the namespace's live searches
//! (from the watch's store), decide, ask ImmyBot once or delete, write.

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt as _;
use kube::api::Api;
use kube::runtime::controller::Action;

use super::SearchContext;
use super::machine::{Observed, Step, answered, decide, failed};
use super::reader::Resolved;
use crate::api::SessionSearch;
use crate::controller::answered_once;
use crate::controller::clock::stored_time;
use crate::controller::error::Error;
use crate::controller::status_writer::replace_status_if_changed;
use immybot_client::{ErrorKind, Priority};

pub async fn reconcile(obj: Arc<SessionSearch>, ctx: Arc<SearchContext>) -> Result<Action, Error> {
    if ctx.is_crashed() || obj.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<SessionSearch> = Api::namespaced(ctx.client.clone(), &ns);
    let now = stored_time(ctx.clock.now()).0;
    let o = Observed {
        object: &obj,
        now,
        older_live: answered_once::older_live(&ctx.state.searches, &*obj, &api, ctx.clock.now()).await?,
    };
    match decide(&o) {
        Step::Wait { after } => Ok(Action::requeue(after)),
        Step::Delete => {
            answered_once::delete(&api, &obj.name_any()).await?;
            Ok(Action::await_change())
        }
        Step::Write(status) => {
            replace_status_if_changed(&api, &obj, &status).await?;
            Ok(Action::requeue(super::machine::ttl(&o)))
        }
        Step::Search => {
            use crate::controller::connections::ConnectionProblem;
            let live = match ctx.connections.resolve(obj.spec.connection_ref.as_ref(), &ns) {
                Ok(live) => live,
                // It may become ready: the search waits, and says nothing yet.
                Err(p @ ConnectionProblem::NotReady { .. }) => return Err(p.into()),
                Err(p) => {
                    replace_status_if_changed(&api, &obj, &failed(&o, p.reason(), p.to_string())).await?;
                    return Ok(Action::requeue(super::machine::ttl(&o)));
                }
            };
            let client = live.client.at(Priority::Progress);
            let outcome = match super::reader::resolve_names(&client, &obj.spec).await {
                Ok(Resolved::Ids { spec, computer, tenant }) => {
                    super::reader::search(&client, &spec)
                        .await
                        .map(|(sessions, truncated)| {
                            let mut st = answered(&o, sessions, truncated);
                            st.resolved_computer = computer;
                            st.resolved_tenant = tenant;
                            st
                        })
                }
                Ok(Resolved::Refused { reason, message }) => Ok(failed(&o, reason, message)),
                Err(e) => Err(e),
            };
            let status = match outcome {
                Ok(status) => status,
                // Worth asking again (the controller's backoff does).
                Err(e) if matches!(e.kind(), ErrorKind::Transient | ErrorKind::RateLimited) => {
                    return Err(e.into());
                }
                Err(e) => failed(
                    &o,
                    "ImmyBotRefused",
                    format!("ImmyBot could not answer the search: {e}"),
                ),
            };
            replace_status_if_changed(&api, &obj, &status).await?;
            Ok(Action::requeue(super::machine::ttl(&o)))
        }
    }
}

pub fn error_policy(obj: Arc<SessionSearch>, error: &Error, _ctx: Arc<SearchContext>) -> Action {
    if matches!(error, Error::Conflict) {
        return Action::requeue(Duration::from_millis(200));
    }
    tracing::warn!(search = %obj.name_any(), error = %error, label = error.metric_label(), "session search failed");
    Action::requeue(Duration::from_secs(30))
}
