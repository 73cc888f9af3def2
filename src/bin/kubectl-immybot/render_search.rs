//! Tables of the plugin's `list`, `history` and `active` (pure: objects in,
//! text out). Enums print as users write them in manifests.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use immybot_operator::api::{FoundSession, MaintenanceSession, Phase};
use kube::ResourceExt as _;

/// How `list` and `get` print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Wide,
    Name,
    Json,
    Yaml,
}

/// MaintenanceSessions as a table (with their namespace when `all`).
pub fn sessions(items: &[MaintenanceSession], output: Output, all: bool) -> anyhow::Result<String> {
    let mut out = String::new();
    match output {
        Output::Name => {
            for s in items {
                let _ = writeln!(out, "maintenancesession.immybot.io/{}", s.name_any());
            }
        }
        Output::Json => out = serde_json::to_string_pretty(items)? + "\n",
        Output::Yaml => {
            for s in items {
                out.push_str("---\n");
                out.push_str(&serde_saphyr::to_string(s)?);
            }
        }
        Output::Table | Output::Wide => {
            let mut rows = vec![header(output, all)];
            rows.extend(items.iter().map(|s| row(s, output, all)));
            out = columns(&rows);
        }
    }
    Ok(out)
}

fn header(output: Output, all: bool) -> Vec<String> {
    let mut h: Vec<&str> = Vec::new();
    if all {
        h.push("NAMESPACE");
    }
    h.extend(["NAME", "TARGET", "PHASE", "PROGRESS", "APPROVED"]);
    if output == Output::Wide {
        h.extend(["REQUESTED BY", "SESSIONS", "REASON"]);
    }
    h.into_iter().map(str::to_owned).collect()
}

fn row(s: &MaintenanceSession, output: Output, all: bool) -> Vec<String> {
    let st = s.status.clone().unwrap_or_default();
    let mut r = Vec::new();
    if all {
        r.push(s.namespace().unwrap_or_default());
    }
    r.push(s.name_any());
    r.push(st.target_summary.clone().unwrap_or_else(|| "-".into()));
    r.push(st.phase.map_or("Pending", Phase::as_str).to_owned());
    r.push(st.progress.clone().unwrap_or_else(|| "-".into()));
    r.push(
        st.approval
            .as_ref()
            .map(|a| a.approved_by.clone())
            .unwrap_or_else(|| "-".into()),
    );
    if output == Output::Wide {
        r.push(s.spec.requested_by.clone());
        let ids: Vec<String> = st
            .immybot
            .iter()
            .flat_map(|i| i.attempts.iter().flat_map(|a| a.session_ids.iter()))
            .map(i32::to_string)
            .collect();
        r.push(if ids.is_empty() { "-".into() } else { ids.join(",") });
        r.push(s.spec.reason.clone());
    }
    r
}

/// Sessions a search found, with the MaintenanceSession (of the namespace)
/// that started or observes each, where one does.
pub fn found(items: &[FoundSession], mirrored_by: &BTreeMap<i32, String>, truncated: bool) -> String {
    if items.is_empty() {
        return "no ImmyBot session matches\n".into();
    }
    let mut rows = vec![
        [
            "SESSION",
            "COMPUTER",
            "TENANT",
            "STATUS",
            "CREATED",
            "SCHEDULE",
            "IN KUBERNETES",
        ]
        .map(str::to_owned)
        .to_vec(),
    ];
    for f in items {
        let computer = match (&f.computer_name, f.computer_id) {
            (Some(n), Some(id)) => format!("{n} (#{id})"),
            (Some(n), None) => n.clone(),
            (None, Some(id)) => format!("#{id}"),
            (None, None) => "-".into(),
        };
        rows.push(vec![
            f.id.to_string(),
            computer,
            f.tenant_id.map_or_else(|| "-".into(), |t| format!("#{t}")),
            f.status.clone().unwrap_or_else(|| "-".into()),
            f.created.as_ref().map_or_else(|| "-".into(), |t| t.0.to_string()),
            f.scheduled_id.map_or_else(|| "-".into(), |s| format!("#{s}")),
            mirrored_by
                .get(&f.id)
                .cloned()
                .unwrap_or_else(|| format!("- (kubectl immybot import {})", f.id)),
        ]);
    }
    let mut out = columns(&rows);
    if truncated {
        out.push_str("(ImmyBot has more: narrow the search or raise --limit)\n");
    }
    out
}

/// Left-aligned columns, two spaces apart.
pub fn columns(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(name: &str, phase: &str) -> MaintenanceSession {
        let mut s = MaintenanceSession::new(
            name,
            serde_json::from_value(
                serde_json::json!({"requestedBy": "alice", "reason": "CHG-1", "target": {"computer": {"id": 102}}}),
            )
            .unwrap(),
        );
        s.metadata.namespace = Some("ops".into());
        s.status = Some(
            serde_json::from_value(serde_json::json!({
                "phase": phase, "targetSummary": "computer #102", "progress": "1/1",
                "immybot": {"instance": "x", "attempts": [{"number": 1, "sessionGroupId": "g", "intentTime": "2026-12-04T10:00:00Z", "sessionIds": [7]}]}
            }))
            .unwrap(),
        );
        s
    }

    #[test]
    fn a_table_prints_phases_as_manifests_name_them() {
        let items = [session("patch", "PartiallySucceeded")];
        let out = sessions(&items, Output::Table, true).unwrap();
        assert_eq!(
            out,
            "NAMESPACE  NAME   TARGET         PHASE               PROGRESS  APPROVED\nops        patch  computer #102  PartiallySucceeded  1/1       -\n"
        );
        let wide = sessions(&items, Output::Wide, false).unwrap();
        assert!(
            wide.contains("alice") && wide.contains("  7  ") && wide.contains("CHG-1"),
            "{wide}"
        );
        assert_eq!(
            sessions(&items, Output::Name, false).unwrap(),
            "maintenancesession.immybot.io/patch\n"
        );
        let json: serde_json::Value = serde_json::from_str(&sessions(&items, Output::Json, false).unwrap()).unwrap();
        assert_eq!(json[0]["status"]["phase"], "PartiallySucceeded");
    }

    #[test]
    fn found_sessions_say_which_object_has_them_or_how_to_import() {
        let items = [
            FoundSession {
                id: 7,
                computer_id: Some(102),
                computer_name: Some("FINANCE-LT01".into()),
                status: Some("PartialPassed".into()),
                ..Default::default()
            },
            FoundSession {
                id: 9,
                ..Default::default()
            },
        ];
        let by = BTreeMap::from([(7, "patch".to_owned())]);
        let out = found(&items, &by, true);
        assert!(
            out.contains("FINANCE-LT01 (#102)") && out.contains("PartialPassed") && out.contains("patch"),
            "{out}"
        );
        assert!(out.contains("kubectl immybot import 9"), "{out}");
        assert!(out.ends_with("raise --limit)\n"), "{out}");
    }
}
