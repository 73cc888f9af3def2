//! Every call that changes the simulated instance, with the intent it
//! served, as carried out: what a test (or the end-to-end harness, after
//! every test) checks "never twice" against. A call counts once ImmyBot
//! did the work (its handler answered 2xx), whether or not the answer
//! reached the client: a dropped answer still started the session.
//!
//! The intent is what makes two calls the same call sent twice:
//! - a start: its `sessionGroupId` (the operator derives one per attempt);
//! - an action rerun: the session and the action (the operator reruns an
//!   action id at most once; a rerun in its own session that failed again
//!   keeps its id, and asking again would be another call of one intent);
//! - a resume: the session and which postponement it answers;
//! - a session cancel: the session;
//! - a schedule create: its definition (schedules carry nothing naming who
//!   asked; see `schedule_create_intent`); an update: the schedule and the
//!   body (the same definition PUT twice); a delete: the schedule;
//!   run now: the schedule and how many sessions it had started; cancel
//!   its running sessions: the schedule and which sessions ran.

use std::collections::BTreeMap;

use serde_json::Value;

use super::engine::Engine;

/// One call ImmyBot carried out.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DestructiveCall {
    /// The route template (`POST /api/v1/run-immy-service`).
    pub route: String,
    /// What the call was for (see the module's list).
    pub intent: String,
    /// The status the handler answered.
    pub status: u16,
}

/// The intents a call on `route` (a template) serves, read before the
/// handler runs (a rerun's intent names the outcome it reruns). Empty for
/// calls that change nothing.
/// `created`: the schedules created through the API so far, with their
/// create intent (a create after one like it was deleted, in ImmyBot or
/// through the API, is a new intent: a recreation).
pub fn intents(route: &str, path: &str, body: &[u8], engine: &Engine, created: &BTreeMap<i32, String>) -> Vec<String> {
    let ids = path_ids(route, path);
    let id = |name: &str| ids.get(name).copied();
    let json = || serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    match route {
        "POST /api/v1/run-immy-service" | "POST /api/v1/run-immy-service-new" => {
            let group = json().get("sessionGroupId").and_then(Value::as_str).map(str::to_owned);
            vec![format!(
                "start group {}",
                group.unwrap_or_else(|| format!("none, body {}", digest(body)))
            )]
        }
        "POST /api/v1/maintenance-sessions/{sessionId}/actions/{actionId}/rerun" => {
            let (Some(session), Some(action)) = (id("sessionId"), id("actionId")) else {
                return vec![];
            };
            vec![format!("rerun action {session}/{action}")]
        }
        "POST /api/v1/maintenance-sessions/{sessionId}/resume" => id("sessionId")
            .map(|s| format!("resume session {s} postponement {}", engine.postponements(s)))
            .into_iter()
            .collect(),
        "GET /api/v1/maintenance-sessions/{sessionId}/cancel" => id("sessionId")
            .map(|s| format!("cancel session {s}"))
            .into_iter()
            .collect(),
        "POST /api/v1/maintenance-sessions/cancel" => json()
            .get("sessionIds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
            .map(|s| format!("cancel session {s}"))
            .collect(),
        "POST /api/v1/schedules" => {
            let intent = schedule_create_intent(&json());
            let gone = created
                .iter()
                .filter(|(id, made)| **made == intent && engine.schedule(**id).is_none())
                .count();
            vec![format!("{intent} (recreation {gone})")]
        }
        "PUT /api/v1/schedules/{scheduleId}" => id("scheduleId")
            .map(|s| format!("update schedule {s} to body {}", digest(body)))
            .into_iter()
            .collect(),
        "DELETE /api/v1/schedules/{scheduleId}" => id("scheduleId")
            .map(|s| format!("delete schedule {s}"))
            .into_iter()
            .collect(),
        "POST /api/v1/schedules/{scheduleId}/run-now" => id("scheduleId")
            .map(|s| {
                format!(
                    "run schedule {s} now after {} sessions",
                    engine.sessions_of_schedule(s).len()
                )
            })
            .into_iter()
            .collect(),
        "POST /api/v1/schedules/{scheduleId}/cancel"
        | "GET /api/v1/maintenance-sessions/cancel-for-schedule/{scheduleId}" => id("scheduleId")
            .map(|s| {
                let running: Vec<i32> = engine
                    .sessions_of_schedule(s)
                    .into_iter()
                    .filter(|(_, ended)| !ended)
                    .map(|(id, _)| id)
                    .collect();
                format!("cancel schedule {s}'s sessions {running:?}")
            })
            .into_iter()
            .collect(),
        _ => vec![],
    }
}

/// The intent of a schedule create: its definition. ImmyBot schedules
/// carry nothing that names who asked (no name, no correlation id), so two
/// objects with one definition make two creates of one intent; a checker
/// allows as many as there are objects holding that definition (the
/// end-to-end harness reads `status.appliedDefinition` with this).
pub fn schedule_create_intent(definition: &Value) -> String {
    // serde_json's maps are ordered by key: equal definitions, equal text.
    let mut canonical = definition.clone();
    if let Some(map) = canonical.as_object_mut() {
        map.retain(|_, v| !v.is_null());
    }
    format!("create schedule {}", digest(canonical.to_string().as_bytes()))
}

/// The intents served more than once: what "never twice" forbids.
pub fn repeated(calls: &[DestructiveCall]) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in calls.iter().filter(|c| (200..300).contains(&c.status)) {
        *counts.entry(c.intent.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(intent, n)| (intent.to_owned(), n))
        .collect()
}

/// The `{name}` segments of `path` under `route`'s template, as integers.
fn path_ids(route: &str, path: &str) -> BTreeMap<String, i32> {
    let template = route.split_once(' ').map_or(route, |(_, t)| t);
    template
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(t, p)| {
            let name = t.strip_prefix('{')?.strip_suffix('}')?;
            Some((name.to_owned(), p.parse().ok()?))
        })
        .collect()
}

/// A short stable digest of a body (FNV-1a): equal bodies, equal digests.
fn digest(body: &[u8]) -> String {
    let hash = body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(intent: &str, status: u16) -> DestructiveCall {
        DestructiveCall {
            route: "POST /x".into(),
            intent: intent.into(),
            status,
        }
    }

    #[test]
    fn only_intents_carried_out_twice_are_repeats() {
        let calls = [
            call("start group a", 200),
            call("start group a", 500),
            call("start group b", 200),
            call("start group b", 202),
            call("cancel session 7", 200),
        ];
        assert_eq!(repeated(&calls), vec![("start group b".to_owned(), 2)]);
    }

    #[test]
    fn path_ids_follow_the_template() {
        let ids = path_ids(
            "POST /api/v1/maintenance-sessions/{sessionId}/actions/{actionId}/rerun",
            "/api/v1/maintenance-sessions/12/actions/12003/rerun",
        );
        assert_eq!(ids.get("sessionId"), Some(&12));
        assert_eq!(ids.get("actionId"), Some(&12003));
    }
}
