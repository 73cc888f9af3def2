//! `report`: a MaintenanceReport the operator answers (RBAC on
//! `maintenancereports` is the only key: the person never holds ImmyBot
//! credentials), rendered as Markdown, HTML or CSV, then deleted.

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use immybot_operator::api::{MaintenanceReport, MaintenanceReportSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use super::commands::Ctx;
use immybot_operator::render::report::{self as render_report, Heading};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Md,
    Html,
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Where the period starts: an age (30d, 36h, 90m) or an RFC 3339 time.
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// Where it ends (the same forms); unset, now.
    #[arg(long)]
    pub until: Option<String>,
    /// Only this tenant, by ImmyBot name (repeat for several).
    #[arg(long = "tenant")]
    pub tenants: Vec<String>,
    /// Approvals and cancellations of the MaintenanceSessions with these
    /// labels only (`key=value,key`).
    #[arg(long, short = 'l')]
    pub selector: Option<String>,
    #[arg(long, short = 'o', value_enum, default_value = "md")]
    pub output: Format,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub file: Option<std::path::PathBuf>,
    /// How long to wait for the operator: a report is read at the ImmyBot
    /// budget's lowest priority, after every start and end read.
    #[arg(long, default_value = "10m")]
    pub timeout: String,
}

/// `key=value,key` as a LabelSelector (equality and existence: what `-l`
/// takes for reports).
pub fn selector(text: &str) -> anyhow::Result<LabelSelector> {
    let mut labels = BTreeMap::new();
    let mut exists = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some((k, v)) if !k.is_empty() && !k.ends_with('!') && !v.starts_with('=') => {
                labels.insert(k.trim().to_owned(), v.trim().to_owned());
            }
            None if part.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) => {
                exists.push(LabelSelectorRequirement {
                    key: part.to_owned(),
                    operator: "Exists".into(),
                    values: None,
                });
            }
            _ => bail!("-l {text}: a report's selector takes key=value and key only"),
        }
    }
    Ok(LabelSelector {
        match_labels: (!labels.is_empty()).then_some(labels),
        match_expressions: (!exists.is_empty()).then_some(exists),
    })
}

pub async fn report(ctx: &Ctx, args: ReportArgs) -> anyhow::Result<()> {
    let now = jiff::Timestamp::now();
    let since = super::search_commands::point_in_time(&args.since, now)?;
    let until = args
        .until
        .as_deref()
        .map(|u| super::search_commands::point_in_time(u, now))
        .transpose()?;
    let timeout = immybot_operator::controller::parse_duration(Some(&args.timeout))
        .with_context(|| format!("--timeout {}: a duration like 10m", args.timeout))?;
    let spec: MaintenanceReportSpec = serde_json::from_value(serde_json::json!({
        "since": since,
        "until": until,
        "tenants": args.tenants,
        "selector": args.selector.as_deref().map(selector).transpose()?,
        "ttl": "1h",
    }))
    .context("building the report")?;
    let answered = super::ask_once::ask(ctx, MaintenanceReport::new("", spec), "report-", timeout).await?;
    let answer = answered.status.unwrap_or_default();
    let scope = match (args.tenants.is_empty(), &args.selector) {
        (true, None) => "every tenant".to_owned(),
        (true, Some(l)) => format!("every tenant, approvals of sessions labelled {l}"),
        (false, None) => format!("tenants {}", args.tenants.join(", ")),
        (false, Some(l)) => format!(
            "tenants {}, approvals of sessions labelled {l}",
            args.tenants.join(", ")
        ),
    };
    let heading = Heading {
        namespace: &ctx.namespace,
        scope: &scope,
    };
    let text = match args.output {
        Format::Md => render_report::markdown(&answer, &heading),
        Format::Html => render_report::html_page(&answer, &heading),
        Format::Csv => render_report::csv_rows(&answer),
    };
    match &args.file {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selector_takes_equality_and_existence_and_refuses_the_rest() {
        let s = selector("team=it, tier").unwrap();
        assert_eq!(s.match_labels.unwrap()["team"], "it");
        assert_eq!(s.match_expressions.unwrap()[0].operator, "Exists");
        assert!(selector("team!=it").is_err());
        assert!(selector("team in (a,b)").is_err());
    }
}
