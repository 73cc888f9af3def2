//! What an approver sees before approving, for every kind: each field the
//! kind's declaration (`api::approval_coverage`) says the approval covers,
//! as it will run, then the controls (what anyone may still change). The
//! list of fields comes from the declaration, never from this file: a new
//! covered field shows (as JSON until someone writes it a nicer line).

use std::fmt::Write as _;

use immybot_operator::api::{
    BlastRadius, FieldClass, KindCoverage, MaintenanceWindow, NamedId, RolloutSpec, TEMPLATE_SPEC_PATH,
};
use immybot_operator::controller::session::rollout::plan;
use immybot_operator::controller::windows::{WindowState, parse, state_at};
use jiff::Timestamp;
use serde_json::Value;

/// One object about to be approved.
pub struct Approving<'a> {
    pub coverage: &'a KindCoverage,
    pub name: &'a str,
    /// The spec as JSON.
    pub spec: Value,
    pub digest: &'a str,
    pub approver: &'a str,
    pub now: Timestamp,
    /// The target's computers where the operator knows them (a computers
    /// target, or a tenant's as recorded), to size the waves.
    pub computers: Option<Vec<NamedId>>,
    /// `status.targetSummary`, the target with names resolved.
    pub target_summary: Option<String>,
    /// `status.blastRadius`, when the operator measured it for this digest.
    pub blast_radius: Option<BlastRadius>,
}

impl<'a> Approving<'a> {
    /// An object whose computers the plugin does not know (a schedule):
    /// the spec as it is, approved now by `approver`.
    pub fn of_spec(
        coverage: &'a KindCoverage,
        name: &'a str,
        spec: &impl serde::Serialize,
        digest: &'a str,
        approver: &'a str,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self {
            coverage,
            name,
            spec: serde_json::to_value(spec)?,
            digest,
            approver,
            now: Timestamp::now(),
            computers: None,
            target_summary: None,
            blast_radius: None,
        })
    }
}

pub fn render(a: &Approving<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", a.coverage.kind, a.name);
    // Wide enough for the longest field path (a template's are long).
    let width = a
        .coverage
        .fields
        .iter()
        .map(|f| f.path.len())
        .max()
        .unwrap_or(0)
        .max(12);
    let line = |out: &mut String, label: &str, text: &str| {
        let _ = writeln!(out, "  {label:<width$} {text}");
    };
    line(&mut out, "requested by", a.spec["requestedBy"].as_str().unwrap_or("-"));
    for f in a.coverage.fields.iter().filter(|f| f.class == FieldClass::Words) {
        if let Some(v) = at(&a.spec, &f.path).filter(|v| !is_empty(v)) {
            line(&mut out, &f.path, &compact(v));
        }
    }
    if let Some(id) = a.spec["observe"]["sessionId"].as_i64() {
        // Nothing of it was started by the operator: what the approval
        // lets loose is acting on that session, not a start.
        let _ = writeln!(
            out,
            "Observes ImmyBot session {id}, which the operator did not start. Approving lets a cancel (spec.cancel, spec.timeout) and reruns of its failed actions (spec.retry.failedActions) act on it:"
        );
        line(&mut out, "observe", &format!("session {id}"));
        line(&mut out, "digest", a.digest);
        line(&mut out, "approver", a.approver);
        return out;
    }
    // What the approval lets loose, first: how many computers, where,
    // which are offline or busy.
    match a.blast_radius.as_ref().filter(|b| b.digest == a.digest) {
        Some(b) => {
            line(
                &mut out,
                "blast radius",
                &immybot_operator::controller::blast_radius::one_line(b),
            );
            // The names shown, then how many more the count has.
            let named = |shown: &[String], total: i32| {
                let rest = total - shown.len() as i32;
                let more = if rest > 0 {
                    format!(" and {rest} more")
                } else {
                    String::new()
                };
                format!("{}{more}", shown.join(", "))
            };
            line(&mut out, "computers", &named(&b.first_computers, b.computers));
            if b.tenants.len() > 1 {
                let tenants: Vec<String> = b
                    .tenants
                    .iter()
                    .map(|t| {
                        format!(
                            "{} {}",
                            t.name.clone().unwrap_or_else(|| format!("#{}", t.id)),
                            t.computers
                        )
                    })
                    .collect();
                line(&mut out, "tenants", &tenants.join(", "));
            }
            if b.offline > 0 {
                line(
                    &mut out,
                    "offline",
                    &format!("{}; {}", named(&b.offline_computers, b.offline), b.offline_behavior),
                );
            }
            if let Some(why) = &b.upper_bound {
                line(&mut out, "at most", why);
            }
            if b.busy > 0 {
                line(
                    &mut out,
                    "busy",
                    &format!(
                        "{} (they start when their other session ends)",
                        named(&b.busy_computers, b.busy)
                    ),
                );
            }
        }
        None if a.coverage.kind != "MaintenanceSchedule" => {
            line(
                &mut out,
                "blast radius",
                "not measured yet for this digest (wait a moment, or check the target)",
            );
        }
        None => {}
    }
    let _ = writeln!(
        out,
        "Approving lets exactly this run; any change to it revokes the approval, and only {} may change it:",
        a.spec["requestedBy"].as_str().unwrap_or("the requester")
    );
    for f in a.coverage.covered() {
        if let Some(text) = describe(a, &f.path, at(&a.spec, &f.path)) {
            line(&mut out, &f.path, &text);
        }
    }
    let _ = writeln!(
        out,
        "Controls (not part of the approval: anyone with edit rights may stop, hold or repeat it):"
    );
    for f in a.coverage.controls() {
        if let Some(text) = describe(a, &f.path, at(&a.spec, &f.path)) {
            line(&mut out, &f.path, &text);
        }
    }
    line(&mut out, "digest", a.digest);
    line(&mut out, "approver", a.approver);
    out
}

fn at<'a>(spec: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(spec, |node, seg| node.get(seg))
        .filter(|v| !v.is_null())
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One field as it will run; `None` to leave it out (absent and nothing to
/// say about its absence).
fn describe(a: &Approving<'_>, path: &str, value: Option<&Value>) -> Option<String> {
    // A MaintenanceSchedule's template fields read as the session's.
    let key = path
        .strip_prefix(TEMPLATE_SPEC_PATH)
        .and_then(|p| p.strip_prefix('.'))
        .unwrap_or(path);
    let rollout = || {
        let prefix = path.strip_suffix(key).unwrap_or_default();
        at(&a.spec, &format!("{prefix}rollout")).and_then(|r| serde_json::from_value::<RolloutSpec>(r.clone()).ok())
    };
    Some(match (key, value) {
        ("target", Some(t)) => a.target_summary.clone().unwrap_or_else(|| target(t)),
        ("mode", Some(m)) => match m.as_str() {
            Some("Full") => "Full: detect, execute and resolve (installs software)".into(),
            Some("DetectionOnly") => "DetectionOnly: reports what would change, installs nothing".into(),
            Some("ResolutionOnly") => "ResolutionOnly".into(),
            Some("InventoryOnly") => "InventoryOnly: refreshes inventory".into(),
            _ => compact(m),
        },
        ("deployment", None) => "none: full maintenance (everything assigned to the computers)".into(),
        ("deployment", Some(d)) => format!(
            "deployment {} ({}) only",
            compact(&d["id"]),
            d["type"].as_str().unwrap_or("?")
        ),
        ("reboot", Some(r)) => reboot(r),
        ("offline", Some(o)) => match o.as_str() {
            Some("Skip") => "Skip: offline computers are left out".into(),
            Some("ApplyOnConnect") => "ApplyOnConnect: offline computers run when they next connect".into(),
            _ => compact(o),
        },
        ("priority", Some(p)) => match p.as_str() {
            Some("High") => "High: bypasses ImmyBot's limit on concurrent sessions".into(),
            _ => compact(p),
        },
        ("windows", None) => "none: it may start at any time".into(),
        ("windows", Some(w)) => windows(w, a.now),
        ("rollout.strategy", None) => "AllAtOnce: every computer starts at once".into(),
        ("rollout.strategy", Some(s)) => match s.as_str() {
            Some("Waves") => match rollout().zip(a.computers.as_ref()).map(|(r, c)| plan(&r, c)) {
                Some(Ok(p)) => format!("Waves: {}", wave_sizes(p.computer_ids.len(), p.pilot_size, p.wave_size)),
                Some(Err(why)) => format!("Waves (cannot be planned as written: {why})"),
                None => "Waves (sizes known once the target's computers are listed)".into(),
            },
            _ => "AllAtOnce: every computer starts at once".into(),
        },
        ("rollout.pilot", None) => return None,
        ("rollout.pilot", Some(p)) => match (p.get("count"), p.get("computers")) {
            (Some(n), _) => format!(
                "{} computer(s) first, alone; the waves start only if all pass",
                compact(n)
            ),
            (_, Some(c)) => format!(
                "{} first, alone; the waves start only if all pass",
                target(&serde_json::json!({"computers": c}))
            ),
            _ => compact(p),
        },
        ("rollout.maxConcurrent", Some(m)) => format!("at most {} computer(s) per wave", compact(m)),
        ("rollout.maxFailures", None) if rollout().is_some_and(|r| r.is_waves()) => {
            "0: the first failure halts the rollout (a brake: raising it continues a halted rollout)".into()
        }
        ("rollout.maxFailures", Some(m)) => {
            format!(
                "{}: failures before the rollout halts (a brake: raising it continues a halted rollout)",
                compact(m)
            )
        }
        ("daily", Some(d)) => format!("every day at {}", compact(&d["time"])),
        ("weekly", Some(w)) => {
            let days: Vec<String> = w["days"]
                .as_array()
                .map(|d| d.iter().map(compact).collect())
                .unwrap_or_default();
            format!("every {} at {}", days.join(", "), compact(&w["time"]))
        }
        ("monthly", Some(m)) => format!(
            "on day {} of every month at {}",
            compact(&m["day"]),
            compact(&m["time"])
        ),
        ("cron" | "schedule", Some(c)) => format!("cron `{}`", compact(c)),
        ("useComputersTimeZone", Some(Value::Bool(true))) => "true: at each computer's own local time".into(),
        ("afterActiveHours", Some(Value::Bool(true))) => {
            "true: in the middle of each computer's non-active hours".into()
        }
        ("maintenanceItem", None) => "none: full maintenance".into(),
        ("maintenanceItem", Some(i)) => format!(
            "only {} {}",
            i["type"].as_str().unwrap_or("?"),
            compact(&i["identifier"])
        ),
        ("adopt", None) => "none: a new ImmyBot schedule is created".into(),
        ("adopt", Some(s)) => format!(
            "replaces ImmyBot schedule {} with this definition",
            compact(&s["scheduleId"])
        ),
        ("suspend", Some(Value::Bool(true))) => "true: nothing new starts".into(),
        ("cancel", Some(c)) => format!("set: {}", c["reason"].as_str().unwrap_or("")),
        ("timeout", Some(t)) => format!("{}: cancelled in ImmyBot when it passes", compact(t)),
        ("retry", Some(r)) if r["limit"].as_i64().unwrap_or(0) > 0 || r["requests"].as_i64().unwrap_or(0) > 0 => {
            format!(
                "reruns failed computers up to {} time(s) ({} more asked)",
                r["limit"].as_i64().unwrap_or(0),
                r["requests"].as_i64().unwrap_or(0)
            )
        }
        // Controls at their defaults say nothing worth a line.
        (_, None) => return None,
        (_, Some(v)) if a.coverage.field(path).is_some_and(|f| f.class == FieldClass::Control) && default_like(v) => {
            return None;
        }
        (_, Some(v)) => compact(v),
    })
}

/// false, 0, `{requests: 0}`, an empty list: a control nobody used.
fn default_like(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        Value::Object(o) => o.values().all(default_like),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => matches!(s.as_str(), "Cancel" | "Delete" | "Correct" | "Allow"),
        Value::Null => true,
    }
}

fn named(v: &Value) -> String {
    match (v.get("name").and_then(Value::as_str), v.get("id")) {
        (Some(name), _) => name.to_owned(),
        (None, Some(id)) => format!("#{}", compact(id)),
        _ => "?".into(),
    }
}

/// `computer #5`, `3 computers: #1, #2, pc-3`, `tenant Contoso and its
/// child tenants, WorkstationsAndPortableDevices`.
fn target(t: &Value) -> String {
    let who = if let Some(c) = t.get("computer") {
        format!("computer {}", named(c))
    } else if let Some(list) = t.get("computers").and_then(Value::as_array) {
        let names: Vec<String> = list.iter().map(named).collect();
        format!("{} computer(s): {}", names.len(), names.join(", "))
    } else if let Some(tn) = t.get("tenant") {
        let children = tn.get("includeChildTenants").and_then(Value::as_bool) == Some(true);
        format!(
            "every computer of tenant {}{}",
            named(tn),
            if children { " and its child tenants" } else { "" }
        )
    } else {
        compact(t)
    };
    match t.get("deviceFilter").and_then(Value::as_str) {
        Some(filter) => format!("{who}, {filter}"),
        None => who,
    }
}

fn reboot(r: &Value) -> String {
    let policy = r["policy"].as_str().unwrap_or("IfRequired");
    let mut text = match policy {
        "Never" => "Never: reboots are suppressed".to_owned(),
        "IfRequired" => "IfRequired: reboots when an install requires it".to_owned(),
        "Always" => "Always: every computer is rebooted".to_owned(),
        "Prompt" => format!(
            "Prompt: the user has {} minute(s), then {}",
            r["promptTimeoutMinutes"]
                .as_i64()
                .map(|m| m.to_string())
                .unwrap_or_else(|| "ImmyBot's default".into()),
            r["promptTimeoutAction"].as_str().unwrap_or("ImmyBot's default")
        ),
        other => other.to_owned(),
    };
    if r["suppressDuringBusinessHours"].as_bool() == Some(true) {
        text.push_str("; none during business hours");
    }
    if r["autoConsent"].as_bool() == Some(true) {
        text.push_str("; consented on the user's behalf");
    }
    text
}

/// `Sat 22:00 for 4h (Europe/Berlin); next opens 2026-12-05 22:00 CET`.
fn windows(w: &Value, now: Timestamp) -> String {
    let Ok(list) = serde_json::from_value::<Vec<MaintenanceWindow>>(w.clone()) else {
        return compact(w);
    };
    let each: Vec<String> = list
        .iter()
        .map(|w| {
            let days: Vec<&str> = w.days.iter().map(|d| &d.as_str()[..3]).collect();
            format!("{} {} for {} ({})", days.join(","), w.start, w.duration, w.time_zone)
        })
        .collect();
    let next = match parse(&list).map(|p| state_at(&p, now)) {
        Ok(WindowState::Open { closes }) => format!("open now, until {}", in_zone(closes, &list[0].time_zone)),
        Ok(WindowState::Closed { opens }) => format!("next opens {}", in_zone(opens, &list[0].time_zone)),
        Ok(WindowState::Always) => String::new(),
        Err(why) => format!("unreadable: {why}"),
    };
    format!("{}; {next}", each.join(" or "))
}

fn in_zone(t: Timestamp, zone: &str) -> String {
    match jiff::tz::TimeZone::get(zone) {
        Ok(tz) => t.to_zoned(tz).strftime("%Y-%m-%d %H:%M %Z").to_string(),
        Err(_) => t.to_string(),
    }
}

/// `3 computers: a pilot of 1, then 1 wave of 2`.
fn wave_sizes(total: usize, pilot: i32, wave: i32) -> String {
    let rest = total.saturating_sub(pilot.max(0) as usize);
    let wave = wave.max(1) as usize;
    let full = rest / wave;
    let last = rest % wave;
    let mut parts = Vec::new();
    if pilot > 0 {
        parts.push(format!("a pilot of {pilot}"));
    }
    if full > 0 {
        parts.push(format!("{full} wave(s) of {wave}"));
    }
    if last > 0 {
        parts.push(format!("a last wave of {last}"));
    }
    format!("{total} computer(s): {}", parts.join(", then "))
}

#[cfg(test)]
mod tests;
