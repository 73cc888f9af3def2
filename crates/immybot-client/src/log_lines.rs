//! Log rows as the operator may show them: a session's
//! (`GET /maintenance-sessions/{id}/logs`) and one action's
//! (`GET /maintenance-actions/{actionId}/logs`).
//!
//! The document's rows (`GetSessionLogResponse`,
//! `GetMaintenanceSessionLogResponse`) also carry the script, its output
//! and its parameters (`scriptParameters`, `paramBlockParameters`), and the
//! notes warn that parameter values come back in clear text. A script may
//! echo its parameters into a message, so every string found among any
//! row's parameters is blanked out of every message before a row leaves
//! this module, and the script, its output and its parameters are dropped
//! from the rows; the parameters are never decoded into a type.

use serde::Deserialize;

use crate::{SessionLogType, WireTime};

/// What stands where a parameter's value was.
pub const REDACTED: &str = "[redacted]";

/// Values shorter than this are not blanked: "1", "true" or "x64" would
/// blank ordinary words, and a secret that short is no secret.
const SHORTEST_SECRET: usize = 4;

/// One line of an action's log, its parameters' values blanked out.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionLogLine {
    pub time: Option<WireTime>,
    pub log_type: Option<SessionLogType>,
    pub message: String,
}

/// The fields of a row that are read: `message`, `time`, `sessionLogType`
/// (document: all three; the type as an integer or a name).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Shown {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    time: Option<WireTime>,
    #[serde(default)]
    session_log_type: Option<SessionLogType>,
}

/// The rows with every parameter value blanked out of their messages, and
/// the script, its output and its parameters dropped.
pub fn blank_parameters(mut rows: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    let mut secrets: Vec<String> = Vec::new();
    for row in &rows {
        for field in ["scriptParameters", "paramBlockParameters"] {
            if let Some(v) = row.get(field) {
                collect_strings(v, &mut secrets);
            }
        }
    }
    // Longest first, so that a value containing another is blanked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    for row in &mut rows {
        let Some(row) = row.as_object_mut() else { continue };
        for field in DROPPED {
            row.remove(field);
        }
        if let Some(serde_json::Value::String(message)) = row.get_mut("message") {
            for secret in &secrets {
                if message.contains(secret.as_str()) {
                    *message = message.replace(secret.as_str(), REDACTED);
                }
            }
        }
    }
    rows
}

/// What of a row is never kept.
const DROPPED: [&str; 4] = ["scriptParameters", "paramBlockParameters", "script", "scriptOutput"];

/// An action's rows as the operator may show them, in the order they
/// came: rows without a message are dropped, and a row that does not
/// decode is dropped rather than losing the others.
pub fn shown_lines(rows: Vec<serde_json::Value>) -> Vec<ActionLogLine> {
    blank_parameters(rows)
        .into_iter()
        .filter_map(|row| serde_json::from_value::<Shown>(row).ok())
        .filter_map(|shown| {
            Some(ActionLogLine {
                message: shown.message?,
                time: shown.time,
                log_type: shown.session_log_type,
            })
        })
        .collect()
}

/// Every string (and number, as written) inside `v` long enough to matter.
fn collect_strings(v: &serde_json::Value, into: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) if s.trim().len() >= SHORTEST_SECRET => into.push(s.trim().to_owned()),
        serde_json::Value::Number(n) if n.to_string().len() >= SHORTEST_SECRET => into.push(n.to_string()),
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_strings(i, into)),
        serde_json::Value::Object(map) => map.values().for_each(|i| collect_strings(i, into)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "sk-live-7f3c9a1e";

    #[test]
    fn a_parameter_echoed_in_any_row_is_blanked_in_every_row() {
        let rows = [
            json!({"id": 1, "message": "Running Install with -ApiKey sk-live-7f3c9a1e", "sessionLogType": 2,
                   "scriptParameters": {"ApiKey": SECRET, "Retries": 3}}),
            json!({"id": 2, "message": "exit 1603 (key sk-live-7f3c9a1e rejected)", "sessionLogType": "Error",
                   "time": "2026-12-04T06:00:00Z"}),
        ];
        let lines = shown_lines(rows.to_vec());
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].message, "Running Install with -ApiKey [redacted]");
        assert_eq!(lines[1].message, "exit 1603 (key [redacted] rejected)");
        assert_eq!(lines[1].log_type, Some(SessionLogType::Error));
        assert!(lines[1].time.is_some());
    }

    #[test]
    fn nested_param_block_values_and_long_numbers_are_blanked_short_ones_are_not() {
        let rows = [json!({
            "message": "pin 482913 for user admin; 1 try; password Hunter2-long",
            "paramBlockParameters": {"Auth": {"value": {"Password": "Hunter2-long"}}, "Pin": 482913, "Tries": 1,
                                     "User": "admin"},
        })];
        // `1` is under four characters and stays; every other value goes.
        assert_eq!(
            shown_lines(rows.to_vec())[0].message,
            "pin [redacted] for user [redacted]; 1 try; password [redacted]"
        );
    }

    #[test]
    fn a_session_logs_rows_keep_their_fields_but_lose_the_script_and_its_parameters() {
        let rows = vec![
            json!({"id": 9, "maintenanceSessionId": 4, "message": "using sk-live-7f3c9a1e",
                               "scriptParameters": {"Key": SECRET}, "script": "param($Key)",
                               "scriptOutput": "sk-live-7f3c9a1e"}),
        ];
        let blanked = blank_parameters(rows);
        assert_eq!(
            blanked[0],
            json!({"id": 9, "maintenanceSessionId": 4, "message": "using [redacted]"})
        );
    }

    #[test]
    fn rows_without_a_message_or_that_do_not_decode_are_dropped_not_the_others() {
        let rows = [
            json!({"id": 1, "scriptOutput": "sk-live-7f3c9a1e"}),
            json!({"id": 2, "message": 42}),
            json!({"id": 3, "message": "kept"}),
        ];
        let lines = shown_lines(rows.to_vec());
        assert_eq!(lines.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(), ["kept"]);
    }
}
