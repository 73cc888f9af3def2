//! DevExtreme `dx` list queries: `skip`, `take`, `sort` and `filter` as query
//! parameters, the way ImmyBot's web app sends them.
//!
//! Two quirks decide the shape: `requireTotalCount=true` is slow on large
//! instances, so it is never sent and "is there more?" is answered by a full
//! page; and OR-filters over many session ids have answered 500, so filters
//! are only ever over a handful of statuses, never over id lists.

use serde::de::DeserializeOwned;

use super::enums::{SessionStatus, WireEnum as _};
use super::wire::{LoadResult, WireTime};

/// The most rows one `dx` call asks for.
pub const MAX_TAKE: u32 = 500;

/// Which sessions to list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionQuery {
    pub computer_id: Option<i32>,
    pub tenant_id: Option<i32>,
    /// Any of these statuses; empty means any status.
    pub statuses: Vec<SessionStatus>,
    /// Only sessions created at or after this time.
    pub created_after: Option<WireTime>,
    /// Only sessions created before this time.
    pub created_before: Option<WireTime>,
    /// Only sessions whose id is within this range (both ends included).
    pub id_range: Option<(i32, i32)>,
    /// Only sessions this ImmyBot schedule started (`scheduledId`).
    pub scheduled_id: Option<i32>,
    pub skip: u32,
    /// Rows per page (at most [`MAX_TAKE`]; 0 means 100).
    pub take: u32,
}

impl SessionQuery {
    /// The query parameters, in a stable order.
    pub fn to_params(&self) -> Vec<(&'static str, String)> {
        let take = match self.take {
            0 => 100,
            t => t.min(MAX_TAKE),
        };
        let mut params = vec![("skip", self.skip.to_string()), ("take", take.to_string())];
        params.push((
            "sort",
            serde_json::json!([{"selector": "createdDate", "desc": true}]).to_string(),
        ));
        if let Some(filter) = self.filter() {
            params.push(("filter", filter.to_string()));
        }
        if let Some(id) = self.computer_id {
            params.push(("computerId", id.to_string()));
        }
        if let Some(id) = self.tenant_id {
            params.push(("tenantId", id.to_string()));
        }
        params
    }

    /// The DevExtreme filter array: `[a, "and", b]`, `[x, "or", y, "or", z]`.
    pub fn filter(&self) -> Option<serde_json::Value> {
        let mut clauses = Vec::new();
        let statuses: Vec<serde_json::Value> = self
            .statuses
            .iter()
            .filter_map(|s| s.code())
            .map(|code| serde_json::json!(["sessionStatus", "=", code]))
            .collect();
        match statuses.len() {
            0 => {}
            1 => clauses.extend(statuses),
            _ => clauses.push(join(statuses, "or")),
        }
        if let Some(after) = self.created_after {
            clauses.push(serde_json::json!(["createdDate", ">=", dx_date(after)]));
        }
        if let Some(before) = self.created_before {
            clauses.push(serde_json::json!(["createdDate", "<", dx_date(before)]));
        }
        if let Some((low, high)) = self.id_range {
            clauses.push(serde_json::json!(["id", ">=", low]));
            clauses.push(serde_json::json!(["id", "<=", high]));
        }
        if let Some(id) = self.scheduled_id {
            clauses.push(serde_json::json!(["scheduledId", "=", id]));
        }
        match clauses.len() {
            0 => None,
            1 => clauses.pop(),
            _ => Some(join(clauses, "and")),
        }
    }
}

/// A point in time as a `dx` filter value. The one place that owns the
/// format. Evidence: scripts run against live instances filter session lists
/// with `["createdDate",">","05/02/2022 02:20:29"]` and action lists with
/// `["createdDateUTC",">=","07/07/2026 00:00:00"]`, i.e. `MM/dd/yyyy
/// HH:mm:ss`; whether ISO 8601 strings (with fractional seconds) are accepted
/// is unknown, so they are never sent. Whole seconds, UTC (the values ImmyBot
/// stores are UTC); a filter bound is therefore rounded down to the second,
/// which only widens a `>=` window.
pub fn dx_date(t: WireTime) -> String {
    t.0.to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%m/%d/%Y %H:%M:%S")
        .to_string()
}

/// Which maintenance actions to list (`GET /api/v1/maintenance-actions/dx`),
/// the source of per-action results that live clients rely on: live
/// `GET /maintenance-sessions/{id}` answers have come without
/// `maintenanceActions`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActionQuery {
    /// Actions of one session. Never several ids at once: an OR across
    /// `maintenanceSessionId`s answers 500 on live instances.
    pub session_id: Option<i32>,
    pub tenant_id: Option<i32>,
    /// Sessions ids from..=to (an AND range, not an OR list): narrows a
    /// tenant window to the sessions of one burst of starts.
    pub session_id_range: Option<(i32, i32)>,
    /// `createdDateUTC` at or after this time.
    pub created_from: Option<WireTime>,
    /// `createdDateUTC` before this time.
    pub created_before: Option<WireTime>,
    /// Leave out `NoAction` rows (about 95% of a real tenant's rows) where
    /// only their count matters.
    pub exclude_no_action: bool,
    /// Only `NoAction` rows (for counting them).
    pub only_no_action: bool,
    /// Only failed actions (`result` 2). Some routes ignore a filter: a
    /// row's own `result` is the truth.
    pub only_failed: bool,
    pub skip: u32,
    /// Rows per page (at most [`MAX_TAKE`]; 0 means 100).
    pub take: u32,
}

/// The action fields the status mirrors, asked for with `select=` so that
/// nothing else (descriptions, test scripts, parameters) crosses the wire.
pub const ACTION_FIELDS: &[&str] = &[
    "id",
    "maintenanceSessionId",
    "computerId",
    "computerName",
    "tenantId",
    "maintenanceIdentifier",
    "maintenanceDisplayName",
    "maintenanceType",
    "maintenanceTypeName",
    "actionType",
    "actionTypeName",
    "status",
    "statusName",
    "result",
    "resultName",
    "resultReason",
    "resultReasonMessage",
    "detectedVersionString",
    "desiredVersionString",
    "startTime",
    "endTime",
    "createdDateUTC",
];

impl ActionQuery {
    fn clauses(&self) -> Vec<serde_json::Value> {
        let mut clauses = Vec::new();
        if let Some(id) = self.session_id {
            clauses.push(serde_json::json!(["maintenanceSessionId", "=", id]));
        }
        if let Some(id) = self.tenant_id {
            clauses.push(serde_json::json!(["tenantId", "=", id]));
        }
        if let Some((from, to)) = self.session_id_range {
            clauses.push(serde_json::json!(["maintenanceSessionId", ">=", from]));
            clauses.push(serde_json::json!(["maintenanceSessionId", "<=", to]));
        }
        if let Some(t) = self.created_from {
            clauses.push(serde_json::json!(["createdDateUTC", ">=", dx_date(t)]));
        }
        if let Some(t) = self.created_before {
            clauses.push(serde_json::json!(["createdDateUTC", "<", dx_date(t)]));
        }
        if self.exclude_no_action {
            clauses.push(serde_json::json!(["actionType", "<>", 0]));
        }
        if self.only_no_action {
            clauses.push(serde_json::json!(["actionType", "=", 0]));
        }
        if self.only_failed {
            clauses.push(serde_json::json!(["result", "=", 2]));
        }
        clauses
    }

    pub fn filter(&self) -> Option<serde_json::Value> {
        let mut clauses = self.clauses();
        match clauses.len() {
            0 => None,
            1 => clauses.pop(),
            _ => Some(join(clauses, "and")),
        }
    }

    fn take(&self) -> u32 {
        match self.take {
            0 => 100,
            t => t.min(MAX_TAKE),
        }
    }

    /// The rows: mirrored fields only, oldest first, paged.
    pub fn to_params(&self) -> Vec<(&'static str, String)> {
        let mut params = vec![
            ("skip", self.skip.to_string()),
            ("take", self.take().to_string()),
            (
                "sort",
                serde_json::json!([{"selector": "id", "desc": false}]).to_string(),
            ),
            ("select", serde_json::json!(ACTION_FIELDS).to_string()),
        ];
        if let Some(filter) = self.filter() {
            params.push(("filter", filter.to_string()));
        }
        params
    }

    /// Counts per maintenance item, no rows: `group` on the display name with
    /// `requireGroupCount`, the server-side count live clients use.
    pub fn to_count_params(&self) -> Vec<(&'static str, String)> {
        let mut params = vec![
            ("skip", self.skip.to_string()),
            ("take", self.take().to_string()),
            (
                "group",
                serde_json::json!([{"selector": "maintenanceDisplayName", "isExpanded": false}]).to_string(),
            ),
            ("requireGroupCount", "true".into()),
        ];
        if let Some(filter) = self.filter() {
            params.push(("filter", filter.to_string()));
        }
        params
    }
}

/// One group of a grouped `dx` answer: the key and how many rows it has.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GroupCount {
    pub key: Option<String>,
    pub count: i64,
}

fn join(items: Vec<serde_json::Value>, op: &str) -> serde_json::Value {
    let mut out = Vec::with_capacity(items.len() * 2);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(serde_json::Value::String(op.to_owned()));
        }
        out.push(item);
    }
    serde_json::Value::Array(out)
}

/// One page of a `dx` list.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Rows that could not be decoded: counted, not fatal, so that one odd
    /// row does not hide the rest of the page.
    pub undecodable: usize,
    /// Whether the page was full, so that a next page may exist.
    pub full: bool,
}

impl<T: DeserializeOwned> Page<T> {
    pub fn from_load_result(result: LoadResult, take: u32) -> Self {
        let rows = result.data.unwrap_or_default();
        let count = rows.len();
        let mut items = Vec::with_capacity(count);
        let mut undecodable = 0;
        for row in rows {
            match serde_json::from_value(row) {
                Ok(item) => items.push(item),
                Err(e) => {
                    undecodable += 1;
                    tracing::warn!(error = %e, "skipping a dx row that does not decode");
                }
            }
        }
        let take = if take == 0 { 100 } else { take.min(MAX_TAKE) };
        Self {
            items,
            undecodable,
            full: count >= take as usize,
        }
    }
}

impl<T> Page<T> {
    /// The same page's bookkeeping (fullness, undecodable rows) with no
    /// items, for a page whose items are derived from these.
    pub fn map_empty<U>(&self) -> Page<U> {
        Page {
            items: Vec::new(),
            undecodable: self.undecodable,
            full: self.full,
        }
    }

    /// `dx` rows are untyped and decode with defaults, so a row without an
    /// `id` would become id 0 and name nothing real; such rows are counted as
    /// undecodable instead.
    pub fn drop_rows_without_id(&mut self, id: impl Fn(&T) -> i32) {
        let before = self.items.len();
        self.items.retain(|item| id(item) > 0);
        self.undecodable += before - self.items.len();
    }
}

impl SessionStatus {
    /// The statuses of sessions that ImmyBot may still move.
    pub fn active() -> &'static [SessionStatus] {
        &[
            SessionStatus::Running,
            SessionStatus::Created,
            SessionStatus::Postponed,
            SessionStatus::Pending,
            SessionStatus::PendingConnectivity,
            SessionStatus::PendingPreflight,
            SessionStatus::PendingEphemeralAgentConnection,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MaintenanceSession;

    #[test]
    fn builds_devextreme_filters() {
        let q = SessionQuery {
            statuses: vec![SessionStatus::Running, SessionStatus::Pending],
            created_after: WireTime::parse("2026-01-02T03:04:05Z"),
            created_before: WireTime::parse("2026-01-09T00:00:00Z"),
            computer_id: Some(9),
            take: 50,
            ..Default::default()
        };
        assert_eq!(
            q.filter().unwrap(),
            serde_json::json!([
                [["sessionStatus", "=", 1], "or", ["sessionStatus", "=", 6]],
                "and",
                ["createdDate", ">=", "01/02/2026 03:04:05"],
                "and",
                ["createdDate", "<", "01/09/2026 00:00:00"]
            ])
        );
        let params = q.to_params();
        assert!(params.contains(&("computerId", "9".into())));
        assert!(params.contains(&("take", "50".into())));
        assert!(params.iter().all(|(k, _)| *k != "requireTotalCount"));
        assert_eq!(
            SessionQuery {
                statuses: vec![SessionStatus::Running],
                ..Default::default()
            }
            .filter()
            .unwrap(),
            serde_json::json!(["sessionStatus", "=", 1])
        );
        assert_eq!(SessionQuery::default().filter(), None);
        assert!(
            SessionQuery {
                take: 10_000,
                ..Default::default()
            }
            .to_params()
            .contains(&("take", "500".into()))
        );
    }

    #[test]
    fn dates_go_out_in_the_form_live_instances_accept() {
        let t = WireTime::parse("2026-07-08T09:10:11.123456789Z").unwrap();
        assert_eq!(dx_date(t), "07/08/2026 09:10:11");
    }

    #[test]
    fn action_queries_filter_with_and_only_and_select_what_is_mirrored() {
        let q = ActionQuery {
            tenant_id: Some(3),
            session_id_range: Some((10, 20)),
            created_from: WireTime::parse("2026-07-07T00:00:00Z"),
            created_before: WireTime::parse("2026-07-08T00:00:00Z"),
            exclude_no_action: true,
            take: 500,
            ..Default::default()
        };
        let filter = q.filter().unwrap();
        assert_eq!(
            filter,
            serde_json::json!([
                ["tenantId", "=", 3],
                "and",
                ["maintenanceSessionId", ">=", 10],
                "and",
                ["maintenanceSessionId", "<=", 20],
                "and",
                ["createdDateUTC", ">=", "07/07/2026 00:00:00"],
                "and",
                ["createdDateUTC", "<", "07/08/2026 00:00:00"],
                "and",
                ["actionType", "<>", 0]
            ])
        );
        assert!(!filter.to_string().contains("\"or\""), "never an OR");
        let params = q.to_params();
        let select = params.iter().find(|(k, _)| *k == "select").unwrap();
        assert!(select.1.contains("resultName") && !select.1.contains("description"));
        let counts = q.to_count_params();
        assert!(counts.contains(&("requireGroupCount", "true".into())));
    }

    #[test]
    fn a_bad_row_does_not_lose_the_page() {
        let result = LoadResult {
            data: Some(vec![
                serde_json::json!({"id": 1, "sessionStatus": 1}),
                serde_json::json!({"id": "nope"}),
                serde_json::json!({"id": 3}),
            ]),
            ..Default::default()
        };
        let page: Page<MaintenanceSession> = Page::from_load_result(result, 3);
        assert_eq!(page.items.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(page.undecodable, 1);
        assert!(page.full);
        let mut without_id: Page<MaintenanceSession> = Page::from_load_result(
            LoadResult {
                data: Some(vec![
                    serde_json::json!({"sessionStatus": 1}),
                    serde_json::json!({"id": 4}),
                ]),
                ..Default::default()
            },
            10,
        );
        without_id.drop_rows_without_id(|s| s.id);
        assert_eq!((without_id.items.len(), without_id.undecodable), (1, 1));
    }
}
