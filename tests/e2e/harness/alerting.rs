//! The health gate's real counterparts: Alertmanager and Prometheus, built
//! from their Go modules by `testbed/alerting.sh` (exported as
//! `IMMYBOT_ALERTING_BIN`), each started per test on a free port with a
//! config of its own, and a metrics endpoint the test sets for Prometheus to
//! scrape. A missing binary is a loud failure that names the command.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Context as _, wait_for};

fn bin(name: &str) -> Result<PathBuf, String> {
    let hint = "build them with `eval \"$(testbed/alerting.sh --env)\"` (or run the suite through `hack/test.sh`)";
    let dir = std::env::var_os("IMMYBOT_ALERTING_BIN")
        .map(PathBuf::from)
        .ok_or_else(|| format!("IMMYBOT_ALERTING_BIN is not set: the health gate tests need a real {name}; {hint}"))?;
    let path = dir.join(name);
    path.is_file()
        .then_some(path.clone())
        .ok_or_else(|| format!("{} is missing; {hint}", path.display()))
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .ctx("free port")
}

fn scratch(what: &str) -> Result<PathBuf, String> {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "immybot-e2e-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).ctx("scratch dir")?;
    Ok(dir)
}

/// One process, killed (and its scratch directory removed) when dropped.
struct Process {
    child: tokio::process::Child,
    dir: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `name` and waits until `ready` answers 2xx (or, with
/// `any_answer`, anything: a server that asks for credentials answers 401).
async fn spawn(name: &str, dir: PathBuf, args: Vec<String>, ready: &str, any_answer: bool) -> Result<Process, String> {
    let log = std::fs::File::create(dir.join("log")).ctx("log file")?;
    let child = tokio::process::Command::new(bin(name)?)
        .args(&args)
        .stdout(log.try_clone().ctx("log file")?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .ctx(name)?;
    let process = Process { child, dir };
    let http = reqwest::Client::new();
    let log_path = process.dir.join("log");
    wait_for(&format!("{name} ready"), Duration::from_secs(60), || {
        let (http, log_path) = (http.clone(), log_path.clone());
        async move {
            match http.get(ready).send().await {
                Ok(r) if r.status().is_success() || any_answer => Ok(Some(())),
                _ => Err(std::fs::read_to_string(&log_path)
                    .unwrap_or_default()
                    .lines()
                    .rev()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" | ")),
            }
        }
    })
    .await?;
    Ok(process)
}

/// A real Alertmanager (no cluster, one null receiver).
pub struct Alertmanager {
    pub url: String,
    basic: Option<(String, String)>,
    http: reqwest::Client,
    _process: Process,
}

impl Alertmanager {
    pub async fn start() -> Result<Self, String> {
        Self::start_with(None).await
    }

    /// With basic auth: `user` and the bcrypt hash of `password` in its
    /// web config; the requests of this handle send `password`.
    pub async fn start_with(basic: Option<(&str, &str, &str)>) -> Result<Self, String> {
        let dir = scratch("alertmanager")?;
        let port = free_port()?;
        std::fs::write(
            dir.join("alertmanager.yml"),
            "route:\n  receiver: 'null'\n  group_wait: 0s\nreceivers:\n  - name: 'null'\n",
        )
        .ctx("alertmanager config")?;
        let mut args = vec![
            format!("--config.file={}", dir.join("alertmanager.yml").display()),
            format!("--storage.path={}", dir.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--cluster.listen-address=".into(),
        ];
        if let Some((user, _, hash)) = basic {
            std::fs::write(dir.join("web.yml"), format!("basic_auth_users:\n  {user}: '{hash}'\n"))
                .ctx("web config")?;
            args.push(format!("--web.config.file={}", dir.join("web.yml").display()));
        }
        let url = format!("http://127.0.0.1:{port}");
        let process = spawn("alertmanager", dir, args, &format!("{url}/-/ready"), basic.is_some()).await?;
        Ok(Self {
            url,
            basic: basic.map(|(u, p, _)| (u.to_owned(), p.to_owned())),
            http: reqwest::Client::new(),
            _process: process,
        })
    }

    fn request(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.basic {
            Some((u, p)) => r.basic_auth(u, Some(p)),
            None => r,
        }
    }

    /// Posts an alert with these labels through the API v2, ending at
    /// `ends` (an end in the past resolves it).
    pub async fn post(&self, labels: serde_json::Value, ends: jiff::Timestamp) -> Result<(), String> {
        let now = jiff::Timestamp::now();
        let body = serde_json::json!([{
            "labels": labels,
            "annotations": {"summary": "posted by the e2e test"},
            "startsAt": now.checked_sub(jiff::SignedDuration::from_secs(60)).ctx("time")?.to_string(),
            "endsAt": ends.to_string(),
        }]);
        let r = self
            .request(self.http.post(format!("{}/api/v2/alerts", self.url)))
            .json(&body)
            .send()
            .await
            .ctx("POST /api/v2/alerts")?;
        if !r.status().is_success() {
            return Err(format!("POST /api/v2/alerts: {}", r.status()));
        }
        Ok(())
    }

    /// The names of the active alerts matching `filter`, as the API lists
    /// them.
    pub async fn active(&self, filter: &str) -> Result<Vec<String>, String> {
        let r = self
            .request(self.http.get(format!("{}/api/v2/alerts", self.url)))
            .query(&[
                ("active", "true"),
                ("silenced", "false"),
                ("inhibited", "false"),
                ("filter", filter),
            ])
            .send()
            .await
            .ctx("GET /api/v2/alerts")?;
        let alerts: Vec<serde_json::Value> = r.json().await.ctx("alerts")?;
        Ok(alerts
            .iter()
            .filter(|a| a["status"]["state"] == "active")
            .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_owned))
            .collect())
    }
}

/// A metric the test sets, served at `/metrics` for Prometheus to scrape.
#[derive(Clone)]
pub struct TestMetric(Arc<AtomicU64>);

impl TestMetric {
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::SeqCst);
    }
}

/// A real Prometheus scraping one target every second: a metrics endpoint
/// served here, whose `immybot_e2e_alarm` the test sets.
pub struct Prometheus {
    pub url: String,
    pub alarm: TestMetric,
    _process: Process,
    target: tokio::task::JoinHandle<()>,
}

impl Prometheus {
    pub async fn start(initial: f64) -> Result<Self, String> {
        let alarm = TestMetric(Arc::new(AtomicU64::new(initial.to_bits())));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .ctx("metrics listener")?;
        let target = listener.local_addr().ctx("metrics address")?;
        let served = alarm.clone();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let v = f64::from_bits(served.0.load(Ordering::SeqCst));
                async move { format!("# TYPE immybot_e2e_alarm gauge\nimmybot_e2e_alarm {v}\n") }
            }),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let dir = scratch("prometheus")?;
        let port = free_port()?;
        std::fs::write(
            dir.join("prometheus.yml"),
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: e2e\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .ctx("prometheus config")?;
        let args = vec![
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ];
        let url = format!("http://127.0.0.1:{port}");
        let process = spawn("prometheus", dir, args, &format!("{url}/-/ready"), false).await?;
        Ok(Self {
            url,
            alarm,
            _process: process,
            target: server,
        })
    }

    /// The alarm's value as Prometheus has it now (`None` before a scrape).
    pub async fn alarm_now(&self) -> Result<Option<f64>, String> {
        let r: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", "max(immybot_e2e_alarm)")])
            .send()
            .await
            .ctx("query")?
            .json()
            .await
            .ctx("query answer")?;
        Ok(r["data"]["result"][0]["value"][1].as_str().and_then(|v| v.parse().ok()))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.target.abort();
    }
}
