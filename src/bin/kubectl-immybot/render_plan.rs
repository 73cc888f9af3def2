//! A plan (`status.plan`) as an approver reads it: the summary, what each
//! item would do on how many computers, what could not be detected, and
//! the digest the approval names. Shown first by `approve` and in `status`.

use std::fmt::Write as _;

use immybot_operator::api::{PlanState, PlanStatus, PlannedItem};

/// The plan, indented under a `plan` heading.
pub fn plan_lines(p: &PlanStatus) -> String {
    let mut out = String::new();
    if p.state == PlanState::Detecting {
        let _ = writeln!(
            out,
            "  plan      #{} detecting (a detection-only session in ImmyBot; nothing to approve yet)",
            p.number
        );
        return out;
    }
    let _ = writeln!(
        out,
        "  plan      #{} ({}) {}",
        p.number,
        p.purpose,
        p.digest.as_deref().unwrap_or("-")
    );
    if let Some(s) = &p.summary {
        let _ = writeln!(out, "            {s}");
    }
    for i in &p.items {
        let _ = writeln!(out, "            {}", item_line(i));
    }
    if p.items_omitted > 0 {
        let _ = writeln!(
            out,
            "            ... and {} more items (counted in the digest)",
            p.items_omitted
        );
    }
    for n in &p.not_detected {
        let _ = writeln!(
            out,
            "            not detected ({}): {}{}",
            n.why,
            n.computers,
            names(&n.first_computers, n.computers)
        );
    }
    if !p.drift.is_empty() {
        let _ = writeln!(out, "  drifted   since the approved plan:");
        for i in &p.drift {
            let _ = writeln!(out, "            + {}", item_line(i));
        }
    }
    if !p.unplanned.is_empty() {
        let _ = writeln!(out, "  unplanned ran beyond the approved plan:");
        for i in &p.unplanned {
            let _ = writeln!(out, "            + {}", item_line(i));
        }
    }
    if let Some(c) = &p.check {
        let state = match c.state {
            PlanState::Detecting => "detecting",
            PlanState::Ready => "nothing beyond the plan",
        };
        let _ = writeln!(out, "  checked   before start {}: {state}", c.wave);
    }
    out
}

/// `Update 7-Zip 23.01 -> 24.08 on 2 computers (PC-1, PC-2)`.
fn item_line(i: &PlannedItem) -> String {
    let versions = match (&i.from_version, &i.to_version) {
        (Some(f), Some(t)) => format!(" {f} -> {t}"),
        (None, Some(t)) => format!(" -> {t}"),
        (Some(f), None) => format!(" from {f}"),
        (None, None) => String::new(),
    };
    format!(
        "{} {}{versions} on {}{}",
        i.action,
        i.item,
        i.computers,
        names(&i.first_computers, i.computers)
    )
}

fn names(first: &[String], total: i32) -> String {
    if first.is_empty() {
        return if total == 1 {
            " computer".into()
        } else {
            " computers".into()
        };
    }
    let more = usize::try_from(total).unwrap_or(0).saturating_sub(first.len());
    let tail = if more > 0 {
        format!(", and {more} more")
    } else {
        String::new()
    };
    let noun = if total == 1 { "computer" } else { "computers" };
    format!(" {noun} ({}{tail})", first.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ready_plan_reads_item_by_item() {
        let p: PlanStatus = serde_json::from_value(serde_json::json!({
            "number": 1, "specDigest": "d", "purpose": "Initial", "state": "Ready",
            "attempt": {"number": 1, "sessionGroupId": "g", "intentTime": "2026-01-01T00:00:00Z"},
            "digest": "sha256:ab", "summary": "Detection ran for 3 computers: 2 would change.",
            "items": [{"item": "7-Zip", "action": "Update", "computers": 12, "firstComputers": ["PC-1", "PC-2"], "fromVersion": "23.01", "toVersion": "24.08"}],
            "notDetected": [{"why": "Offline", "computers": 1, "firstComputers": ["KIOSK"]}],
            "drift": [{"item": "Chrome", "action": "Install", "computers": 1}]
        }))
        .unwrap();
        let text = plan_lines(&p);
        assert!(text.contains("#1 (Initial) sha256:ab"), "{text}");
        assert!(
            text.contains("Update 7-Zip 23.01 -> 24.08 on 12 computers (PC-1, PC-2, and 10 more)"),
            "{text}"
        );
        assert!(text.contains("not detected (Offline): 1 computer (KIOSK)"), "{text}");
        assert!(text.contains("+ Install Chrome on 1 computer"), "{text}");
    }
}
