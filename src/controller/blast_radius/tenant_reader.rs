//! A tenant tree's computers as ImmyBot lists them: the tenant list, then
//! one `computers/dx` listing per 500 computers of each tenant. Read for a
//! blast radius (`tenant_computers`) and for a rollout's plan
//! (`session/rollout_planning.rs`). Rows carry `isOnline` and
//! `activeSessionId` where ImmyBot fills them (untyped: where it does not,
//! a computer counts as not described).

use std::collections::{BTreeMap, HashMap};

use super::{SeenComputer, tenant_tree};
use immybot_client::{ComputerListItem, ImmyBotClient, ImmyBotError};

/// A tenant tree as listed.
pub struct TreeRows {
    /// The tree's tenants in order (the root first), with their names.
    pub tenants: Vec<(i32, Option<String>)>,
    /// Every computer row of those tenants.
    pub rows: Vec<ComputerListItem>,
    /// Rows that could not be decoded (so are missing from `rows`).
    pub unreadable: usize,
}

/// The computer rows of `root` (and of its child tenants with `children`).
pub async fn read_tree(client: &ImmyBotClient, root: i32, children: bool) -> Result<TreeRows, ImmyBotError> {
    let all = client.tenants().await?;
    let tree = tenant_tree(&all, root, children);
    let mut out = TreeRows {
        tenants: tree
            .iter()
            .map(|id| (*id, all.iter().find(|t| t.id == *id).and_then(|t| t.name.clone())))
            .collect(),
        rows: Vec::new(),
        unreadable: 0,
    };
    for tenant in tree {
        let (rows, unreadable) = client.computers_in_tenant(tenant).await?;
        out.rows.extend(rows);
        out.unreadable += unreadable;
    }
    Ok(out)
}

/// The computers of `root` (and of its child tenants with `children`), and
/// the tree's tenant names. `busy`: the computers known to be in another
/// session (computer id to session id), where a caller has them; a row's
/// own `activeSessionId` wins.
pub async fn tenant_computers(
    client: &ImmyBotClient,
    root: i32,
    children: bool,
    busy: Option<&HashMap<i32, i32>>,
) -> Result<(Vec<SeenComputer>, BTreeMap<i32, String>), ImmyBotError> {
    let tree = read_tree(client, root, children).await?;
    let names = tree
        .tenants
        .into_iter()
        .filter_map(|(id, name)| Some((id, name?)))
        .collect();
    let computers = tree
        .rows
        .into_iter()
        .map(|r| SeenComputer {
            id: r.id,
            name: r.computer_name,
            tenant_id: Some(r.tenant_id),
            online: r.is_online,
            busy: r
                .active_session_id
                .map(|_| true)
                .or_else(|| busy.map(|b| b.contains_key(&r.id))),
        })
        .collect();
    Ok((computers, names))
}
