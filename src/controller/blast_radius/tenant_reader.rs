//! A tenant tree's computers as ImmyBot lists them, for a blast radius:
//! the tenant list, then one `computers/dx` listing per 500 computers of
//! each tenant. Rows carry `isOnline` and `activeSessionId` where ImmyBot
//! fills them (untyped: where it does not, a computer counts as not
//! described).

use std::collections::{BTreeMap, HashMap};

use super::{SeenComputer, tenant_tree};
use immybot_client::{ImmyBotClient, ImmyBotError};

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
    let all = client.tenants().await?;
    let tree = tenant_tree(&all, root, children);
    let names: BTreeMap<i32, String> = all
        .iter()
        .filter(|t| tree.contains(&t.id))
        .filter_map(|t| Some((t.id, t.name.clone()?)))
        .collect();
    let mut out = Vec::new();
    for tenant in tree {
        let (rows, _unreadable) = client.computers_in_tenant(tenant).await?;
        out.extend(rows.into_iter().filter(|r| r.tenant_id == tenant).map(|r| {
            SeenComputer {
                id: r.id,
                name: r.computer_name,
                tenant_id: Some(r.tenant_id),
                online: r.is_online,
                busy: r
                    .active_session_id
                    .map(|_| true)
                    .or_else(|| busy.map(|b| b.contains_key(&r.id))),
            }
        }));
    }
    Ok((out, names))
}
