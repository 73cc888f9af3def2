//! A plan's content from what detection found (`detection_reading`): per
//! maintenance item and action, the computers (counted, the first few
//! named), the versions where every row agrees, what could not be
//! detected, a summary, and the digest over all of it. And the comparison
//! with an approved plan (`beyond`), for drift (a fresh detection right
//! before the start) and unplanned (what ran). Pure.

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{NotDetected, PLAN_ITEMS, PLAN_NAMES, PlanStatus, PlannedItem};
use crate::controller::approval::digest::sha256_of;

/// How many items (with action) are kept in status at all; the first
/// `PLAN_ITEMS` of them with computer names. Beyond, only `itemsOmitted`
/// counts them (and drift there cannot be told: see `beyond`).
pub const PLAN_ITEMS_COUNTED: usize = 200;

/// One planned change: this item, this action, on this computer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Planned {
    pub item: String,
    pub action: String,
    pub computer_id: i32,
    /// Its name, or `#id` where ImmyBot gave none.
    pub computer: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A computer (or one of its items) detection could not determine.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Undetected {
    pub why: &'static str,
    pub computer_id: i32,
    pub computer: String,
}

/// Everything one detection found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Detection {
    pub planned: Vec<Planned>,
    pub undetected: Vec<Undetected>,
    /// Computers detection ran for.
    pub computers: i32,
}

/// What goes into `status.plan` from a detection.
#[derive(Clone, Debug, PartialEq)]
pub struct Content {
    pub digest: String,
    pub summary: String,
    pub computers: i32,
    pub changing: i32,
    pub items: Vec<PlannedItem>,
    pub items_omitted: i32,
    pub not_detected: Vec<NotDetected>,
}

impl Content {
    /// Writes this content into a plan's status.
    pub fn fill(self, plan: &mut PlanStatus) {
        plan.digest = Some(self.digest);
        plan.summary = Some(self.summary);
        plan.computers = self.computers;
        plan.changing = self.changing;
        plan.items = self.items;
        plan.items_omitted = self.items_omitted;
        plan.not_detected = self.not_detected;
        plan.reboots = REBOOTS_UNKNOWN.into();
    }
}

/// ImmyBot's detection rows do not say which change reboots (GUESS, see
/// `detection_reading`): the plan says so instead of guessing.
pub const REBOOTS_UNKNOWN: &str =
    "unknown: ImmyBot's detection does not say which changes reboot; spec.reboot decides what happens when one does";

/// The content of plan `number`. Its digest covers the number as well as
/// every planned change and undetected computer: a plan made again (after
/// `maxAge`) is approved again even when nothing changed, as the approver
/// approved what was true when they looked.
pub fn build(mut d: Detection, number: i32) -> Content {
    d.planned.sort();
    d.planned.dedup();
    d.undetected.sort();
    d.undetected.dedup();
    let digest = sha256_of(&serde_json::json!({
        "planned": d.planned.iter().map(|p| serde_json::json!([p.item, p.action, p.computer_id, p.from, p.to])).collect::<Vec<_>>(),
        "undetected": d.undetected.iter().map(|u| serde_json::json!([u.why, u.computer_id])).collect::<Vec<_>>(),
        "computers": d.computers,
        "number": number,
    }));
    let mut items = grouped(&d.planned);
    most_computers_first(&mut items);
    let items_omitted = count(items.len().saturating_sub(PLAN_ITEMS_COUNTED));
    items.truncate(PLAN_ITEMS_COUNTED);
    for unnamed in items.iter_mut().skip(PLAN_ITEMS) {
        unnamed.first_computers.clear();
    }
    let mut why: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for u in &d.undetected {
        why.entry(u.why).or_default().insert(&u.computer);
    }
    let not_detected: Vec<NotDetected> = why
        .into_iter()
        .map(|(why, computers)| NotDetected {
            why: why.to_owned(),
            computers: count(computers.len()),
            first_computers: names(computers.into_iter()),
        })
        .collect();
    let changing = count(d.planned.iter().map(|p| p.computer_id).collect::<BTreeSet<_>>().len());
    let summary = summary(d.computers, changing, &items, items_omitted, &not_detected);
    Content {
        digest,
        summary,
        computers: d.computers,
        changing,
        items,
        items_omitted,
        not_detected,
    }
}

/// Changes per item and action: on how many computers (each once), the
/// first of them by name, the versions where every row agrees. What a
/// plan lists, and what ran, in the same terms (`beyond` compares them).
pub fn grouped(planned: &[Planned]) -> Vec<PlannedItem> {
    let mut groups: BTreeMap<(&str, &str), Vec<&Planned>> = BTreeMap::new();
    for p in planned {
        groups.entry((&p.item, &p.action)).or_default().push(p);
    }
    groups
        .into_iter()
        .map(|((item, action), rows)| PlannedItem {
            item: item.to_owned(),
            action: action.to_owned(),
            computers: count(rows.iter().map(|r| r.computer_id).collect::<BTreeSet<_>>().len()),
            first_computers: names(rows.iter().map(|r| r.computer.as_str())),
            from_version: agreed(rows.iter().map(|r| &r.from)),
            to_version: agreed(rows.iter().map(|r| &r.to)),
        })
        .collect()
}

/// The order status lists items in: most computers first, then by name.
fn most_computers_first(items: &mut [PlannedItem]) {
    items.sort_by(|a, b| {
        b.computers
            .cmp(&a.computers)
            .then_with(|| (&a.item, &a.action).cmp(&(&b.item, &b.action)))
    });
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn names<'a>(all: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = all.map(str::to_owned).collect();
    v.sort();
    v.dedup();
    v.truncate(PLAN_NAMES);
    v
}

/// The one value every row has, if they agree on one.
fn agreed<'a>(mut all: impl Iterator<Item = &'a Option<String>>) -> Option<String> {
    let first = all.next()?.clone()?;
    all.all(|v| v.as_deref() == Some(first.as_str())).then_some(first)
}

/// `1 computer`, `3 computers`.
fn computers_n(n: i32) -> String {
    if n == 1 {
        "1 computer".into()
    } else {
        format!("{n} computers")
    }
}

fn summary(computers: i32, changing: i32, items: &[PlannedItem], omitted: i32, undetected: &[NotDetected]) -> String {
    let mut s = format!("Detection ran for {}: {changing} would change", computers_n(computers));
    if items.is_empty() {
        s.push_str(" (nothing to install, update or remove)");
    } else {
        let shown: Vec<String> = items
            .iter()
            .take(5)
            .map(|i| {
                let versions = match (&i.from_version, &i.to_version) {
                    (Some(f), Some(t)) => format!(" {f} -> {t}"),
                    (None, Some(t)) => format!(" -> {t}"),
                    _ => String::new(),
                };
                format!("{} {}{versions} on {}", i.action, i.item, computers_n(i.computers))
            })
            .collect();
        let more = items.len().saturating_sub(5) + usize::try_from(omitted).unwrap_or(0);
        s.push_str(&format!(": {}", shown.join("; ")));
        if more > 0 {
            s.push_str(&format!("; and {more} more items"));
        }
    }
    s.push('.');
    let lost: Vec<String> = undetected
        .iter()
        .map(|n| format!("{} {}", n.computers, n.why))
        .collect();
    if !lost.is_empty() {
        s.push_str(&format!(" Not detected: {}.", lost.join(", ")));
    }
    s.push_str(" Reboots: unknown (ImmyBot's detection does not say).");
    s
}

/// The plan to approve after a drift check found `drift` beyond
/// `approved`: the approved plan, its allowance grown by what drifted
/// (per item and action), as plan `number` made by the check's `attempt`
/// at `now`. Whole, not just what the check saw: a check before a later
/// wave detects only that wave's computers.
pub fn with_drift(
    approved: &PlanStatus,
    drift: Vec<PlannedItem>,
    attempt: crate::api::Attempt,
    now: jiff::Timestamp,
) -> PlanStatus {
    let number = attempt.number;
    let mut items = approved.items.clone();
    for d in &drift {
        match items.iter_mut().find(|i| i.item == d.item && i.action == d.action) {
            Some(i) => {
                i.computers += d.computers;
                i.first_computers = names(i.first_computers.iter().chain(&d.first_computers).map(String::as_str));
                if i.from_version != d.from_version {
                    i.from_version = None;
                }
                if i.to_version != d.to_version {
                    i.to_version = None;
                }
            }
            None => items.push(d.clone()),
        }
    }
    most_computers_first(&mut items);
    let digest = sha256_of(&serde_json::json!({
        "approved": approved.digest,
        "drift": drift.iter().map(|d| serde_json::json!([d.item, d.action, d.computers, d.first_computers])).collect::<Vec<_>>(),
        "number": number,
    }));
    let summary = format!(
        "Plan #{} as approved, and what detection found since: {}. {}",
        approved.number,
        drift
            .iter()
            .map(|d| format!("{} {} on {} more", d.action, d.item, d.computers))
            .collect::<Vec<_>>()
            .join("; "),
        approved.summary.as_deref().unwrap_or_default()
    );
    PlanStatus {
        number,
        purpose: super::purpose::DRIFT_CHECK.into(),
        attempt,
        completed_at: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now)),
        digest: Some(digest),
        summary: Some(summary),
        items,
        drift,
        unplanned: vec![],
        check: None,
        ..approved.clone()
    }
}

/// Items as `7-Zip Update on 2 more computers`, at most five.
pub fn describe(items: &[PlannedItem]) -> String {
    let mut parts: Vec<String> = items
        .iter()
        .take(5)
        .map(|i| format!("{} {} on {} more computers", i.item, i.action, i.computers))
        .collect();
    if items.len() > 5 {
        parts.push(format!("and {} more", items.len() - 5));
    }
    parts.join("; ")
}

/// What `ran` (a drift check's fresh detection, or what executed) has
/// beyond what `allowed` (the approved plan's items) allows: an item and
/// action the plan does not have, or on more computers than it names (per
/// item and action; fewer is allowed: a computer updated meanwhile needs
/// nothing). A computer that swapped places with another at an equal
/// count is not seen (the status keeps counts, not every computer). Where
/// the approved plan omitted items (more than `PLAN_ITEMS_COUNTED`), an
/// item it does not list counts as drift: it cannot be told apart.
pub fn beyond(allowed: &[PlannedItem], ran: &[PlannedItem]) -> Vec<PlannedItem> {
    let allowed: BTreeMap<(&str, &str), i32> = allowed
        .iter()
        .map(|i| ((i.item.as_str(), i.action.as_str()), i.computers))
        .collect();
    ran.iter()
        .filter_map(|i| {
            let limit = allowed.get(&(i.item.as_str(), i.action.as_str())).copied().unwrap_or(0);
            (i.computers > limit).then(|| PlannedItem {
                computers: i.computers - limit,
                ..i.clone()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(item: &str, action: &str, id: i32, from: Option<&str>, to: &str) -> Planned {
        Planned {
            item: item.into(),
            action: action.into(),
            computer_id: id,
            computer: format!("PC-{id:04}"),
            from: from.map(Into::into),
            to: Some(to.into()),
        }
    }

    fn plan_of(content: &Content) -> PlanStatus {
        PlanStatus {
            items: content.items.clone(),
            ..serde_json::from_value(serde_json::json!({
                "number": 1, "specDigest": "d", "purpose": "Initial", "state": "Ready",
                "attempt": {"number": 1, "sessionGroupId": "g", "intentTime": "2026-01-01T00:00:00Z"}
            }))
            .unwrap()
        }
    }

    #[test]
    fn items_are_counted_with_agreed_versions_and_the_digest_covers_every_row() {
        let d = Detection {
            planned: vec![
                p("7-Zip", "Update", 1, Some("23.01"), "24.08"),
                p("7-Zip", "Update", 2, Some("23.01"), "24.08"),
                p("Chrome", "Update", 1, Some("130"), "131"),
                p("Chrome", "Update", 2, Some("129"), "131"),
                p("Legacy VPN", "Install", 3, None, "5.2"),
            ],
            undetected: vec![Undetected {
                why: "Offline",
                computer_id: 4,
                computer: "PC-0004".into(),
            }],
            computers: 4,
        };
        let c = build(d.clone(), 1);
        assert_eq!(c.changing, 3);
        assert_eq!(c.items.len(), 3);
        let zip = &c.items[0];
        assert_eq!((zip.item.as_str(), zip.computers), ("7-Zip", 2));
        assert_eq!(
            (zip.from_version.as_deref(), zip.to_version.as_deref()),
            (Some("23.01"), Some("24.08"))
        );
        let chrome = c.items.iter().find(|i| i.item == "Chrome").unwrap();
        assert_eq!(chrome.from_version, None, "the rows disagree on where from");
        assert_eq!(chrome.to_version.as_deref(), Some("131"));
        assert_eq!(c.not_detected[0].why, "Offline");
        assert!(
            c.summary.contains("4 computers") && c.summary.contains("1 Offline"),
            "{}",
            c.summary
        );
        // Row order does not matter; any row's content does.
        let mut shuffled = d.clone();
        shuffled.planned.reverse();
        assert_eq!(build(shuffled, 1).digest, c.digest);
        let d_again = d.clone();
        let mut changed = d;
        changed.planned[4].to = Some("5.3".into());
        assert_ne!(build(changed, 1).digest, c.digest);
        assert_ne!(
            build(d_again, 2).digest,
            c.digest,
            "plan 2 of the same rows is another plan"
        );
    }

    #[test]
    fn five_thousand_computers_stay_within_the_status_bound() {
        // 250 items (more than status keeps), five per computer, and 400
        // computers offline: the worst a plan's status can get.
        let mut planned = Vec::new();
        for id in 0..5000 {
            for item in 0..250 {
                if (id + item) % 50 == 0 {
                    planned.push(p(&format!("Item {item:03}"), "Update", id, Some("1.0"), "2.0"));
                }
            }
        }
        let undetected = (0..400)
            .map(|id| Undetected {
                why: "Offline",
                computer_id: 10_000 + id,
                computer: format!("OFF-{id}"),
            })
            .collect();
        let c = build(
            Detection {
                planned,
                undetected,
                computers: 5400,
            },
            1,
        );
        let size = serde_json::to_string(&plan_of(&c)).unwrap().len();
        assert!(size < 40_000, "the plan's status is {size} bytes");
        assert_eq!((c.items.len(), c.items_omitted), (PLAN_ITEMS_COUNTED, 50));
        assert!(c.items.iter().skip(PLAN_ITEMS).all(|i| i.first_computers.is_empty()));
        assert!(
            c.items
                .iter()
                .take(PLAN_ITEMS)
                .all(|i| i.first_computers.len() == PLAN_NAMES)
        );
        assert_eq!(c.not_detected[0].computers, 400);
    }

    #[test]
    fn drift_is_more_computers_or_an_item_the_plan_lacks_and_fewer_is_allowed() {
        let approved = plan_of(&build(
            Detection {
                planned: vec![
                    p("7-Zip", "Update", 1, Some("23.01"), "24.08"),
                    p("7-Zip", "Update", 2, Some("23.01"), "24.08"),
                ],
                undetected: vec![],
                computers: 2,
            },
            1,
        ));
        let fewer = build(
            Detection {
                planned: vec![p("7-Zip", "Update", 1, Some("23.01"), "24.08")],
                ..Default::default()
            },
            2,
        );
        assert!(beyond(&approved.items, &fewer.items).is_empty());
        let more = build(
            Detection {
                planned: vec![
                    p("7-Zip", "Update", 1, Some("23.01"), "24.08"),
                    p("7-Zip", "Update", 2, Some("23.01"), "24.08"),
                    p("7-Zip", "Update", 3, Some("23.01"), "24.08"),
                    p("Chrome", "Uninstall", 1, Some("131"), "0"),
                ],
                ..Default::default()
            },
            2,
        );
        let d = beyond(&approved.items, &more.items);
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d.iter().any(|i| i.item == "7-Zip" && i.computers == 1));
        assert!(d.iter().any(|i| i.item == "Chrome" && i.action == "Uninstall"));
    }

    #[test]
    fn a_drifted_plan_is_the_approved_one_grown_by_the_drift() {
        let mut approved = plan_of(&build(
            Detection {
                planned: vec![
                    p("7-Zip", "Update", 1, Some("23.01"), "24.08"),
                    p("7-Zip", "Update", 2, Some("23.01"), "24.08"),
                ],
                undetected: vec![],
                computers: 2,
            },
            1,
        ));
        approved.digest = Some("sha256:one".into());
        let drift = vec![
            PlannedItem {
                item: "7-Zip".into(),
                action: "Update".into(),
                computers: 1,
                first_computers: vec!["PC-0003".into()],
                from_version: Some("23.01".into()),
                to_version: Some("24.08".into()),
            },
            PlannedItem {
                item: "Chrome".into(),
                action: "Install".into(),
                computers: 1,
                ..Default::default()
            },
        ];
        let attempt = approved.attempt.clone();
        let grown = with_drift(
            &approved,
            drift.clone(),
            crate::api::Attempt { number: 3, ..attempt },
            jiff::Timestamp::UNIX_EPOCH,
        );
        assert_eq!(
            (grown.number, grown.purpose.as_str(), grown.drift.len()),
            (3, "DriftCheck", 2)
        );
        let zip = grown.items.iter().find(|i| i.item == "7-Zip").unwrap();
        assert_eq!(zip.computers, 3);
        assert_eq!(zip.first_computers, vec!["PC-0001", "PC-0002", "PC-0003"]);
        assert!(grown.items.iter().any(|i| i.item == "Chrome"));
        assert_ne!(grown.digest, approved.digest);
        // What the grown plan allows, a second check of the same drift finds none.
        let again = build(
            Detection {
                planned: vec![
                    p("7-Zip", "Update", 1, Some("23.01"), "24.08"),
                    p("7-Zip", "Update", 3, Some("23.01"), "24.08"),
                    p("Chrome", "Install", 1, None, "131"),
                ],
                ..Default::default()
            },
            4,
        );
        assert!(beyond(&grown.items, &again.items).is_empty());
    }

    #[test]
    fn executed_actions_are_counted_per_computer_once() {
        // Computer 1 updated 7-Zip twice (a rerun): it counts once.
        let ran = vec![
            p("7-Zip", "Update", 1, Some("23.01"), "24.08"),
            p("7-Zip", "Update", 1, None, "24.08"),
            p("7-Zip", "Update", 2, Some("23.01"), "24.08"),
        ];
        let c = grouped(&ran);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].computers, 2);
    }
}
