//! Reads of sessions that may have ended, shared across objects: once a
//! cycle the poller asks here about every session that left the active
//! list (or was never seen on it), and one listing answers for up to a
//! page of them, whichever objects they belong to. The reconciles the
//! poller then triggers find them in the cache and call nothing.
//!
//! Per group of sessions close in id (a chunk):
//! - `GET /maintenance-sessions/dx` filtered on the chunk's id range and
//!   created since its earliest intent (less a skew), paged. Relied on:
//!   `id` and `sessionStatus` in each row (live scripts filter on
//!   `sessionStatus`; the document leaves rows untyped: live evidence), the
//!   `id` range filter (a guess: DevExtreme compares any field; the tenant
//!   reads rely on it too), `createdDate` as the known `MM/dd/yyyy` form
//!   (live evidence).
//! - For the sessions the rows show ended: `GET /maintenance-actions/dx`
//!   filtered on their `maintenanceSessionId` range and `createdDateUTC`,
//!   every row (an object of a few sessions shows its compliant items too),
//!   paged. Relied on: `maintenanceSessionId` in each row (live evidence:
//!   live clients `select` it), the range filter (a guess, as above; an OR
//!   of ids is known to fail).
//!
//! - Stage statuses come with the rows where rows carry them (not
//!   promised); no session is read for them: a read per failed session
//!   was half the calls that held every outcome back at the end of a
//!   1,000-session burst at the default budget, and what failed and why is
//!   in its actions and its log excerpt, which are read.
//!
//! Only sessions of objects with a few sessions come here: a tenant's are
//! read by its own object, windowed per tenant (`action_reader`).

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};

use super::immybot_cache::{ImmyBotCache, ended};
use immybot_client::{ActionQuery, ImmyBotClient, ImmyBotError, MaintenanceAction, SessionQuery, WireTime};

/// Rows per page of the session listing.
const SESSION_PAGE: u32 = 200;
/// Rows per page of the action listing.
const ACTION_PAGE: u32 = 500;
/// The widest id range one listing covers: other sessions in between (an
/// instance's own schedules) are listed too and dropped here.
const MAX_SPAN: i32 = 2_000;
/// How far before the earliest intent a listing starts: clock skew between
/// this cluster and ImmyBot.
const SKEW: SignedDuration = SignedDuration::from_secs(600);

/// A session to ask about, with the intent time of its attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Asked {
    pub id: i32,
    pub intent: Timestamp,
}

/// Asks ImmyBot about `asked` and keeps what has ended (the session and
/// its actions) in `cache`. Answers the ids found ended.
pub async fn read_ended(
    immybot: &ImmyBotClient,
    cache: &ImmyBotCache,
    asked: &[Asked],
) -> Result<BTreeSet<i32>, ImmyBotError> {
    let mut found = BTreeSet::new();
    for chunk in chunks(asked) {
        let from = chunk.iter().map(|a| a.intent).min().unwrap_or(Timestamp::UNIX_EPOCH);
        let from = from.checked_sub(SKEW).unwrap_or(from);
        let ids: BTreeSet<i32> = chunk.iter().map(|a| a.id).collect();
        let ended_rows = ended_sessions(immybot, &ids, from).await?;
        if ended_rows.is_empty() {
            continue;
        }
        let mut actions = actions_of(immybot, &ended_rows.keys().copied().collect(), from).await?;
        for (id, row) in ended_rows {
            cache.remember_session(&row);
            cache.remember_actions(&row, actions.remove(&id).unwrap_or_default());
            found.insert(id);
        }
    }
    Ok(found)
}

/// `asked` by id, cut where the ids spread wider than `MAX_SPAN` or a chunk
/// would fill more than a page.
fn chunks(asked: &[Asked]) -> Vec<Vec<Asked>> {
    let mut sorted = asked.to_vec();
    sorted.sort_by_key(|a| a.id);
    sorted.dedup_by_key(|a| a.id);
    let mut out: Vec<Vec<Asked>> = Vec::new();
    for a in sorted {
        match out.last_mut() {
            Some(chunk) if a.id - chunk[0].id <= MAX_SPAN && chunk.len() < SESSION_PAGE as usize => chunk.push(a),
            _ => out.push(vec![a]),
        }
    }
    out
}

/// The rows of `ids` that show the session ended.
async fn ended_sessions(
    immybot: &ImmyBotClient,
    ids: &BTreeSet<i32>,
    from: Timestamp,
) -> Result<BTreeMap<i32, immybot_client::MaintenanceSession>, ImmyBotError> {
    let (Some(&low), Some(&high)) = (ids.first(), ids.last()) else {
        return Ok(BTreeMap::new());
    };
    let mut query = SessionQuery {
        id_range: Some((low, high)),
        created_after: Some(WireTime(from)),
        take: SESSION_PAGE,
        ..Default::default()
    };
    let mut out = BTreeMap::new();
    let mut seen = 0;
    loop {
        let page = immybot.find_sessions(&query).await?;
        for row in page.items {
            if ids.contains(&row.id) {
                seen += 1;
                if ended(&row) {
                    out.insert(row.id, row);
                }
            }
        }
        if !page.full || seen >= ids.len() {
            return Ok(out);
        }
        query.skip += SESSION_PAGE;
    }
}

/// Every action row of `ids`, by session.
async fn actions_of(
    immybot: &ImmyBotClient,
    ids: &BTreeSet<i32>,
    from: Timestamp,
) -> Result<BTreeMap<i32, Vec<MaintenanceAction>>, ImmyBotError> {
    let (Some(&low), Some(&high)) = (ids.first(), ids.last()) else {
        return Ok(BTreeMap::new());
    };
    let mut query = ActionQuery {
        session_id: (low == high).then_some(low),
        session_id_range: (low != high).then_some((low, high)),
        created_from: Some(WireTime(from)),
        take: ACTION_PAGE,
        ..Default::default()
    };
    let mut out: BTreeMap<i32, Vec<MaintenanceAction>> = BTreeMap::new();
    loop {
        let page = immybot.find_actions(&query).await?;
        for row in page.items {
            if ids.contains(&row.maintenance_session_id) {
                out.entry(row.maintenance_session_id).or_default().push(row);
            }
        }
        if !page.full {
            return Ok(out);
        }
        query.skip += ACTION_PAGE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(ids: &[i32]) -> Vec<Asked> {
        ids.iter()
            .map(|&id| Asked {
                id,
                intent: Timestamp::UNIX_EPOCH,
            })
            .collect()
    }

    #[test]
    fn chunks_keep_close_ids_together_and_split_wide_ones() {
        let c = chunks(&asked(&[5, 3, 3, 1_000, 10_000]));
        let ids: Vec<Vec<i32>> = c.iter().map(|c| c.iter().map(|a| a.id).collect()).collect();
        assert_eq!(ids, vec![vec![3, 5, 1_000], vec![10_000]]);
        let many = chunks(&asked(&(1..=450).collect::<Vec<_>>()));
        assert_eq!(many.iter().map(Vec::len).collect::<Vec<_>>(), vec![200, 200, 50]);
    }
}
