//! What one test gets: a client on its own runtime, a namespace of its own,
//! and helpers that wait on conditions with deadlines (never fixed sleeps).

use std::future::Future;
use std::process::Output;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};

use super::testbed::Testbed;

pub struct TestContext {
    pub client: Client,
    pub namespace: String,
    testbed: &'static Testbed,
}

impl TestContext {
    /// Creates a fresh namespace named after the test.
    pub async fn new(testbed: &'static Testbed, test_name: &str) -> Result<Self, String> {
        let client = testbed.client().await?;
        let slug = immybot_operator::api::name_slug(test_name);
        let slug = slug.trim_matches('-');
        // Tests whose names share 40 characters (a test under each reading)
        // differ only by the suffix: a taken one is drawn again.
        let mut tries = 0;
        let namespace = loop {
            tries += 1;
            let suffix: u32 = rand::random::<u32>() % 100_000;
            let namespace = format!("{}-{suffix}", &slug[..slug.len().min(40)]).replace("--", "-");
            let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": namespace}}))
                .map_err(|e| e.to_string())?;
            match Api::<Namespace>::all(client.clone())
                .create(&PostParams::default(), &ns)
                .await
            {
                Ok(_) => break namespace,
                Err(kube::Error::Api(e)) if e.code == 409 && tries < 5 => continue,
                Err(e) => return Err(format!("creating namespace {namespace}: {e}")),
            }
        };
        Ok(Self {
            client,
            namespace,
            testbed,
        })
    }

    /// A namespaced API for the test's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// A namespaced API acting as `user` (impersonated), so that RBAC and
    /// admission see that user, as they would in production.
    pub async fn api_as<K>(&self, user: &str) -> Result<Api<K>, String>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Ok(Api::namespaced(self.testbed.client_as(user).await?, &self.namespace))
    }

    /// A client acting as `user` (impersonated) in the test users' group,
    /// for any namespace.
    pub async fn client_as(&self, user: &str) -> Result<Client, String> {
        self.testbed.client_as(user).await
    }

    /// A client acting as `user` with no groups at all (so no RBAC grants).
    pub async fn client_as_outsider(&self, user: &str) -> Result<Client, String> {
        self.testbed.client_as_groups(user, vec![]).await
    }

    /// A client acting as `user` in exactly these groups.
    pub async fn client_as_with_groups(&self, user: &str, groups: Vec<String>) -> Result<Client, String> {
        self.testbed.client_as_groups(user, groups).await
    }

    pub fn kubeconfig_path(&self) -> &std::path::Path {
        self.testbed.kubeconfig_path()
    }

    /// Runs the pinned kubectl against the test API server.
    pub fn kubectl(&self, args: &[&str]) -> std::io::Result<Output> {
        std::process::Command::new(self.testbed.kubectl())
            .arg("--kubeconfig")
            .arg(self.testbed.kubeconfig_path())
            .args(args)
            .output()
    }
}

/// How many requests with `verb` on `resource` the API server has served
/// (its own `apiserver_request_total`), to count what the operator asks.
pub async fn apiserver_requests(client: &Client, verb: &str, resource: &str) -> Result<f64, String> {
    let request = axum::http::Request::get("/metrics")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let text = client
        .request_text(request)
        .await
        .map_err(|e| format!("API server metrics: {e}"))?;
    let (verb, resource) = (format!("verb=\"{verb}\""), format!("resource=\"{resource}\""));
    Ok(text
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{") && l.contains(&verb) && l.contains(&resource))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

/// Deletes a test's namespace; objects in it go with it. Best effort: the
/// whole control plane is discarded after the run anyway.
pub async fn delete_namespace(client: Client, namespace: &str) {
    let _ = Api::<Namespace>::all(client)
        .delete(namespace, &DeleteParams::background())
        .await;
}

/// A `wait_for` probe's answer from a condition: done, or why not yet.
pub fn until(done: bool, why: impl FnOnce() -> String) -> Result<Option<()>, String> {
    if done { Ok(Some(())) } else { Err(why()) }
}

/// Polls `probe` until it returns `Some`, failing after `deadline` with a
/// message that says what was awaited and what was seen last.
///
/// Polling a cheap probe every 50 ms is waiting on a condition, not sleeping
/// for synchronisation: the test moves on as soon as the condition holds.
pub async fn wait_for<T, F, Fut>(what: &str, deadline: Duration, mut probe: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, String>>,
{
    let started = tokio::time::Instant::now();
    let mut last_error = String::from("condition not met yet");
    loop {
        match probe().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last_error = e,
        }
        if started.elapsed() >= deadline {
            return Err(format!(
                "timed out after {deadline:?} waiting for {what}; last: {last_error}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
