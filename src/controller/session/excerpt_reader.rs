//! Reads the log excerpts `action_excerpts` chose: one
//! `GET /maintenance-actions/{actionId}/logs` per failed action, once (the
//! cache keeps it for the life of the process), at the priority of reads of
//! ended sessions. A read that fails is left out of this status and tried
//! at the next reconcile; it never holds back the outcome it would explain.

use std::collections::BTreeMap;

use futures::StreamExt as _;

use super::SessionContext;
use super::action_excerpts::{excerpt, worth_excerpts};
use immybot_client::{ErrorKind, MaintenanceSession, Priority};

/// The excerpts of `sessions`' failed actions worth one, by action id.
pub async fn read_excerpts(ctx: &SessionContext, sessions: &[MaintenanceSession]) -> BTreeMap<i32, Vec<String>> {
    if !ctx.action_log_excerpts {
        return BTreeMap::new();
    }
    let cache = &ctx.state.immybot_cache;
    let mut found = BTreeMap::new();
    let mut missing = Vec::new();
    for id in worth_excerpts(sessions) {
        match cache.excerpt(id) {
            Some(known) => {
                found.insert(id, known.as_ref().clone());
            }
            None => missing.push(id),
        }
    }
    let client = ctx.immybot.at(Priority::Ending);
    let read: Vec<(i32, Option<Vec<String>>)> = futures::stream::iter(missing)
        .map(|id| {
            let client = &client;
            async move {
                match client.action_logs(id).await {
                    Ok(lines) => (id, Some(excerpt(&lines))),
                    // An action ImmyBot no longer has: nothing to show, ever.
                    Err(e) if e.kind() == ErrorKind::NotFound => (id, Some(Vec::new())),
                    Err(e) => {
                        tracing::debug!(action = id, error = %e, "could not read an action's log");
                        (id, None)
                    }
                }
            }
        })
        .buffer_unordered(2)
        .collect()
        .await;
    for (id, got) in read {
        if let Some(lines) = got {
            cache.remember_excerpt(id, lines.clone());
            if !lines.is_empty() {
                found.insert(id, lines);
            }
        }
    }
    found
}
