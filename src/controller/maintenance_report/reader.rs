//! A report in ImmyBot's words, every call at the budget's lowest priority
//! (`Priority::Background`: after every start, end and progress read that
//! waits, never moved ahead by age), counted into a `Tally` page by page:
//!
//! - the tenant list, once (names, and the report's tenants resolved);
//! - the session `dx` list created in the period, per tenant named (or
//!   once for all), 200 rows a page;
//! - the action `dx` list of failed change actions in the period (filtered
//!   on `result` and `actionType`; rows that contradict it are dropped);
//! - ImmyBot's latest non-compliant actions, once per tenant listed.
//!
//! So a report costs 1 + ceil(sessions / 200) + ceil(failed actions / 500)
//! \+ tenants listed calls (per tenant named, each list's last page too),
//! whatever the period; `MAX_PAGES` bounds each list.

use std::collections::{HashMap, HashSet};

use immybot_client::{ActionQuery, ImmyBotClient, ImmyBotError, SessionQuery, Tenant, WireTime};
use jiff::Timestamp;

use super::tally::Tally;

/// Rows per page of the session list, as every listing of the operator.
const SESSION_PAGE: u32 = 200;
/// Rows per page of the action list (its `MAX_TAKE`).
const ACTION_PAGE: u32 = immybot_client::MAX_TAKE;
/// Pages read of one list at most: 2,000 pages of sessions is 400,000
/// sessions, a year of weekly maintenance on 7,500 computers. Past it the
/// report says it was cut.
pub const MAX_PAGES: u32 = 2_000;

/// The tenants a report names, resolved.
pub enum Tenants {
    All,
    These(Vec<i32>),
    /// A name matches none or several: the message lists the candidates.
    Refused(String),
}

/// Resolves the report's tenant names against ImmyBot's tenant list
/// (case-insensitive, exact).
pub fn resolve(names: &[String], tenants: &[Tenant]) -> Tenants {
    if names.is_empty() {
        return Tenants::All;
    }
    let mut ids = Vec::new();
    for name in names {
        let found: Vec<&Tenant> = tenants
            .iter()
            .filter(|t| t.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .collect();
        match found.as_slice() {
            [one] => ids.push(one.id),
            [] => return Tenants::Refused(format!("tenant name {name:?} matches no ImmyBot tenant")),
            many => {
                let ids: Vec<String> = many.iter().map(|t| t.id.to_string()).collect();
                return Tenants::Refused(format!(
                    "tenant name {name:?} matches more than one ImmyBot tenant (ids {})",
                    ids.join(", ")
                ));
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Tenants::These(ids)
}

/// What the ImmyBot side of a report found.
pub struct Gathered {
    pub tally: Tally,
    pub names: HashMap<i32, String>,
    pub calls: i32,
    /// A list had more than `MAX_PAGES` pages.
    pub cut: bool,
    /// Tenants whose compliance could not be read.
    pub compliance_unread: usize,
}

/// Reads the period from ImmyBot. `client` is at `Priority::Background`.
pub async fn gather(
    client: &ImmyBotClient,
    tenant_names: &[String],
    since: Timestamp,
    until: Option<Timestamp>,
) -> Result<Result<Gathered, String>, ImmyBotError> {
    let mut calls = 1;
    let tenants = client.tenants().await?;
    let names: HashMap<i32, String> = tenants.iter().filter_map(|t| Some((t.id, t.name.clone()?))).collect();
    let wanted: Vec<Option<i32>> = match resolve(tenant_names, &tenants) {
        Tenants::All => vec![None],
        Tenants::These(ids) => ids.into_iter().map(Some).collect(),
        Tenants::Refused(why) => return Ok(Err(why)),
    };
    let mut tally = Tally::new(since, until, wanted.iter().flatten().copied());
    let mut cut = false;
    for tenant in &wanted {
        let sessions = SessionQuery {
            tenant_id: *tenant,
            created_after: Some(WireTime(since)),
            created_before: until.map(WireTime),
            take: SESSION_PAGE,
            ..Default::default()
        };
        let (read, more) = pages(
            SESSION_PAGE,
            |skip| {
                let query = SessionQuery {
                    skip,
                    ..sessions.clone()
                };
                async move { client.find_sessions(&query).await }
            },
            |mut s| {
                // Listed for one tenant, a row that names none is that tenant's.
                s.tenant_id = s.tenant_id.or(*tenant);
                tally.add_session(&s);
            },
        )
        .await?;
        calls += read;
        cut |= more;
        let actions = ActionQuery {
            tenant_id: *tenant,
            created_from: Some(WireTime(since)),
            created_before: until.map(WireTime),
            exclude_no_action: true,
            only_failed: true,
            take: ACTION_PAGE,
            ..Default::default()
        };
        let (read, more) = pages(
            ACTION_PAGE,
            |skip| {
                let query = ActionQuery {
                    skip,
                    ..actions.clone()
                };
                async move { client.find_actions(&query).await }
            },
            |mut a| {
                a.tenant_id = a.tenant_id.or(*tenant);
                tally.add_failed_action(&a);
            },
        )
        .await?;
        calls += read;
        cut |= more;
    }
    let mut compliance_unread = 0;
    for tenant in tally.listed_tenants().into_iter().filter(|t| *t != 0) {
        calls += 1;
        match client.non_compliant_in_tenant(tenant).await {
            Ok(rows) => {
                let computers: HashSet<i32> = rows.rows.iter().map(|r| r.computer_id).collect();
                tally.set_non_compliant(tenant, computers.len() as i64);
            }
            // A report without compliance is still a report: it says so.
            Err(e) => {
                tracing::debug!(tenant, error = %e, "could not read a tenant's compliance for a report");
                compliance_unread += 1;
            }
        }
    }
    Ok(Ok(Gathered {
        tally,
        names,
        calls,
        cut,
        compliance_unread,
    }))
}

/// Reads a list page by page (`read(skip)`), each row into `take`, until
/// a page is not full or `MAX_PAGES` were read. Returns the calls made and
/// whether the list was cut.
async fn pages<T, Fut>(
    page_size: u32,
    mut read: impl FnMut(u32) -> Fut,
    mut take: impl FnMut(T),
) -> Result<(i32, bool), ImmyBotError>
where
    Fut: std::future::Future<Output = Result<immybot_client::Page<T>, ImmyBotError>>,
{
    let mut skip = 0;
    for calls in 0..MAX_PAGES {
        let page = read(skip).await?;
        page.items.into_iter().for_each(&mut take);
        if !page.full {
            return Ok((calls as i32 + 1, false));
        }
        skip += page_size;
    }
    Ok((MAX_PAGES as i32, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: i32, name: &str) -> Tenant {
        Tenant {
            id,
            name: Some(name.into()),
            ..Default::default()
        }
    }

    #[test]
    fn tenant_names_resolve_to_one_each_or_refuse_with_the_candidates() {
        let all = [tenant(1, "Contoso"), tenant(2, "Fabrikam"), tenant(3, "fabrikam")];
        assert!(matches!(resolve(&[], &all), Tenants::All));
        assert!(matches!(resolve(&["contoso".into()], &all), Tenants::These(ids) if ids == [1]));
        let Tenants::Refused(why) = resolve(&["Fabrikam".into()], &all) else {
            panic!("two matches must be refused");
        };
        assert!(why.contains("ids 2, 3"), "{why}");
        assert!(matches!(resolve(&["Nobody".into()], &all), Tenants::Refused(_)));
    }
}
