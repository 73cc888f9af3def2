//! When to ask ImmyBot what is still out of compliance after a session,
//! how, and what its answer means: pure (status in, decision out).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use immybot_client::ComplianceRows;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::{
    ComplianceItem, ComplianceStatus, MAX_COMPLIANCE_ITEMS, MAX_EXAMPLES, MaintenanceSessionSpec,
    MaintenanceSessionStatus,
};

/// Tries before giving up (Compliant stays Unknown).
pub const MAX_TRIES: i32 = 3;
/// Wait after a failed try.
pub const RETRY_AFTER: Duration = Duration::from_secs(60);
/// Up to this many computers are asked one by one; more, by tenant.
pub const PER_COMPUTER_AT_MOST: usize = 100;
/// Only objects that ended this recently are asked: compliance is read
/// *after the session*, and an upgrade must not send every finished
/// object of a fleet's history to ImmyBot at once.
pub const FRESH_FOR: Duration = Duration::from_secs(24 * 3600);

/// Whether to ask now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    No,
    Now,
    After(Duration),
}

/// How to ask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ask {
    /// `needs-attention` for each computer.
    PerComputer(Vec<i32>),
    /// The tenant listing for each tenant; with `only`, rows of other
    /// computers are not this object's.
    PerTenant {
        tenants: Vec<i32>,
        only: Option<BTreeSet<i32>>,
    },
}

impl Ask {
    pub fn label(&self) -> &'static str {
        match self {
            Ask::PerComputer(_) => "PerComputer",
            Ask::PerTenant { .. } => "PerTenant",
        }
    }
}

pub fn due(st: &MaintenanceSessionStatus, now: Timestamp) -> Due {
    if !st.phase.is_some_and(|p| p.is_final()) {
        return Due::No;
    }
    let Some(ended) = st.completion_time.as_ref().map(|t| t.0) else {
        return Due::No;
    };
    if now.duration_since(ended) > jiff::SignedDuration::try_from(FRESH_FOR).unwrap_or_default() {
        return Due::No;
    }
    match &st.compliance {
        None => Due::Now,
        Some(c) if c.error.is_none() || c.failed_reads >= MAX_TRIES => Due::No,
        Some(c) => {
            let tried = c.checked_at.as_ref().map_or(ended, |t| t.0);
            let since = Duration::try_from(now.duration_since(tried)).unwrap_or_default();
            match RETRY_AFTER.checked_sub(since) {
                Some(left) if !left.is_zero() => Due::After(left),
                _ => Due::Now,
            }
        }
    }
}

/// The computers the maintenance ran on (their ids, in status).
fn computer_ids(st: &MaintenanceSessionStatus) -> Vec<i32> {
    let mut ids: Vec<i32> = st.computers.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn tenant_ids(st: &MaintenanceSessionStatus) -> Vec<i32> {
    let mut ids: Vec<i32> = st
        .blast_radius
        .iter()
        .flat_map(|b| b.tenants.iter().map(|t| t.id))
        .chain(
            st.resolved_target
                .iter()
                .filter_map(|r| r.tenant.as_ref().map(|t| t.id)),
        )
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// How to ask for this object (`None`: no computer ran, nothing to ask),
/// or why it cannot be asked.
pub fn ask(spec: &MaintenanceSessionSpec, st: &MaintenanceSessionStatus) -> Result<Option<Ask>, String> {
    let computers = computer_ids(st);
    let tenant_target = spec.target.tenant.is_some();
    if tenant_target {
        let mut tenants = tenant_ids(st);
        if tenants.is_empty() {
            tenants.extend(spec.target.tenant.as_ref().and_then(|t| t.id));
        }
        if tenants.is_empty() {
            return Err("the tenant's id is not known (its name was never resolved)".into());
        }
        return Ok(Some(Ask::PerTenant { tenants, only: None }));
    }
    if computers.is_empty() {
        return Ok(None);
    }
    if computers.len() <= PER_COMPUTER_AT_MOST {
        return Ok(Some(Ask::PerComputer(computers)));
    }
    let tenants = tenant_ids(st);
    if tenants.is_empty() {
        return Err(format!(
            "{} computers are too many to ask one by one, and their tenants are not known",
            computers.len()
        ));
    }
    Ok(Some(Ask::PerTenant {
        tenants,
        only: Some(computers.into_iter().collect()),
    }))
}

/// What ImmyBot answered, as status shows it: counts for every item and
/// computer, names for the first few.
pub fn summarize(ask: &Ask, rows: &ComplianceRows, st: &MaintenanceSessionStatus, now: Timestamp) -> ComplianceStatus {
    let names: BTreeMap<i32, String> = st
        .computers
        .iter()
        .filter_map(|c| c.name.clone().map(|n| (c.id, n)))
        .collect();
    let ours = |id: i32| match ask {
        Ask::PerComputer(ids) => ids.contains(&id),
        Ask::PerTenant { only: Some(ids), .. } => ids.contains(&id),
        Ask::PerTenant { only: None, .. } => true,
    };
    let mut by_item: BTreeMap<&str, BTreeSet<i32>> = BTreeMap::new();
    let mut row_names: BTreeMap<i32, &str> = BTreeMap::new();
    for r in rows.rows.iter().filter(|r| ours(r.computer_id)) {
        by_item.entry(r.item.as_str()).or_default().insert(r.computer_id);
        if let Some(n) = r.computer_name.as_deref() {
            row_names.entry(r.computer_id).or_insert(n);
        }
    }
    let needing: BTreeSet<i32> = by_item.values().flatten().copied().collect();
    let covered = match ask {
        Ask::PerComputer(ids) => ids.len() as i32,
        Ask::PerTenant { only: Some(ids), .. } => ids.len() as i32,
        Ask::PerTenant { only: None, .. } => st.summary.as_ref().map_or(0, |s| s.computers).max(needing.len() as i32),
    };
    let name = |id: i32| {
        names
            .get(&id)
            .cloned()
            .or_else(|| row_names.get(&id).map(|n| (*n).to_owned()))
            .unwrap_or_else(|| format!("#{id}"))
    };
    let mut items: Vec<ComplianceItem> = by_item
        .iter()
        .map(|(item, ids)| ComplianceItem {
            item: (*item).to_owned(),
            computers: ids.len() as i32,
            examples: ids.iter().take(MAX_EXAMPLES).map(|id| name(*id)).collect(),
        })
        .collect();
    items.sort_by(|a, b| b.computers.cmp(&a.computers).then_with(|| a.item.cmp(&b.item)));
    let not_shown = items.len().saturating_sub(MAX_COMPLIANCE_ITEMS) as i32;
    items.truncate(MAX_COMPLIANCE_ITEMS);
    ComplianceStatus {
        checked_at: Some(Time(now)),
        read_by: ask.label().into(),
        computers_compliant: (covered - needing.len() as i32).max(0),
        computers_needing_attention: needing.len() as i32,
        items,
        items_not_shown: not_shown,
        failed_reads: 0,
        error: None,
    }
}

/// A failed try, on top of what an earlier one recorded.
pub fn failed(previous: Option<&ComplianceStatus>, why: String, now: Timestamp) -> ComplianceStatus {
    ComplianceStatus {
        checked_at: Some(Time(now)),
        failed_reads: previous.map_or(0, |p| p.failed_reads) + 1,
        error: Some(why),
        ..Default::default()
    }
}

/// The `Compliant` condition: its status, reason and message.
pub fn condition(c: &ComplianceStatus) -> (&'static str, &'static str, String) {
    if let Some(why) = &c.error {
        let more = if c.failed_reads >= MAX_TRIES {
            " (not asked again)".to_owned()
        } else {
            format!(" (try {} of {MAX_TRIES})", c.failed_reads)
        };
        return (
            "Unknown",
            "ComplianceUnread",
            format!("ImmyBot's compliance could not be read: {why}{more}"),
        );
    }
    let all = c.computers_compliant + c.computers_needing_attention;
    if c.computers_needing_attention == 0 {
        return (
            "True",
            "Compliant",
            format!("ImmyBot shows nothing left to do on the {all} computer(s) maintained"),
        );
    }
    let listed: Vec<String> = c
        .items
        .iter()
        .take(5)
        .map(|i| format!("{} ({})", i.item, i.computers))
        .collect();
    let more = if c.items.len() > 5 || c.items_not_shown > 0 {
        ", ..."
    } else {
        ""
    };
    (
        "False",
        "NotCompliant",
        format!(
            "{} of {all} computer(s) still need attention in ImmyBot: {}{more}",
            c.computers_needing_attention,
            listed.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ComputerStatus, NamedId, Phase, ResolvedTarget};
    use crate::test_fixtures::*;
    use immybot_client::NonCompliance;

    fn ended(minutes_ago: i64) -> MaintenanceSessionStatus {
        MaintenanceSessionStatus {
            phase: Some(Phase::PartiallySucceeded),
            completion_time: Some(Time(at(-minutes_ago * 60))),
            ..Default::default()
        }
    }

    fn ran_on(st: &mut MaintenanceSessionStatus, ids: &[i32]) {
        st.computers = ids
            .iter()
            .map(|id| ComputerStatus {
                id: *id,
                name: Some(format!("PC-{id}")),
                ..Default::default()
            })
            .collect();
    }

    fn rows(pairs: &[(i32, &str)]) -> ComplianceRows {
        ComplianceRows {
            rows: pairs
                .iter()
                .map(|(c, i)| NonCompliance {
                    computer_id: *c,
                    item: (*i).into(),
                    computer_name: None,
                })
                .collect(),
            unusable: 0,
        }
    }

    #[test]
    fn asked_once_after_a_recent_end_and_again_only_after_a_failure() {
        let now = now();
        let running = MaintenanceSessionStatus {
            phase: Some(Phase::Running),
            ..Default::default()
        };
        assert_eq!(due(&running, now), Due::No);
        assert_eq!(due(&ended(5), now), Due::Now);
        assert_eq!(
            due(&ended(25 * 60), now),
            Due::No,
            "a day-old end is history: never asked"
        );
        let mut read = ended(5);
        read.compliance = Some(ComplianceStatus::default());
        assert_eq!(due(&read, now), Due::No, "read once");
        read.compliance = Some(failed(None, "500".into(), now));
        assert!(matches!(due(&read, now), Due::After(_)), "a failure waits");
        read.compliance = Some(failed(None, "500".into(), at(-61)));
        assert_eq!(due(&read, now), Due::Now);
        let mut third = failed(None, "500".into(), at(-120));
        third.failed_reads = MAX_TRIES;
        read.compliance = Some(third);
        assert_eq!(due(&read, now), Due::No, "three tries at most");
    }

    #[test]
    fn a_tenant_is_one_call_and_a_few_computers_one_each() {
        let tenant = session().tenant(2).build();
        let mut st = ended(1);
        ran_on(&mut st, &[101, 102]);
        st.resolved_target = Some(ResolvedTarget {
            tenant: Some(NamedId { id: 2, name: None }),
            ..Default::default()
        });
        assert_eq!(
            ask(&tenant.spec, &st),
            Ok(Some(Ask::PerTenant {
                tenants: vec![2],
                only: None
            }))
        );
        let few = session().computers(&[101, 102]).build();
        assert_eq!(ask(&few.spec, &st), Ok(Some(Ask::PerComputer(vec![101, 102]))));
        assert_eq!(ask(&few.spec, &ended(1)), Ok(None), "nothing ran: nothing to ask");
        let many: Vec<i32> = (1..=150).collect();
        ran_on(&mut st, &many);
        let list = session().computers(&many).build();
        match ask(&list.spec, &st) {
            Ok(Some(Ask::PerTenant {
                tenants,
                only: Some(only),
            })) => {
                assert_eq!(tenants, vec![2]);
                assert_eq!(only.len(), 150);
            }
            other => panic!("150 computers are asked by tenant: {other:?}"),
        }
        st.resolved_target = None;
        assert!(ask(&list.spec, &st).unwrap_err().contains("too many"));
    }

    #[test]
    fn counts_cover_every_computer_and_names_stay_bounded() {
        let mut st = ended(1);
        ran_on(&mut st, &[101, 102, 103]);
        let ask = Ask::PerComputer(vec![101, 102, 103]);
        // 104 is another object's computer: not counted.
        let found = summarize(
            &ask,
            &rows(&[(102, "Legacy VPN"), (103, "Legacy VPN"), (103, "7-Zip"), (104, "Zoom")]),
            &st,
            now(),
        );
        assert_eq!((found.computers_needing_attention, found.computers_compliant), (2, 1));
        assert_eq!(found.items[0].item, "Legacy VPN", "most computers first");
        assert_eq!(found.items[0].examples, vec!["PC-102", "PC-103"]);
        let (status, reason, message) = condition(&found);
        assert_eq!((status, reason), ("False", "NotCompliant"));
        assert!(
            message.starts_with("2 of 3 computer(s) still need attention"),
            "{message}"
        );
        // Hundreds of items and computers: counts for all, names for a few.
        let many: Vec<(i32, String)> = (0..2000)
            .map(|i| (1000 + i % 500, format!("item-{}", i % 40)))
            .collect();
        let refs: Vec<(i32, &str)> = many.iter().map(|(c, i)| (*c, i.as_str())).collect();
        let tenant = Ask::PerTenant {
            tenants: vec![2],
            only: None,
        };
        let big = summarize(&tenant, &rows(&refs), &st, now());
        assert_eq!(big.computers_needing_attention, 500);
        assert_eq!(big.items.len(), crate::api::MAX_COMPLIANCE_ITEMS);
        assert_eq!(big.items_not_shown, 20);
        assert!(big.items.iter().all(|i| i.examples.len() <= crate::api::MAX_EXAMPLES));
        let clean = summarize(&ask, &rows(&[]), &st, now());
        assert_eq!(condition(&clean).0, "True");
        let unread = failed(None, "ImmyBot answered 500".into(), now());
        assert_eq!(condition(&unread).0, "Unknown");
    }
}
