//! DevExtreme load options over in-memory rows, as far as ImmyBot's `dx`
//! lists need them: `filter` (conditions joined by and/or, nested), `sort`,
//! `skip`, `take`.
//!
//! Faithful to the quirks seen on live instances: a filter with more than
//! [`MAX_OR_CLAUSES`] OR clauses, or any OR across `maintenanceSessionId`s,
//! answers 500 (NotSupportedException); date values in filters are parsed in
//! the one form known to work, `MM/dd/yyyy HH:mm:ss`, and anything else
//! (ISO 8601 included) is a 400 unless [`DxOptions::accept_iso_dates`] says
//! otherwise. Also `select` (only the listed fields) and `group` on one
//! selector (`[{key, items: null, count}]`, the `isExpanded: false` form).

use std::collections::HashMap;

use serde_json::Value;

use immybot_client::WireTime;

pub const MAX_OR_CLAUSES: usize = 20;

#[derive(Debug, PartialEq)]
pub enum DxError {
    BadRequest(String),
    TooComplex,
}

/// How lenient the simulated instance is where live evidence is missing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DxOptions {
    /// Accept ISO 8601 date values in filters. Off by default: only
    /// `MM/dd/yyyy HH:mm:ss` is known to work on live instances.
    pub accept_iso_dates: bool,
}

/// What a load answers: the page (rows or groups), the filtered row count,
/// and the group count when grouped.
#[derive(Debug, PartialEq)]
pub struct Loaded {
    pub data: Vec<Value>,
    pub total: usize,
    pub group_count: Option<usize>,
}

/// Applies the load options (rows and count only).
#[cfg(test)]
pub fn load(rows: Vec<Value>, params: &HashMap<String, String>) -> Result<(Vec<Value>, usize), DxError> {
    load_with(rows, params, DxOptions::default()).map(|l| (l.data, l.total))
}

/// Applies the load options, grouping and `select` included.
pub fn load_with(
    mut rows: Vec<Value>,
    params: &HashMap<String, String>,
    options: DxOptions,
) -> Result<Loaded, DxError> {
    if let Some(filter) = params.get("filter").filter(|f| !f.is_empty()) {
        let filter: Value =
            serde_json::from_str(filter).map_err(|e| DxError::BadRequest(format!("filter is not JSON: {e}")))?;
        // n "or" operators join n + 1 clauses.
        if count_or(&filter) + 1 > MAX_OR_CLAUSES || or_over(&filter, "maintenanceSessionId") {
            return Err(DxError::TooComplex);
        }
        // Validated once, whether or not any row is there to compare.
        let filter = normalize_dates(&filter, options)?;
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
    if let Some(group) = params.get("group").filter(|g| !g.is_empty()) {
        let group: Vec<Value> =
            serde_json::from_str(group).map_err(|e| DxError::BadRequest(format!("group is not JSON: {e}")))?;
        let selector = group
            .first()
            .and_then(|g| g.get("selector").or(Some(g)))
            .and_then(Value::as_str)
            .ok_or_else(|| DxError::BadRequest("group needs a selector".into()))?
            .to_owned();
        let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        for row in &rows {
            let key = match field(row, &selector) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            *counts.entry(key).or_default() += 1;
        }
        let groups = counts.len();
        let require = params.get("requireGroupCount").is_some_and(|v| v == "true");
        let data = counts
            .into_iter()
            .skip(skip)
            .take(take)
            .map(|(key, count)| serde_json::json!({"key": key, "items": null, "count": count}))
            .collect();
        return Ok(Loaded {
            data,
            total,
            group_count: require.then_some(groups),
        });
    }
    let mut data: Vec<Value> = rows.into_iter().skip(skip).take(take).collect();
    if let Some(select) = params.get("select").filter(|s| !s.is_empty()) {
        let fields: Vec<String> =
            serde_json::from_str(select).map_err(|e| DxError::BadRequest(format!("select is not JSON: {e}")))?;
        for row in &mut data {
            if let Value::Object(map) = row {
                map.retain(|k, _| fields.iter().any(|f| f == k));
            }
        }
    }
    Ok(Loaded {
        data,
        total,
        group_count: None,
    })
}

/// Whether an "or" joins conditions on `name` anywhere in the filter.
fn or_over(filter: &Value, name: &str) -> bool {
    let Value::Array(items) = filter else { return false };
    let has_or = items.iter().any(|i| i == "or");
    let on_field = items
        .iter()
        .any(|i| matches!(i, Value::Array(c) if c.len() == 3 && c[0] == name));
    (has_or && on_field) || items.iter().any(|i| or_over(i, name))
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

/// The value `name` must equal for any row to match `filter`: a top-level
/// `[name, "=", n]`, alone or joined to the rest by "and" only. `None` when
/// the filter does not pin `name` that way (or is not valid JSON: the full
/// evaluation reports that).
pub fn required_equal(filter: &str, name: &str) -> Option<i64> {
    let filter: Value = serde_json::from_str(filter).ok()?;
    let pinned = |c: &Value| match c.as_array().map(Vec::as_slice) {
        Some([Value::String(f), Value::String(op), v]) if f == name && op == "=" => v.as_i64(),
        _ => None,
    };
    if let Some(v) = pinned(&filter) {
        return Some(v);
    }
    let items = filter.as_array()?;
    if items.iter().any(|i| i.as_str() == Some("or")) || items.first().and_then(Value::as_str) == Some("!") {
        return None;
    }
    items.iter().find_map(pinned)
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

/// The filter with every date condition's value read (see [`date_value`]).
fn normalize_dates(filter: &Value, options: DxOptions) -> Result<Value, DxError> {
    let Value::Array(items) = filter else {
        return Ok(filter.clone());
    };
    if items.len() == 3
        && let (Some(name), Some(op)) = (items[0].as_str(), items[1].as_str())
        && !matches!(op, "and" | "or")
    {
        return Ok(Value::Array(vec![
            items[0].clone(),
            items[1].clone(),
            date_value(name, &items[2], options)?,
        ]));
    }
    items
        .iter()
        .map(|i| normalize_dates(i, options))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// A date field's filter value, in the form live instances accept
/// (`MM/dd/yyyy HH:mm:ss`, read as UTC), turned into the form rows carry.
/// Other values of other fields pass through.
fn date_value(name: &str, value: &Value, options: DxOptions) -> Result<Value, DxError> {
    let is_date_field = name.ends_with("Date") || name.ends_with("DateUTC") || name.ends_with("DateUtc");
    let Some(text) = value.as_str().filter(|_| is_date_field) else {
        return Ok(value.clone());
    };
    if let Ok(civil) = jiff::civil::DateTime::strptime("%m/%d/%Y %H:%M:%S", text)
        && let Ok(zoned) = civil.to_zoned(jiff::tz::TimeZone::UTC)
    {
        return Ok(Value::String(zoned.timestamp().to_string()));
    }
    if options.accept_iso_dates && WireTime::parse(text).is_some() {
        return Ok(value.clone());
    }
    Err(DxError::BadRequest(format!(
        "The value '{text}' of {name} is not a valid date (expected MM/dd/yyyy HH:mm:ss)"
    )))
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
                    ["createdDate", ">=", "01/01/2026 12:00:00"]
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
    fn dates_are_read_in_the_known_form_and_iso_only_by_option() {
        let p = params(&[("filter", json!(["createdDateUTC", ">=", "01/02/2026 00:00:00"]))]);
        assert_eq!(ids(&load(rows(), &p).unwrap().0), vec![2, 3]);
        let iso = params(&[(
            "filter",
            json!(["createdDateUTC", ">=", "2026-01-02T00:00:00.000000001Z"]),
        )]);
        assert!(matches!(load(rows(), &iso), Err(DxError::BadRequest(_))));
        let lenient = DxOptions { accept_iso_dates: true };
        assert_eq!(ids(&load_with(rows(), &iso, lenient).unwrap().data), vec![3]);
    }

    #[test]
    fn or_across_session_ids_answers_500_and_select_and_group_work() {
        let or = params(&[(
            "filter",
            json!([["maintenanceSessionId", "=", 1], "or", ["maintenanceSessionId", "=", 2]]),
        )]);
        assert_eq!(load(rows(), &or).unwrap_err(), DxError::TooComplex);
        let select = params(&[("select", json!(["id", "computerName"]))]);
        let page = load(rows(), &select).unwrap().0;
        assert_eq!(page[0], json!({"id": 1, "computerName": "A-PC"}));
        let grouped = params(&[
            ("group", json!([{"selector": "sessionStatus", "isExpanded": false}])),
            ("requireGroupCount", json!("true")),
        ]);
        let loaded = load_with(rows(), &grouped, DxOptions::default()).unwrap();
        assert_eq!(loaded.group_count, Some(3));
        assert_eq!(loaded.data[0], json!({"key": "0", "items": null, "count": 1}));
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

    #[test]
    fn a_required_equality_is_found_only_where_every_row_needs_it() {
        let f = "maintenanceSessionId";
        assert_eq!(required_equal(r#"["maintenanceSessionId","=",7]"#, f), Some(7));
        assert_eq!(
            required_equal(r#"[["maintenanceSessionId","=",7],"and",["status","=",2]]"#, f),
            Some(7)
        );
        assert_eq!(
            required_equal(r#"[["status","=",2],["maintenanceSessionId","=",7]]"#, f),
            Some(7)
        );
        assert_eq!(
            required_equal(r#"[["maintenanceSessionId","=",7],"or",["status","=",2]]"#, f),
            None
        );
        assert_eq!(required_equal(r#"["!",["maintenanceSessionId","=",7]]"#, f), None);
        assert_eq!(required_equal(r#"["maintenanceSessionId",">",7]"#, f), None);
        assert_eq!(required_equal(r#"["computerId","=",7]"#, f), None);
        assert_eq!(required_equal("not json", f), None);
    }
}
