//! Per-action results (what was installed, what failed and why), read from
//! `GET /api/v1/maintenance-actions/dx`: live `GET /maintenance-sessions/{id}`
//! answers have come without `maintenanceActions` even when asked for, and
//! the actions list is what live clients rely on (docs/immybot-api.md).
//!
//! Cost, per reconcile, for the sessions whose actions are not yet known:
//! - an object with few ImmyBot sessions (at most [`PER_SESSION_MAX`]): one
//!   call per session, filtered on `maintenanceSessionId` (an OR across
//!   session ids answers 500 on live instances, so never several at once);
//! - a larger object (a tenant, a long computer list): per tenant, one paged
//!   listing windowed by `createdDateUTC`, the tenant and the sessions' id
//!   range (ANDs only), without `NoAction` rows (about 95% of a real
//!   tenant's rows), plus one grouped count of the `NoAction` rows per
//!   maintenance item (no rows travel).
//!
//! A running session's actions are read again only when its
//! `updatedDateUTC` moved, and once more when it has ended; after that they
//! come from the cache and cost nothing. Only the fields the status mirrors
//! cross the wire (`select=`).

use std::collections::{BTreeMap, HashMap};

use jiff::SignedDuration;

use super::immybot_cache::{ImmyBotCache, ended};
use crate::controller::error::Error;
use immybot_client::{
    ActionQuery, ImmyBotClient, MaintenanceAction, MaintenanceActionType, MaintenanceSession, WireTime,
};

/// Up to this many ImmyBot sessions, an object's actions are read session by
/// session; above, windowed per tenant.
pub const PER_SESSION_MAX: usize = 3;
/// Rows per page of the actions list.
const PAGE: u32 = 500;
/// How far before the first session's creation the window opens: clock skew
/// between the session's and the action's timestamps.
const WINDOW_SKEW: SignedDuration = SignedDuration::from_secs(600);
/// Sets `maintenance_actions` of every session from the actions list (or the
/// cache), replacing whatever `GET {id}` carried. Only the sessions in
/// `fresh` (read or known ended this time; `None`: all) may be read; the
/// others keep the actions last read, if any (their progress was put off).
/// Answers, for a large object, the `NoAction` count per maintenance item
/// (its rows are not read).
pub async fn attach_actions(
    client: &ImmyBotClient,
    cache: &ImmyBotCache,
    object_uid: &str,
    sessions: &mut [MaintenanceSession],
    fresh: Option<&std::collections::BTreeSet<i32>>,
) -> Result<Option<BTreeMap<String, i64>>, Error> {
    let large = sessions.len() > PER_SESSION_MAX;
    let mut needing: Vec<usize> = Vec::new();
    for (i, s) in sessions.iter_mut().enumerate() {
        match cache.actions(s) {
            Some(actions) => s.maintenance_actions = Some(actions.as_ref().clone()),
            None if fresh.is_some_and(|f| !f.contains(&s.id)) => {
                s.maintenance_actions = cache.last_actions(s.id).map(|a| a.as_ref().clone());
            }
            None => needing.push(i),
        }
    }
    let counted = cache.compliant(object_uid);
    if needing.is_empty() && (!large || counted.is_some()) {
        return Ok(counted);
    }
    let mut read: HashMap<i32, Vec<MaintenanceAction>> = needing.iter().map(|&i| (sessions[i].id, vec![])).collect();
    if large {
        let compliant = read_windowed(client, sessions, &needing, &mut read).await?;
        cache.remember_compliant(object_uid, compliant);
    } else {
        for &i in &needing {
            let id = sessions[i].id;
            let rows = read_pages(
                client,
                ActionQuery {
                    session_id: Some(id),
                    take: PAGE,
                    ..Default::default()
                },
            )
            .await?;
            read.entry(id).or_default().extend(rows);
        }
    }
    for &i in &needing {
        let session = &mut sessions[i];
        let actions = read.remove(&session.id).unwrap_or_default();
        if ended(session) {
            check_agreement(session, &actions, large);
        }
        cache.remember_actions(session, actions.clone());
        session.maintenance_actions = Some(actions);
    }
    Ok(if large { cache.compliant(object_uid) } else { None })
}

/// Per tenant of the sessions that need reading: the non-`NoAction` rows of
/// those sessions, and the `NoAction` counts per item over all of the
/// object's sessions in the tenant.
async fn read_windowed(
    client: &ImmyBotClient,
    sessions: &[MaintenanceSession],
    needing: &[usize],
    read: &mut HashMap<i32, Vec<MaintenanceAction>>,
) -> Result<BTreeMap<String, i64>, Error> {
    let mut tenants: BTreeMap<Option<i32>, Vec<&MaintenanceSession>> = BTreeMap::new();
    for s in sessions {
        tenants.entry(s.tenant_id).or_default();
    }
    for &i in needing {
        tenants.entry(sessions[i].tenant_id).or_default().push(&sessions[i]);
    }
    let mut compliant: BTreeMap<String, i64> = BTreeMap::new();
    for (tenant, group) in tenants {
        if !group.is_empty() {
            let (rows_query, _) = window(tenant, &group);
            for row in read_pages(client, rows_query).await? {
                if let Some(list) = read.get_mut(&row.maintenance_session_id) {
                    list.push(row);
                }
            }
        }
        // Counts over every session of the object in this tenant, not only
        // those read now: the counts replace the previous ones whole.
        let all: Vec<&MaintenanceSession> = sessions.iter().filter(|s| s.tenant_id == tenant).collect();
        let (_, mut count_query) = window(tenant, &all);
        loop {
            let page = client.count_actions_by_item(&count_query).await?;
            for group in &page.items {
                *compliant.entry(group.key.clone().unwrap_or_default()).or_default() += group.count;
            }
            if !page.full {
                break;
            }
            count_query.skip += count_query.take;
        }
    }
    Ok(compliant)
}

/// The rows query (no `NoAction`) and the count query (`NoAction` only) for
/// these sessions of one tenant: created since the first of them (less the
/// skew), ids within their range.
fn window(tenant: Option<i32>, sessions: &[&MaintenanceSession]) -> (ActionQuery, ActionQuery) {
    let from = sessions
        .iter()
        .filter_map(|s| s.created_date_utc)
        .min()
        .map(|t| WireTime(t.0.checked_sub(WINDOW_SKEW).unwrap_or(t.0)));
    let range = (
        sessions.iter().map(|s| s.id).min().unwrap_or_default(),
        sessions.iter().map(|s| s.id).max().unwrap_or_default(),
    );
    let base = ActionQuery {
        tenant_id: tenant,
        session_id_range: Some(range),
        created_from: from,
        take: PAGE,
        ..Default::default()
    };
    (
        ActionQuery {
            exclude_no_action: true,
            ..base.clone()
        },
        ActionQuery {
            only_no_action: true,
            ..base
        },
    )
}

async fn read_pages(client: &ImmyBotClient, mut query: ActionQuery) -> Result<Vec<MaintenanceAction>, Error> {
    let mut rows = Vec::new();
    loop {
        let page = client.find_actions(&query).await?;
        rows.extend(page.items);
        if !page.full {
            return Ok(rows);
        }
        query.skip += query.take;
    }
}

/// Where `GET {id}` carried actions too (as the document says it does), the
/// two must agree once the session ended; the list wins, and a disagreement
/// is logged with ids only (never values).
fn check_agreement(session: &MaintenanceSession, listed: &[MaintenanceAction], large: bool) {
    let Some(embedded) = session.maintenance_actions.as_ref().filter(|a| !a.is_empty()) else {
        return;
    };
    let key = |a: &MaintenanceAction| (a.id, a.result.as_ref().map(|r| format!("{r:?}")));
    let mut left: Vec<_> = embedded
        .iter()
        .filter(|a| !large || a.action_type != Some(MaintenanceActionType::NoAction))
        .map(key)
        .collect();
    let mut right: Vec<_> = listed.iter().map(key).collect();
    left.sort();
    right.sort();
    if left != right {
        tracing::warn!(
            session = session.id,
            embedded = left.len(),
            listed = right.len(),
            "maintenanceActions in GET /maintenance-sessions/{{id}} and /maintenance-actions/dx disagree; using the list"
        );
    }
}
