//! Prometheus' instant query (`GET /api/v1/query?query=`), its answer read
//! as Prometheus documents it (`status`, `data.resultType`, `data.result`),
//! and the gate's conditions over it (Argo Rollouts' shape: the failure
//! condition first, then the success condition).

use serde::Deserialize;

use super::GateReading;
use super::condition::{QueryResult, evaluate};
use crate::api::PrometheusGate;

pub fn query_url(base: &str, query: &str) -> Result<url::Url, String> {
    let mut url = url::Url::parse(&format!("{}/api/v1/query", base.trim_end_matches('/')))
        .map_err(|e| format!("prometheus address: {e}"))?;
    url.query_pairs_mut().append_pair("query", query);
    Ok(url)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: serde_json::Value,
}

/// A sample's value: `[time, "value"]`, the value a string (`"NaN"`,
/// `"+Inf"` included).
fn sample_value(v: &serde_json::Value) -> Result<f64, String> {
    let s = v
        .get(1)
        .and_then(serde_json::Value::as_str)
        .ok_or("a sample is not [time, \"value\"]")?;
    match s {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => s.parse().map_err(|_| format!("sample value {s:?} is not a number")),
    }
}

/// The result as a condition sees it.
pub fn result(body: &[u8]) -> Result<QueryResult, String> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| format!("prometheus answered something other than a query result ({e})"))?;
    if answer.status != "success" {
        return Err(format!(
            "prometheus: the query failed: {}",
            answer.error.unwrap_or(answer.status)
        ));
    }
    let data = answer.data.ok_or("prometheus: a success without data")?;
    match data.result_type.as_str() {
        "vector" => {
            let samples = data
                .result
                .as_array()
                .ok_or("prometheus: a vector that is not a list")?;
            let values = samples
                .iter()
                .map(|s| sample_value(s.get("value").unwrap_or(&serde_json::Value::Null)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(QueryResult::Vector(values))
        }
        "scalar" => Ok(QueryResult::Scalar(sample_value(&data.result)?)),
        other => Err(format!(
            "prometheus: a {other} result; the gate's query must give a vector or a scalar"
        )),
    }
}

/// The gate's reading from the answer.
pub fn reading(gate: &PrometheusGate, body: &[u8]) -> GateReading {
    let result = match result(body) {
        Ok(r) => r,
        Err(why) => return GateReading::Unreachable(why),
    };
    let fired = |what: &str, condition: &str| GateReading::Firing(vec![format!("prometheus: {what} {condition}")]);
    if let Some(c) = &gate.failure_condition {
        match evaluate(c, &result) {
            Ok(true) => return fired("failureCondition", c),
            Ok(false) => {}
            Err(e) => return GateReading::Unreachable(format!("prometheus: {e}")),
        }
    }
    if let Some(c) = &gate.success_condition {
        match evaluate(c, &result) {
            Ok(true) => {}
            Ok(false) => return fired("successCondition not met:", c),
            Err(e) => return GateReading::Unreachable(format!("prometheus: {e}")),
        }
    }
    GateReading::Clear
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(failure: Option<&str>, success: Option<&str>) -> PrometheusGate {
        PrometheusGate {
            address: "http://prom:9090".into(),
            query: "q".into(),
            failure_condition: failure.map(Into::into),
            success_condition: success.map(Into::into),
            credentials: None,
        }
    }

    const VECTOR: &[u8] = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"x"},"value":[1735000000.1,"3"]},{"metric":{},"value":[1735000000.1,"NaN"]}]}}"#;

    #[test]
    fn a_vector_and_a_scalar_read_as_prometheus_documents_them() {
        let QueryResult::Vector(v) = result(VECTOR).unwrap() else {
            panic!()
        };
        assert_eq!(v[0], 3.0);
        assert!(v[1].is_nan());
        let scalar = br#"{"status":"success","data":{"resultType":"scalar","result":[1735000000,"0.5"]}}"#;
        assert_eq!(result(scalar), Ok(QueryResult::Scalar(0.5)));
        let matrix = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(result(matrix).unwrap_err().contains("matrix"));
        let failed = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
        assert!(result(failed).unwrap_err().contains("parse error"));
    }

    #[test]
    fn the_failure_condition_fires_first_and_an_unmet_success_condition_fires_too() {
        assert!(matches!(
            reading(&gate(Some("result[0] > 2"), None), VECTOR),
            GateReading::Firing(_)
        ));
        assert_eq!(reading(&gate(Some("result[0] > 5"), None), VECTOR), GateReading::Clear);
        assert!(matches!(
            reading(&gate(None, Some("result[0] < 1")), VECTOR),
            GateReading::Firing(_)
        ));
        assert_eq!(
            reading(&gate(Some("result[0] > 5"), Some("len(result) == 2")), VECTOR),
            GateReading::Clear
        );
        assert!(matches!(
            reading(&gate(Some("result[9] > 5"), None), VECTOR),
            GateReading::Unreachable(_)
        ));
    }
}
