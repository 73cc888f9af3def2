//! The quickstart's closing page: carol asks for the month's maintenance
//! report (a MaintenanceReport, as `kubectl immybot report --since 35d`
//! does), prints its summary, and writes the HTML a person would mail.
//! ImmyBot's weeks of history before the quickstart count, as do the runs
//! it just made.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use immybot_operator::api::{MaintenanceReport, SearchPhase};
use immybot_operator::render::report::{Heading, html_page, markdown_summary};
use kube::api::{Api, DeleteParams, PostParams};

const NAMESPACE: &str = "default";
const NAME: &str = "quickstart-monthly";

pub async fn run(carol: kube::Client, out_dir: &Path) -> anyhow::Result<PathBuf> {
    println!("\n== The month's maintenance report, for people outside the cluster ==");
    println!("carol$ kubectl immybot report --since 35d -o html --file quickstart-report.html");
    let api = Api::<MaintenanceReport>::namespaced(carol, NAMESPACE);
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 35);
    let report: MaintenanceReport = serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceReport",
        "metadata": {"name": NAME},
        "spec": {"since": since.to_string(), "ttl": "1h"},
    }))?;
    api.create(&PostParams::default(), &report)
        .await
        .context("creating the report as carol")?;
    let status = loop {
        let r = api.get(NAME).await?;
        match r.status {
            Some(st) if st.phase == Some(SearchPhase::Complete) => break st,
            Some(st) if st.phase == Some(SearchPhase::Failed) => {
                anyhow::bail!("the report failed: {}", st.message.unwrap_or_default())
            }
            _ => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    };
    let _ = api.delete(NAME, &DeleteParams::default()).await;
    let heading = Heading {
        namespace: NAMESPACE,
        scope: "every tenant",
    };
    let summary: String = markdown_summary(&status, &heading)
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect();
    print!("{summary}");
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let path = out_dir.join("quickstart-report.html");
    std::fs::write(&path, html_page(&status, &heading)).with_context(|| format!("writing {}", path.display()))?;
    let shown = std::fs::canonicalize(&path).unwrap_or(path);
    println!(
        "The whole report, a section per tenant with its weekly chart, one file to mail: {} ({} ImmyBot calls, all at the budget's lowest priority)",
        shown.display(),
        status.immybot_calls.unwrap_or_default()
    );
    Ok(shown)
}
