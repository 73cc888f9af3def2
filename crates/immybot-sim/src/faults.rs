//! Fault injection, per route: what a flaky or hostile ImmyBot does to a
//! client. Rules are set through the admin API (or in code) and apply to the
//! next `times` matching requests, or to a fraction of them.

use rand::{Rng as _, SeedableRng as _};
use serde::{Deserialize, Serialize};

/// One kind of misbehaviour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum FaultKind {
    /// Answer with this status and a problem-details body.
    Status { status: u16 },
    /// 429 with `Retry-After` in seconds (or, with `httpDate`, as a date).
    RateLimited {
        retry_after_seconds: u64,
        #[serde(default)]
        http_date: bool,
    },
    /// Delay the real answer.
    Latency { millis: u64 },
    /// Never answer (the client's timeout must fire).
    Hang,
    /// 200 with a body that is not JSON.
    MalformedJson,
    /// 200 with the web app's HTML page, as list paths without `/dx` do.
    HtmlPage,
    /// Do the work (a start creates its sessions), then drop the connection
    /// before the answer arrives: the lost response the controller must survive.
    DropResponse,
}

/// A rule: which route, what fault, how often.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRule {
    /// A route template as the call counts show it, e.g.
    /// `POST /api/v1/run-immy-service`, or `*` for every API route.
    pub route: String,
    #[serde(flatten)]
    pub fault: FaultKind,
    /// Apply to the next N matching requests; absent means no limit.
    #[serde(default)]
    pub times: Option<u32>,
    /// Apply to this fraction of matching requests (default 1.0).
    #[serde(default)]
    pub probability: Option<f64>,
}

/// The active rules, with a seeded random source so that a run with a
/// probability is repeatable.
pub struct Faults {
    rules: Vec<FaultRule>,
    rng: rand::rngs::StdRng,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            rng: rand::rngs::StdRng::seed_from_u64(7),
        }
    }
}

impl Faults {
    pub fn add(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// The fault for this request, if any; counts down `times`.
    pub fn pick(&mut self, route: &str) -> Option<FaultKind> {
        let mut chosen = None;
        for rule in &mut self.rules {
            if rule.route != "*" && rule.route != route {
                continue;
            }
            if rule.times == Some(0) {
                continue;
            }
            let p = rule.probability.unwrap_or(1.0);
            if p < 1.0 && self.rng.random::<f64>() >= p {
                continue;
            }
            if let Some(t) = &mut rule.times {
                *t -= 1;
            }
            chosen = Some(rule.fault.clone());
            break;
        }
        self.rules.retain(|r| r.times != Some(0));
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_rules_expire_and_routes_must_match() {
        let mut f = Faults::default();
        f.add(FaultRule {
            route: "GET /a".into(),
            fault: FaultKind::Hang,
            times: Some(2),
            probability: None,
        });
        assert_eq!(f.pick("GET /b"), None);
        assert_eq!(f.pick("GET /a"), Some(FaultKind::Hang));
        assert_eq!(f.pick("GET /a"), Some(FaultKind::Hang));
        assert_eq!(f.pick("GET /a"), None);
        assert!(f.rules().is_empty());
    }

    #[test]
    fn probabilities_apply_to_about_that_fraction() {
        let mut f = Faults::default();
        f.add(FaultRule {
            route: "*".into(),
            fault: FaultKind::Status { status: 503 },
            times: None,
            probability: Some(0.25),
        });
        let hits = (0..4000).filter(|_| f.pick("GET /x").is_some()).count();
        assert!((800..1200).contains(&hits), "{hits} of 4000");
    }

    #[test]
    fn rules_decode_from_the_admin_api_shape() {
        let rule: FaultRule =
            serde_json::from_str(r#"{"route":"*","kind":"rateLimited","retryAfterSeconds":3,"times":1}"#).unwrap();
        assert_eq!(
            rule.fault,
            FaultKind::RateLimited {
                retry_after_seconds: 3,
                http_date: false
            }
        );
    }
}
