//! `check`: is the operator installed and working, from where the command
//! runs? The chart's `helm test` runs it in the cluster; people run it from
//! their desk. Each check prints `ok` or `FAIL` with what to look at, and
//! any failure makes the command fail.

use std::fmt::Write as _;

use immybot_operator::api::{ClusterImmyBotConnection, ImmyBotConnection};
use kube::ResourceExt as _;
use kube::api::{Api, ListParams};

use super::commands::Ctx;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The operator's admin endpoint (the chart's `<release>-metrics`
    /// Service), e.g. http://immybot-operator-metrics.immybot-system:8080:
    /// also check that it is ready and that its last poll of ImmyBot worked.
    #[arg(long, value_name = "URL")]
    pub operator_url: Option<url::Url>,
}

/// The kinds the operator's CRDs serve.
const KINDS: [&str; 7] = [
    "MaintenanceSession",
    "MaintenanceApproval",
    "ImmyBotSchedule",
    "MaintenanceSchedule",
    "SessionSearch",
    "ImmyBotConnection",
    "ClusterImmyBotConnection",
];

/// What each check found.
#[derive(Default)]
struct Report {
    text: String,
    failed: usize,
}

impl Report {
    fn ok(&mut self, what: impl std::fmt::Display) {
        let _ = writeln!(self.text, "ok    {what}");
    }
    fn fail(&mut self, what: impl std::fmt::Display) {
        self.failed += 1;
        let _ = writeln!(self.text, "FAIL  {what}");
    }
}

pub async fn check(ctx: &Ctx, args: CheckArgs) -> anyhow::Result<()> {
    let mut report = Report::default();
    crds(ctx, &mut report).await;
    if let Some(url) = &args.operator_url {
        operator(url, &mut report).await;
    }
    connections(ctx, &mut report).await;
    print!("{}", report.text);
    if report.failed > 0 {
        anyhow::bail!("{} check(s) failed", report.failed);
    }
    Ok(())
}

async fn crds(ctx: &Ctx, report: &mut Report) {
    match kube::discovery::Discovery::new(ctx.client.clone())
        .filter(&["immybot.io"])
        .run()
        .await
    {
        Ok(found) => {
            let served: Vec<String> = found
                .groups()
                .flat_map(|g| g.recommended_resources())
                .map(|(r, _)| r.kind)
                .collect();
            let missing: Vec<&str> = KINDS.into_iter().filter(|k| !served.iter().any(|s| s == k)).collect();
            if missing.is_empty() {
                report.ok(format!("the API server serves immybot.io's {} kinds", KINDS.len()));
            } else {
                report.fail(format!(
                    "the API server does not serve {}: apply the CRDs (docs/install.md, \"Upgrading\")",
                    missing.join(", ")
                ));
            }
        }
        Err(e) => report.fail(format!("asking the API server what it serves: {e}")),
    }
}

/// The value of an unlabelled sample in Prometheus' text format.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let (n, v) = l.split_once(' ')?;
        (n == name).then(|| v.trim().parse().ok()).flatten()
    })
}

async fn operator(url: &url::Url, report: &mut Report) {
    let http = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => return report.fail(format!("an HTTP client: {e}")),
    };
    let get = |path: &str| {
        let target = url.join(path);
        let http = http.clone();
        async move {
            let target = target.map_err(|e| e.to_string())?;
            let answer = http
                .get(target.clone())
                .send()
                .await
                .map_err(|e| format!("{target}: {e}"))?;
            let status = answer.status();
            let body = answer.text().await.map_err(|e| format!("{target}: {e}"))?;
            Ok::<_, String>((status, body))
        }
    };
    let role = match get("/readyz").await {
        Ok((status, body)) if status.is_success() => {
            report.ok(format!("the operator at {url} is ready ({})", body.trim()));
            body
        }
        Ok((status, body)) => {
            return report.fail(format!(
                "the operator at {url} is not ready ({status}): {}",
                body.trim()
            ));
        }
        Err(e) => return report.fail(format!("the operator does not answer: {e}")),
    };
    // Only the leader polls ImmyBot; a standby's figures say nothing.
    if role.trim() != "leader" {
        return report.ok("the answering replica is a standby: ImmyBot is polled by the leader");
    }
    match get("/metrics").await {
        Ok((status, body)) if status.is_success() => match sample(&body, "immybot_operator_instance_up") {
            Some(v) if v >= 1.0 => report.ok("the operator's last poll of ImmyBot worked"),
            Some(_) => report.fail(
                "the operator's last poll of ImmyBot failed: check the URL, the app registration and the secret (kubectl logs, docs/troubleshooting.md)",
            ),
            None => report.fail("the operator has not polled ImmyBot yet: check again in a minute"),
        },
        Ok((status, _)) => report.fail(format!("the operator's metrics answered {status}")),
        Err(e) => report.fail(format!("the operator's metrics: {e}")),
    }
}

/// A connection's Ready condition: (ready, reason and message).
fn ready(conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]) -> (bool, String) {
    match conditions.iter().find(|c| c.type_ == "Ready") {
        Some(c) => (c.status == "True", format!("{}: {}", c.reason, c.message)),
        None => (false, "not looked at by the operator yet".into()),
    }
}

async fn connections(ctx: &Ctx, report: &mut Report) {
    let params = ListParams::default();
    match ctx.api::<ImmyBotConnection>().list(&params).await {
        Ok(list) => {
            for c in list.items {
                let (ok, why) = ready(c.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default());
                let line = format!("ImmyBotConnection {}/{}: {why}", ctx.namespace, c.name_any());
                if ok { report.ok(line) } else { report.fail(line) }
            }
        }
        Err(e) => report.fail(format!("listing ImmyBotConnections in {}: {e}", ctx.namespace)),
    }
    match Api::<ClusterImmyBotConnection>::all(ctx.client.clone())
        .list(&params)
        .await
    {
        Ok(list) => {
            for c in list.items {
                let (ok, why) = ready(c.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default());
                let line = format!("ClusterImmyBotConnection {}: {why}", c.name_any());
                if ok { report.ok(line) } else { report.fail(line) }
            }
        }
        Err(e) => report.fail(format!("listing ClusterImmyBotConnections: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_read_by_exact_name() {
        let text = "# TYPE immybot_operator_instance_up gauge\nimmybot_operator_instance_up_total 7\nimmybot_operator_instance_up 1\n";
        assert_eq!(sample(text, "immybot_operator_instance_up"), Some(1.0));
        assert_eq!(
            sample("immybot_operator_instance_up 0\n", "immybot_operator_instance_up"),
            Some(0.0)
        );
        assert_eq!(sample("", "immybot_operator_instance_up"), None);
    }
}
