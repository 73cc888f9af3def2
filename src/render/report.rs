//! A MaintenanceReport's status as people outside the cluster read it:
//! Markdown (a ticket, a wiki), CSV (a spreadsheet: one row per tenant)
//! and HTML (one self-contained file to mail: the summary first, then a
//! section per tenant, the trend drawn by the kept Chart.js inlined, no
//! network needed). Every text that came from ImmyBot or a person
//! (tenant names, item names, reasons, approvers) is escaped for where it
//! lands: HTML text, a JSON literal inside a script, a CSV field.

use std::fmt::Write as _;

use crate::api::{MaintenanceReportStatus, PeopleRecords, ReportCounts, TenantReport, WeekCounts};

/// Chart.js 4.5.1, kept in the tree (assets/README.md).
const CHART_JS: &str = include_str!("assets/chart.umd.min.js");

/// What the report is about, for its heading.
pub struct Heading<'a> {
    pub namespace: &'a str,
    pub scope: &'a str,
}

fn day(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> String {
    t.0.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn period(st: &MaintenanceReportStatus) -> String {
    st.period
        .as_ref()
        .map(|p| format!("{} to {}", day(&p.since), day(&p.until)))
        .unwrap_or_else(|| "no period".into())
}

fn compliance(c: &ReportCounts) -> String {
    c.computers_non_compliant
        .map_or_else(|| "unknown".into(), |n| n.to_string())
}

fn tenant_title(t: &TenantReport) -> String {
    match (&t.name, t.id) {
        (_, 0) => "Sessions that named no tenant".into(),
        (Some(name), id) => format!("{name} (tenant {id})"),
        (None, id) => format!("Tenant {id}"),
    }
}

// ---- Markdown ------------------------------------------------------------

/// A Markdown table cell: one line, pipes escaped.
fn md(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
}

const COUNT_HEADER: &str = "| Sessions | By ImmyBot schedules | Computers | Passed | Failed | Missed | Failed actions | Non-compliant now |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";

fn md_counts(c: &ReportCounts) -> String {
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
        c.sessions,
        c.sessions_by_schedule,
        c.computers,
        c.computers_passed,
        c.computers_failed,
        c.computers_missed,
        c.failed_actions,
        compliance(c)
    )
}

fn md_weeks(out: &mut String, weeks: &[WeekCounts]) {
    if weeks.is_empty() {
        return;
    }
    out.push_str("| Week of | Sessions | Failed |\n| --- | ---: | ---: |\n");
    for w in weeks {
        let _ = writeln!(out, "| {} | {} | {} |", w.week, w.sessions, w.failed);
    }
    out.push('\n');
}

fn md_people(out: &mut String, title: &str, p: Option<&PeopleRecords>) {
    let Some(p) = p else { return };
    let _ = writeln!(out, "## {title} ({})\n", p.count);
    if p.count == 0 {
        out.push_str("None in the period.\n\n");
        return;
    }
    out.push_str("| Person | Count |\n| --- | ---: |\n");
    for c in &p.by_person {
        let _ = writeln!(out, "| {} | {} |", md(&c.person), c.count);
    }
    out.push_str("\n| Object | Person | At |\n| --- | --- | --- |\n");
    for r in &p.latest {
        let _ = writeln!(out, "| {} | {} | {} |", md(&r.session), md(&r.person), day(&r.at));
    }
    out.push('\n');
}

/// The report's opening part: heading, summary, weekly failures,
/// approvals and cancellations (what the quickstart prints).
pub fn markdown_summary(st: &MaintenanceReportStatus, h: &Heading<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Maintenance report: {}\n", period(st));
    let _ = writeln!(out, "Namespace `{}`, {}.\n", md(h.namespace), md(h.scope));
    if let Some(m) = &st.message {
        let _ = writeln!(out, "{}\n", md(m));
    }
    out.push_str("## Summary\n\n");
    out.push_str(COUNT_HEADER);
    out.push_str(&md_counts(&st.summary.clone().unwrap_or_default()));
    out.push_str("\n### Failures by week\n\n");
    md_weeks(&mut out, &st.weeks);
    md_people(&mut out, "Approvals", st.approvals.as_ref());
    md_people(&mut out, "Cancellations", st.cancellations.as_ref());
    out
}

/// The whole report: the summary, then a section per tenant.
pub fn markdown(st: &MaintenanceReportStatus, h: &Heading<'_>) -> String {
    let mut out = markdown_summary(st, h);
    for t in &st.tenants {
        let _ = writeln!(out, "## {}\n", md(&tenant_title(t)));
        out.push_str(COUNT_HEADER);
        out.push_str(&md_counts(&t.counts));
        out.push('\n');
        if !t.failed_items.is_empty() {
            out.push_str("Items that failed most:\n\n| Item | Failures | Computers | Most common reason |\n| --- | ---: | ---: | --- |\n");
            for i in &t.failed_items {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    md(&i.name),
                    i.failures,
                    i.computers,
                    md(i.reason.as_deref().unwrap_or("not given"))
                );
            }
            out.push('\n');
        }
        md_weeks(&mut out, &t.weeks);
    }
    if let Some(other) = &st.other_tenants {
        out.push_str("## Other tenants (folded)\n\n");
        out.push_str(COUNT_HEADER);
        out.push_str(&md_counts(other));
        out.push('\n');
    }
    out
}

// ---- CSV -------------------------------------------------------------------

/// A CSV field (RFC 4180), with a leading `=`, `+`, `-` or `@` made inert
/// so that a spreadsheet does not run a name as a formula.
fn csv(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// One row per tenant listed, then the folded rest and the total.
pub fn csv_rows(st: &MaintenanceReportStatus) -> String {
    let mut out = String::from(
        "tenant_id,tenant,sessions,sessions_by_schedule,computers,passed,failed,missed,failed_actions,non_compliant_now,top_failed_item\n",
    );
    let mut row = |id: &str, name: &str, c: &ReportCounts, top: &str| {
        let nc = c.computers_non_compliant.map(|n| n.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "{id},{},{},{},{},{},{},{},{},{nc},{}",
            csv(name),
            c.sessions,
            c.sessions_by_schedule,
            c.computers,
            c.computers_passed,
            c.computers_failed,
            c.computers_missed,
            c.failed_actions,
            csv(top)
        );
    };
    for t in &st.tenants {
        let top = t.failed_items.first().map(|i| i.name.as_str()).unwrap_or("");
        row(&t.id.to_string(), t.name.as_deref().unwrap_or(""), &t.counts, top);
    }
    if let Some(other) = &st.other_tenants {
        row("", "other tenants", other, "");
    }
    row("", "all", &st.summary.clone().unwrap_or_default(), "");
    out
}

// ---- HTML --------------------------------------------------------------------

fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON for a script block: `<`, `>` and `&` as escapes, so that no text
/// can close the script or open a comment.
fn script_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn html_counts(c: &ReportCounts) -> String {
    let cells = [
        ("Sessions", c.sessions.to_string()),
        ("By ImmyBot schedules", c.sessions_by_schedule.to_string()),
        ("Computers", c.computers.to_string()),
        ("Passed", c.computers_passed.to_string()),
        ("Failed", c.computers_failed.to_string()),
        ("Missed", c.computers_missed.to_string()),
        ("Failed actions", c.failed_actions.to_string()),
        ("Non-compliant now", compliance(c)),
    ];
    let mut out = String::from("<table class=\"counts\"><tr>");
    for (h, _) in &cells {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr><tr>");
    for (_, v) in &cells {
        let _ = write!(out, "<td>{}</td>", html(v));
    }
    out.push_str("</tr></table>");
    out
}

fn html_people(out: &mut String, title: &str, p: Option<&PeopleRecords>) {
    let Some(p) = p else { return };
    let _ = write!(out, "<h3>{title} ({})</h3>", p.count);
    if p.count == 0 {
        out.push_str("<p>None in the period.</p>");
        return;
    }
    out.push_str("<table><tr><th>Person</th><th>Count</th></tr>");
    for c in &p.by_person {
        let _ = write!(out, "<tr><td>{}</td><td>{}</td></tr>", html(&c.person), c.count);
    }
    out.push_str("</table><table><tr><th>Object</th><th>Person</th><th>At</th></tr>");
    for r in &p.latest {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            html(&r.session),
            html(&r.person),
            html(&day(&r.at))
        );
    }
    out.push_str("</table>");
}

fn weeks_json(weeks: &[WeekCounts]) -> serde_json::Value {
    serde_json::json!({
        "labels": weeks.iter().map(|w| w.week.clone()).collect::<Vec<_>>(),
        "passed": weeks.iter().map(|w| w.sessions - w.failed).collect::<Vec<_>>(),
        "failed": weeks.iter().map(|w| w.failed).collect::<Vec<_>>(),
    })
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:60em;color:#1b1f24;padding:0 1em}h1{font-size:1.6em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:2em}table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left}td{font-variant-numeric:tabular-nums}.counts td{text-align:right}.trend{position:relative;height:16em}.note{color:#57606a}";

/// Draws every `canvas.trend-chart` from its JSON, without animation (so
/// that a mailed file shows its charts at once, and a headless browser
/// finds them drawn), then records in `body[data-charts-drawn]` how many
/// canvases have paint on them.
const DRAW: &str = r#"
(function () {
  var drawn = 0;
  document.querySelectorAll('canvas.trend-chart').forEach(function (canvas) {
    var data = JSON.parse(document.getElementById(canvas.dataset.source).textContent);
    new Chart(canvas, {
      type: 'bar',
      data: { labels: data.labels, datasets: [
        { label: 'Passed', data: data.passed, backgroundColor: '#2da44e', stack: 's' },
        { label: 'Failed', data: data.failed, backgroundColor: '#cf222e', stack: 's' }
      ] },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: 'sessions' } } } }
    });
    var pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (var i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) { drawn++; return; } }
  });
  document.body.dataset.chartsDrawn = String(drawn);
})();
"#;

pub fn html_page(st: &MaintenanceReportStatus, h: &Heading<'_>) -> String {
    let mut body = String::new();
    let title = format!("Maintenance report: {}", period(st));
    let _ = write!(body, "<h1>{}</h1>", html(&title));
    let _ = write!(
        body,
        "<p class=\"note\">Namespace <code>{}</code>, {}. {}</p>",
        html(h.namespace),
        html(h.scope),
        html(st.message.as_deref().unwrap_or(""))
    );
    let mut charts: Vec<(String, serde_json::Value)> = Vec::new();
    body.push_str("<section id=\"summary\"><h2>Summary</h2>");
    body.push_str(&html_counts(&st.summary.clone().unwrap_or_default()));
    body.push_str("<h3>Sessions by week</h3>");
    let _ = write!(
        body,
        "<div class=\"trend\"><canvas class=\"trend-chart\" data-source=\"weeks-all\" aria-label=\"sessions by week, passed and failed\"></canvas></div>"
    );
    charts.push(("weeks-all".into(), weeks_json(&st.weeks)));
    html_people(&mut body, "Approvals", st.approvals.as_ref());
    html_people(&mut body, "Cancellations", st.cancellations.as_ref());
    body.push_str("</section>");
    for (n, t) in st.tenants.iter().enumerate() {
        let _ = write!(
            body,
            "<section class=\"tenant\"><h2>{}</h2>{}",
            html(&tenant_title(t)),
            html_counts(&t.counts)
        );
        if !t.failed_items.is_empty() {
            body.push_str("<h3>Items that failed most</h3><table><tr><th>Item</th><th>Failures</th><th>Computers</th><th>Most common reason</th></tr>");
            for i in &t.failed_items {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    html(&i.name),
                    i.failures,
                    i.computers,
                    html(i.reason.as_deref().unwrap_or("not given"))
                );
            }
            body.push_str("</table>");
        }
        if !t.weeks.is_empty() {
            let id = format!("weeks-{n}");
            let _ = write!(
                body,
                "<div class=\"trend\"><canvas class=\"trend-chart\" data-source=\"{id}\" aria-label=\"sessions by week\"></canvas></div>"
            );
            charts.push((id, weeks_json(&t.weeks)));
        }
        body.push_str("</section>");
    }
    if let Some(other) = &st.other_tenants {
        let _ = write!(
            body,
            "<section><h2>Other tenants (folded)</h2>{}</section>",
            html_counts(other)
        );
    }
    let mut data = String::new();
    for (id, value) in &charts {
        let _ = write!(
            data,
            "<script type=\"application/json\" id=\"{id}\">{}</script>",
            script_json(value)
        );
    }
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>{body}{data}<script>{CHART_JS}</script><script>{DRAW}</script></body></html>\n",
        html(&title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::FailedItem;

    fn report() -> MaintenanceReportStatus {
        serde_json::from_value(serde_json::json!({
            "phase": "Complete",
            "period": {"since": "2026-11-06T00:00:00Z", "until": "2026-12-06T00:00:00Z"},
            "summary": {"sessions": 8, "computers": 4, "computersPassed": 3, "computersFailed": 1, "computersMissed": 0},
            "weeks": [{"week": "2026-11-02", "sessions": 4, "failed": 1}],
            "tenants": [{"id": 2, "name": "Evil, \"Inc\" </script><b>", "sessions": 8, "computers": 4,
                         "computersPassed": 3, "computersFailed": 1, "computersMissed": 0,
                         "weeks": [{"week": "2026-11-02", "sessions": 4, "failed": 1}]}],
        }))
        .unwrap()
    }

    #[test]
    fn names_from_immybot_cannot_break_out_of_html_a_script_or_a_csv_field() {
        let mut st = report();
        st.tenants[0].failed_items.push(FailedItem {
            name: "=HYPERLINK(\"x\")".into(),
            failures: 1,
            computers: 1,
            reason: Some("a | b".into()),
        });
        let page = html_page(
            &st,
            &Heading {
                namespace: "it",
                scope: "every tenant",
            },
        );
        assert!(
            !page.contains("</script><b>"),
            "the name closed a script or opened a tag"
        );
        assert!(page.contains("Evil, &quot;Inc&quot; &lt;/script&gt;&lt;b&gt;"));
        assert_eq!(page.matches("<canvas class=\"trend-chart\"").count(), 2);
        let rows = csv_rows(&st);
        assert!(rows.contains("2,\"Evil, \"\"Inc\"\" </script><b>\",8,"), "{rows}");
        assert!(rows.contains(",\"'=HYPERLINK(\"\"x\"\")\""), "{rows}");
        assert!(rows.lines().last().unwrap().starts_with(",all,8,"));
        let text = markdown(
            &st,
            &Heading {
                namespace: "it",
                scope: "every tenant",
            },
        );
        assert!(text.contains("| a \\| b |"), "{text}");
        assert!(!text.contains("</script>"));
    }

    #[test]
    fn unknown_compliance_reads_unknown_not_zero() {
        let st = report();
        let text = markdown(
            &st,
            &Heading {
                namespace: "it",
                scope: "every tenant",
            },
        );
        assert!(text.contains("| 8 | 0 | 4 | 3 | 1 | 0 | 0 | unknown |"), "{text}");
    }
}
