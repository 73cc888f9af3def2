//! Alertmanager's API v2: `GET /api/v2/alerts` with the gate's matchers as
//! `filter` and only active alerts asked for. The answer is checked again
//! here (an alert whose state is not `active`, or that a silence or an
//! inhibition covers, does not fire the gate), so a proxy or an older
//! Alertmanager that ignores a parameter cannot make the gate fire on
//! silenced alerts... nor hide active ones: the filter narrows, the state
//! decides.

use serde::Deserialize;

use super::{GateReading, MAX_FIRING_NAMES};

/// The request's URL: `base` + `/api/v2/alerts` and its parameters.
pub fn alerts_url(base: &str, matchers: &[String]) -> Result<url::Url, String> {
    let mut url = url::Url::parse(&format!("{}/api/v2/alerts", base.trim_end_matches('/')))
        .map_err(|e| format!("alertmanager address: {e}"))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("active", "true")
            .append_pair("silenced", "false")
            .append_pair("inhibited", "false")
            .append_pair("unprocessed", "false");
        for m in matchers {
            q.append_pair("filter", m);
        }
    }
    Ok(url)
}

/// The fields of a `gettableAlert` the gate reads (Alertmanager's OpenAPI
/// document, api/v2/openapi.yaml).
#[derive(Deserialize)]
struct GettableAlert {
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
    status: AlertStatus,
    #[serde(default)]
    fingerprint: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlertStatus {
    state: String,
    #[serde(default)]
    silenced_by: Vec<String>,
    #[serde(default)]
    inhibited_by: Vec<String>,
}

/// The gate's reading from the answer's body.
pub fn reading(body: &[u8]) -> GateReading {
    let alerts: Vec<GettableAlert> = match serde_json::from_slice(body) {
        Ok(a) => a,
        Err(e) => {
            return GateReading::Unreachable(format!(
                "alertmanager answered something other than a list of alerts ({e})"
            ));
        }
    };
    let mut names: Vec<String> = alerts
        .iter()
        .filter(|a| a.status.state == "active" && a.status.silenced_by.is_empty() && a.status.inhibited_by.is_empty())
        .map(|a| {
            let name = a
                .labels
                .get("alertname")
                .cloned()
                .unwrap_or_else(|| format!("alert {}", a.fingerprint));
            match a.labels.get("instance") {
                Some(instance) => format!("{name} ({instance})"),
                None => name,
            }
        })
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return GateReading::Clear;
    }
    names.truncate(MAX_FIRING_NAMES);
    GateReading::Firing(names.into_iter().map(|n| format!("alertmanager: {n}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_asks_for_active_alerts_by_every_matcher() {
        let url = alerts_url(
            "http://am:9093/",
            &["severity=\"critical\"".into(), "team=~\"ep.*\"".into()],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "http://am:9093/api/v2/alerts?active=true&silenced=false&inhibited=false&unprocessed=false&filter=severity%3D%22critical%22&filter=team%3D%7E%22ep.*%22"
        );
    }

    #[test]
    fn only_active_alerts_nobody_silenced_fire_the_gate() {
        let body = br#"[
          {"labels":{"alertname":"DiskFull","instance":"pc-1"},"status":{"state":"active","silencedBy":[],"inhibitedBy":[]},"fingerprint":"a"},
          {"labels":{"alertname":"Quiet"},"status":{"state":"suppressed","silencedBy":["s1"],"inhibitedBy":[]},"fingerprint":"b"},
          {"labels":{"alertname":"Inhibited"},"status":{"state":"active","silencedBy":[],"inhibitedBy":["c"]},"fingerprint":"c"},
          {"labels":{},"status":{"state":"active"},"fingerprint":"d4"}
        ]"#;
        assert_eq!(
            reading(body),
            GateReading::Firing(vec![
                "alertmanager: DiskFull (pc-1)".into(),
                "alertmanager: alert d4".into()
            ])
        );
        assert_eq!(reading(b"[]"), GateReading::Clear);
        assert!(matches!(reading(br#"{"error":"x"}"#), GateReading::Unreachable(_)));
    }
}
