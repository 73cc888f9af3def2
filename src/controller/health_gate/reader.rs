//! Reads a health gate for the session shell: credentials from the
//! object's namespace (GET only), one request per source with a bounded
//! timeout, and a short-lived cache for the reads made while a wave runs
//! (a read before a wave starts is always fresh: a firing gate never lets
//! a wave start on an old answer).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use super::{GateReading, alertmanager, prometheus};
use crate::api::{GateCredentials, HealthGate};

/// How long one source may take to answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Cached readings beyond this many are pruned of the old ones.
const CACHE_BOUND: usize = 1024;

pub struct HealthGateReader {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, (Instant, GateReading)>>,
}

/// How the request proves who asks.
enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
}

impl Default for HealthGateReader {
    fn default() -> Self {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            http,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

impl HealthGateReader {
    /// The gate's reading: a cached one no older than `max_age`, or asked
    /// now (`max_age` `None`: always now); and whether it came from the
    /// cache.
    pub async fn read(
        &self,
        kube: &kube::Client,
        namespace: &str,
        gate: &HealthGate,
        max_age: Option<Duration>,
    ) -> (GateReading, bool) {
        let key = format!("{namespace}/{}", serde_json::to_string(gate).unwrap_or_default());
        if let Some(max_age) = max_age
            && let Some((at, reading)) = self.lock().get(&key)
            && at.elapsed() <= max_age
        {
            return (reading.clone(), true);
        }
        let mut readings = vec![];
        if let Some(am) = &gate.alertmanager {
            let url = alertmanager::alerts_url(&am.address, &am.matchers);
            let source = (url, am.credentials.as_ref(), "alertmanager");
            readings.push(self.ask(kube, namespace, source, alertmanager::reading).await);
        }
        if let Some(p) = &gate.prometheus {
            let source = (
                prometheus::query_url(&p.address, &p.query),
                p.credentials.as_ref(),
                "prometheus",
            );
            readings.push(
                self.ask(kube, namespace, source, |body| prometheus::reading(p, body))
                    .await,
            );
        }
        let reading = GateReading::combine(readings);
        let mut cache = self.lock();
        if cache.len() >= CACHE_BOUND {
            cache.retain(|_, (at, _)| at.elapsed() < Duration::from_secs(600));
            if cache.len() >= CACHE_BOUND {
                cache.clear();
            }
        }
        cache.insert(key, (Instant::now(), reading.clone()));
        (reading, false)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, GateReading)>> {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One source: its URL, one GET, the parse of its answer; anything in
    /// the way is the reason it cannot be read.
    async fn ask(
        &self,
        kube: &kube::Client,
        namespace: &str,
        (url, credentials, source): (Result<url::Url, String>, Option<&GateCredentials>, &str),
        parse: impl FnOnce(&[u8]) -> GateReading,
    ) -> GateReading {
        let fetched = match url {
            Ok(url) => self.get(kube, namespace, url, credentials, source).await,
            Err(why) => Err(why),
        };
        fetched.map_or_else(GateReading::Unreachable, |body| parse(&body))
    }

    /// One GET; an error in words that name the source and its address but
    /// never a credential (reqwest's own text is taken without the URL).
    async fn get(
        &self,
        kube: &kube::Client,
        namespace: &str,
        url: url::Url,
        credentials: Option<&GateCredentials>,
        source: &str,
    ) -> Result<Vec<u8>, String> {
        let address = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
        let mut request = self.http.get(url);
        match auth(kube, namespace, credentials).await? {
            Auth::None => {}
            Auth::Bearer(token) => request = request.bearer_auth(token),
            Auth::Basic(user, password) => request = request.basic_auth(user, Some(password)),
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{source} at {address} did not answer ({})", e.without_url()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{source} at {address} answered {status}"));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("{source} at {address}: the answer broke off ({})", e.without_url()))?;
        Ok(body.to_vec())
    }
}

async fn auth(kube: &kube::Client, namespace: &str, credentials: Option<&GateCredentials>) -> Result<Auth, String> {
    let Some(c) = credentials else {
        return Ok(Auth::None);
    };
    let secret = Api::<Secret>::namespaced(kube.clone(), namespace)
        .get(&c.secret_name)
        .await
        .map_err(|e| {
            let why = match &e {
                kube::Error::Api(s) => s.reason.clone(),
                _ => "no answer".to_owned(),
            };
            format!("Secret {namespace}/{} cannot be read ({why})", c.secret_name)
        })?;
    let data = secret.data.unwrap_or_default();
    let text = |key: &str| {
        data.get(key)
            .map(|b| String::from_utf8_lossy(&b.0).trim_end().to_owned())
            .filter(|s| !s.is_empty())
    };
    match (text("token"), text("username"), text("password")) {
        (Some(token), _, _) => Ok(Auth::Bearer(token)),
        (None, Some(user), Some(password)) => Ok(Auth::Basic(user, password)),
        _ => Err(format!(
            "Secret {namespace}/{} has neither a token nor a username and password",
            c.secret_name
        )),
    }
}
