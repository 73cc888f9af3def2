//! A search in ImmyBot's words: the session `dx` list with its documented
//! `computerId`/`tenantId` parameters and the live-evidence filters on
//! `sessionStatus` and `createdDate`, newest first, paged up to the limit
//! (one row more, to tell whether there were more). Rows are untyped in the
//! document: a row is kept only if nothing it carries contradicts the
//! search (a list route that ignored a filter must not answer for it), and
//! only the fields of `FoundSession` are copied out of it.

use crate::api::{FoundSession, NamedId, SearchedStatus, SessionSearchSpec};
use crate::controller::clock::stored_time;
const PAGE: u32 = 200;

use immybot_client::{
    ImmyBotClient, ImmyBotError, MaintenanceSession, SessionQuery, SessionStatus, WireEnum as _, WireTime,
};

/// What a name in the search resolved to.
pub enum Resolved {
    /// The spec with ids in place of names, and the objects they named.
    Ids {
        spec: Box<SessionSearchSpec>,
        computer: Option<NamedId>,
        tenant: Option<NamedId>,
    },
    /// A name matches nothing, or more than one thing: why, with the
    /// candidates.
    Refused { reason: &'static str, message: String },
}

/// Resolves `computerName` and `tenantName` to ids, once: a computer's
/// candidates are confirmed by `GET /computers/{id}` (list rows may ignore
/// the filter), a tenant's come from the tenant list.
pub async fn resolve_names(client: &ImmyBotClient, spec: &SessionSearchSpec) -> Result<Resolved, ImmyBotError> {
    let mut resolved = spec.clone();
    let (mut computer, mut tenant) = (None, None);
    if let Some(name) = spec.computer_name.as_deref() {
        let found: Vec<NamedId> = client
            .computers_named_confirmed(name)
            .await?
            .into_iter()
            .map(|c| NamedId {
                id: c.id,
                name: c.computer_name,
            })
            .collect();
        match one_of(found, "computer", name) {
            Ok(one) => {
                resolved.computer_id = Some(one.id);
                computer = Some(one);
            }
            Err(refused) => return Ok(refused),
        }
    }
    if let Some(name) = spec.tenant_name.as_deref() {
        let found: Vec<NamedId> = client
            .tenants_named(name)
            .await?
            .into_iter()
            .map(|t| NamedId { id: t.id, name: t.name })
            .collect();
        match one_of(found, "tenant", name) {
            Ok(one) => {
                resolved.tenant_id = Some(one.id);
                tenant = Some(one);
            }
            Err(refused) => return Ok(refused),
        }
    }
    Ok(Resolved::Ids {
        spec: Box::new(resolved),
        computer,
        tenant,
    })
}

/// The one match, or a refusal that names the candidates.
fn one_of(mut found: Vec<NamedId>, what: &str, name: &str) -> Result<NamedId, Resolved> {
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Resolved::Refused {
            reason: "NameNotFound",
            message: format!("{what} name {name:?} matches no ImmyBot {what}; name it by id"),
        }),
        _ => {
            let candidates: Vec<String> = found
                .iter()
                .map(|c| format!("{} ({})", c.id, c.name.as_deref().unwrap_or("no name")))
                .collect();
            Err(Resolved::Refused {
                reason: "AmbiguousName",
                message: format!(
                    "{what} name {name:?} matches more than one ImmyBot {what}: {}; name one by id",
                    candidates.join(", ")
                ),
            })
        }
    }
}

/// The sessions `spec` finds, newest first, and whether ImmyBot had more.
/// Names are resolved first (`resolve_names`).
pub async fn search(
    client: &ImmyBotClient,
    spec: &SessionSearchSpec,
) -> Result<(Vec<FoundSession>, bool), ImmyBotError> {
    let limit = usize::try_from(spec.limit.clamp(1, crate::api::MAX_SEARCH_LIMIT)).unwrap_or(100);
    let statuses: Vec<SessionStatus> = spec.statuses.iter().map(|s| wire_status(*s)).collect();
    let mut query = SessionQuery {
        computer_id: spec.computer_id,
        tenant_id: spec.tenant_id,
        statuses: statuses.clone(),
        created_after: spec.since.as_ref().map(|t| WireTime(t.0)),
        created_before: spec.until.as_ref().map(|t| WireTime(t.0)),
        // Pages of 200, as every listing of the operator reads them.
        take: (limit as u32 + 1).min(PAGE),
        ..Default::default()
    };
    let mut rows: Vec<MaintenanceSession> = Vec::new();
    loop {
        let page = client.find_sessions(&query).await?;
        rows.extend(page.items.into_iter().filter(|s| matches(s, spec, &statuses)));
        if !page.full || rows.len() > limit {
            break;
        }
        query.skip += query.take;
    }
    rows.sort_by_key(|s| std::cmp::Reverse((s.created_date_utc, s.id)));
    rows.dedup_by_key(|s| s.id);
    let truncated = rows.len() > limit;
    rows.truncate(limit);
    Ok((rows.iter().map(found).collect(), truncated))
}

/// Whether nothing a row carries contradicts the search.
fn matches(s: &MaintenanceSession, spec: &SessionSearchSpec, statuses: &[SessionStatus]) -> bool {
    let contradicts = |want: Option<i32>, have: Option<i32>| matches!((want, have), (Some(w), Some(h)) if w != h);
    let created = s.created_date_utc.map(|t| t.0);
    s.id > 0
        && !contradicts(spec.computer_id, s.computer_id)
        && !contradicts(spec.tenant_id, s.tenant_id)
        && (statuses.is_empty() || s.session_status.as_ref().is_none_or(|x| statuses.contains(x)))
        && !matches!((spec.since.as_ref(), created), (Some(since), Some(c)) if c < since.0)
        && !matches!((spec.until.as_ref(), created), (Some(until), Some(c)) if c >= until.0)
}

fn found(s: &MaintenanceSession) -> FoundSession {
    FoundSession {
        id: s.id,
        computer_id: s.computer_id,
        computer_name: s.computer_name.clone(),
        tenant_id: s.tenant_id,
        status: s.session_status.as_ref().map(|x| x.name().into_owned()),
        created: s.created_date_utc.map(|t| stored_time(t.0)),
        updated: s.updated_date_utc.map(|t| stored_time(t.0)),
        scheduled_id: s.scheduled_id,
    }
}

fn wire_status(s: SearchedStatus) -> SessionStatus {
    use SearchedStatus as S;
    match s {
        S::Passed => SessionStatus::Passed,
        S::Running => SessionStatus::Running,
        S::Failed => SessionStatus::Failed,
        S::Created => SessionStatus::Created,
        S::Cancelled => SessionStatus::Cancelled,
        S::Postponed => SessionStatus::Postponed,
        S::Pending => SessionStatus::Pending,
        S::PartialPassed => SessionStatus::PartialPassed,
        S::PendingConnectivity => SessionStatus::PendingConnectivity,
        S::Missed => SessionStatus::Missed,
        S::MaxTrackedDevicesPerMonthExceeded => SessionStatus::MaxTrackedDevicesPerMonthExceeded,
        S::PendingPreflight => SessionStatus::PendingPreflight,
        S::PendingEphemeralAgentConnection => SessionStatus::PendingEphemeralAgentConnection,
        S::MaintenanceForTrackableDevicesNotAllowed => SessionStatus::MaintenanceForTrackableDevicesNotAllowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_that_contradicts_the_search_is_dropped_and_a_silent_one_kept() {
        let spec: SessionSearchSpec = serde_json::from_value(serde_json::json!({
            "tenantId": 2, "statuses": ["Failed"], "since": "2026-11-01T00:00:00Z"
        }))
        .unwrap();
        let statuses = vec![SessionStatus::Failed];
        let row = |tenant: Option<i32>, status: Option<SessionStatus>, created: &str| MaintenanceSession {
            id: 7,
            tenant_id: tenant,
            session_status: status,
            created_date_utc: WireTime::parse(created),
            ..Default::default()
        };
        assert!(matches(
            &row(Some(2), Some(SessionStatus::Failed), "2026-11-02T00:00:00Z"),
            &spec,
            &statuses
        ));
        assert!(
            matches(&row(None, None, "2026-11-02T00:00:00Z"), &spec, &statuses),
            "silent rows are kept"
        );
        assert!(!matches(&row(Some(3), None, "2026-11-02T00:00:00Z"), &spec, &statuses));
        assert!(!matches(
            &row(Some(2), Some(SessionStatus::Passed), "2026-11-02T00:00:00Z"),
            &spec,
            &statuses
        ));
        assert!(!matches(&row(Some(2), None, "2026-10-31T00:00:00Z"), &spec, &statuses));
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    fn named(id: i32, name: &str) -> NamedId {
        NamedId {
            id,
            name: Some(name.into()),
        }
    }

    #[test]
    fn a_name_resolves_to_one_or_is_refused_with_the_candidates() {
        assert_eq!(
            one_of(vec![named(7, "PC-1")], "computer", "pc-1").ok(),
            Some(named(7, "PC-1"))
        );
        let Err(Resolved::Refused { reason, message }) =
            one_of(vec![named(7, "PC-1"), named(9, "pc-1")], "computer", "pc-1")
        else {
            panic!("two matches must be refused");
        };
        assert_eq!(reason, "AmbiguousName");
        assert!(message.contains("7 (PC-1), 9 (pc-1)"), "{message}");
        let Err(Resolved::Refused { reason, .. }) = one_of(vec![], "tenant", "Nobody") else {
            panic!("no match must be refused");
        };
        assert_eq!(reason, "NameNotFound");
    }
}
