//! The blast radius, shared by every kind that starts work: what ImmyBot
//! told of a target's computers in, the bounded summary an approver reads
//! out (pure, here), and `tenant_reader`, which reads a tenant tree's
//! computers (the one ImmyBot call behind it).

pub mod tenant_reader;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::{BLAST_RADIUS_NAMES, BLAST_RADIUS_TENANTS, BlastRadius, OfflineBehavior, TenantCount};

/// One computer of the target as ImmyBot showed it; `None` where it did
/// not say.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SeenComputer {
    pub id: i32,
    pub name: Option<String>,
    pub tenant_id: Option<i32>,
    pub online: Option<bool>,
    /// Busy with another session (the ImmyBot session holding it).
    pub busy: Option<bool>,
}

/// The summary of `computers` (each once), with the tenants' names where
/// known.
pub fn summarise(
    computers: &[SeenComputer],
    tenant_names: &BTreeMap<i32, String>,
    offline: OfflineBehavior,
    digest: &str,
    now: jiff::Timestamp,
) -> BlastRadius {
    let mut sorted: Vec<&SeenComputer> = computers.iter().collect();
    sorted.sort_by_cached_key(|c| (label(c), c.id));
    sorted.dedup_by_key(|c| c.id);
    let names = |keep: &dyn Fn(&SeenComputer) -> bool| -> (i32, Vec<String>) {
        let matching: Vec<String> = sorted.iter().filter(|c| keep(c)).map(|c| label(c)).collect();
        let count = matching.len() as i32;
        (count, matching.into_iter().take(BLAST_RADIUS_NAMES).collect())
    };
    let (total, first_computers) = names(&|_| true);
    let (offline_count, offline_computers) = names(&|c| c.online == Some(false));
    let (busy, busy_computers) = names(&|c| c.busy == Some(true));
    let unknown = sorted.iter().filter(|c| c.online.is_none() || c.busy.is_none()).count();
    let mut per_tenant: BTreeMap<i32, i32> = BTreeMap::new();
    for c in &sorted {
        if let Some(t) = c.tenant_id {
            *per_tenant.entry(t).or_default() += 1;
        }
    }
    let mut tenants: Vec<TenantCount> = per_tenant
        .into_iter()
        .map(|(id, computers)| TenantCount {
            id,
            name: tenant_names.get(&id).cloned(),
            computers,
        })
        .collect();
    tenants.sort_by_key(|t| (std::cmp::Reverse(t.computers), t.id));
    tenants.truncate(BLAST_RADIUS_TENANTS);
    BlastRadius {
        digest: digest.to_owned(),
        measured_at: Time(now),
        counted_for: None,
        computers: total,
        first_computers,
        tenants,
        offline: offline_count,
        offline_computers,
        offline_behavior: match offline {
            OfflineBehavior::Skip => "Skip: computers offline when it starts are skipped (ImmyBot waits up to 30 minutes, then they end Missed)".into(),
            OfflineBehavior::ApplyOnConnect => "ApplyOnConnect: computers offline when it starts run when they next connect".into(),
        },
        busy,
        busy_computers,
        unknown: unknown as i32,
        upper_bound: None,
    }
}

/// Which approval a count was made for (`BlastRadius.countedFor`): its
/// source and when it was given, so that each new approval counts again.
pub fn counted_for(source: Option<&str>, approved_by: &str, at: Option<jiff::Timestamp>) -> String {
    format!(
        "{} ({})",
        source.unwrap_or(approved_by),
        at.map_or_else(|| "-".to_owned(), |t| t.to_string())
    )
}

/// `root` and, with `children`, every tenant below it in ImmyBot's tenant
/// list, each once (a parent loop in ImmyBot's data must not loop here).
pub fn tenant_tree(all: &[immybot_client::Tenant], root: i32, children: bool) -> Vec<i32> {
    let mut tree = vec![root];
    let mut i = 0;
    while children && i < tree.len() {
        let parent = tree[i];
        for child in all.iter().filter(|t| t.parent_tenant_id == Some(parent)) {
            if !tree.contains(&child.id) {
                tree.push(child.id);
            }
        }
        i += 1;
    }
    tree
}

fn label(c: &SeenComputer) -> String {
    c.name.clone().unwrap_or_else(|| format!("#{}", c.id))
}

/// One line for a person, read at approval time: `5000 computers in 3
/// tenants (12 offline, 4 busy with another session)`, or for a few named
/// ones `1 computer: PC-00001 (online state not reported by ImmyBot)`.
pub fn one_line(b: &BlastRadius) -> String {
    let mut extra = Vec::new();
    if b.offline > 0 {
        extra.push(format!("{} offline", b.offline));
    }
    if b.busy > 0 {
        extra.push(format!("{} busy with another session", b.busy));
    }
    // Not an error: ImmyBot's computer rows may lack the online and busy
    // fields (the least helpful reading of its document).
    if b.unknown > 0 && b.unknown >= b.computers {
        extra.push("online state not reported by ImmyBot".to_owned());
    } else if b.unknown > 0 {
        extra.push(format!("{} with no online state from ImmyBot", b.unknown));
    }
    if b.upper_bound.is_some() {
        extra.push("at most: see upperBound".to_owned());
    }
    let tenants = match b.tenants.len() {
        0 | 1 => String::new(),
        n => format!(" in {n} tenants"),
    };
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" ({})", extra.join(", "))
    };
    let noun = if b.computers == 1 { "computer" } else { "computers" };
    // A few are named: a person approves PC-00001, not "1 computer".
    let named = if (1..=NAMED_UP_TO).contains(&b.computers) && b.first_computers.len() == b.computers as usize {
        format!(": {}", b.first_computers.join(", "))
    } else {
        String::new()
    };
    format!("{} {noun}{tenants}{named}{extra}", b.computers)
}

/// Up to this many computers, the line names them (more are listed in
/// `firstComputers`).
const NAMED_UP_TO: i32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    fn computer(id: i32, tenant: i32, online: Option<bool>, busy: Option<bool>) -> SeenComputer {
        SeenComputer {
            id,
            name: Some(format!("PC-{id:05}")),
            tenant_id: Some(tenant),
            online,
            busy,
        }
    }

    fn now() -> jiff::Timestamp {
        "2026-12-04T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_tenant_with_children_is_counted_per_tenant_with_offline_and_busy_named() {
        let computers = vec![
            computer(3, 2, Some(true), Some(false)),
            computer(1, 1, Some(false), Some(false)),
            computer(2, 2, Some(true), Some(true)),
            computer(4, 2, None, None),
        ];
        let names = BTreeMap::from([(1, "Contoso".to_owned()), (2, "Fabrikam".to_owned())]);
        let b = summarise(&computers, &names, OfflineBehavior::Skip, "sha256:1", now());
        assert_eq!(b.computers, 4);
        assert_eq!(b.first_computers, vec!["PC-00001", "PC-00002", "PC-00003", "PC-00004"]);
        assert_eq!(
            b.tenants.iter().map(|t| (t.id, t.computers)).collect::<Vec<_>>(),
            vec![(2, 3), (1, 1)]
        );
        assert_eq!(
            (b.offline, b.offline_computers.clone()),
            (1, vec!["PC-00001".to_owned()])
        );
        assert_eq!((b.busy, b.busy_computers.clone()), (1, vec!["PC-00002".to_owned()]));
        assert_eq!(b.unknown, 1);
        assert!(b.offline_behavior.starts_with("Skip"));
        assert_eq!(
            one_line(&b),
            "4 computers in 2 tenants (1 offline, 1 busy with another session, 1 with no online state from ImmyBot)"
        );
        let one = summarise(&[computer(7, 1, None, None)], &names, OfflineBehavior::Skip, "d", now());
        assert_eq!(
            one_line(&one),
            "1 computer: PC-00007 (online state not reported by ImmyBot)"
        );
        let known = summarise(
            &[computer(7, 1, Some(true), Some(false))],
            &names,
            OfflineBehavior::Skip,
            "d",
            now(),
        );
        assert_eq!(one_line(&known), "1 computer: PC-00007");
    }

    #[test]
    fn five_thousand_computers_stay_small() {
        let computers: Vec<SeenComputer> = (1..=5000)
            .map(|i| computer(i, 1 + i % 30, Some(i % 13 != 0), Some(i % 50 == 0)))
            .collect();
        let b = summarise(
            &computers,
            &BTreeMap::new(),
            OfflineBehavior::ApplyOnConnect,
            "d",
            now(),
        );
        assert_eq!((b.computers, b.offline, b.busy), (5000, 384, 100));
        assert_eq!(b.first_computers.len(), BLAST_RADIUS_NAMES);
        assert_eq!(b.tenants.len(), BLAST_RADIUS_TENANTS);
        let size = serde_json::to_vec(&b).unwrap().len();
        assert!(size < 4096, "{size} bytes");
    }
}
