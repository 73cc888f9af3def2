//! DevExtreme load options over in-memory rows, as far as ImmyBot's `dx`
//! lists need them: `filter` (conditions joined by and/or, nested), `sort`,
//! `skip`, `take`.
//!
//! Faithful to one quirk: a filter with more than [`MAX_OR_CLAUSES`] OR
//! clauses answers 500, as OR-filters across many session ids have on real
//! instances.

use std::collections::HashMap;

use serde_json::Value;

use crate::immybot::WireTime;

pub const MAX_OR_CLAUSES: usize = 20;

#[derive(Debug, PartialEq)]
pub enum DxError {
    BadRequest(String),
    TooComplex,
}

/// Applies the load options; answers the page and the filtered row count.
pub fn load(mut rows: Vec<Value>, params: &HashMap<String, String>) -> Result<(Vec<Value>, usize), DxError> {
    if let Some(filter) = params.get("filter").filter(|f| !f.is_empty()) {
        let filter: Value =
            serde_json::from_str(filter).map_err(|e| DxError::BadRequest(format!("filter is not JSON: {e}")))?;
        // n "or" operators join n + 1 clauses.
        if count_or(&filter) + 1 > MAX_OR_CLAUSES {
            return Err(DxError::TooComplex);
        }
        let mut kept = Vec::with_capacity(rows.len());
        for row in rows {
            if eval(&filter, &row)? {
                kept.push(row);
            }
        }
        rows = kept;
    }
    if let Some(sort) = params.get("sort").filter(|s| !s.is_empty()) {
        let sort: Vec<Value> =
            serde_json::from_str(sort).map_err(|e| DxError::BadRequest(format!("sort is not JSON: {e}")))?;
        for key in sort.iter().rev() {
            let selector = key.get("selector").and_then(Value::as_str).unwrap_or("id").to_owned();
            let desc = key.get("desc").and_then(Value::as_bool).unwrap_or(false);
            rows.sort_by(|a, b| {
                let ord = compare(field(a, &selector), field(b, &selector));
                if desc { ord.reverse() } else { ord }
            });
        }
    }
    let total = rows.len();
    let skip = parse_num(params, "skip")?.unwrap_or(0);
    let take = parse_num(params, "take")?.unwrap_or(usize::MAX);
    Ok((rows.into_iter().skip(skip).take(take).collect(), total))
}

fn parse_num(params: &HashMap<String, String>, key: &str) -> Result<Option<usize>, DxError> {
    params
        .get(key)
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| DxError::BadRequest(format!("{key} must be a non-negative integer")))
        })
        .transpose()
}

fn count_or(filter: &Value) -> usize {
    match filter {
        Value::Array(items) => items.iter().map(|i| if i == "or" { 1 } else { count_or(i) }).sum(),
        _ => 0,
    }
}

/// `createdDate` is the list's name for the session's `createdDateUTC`.
fn field<'a>(row: &'a Value, name: &str) -> Option<&'a Value> {
    row.get(name).or_else(|| match name {
        "createdDate" => row.get("createdDateUTC"),
        _ => None,
    })
}

fn eval(filter: &Value, row: &Value) -> Result<bool, DxError> {
    let Value::Array(items) = filter else {
        return Err(DxError::BadRequest(format!("a filter must be an array, got {filter}")));
    };
    // A condition: [field, op, value].
    if items.len() == 3
        && let (Some(name), Some(op)) = (items[0].as_str(), items[1].as_str())
        && !matches!(op, "and" | "or")
    {
        return condition(field(row, name), op, &items[2]);
    }
    // ["!", f]
    if items.len() == 2 && items[0] == "!" {
        return Ok(!eval(&items[1], row)?);
    }
    // f1, "and"|"or", f2, ... evaluated left to right; an implicit "and"
    // joins adjacent filters, as DevExtreme does.
    let mut result: Option<bool> = None;
    let mut op = "and";
    for item in items {
        match item.as_str() {
            Some(o @ ("and" | "or")) => op = o,
            _ => {
                let v = eval(item, row)?;
                result = Some(match (result, op) {
                    (None, _) => v,
                    (Some(r), "or") => r || v,
                    (Some(r), _) => r && v,
                });
                op = "and";
            }
        }
    }
    Ok(result.unwrap_or(true))
}

fn condition(left: Option<&Value>, op: &str, right: &Value) -> Result<bool, DxError> {
    use std::cmp::Ordering::*;
    let ord = compare(left, Some(right));
    Ok(match op {
        "=" => ord == Equal,
        "<>" | "!=" => ord != Equal,
        ">" => ord == Greater,
        ">=" => ord != Less,
        "<" => ord == Less,
        "<=" => ord != Greater,
        "contains" => match (left.and_then(Value::as_str), right.as_str()) {
            (Some(l), Some(r)) => l.to_ascii_lowercase().contains(&r.to_ascii_lowercase()),
            _ => false,
        },
        other => {
            return Err(DxError::BadRequest(format!("unsupported filter operation {other:?}")));
        }
    })
}

/// Numbers numerically, dates as dates, other strings without case.
fn compare(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => match (WireTime::parse(x), WireTime::parse(y)) {
            (Some(tx), Some(ty)) => tx.cmp(&ty),
            _ => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
        },
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (None | Some(Value::Null), None | Some(Value::Null)) => Ordering::Equal,
        (None | Some(Value::Null), _) => Ordering::Less,
        (_, None | Some(Value::Null)) => Ordering::Greater,
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows() -> Vec<Value> {
        vec![
            json!({"id": 1, "sessionStatus": 1, "createdDateUTC": "2026-01-01T00:00:00Z", "computerName": "A-PC"}),
            json!({"id": 2, "sessionStatus": 0, "createdDateUTC": "2026-01-02T00:00:00Z", "computerName": "B-PC"}),
            json!({"id": 3, "sessionStatus": 6, "createdDateUTC": "2026-01-03T00:00:00Z", "computerName": "a-pc"}),
        ]
    }

    fn params(pairs: &[(&str, Value)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    if let Value::String(s) = v {
                        s.clone()
                    } else {
                        v.to_string()
                    },
                )
            })
            .collect()
    }

    fn ids(page: &[Value]) -> Vec<i64> {
        page.iter().map(|r| r["id"].as_i64().unwrap()).collect()
    }

    #[test]
    fn filters_sorts_and_pages() {
        let p = params(&[
            (
                "filter",
                json!([
                    [["sessionStatus", "=", 1], "or", ["sessionStatus", "=", 6]],
                    "and",
                    ["createdDate", ">=", "2026-01-01T12:00:00Z"]
                ]),
            ),
            ("sort", json!([{"selector": "createdDate", "desc": true}])),
        ]);
        let (page, total) = load(rows(), &p).unwrap();
        assert_eq!((ids(&page), total), (vec![3], 1));
        let p = params(&[
            ("sort", json!([{"selector": "createdDate", "desc": true}])),
            ("skip", json!(1)),
            ("take", json!(1)),
        ]);
        assert_eq!(ids(&load(rows(), &p).unwrap().0), vec![2]);
        let p = params(&[("filter", json!(["computerName", "=", "A-PC"]))]);
        assert_eq!(ids(&load(rows(), &p).unwrap().0), vec![1, 3]);
    }

    #[test]
    fn many_or_clauses_answer_500_like_the_real_thing() {
        let mut clauses = Vec::new();
        for i in 0..=MAX_OR_CLAUSES as i64 {
            if i > 0 {
                clauses.push(json!("or"));
            }
            clauses.push(json!(["id", "=", i]));
        }
        let p = params(&[("filter", Value::Array(clauses.clone()))]);
        assert_eq!(load(rows(), &p).unwrap_err(), DxError::TooComplex);
        clauses.truncate(clauses.len() - 2); // exactly MAX_OR_CLAUSES clauses still work
        let p = params(&[("filter", Value::Array(clauses))]);
        assert_eq!(load(rows(), &p).unwrap().1, 3);
    }

    #[test]
    fn bad_options_are_bad_requests() {
        assert!(matches!(
            load(rows(), &params(&[("filter", json!("nope"))])),
            Err(DxError::BadRequest(_))
        ));
        assert!(matches!(
            load(rows(), &params(&[("filter", json!(["id", "~~", 1]))])),
            Err(DxError::BadRequest(_))
        ));
        assert!(matches!(
            load(rows(), &params(&[("take", json!(-1))])),
            Err(DxError::BadRequest(_))
        ));
    }
}
