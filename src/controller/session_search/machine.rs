//! A search's decision. Pure: the object, the time and how many older
//! searches of its namespace are still live in; what to do out.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::{FoundSession, SearchPhase, SessionSearch, SessionSearchStatus};
use crate::controller::answered_once::{self, Expiry};

/// How many unexpired searches of one namespace are answered: a bound on
/// what a loop creating searches can cost ImmyBot.
pub const MAX_LIVE_PER_NAMESPACE: usize = 20;
/// How long an answer is kept by default, and at most.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
pub const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

pub struct Observed<'a> {
    pub object: &'a SessionSearch,
    pub now: Timestamp,
    /// Searches of the same namespace created before this one and not yet
    /// expired (answered or not).
    pub older_live: usize,
}

#[derive(Debug, PartialEq)]
pub enum Step {
    /// Ask ImmyBot, then write `answered` (or `failed`).
    Search,
    /// The ttl passed: delete the object.
    Delete,
    /// Write this status (a refusal).
    Write(SessionSearchStatus),
    /// Nothing until `after`.
    Wait { after: Duration },
}

pub fn decide(o: &Observed<'_>) -> Step {
    let st = o.object.status.clone().unwrap_or_default();
    match answered_once::expiry(st.phase, st.expires_at.as_ref(), o.now) {
        Some(Expiry::Wait(after)) => Step::Wait { after },
        Some(Expiry::Delete) => Step::Delete,
        None if o.older_live >= MAX_LIVE_PER_NAMESPACE => Step::Write(failed(
            o,
            "TooManySearches",
            format!(
                "{} searches of this namespace are still live (at most {MAX_LIVE_PER_NAMESPACE} are answered): wait for them to expire or delete them, then ask again",
                o.older_live
            ),
        )),
        None => Step::Search,
    }
}

/// How long the answer is kept.
pub fn ttl(o: &Observed<'_>) -> Duration {
    answered_once::ttl(o.object.spec.ttl.as_deref(), DEFAULT_TTL, MAX_TTL)
}

fn expires(o: &Observed<'_>) -> Time {
    answered_once::expires_at(o.now, ttl(o))
}

/// The status of a search answered with `sessions` (`truncated`: ImmyBot
/// had more than the limit).
pub fn answered(o: &Observed<'_>, sessions: Vec<FoundSession>, truncated: bool) -> SessionSearchStatus {
    let mut st = SessionSearchStatus {
        phase: Some(SearchPhase::Complete),
        message: Some(format!(
            "{} session(s){}",
            sessions.len(),
            if truncated {
                "; ImmyBot has more: narrow the search or raise spec.limit"
            } else {
                ""
            }
        )),
        completion_time: Some(Time(o.now)),
        expires_at: Some(expires(o)),
        found: Some(sessions.len() as i32),
        truncated,
        sessions,
        ..Default::default()
    };
    let message = st.message.clone().unwrap_or_default();
    answered_once::answered(&mut st.conditions, message, o.now);
    st
}

/// The status of a search that cannot be answered (a person reads why).
pub fn failed(o: &Observed<'_>, reason: &str, message: String) -> SessionSearchStatus {
    let mut st = SessionSearchStatus {
        phase: Some(SearchPhase::Failed),
        message: Some(message.clone()),
        completion_time: Some(Time(o.now)),
        expires_at: Some(expires(o)),
        ..Default::default()
    };
    answered_once::refused(&mut st.conditions, reason, message, o.now);
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(status: Option<SessionSearchStatus>, ttl: Option<&str>) -> SessionSearch {
        let mut s = SessionSearch::new(
            "failed-last-week",
            serde_json::from_value(serde_json::json!({"tenantId": 2, "statuses": ["Failed"], "ttl": ttl})).unwrap(),
        );
        s.status = status;
        s
    }

    fn now() -> Timestamp {
        "2026-12-04T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_new_search_is_asked_once_then_kept_until_its_ttl_then_deleted() {
        let fresh = search(None, Some("2h"));
        let o = Observed {
            object: &fresh,
            now: now(),
            older_live: 0,
        };
        assert_eq!(decide(&o), Step::Search);
        let done = answered(&o, vec![], false);
        assert_eq!(
            done.expires_at.as_ref().map(|t| t.0),
            Some("2026-12-04T12:00:00Z".parse().unwrap())
        );
        let answered_obj = search(Some(done), Some("2h"));
        let later = Observed {
            object: &answered_obj,
            now: "2026-12-04T11:00:00Z".parse().unwrap(),
            older_live: 0,
        };
        assert_eq!(
            decide(&later),
            Step::Wait {
                after: Duration::from_secs(3600)
            },
            "never asked again"
        );
        let expired = Observed {
            now: "2026-12-04T12:00:00Z".parse().unwrap(),
            ..later
        };
        assert_eq!(decide(&expired), Step::Delete);
    }

    #[test]
    fn past_the_namespace_bound_a_search_is_refused_not_asked() {
        let fresh = search(None, None);
        let o = Observed {
            object: &fresh,
            now: now(),
            older_live: MAX_LIVE_PER_NAMESPACE,
        };
        let Step::Write(st) = decide(&o) else {
            panic!("expected a refusal");
        };
        assert_eq!(st.phase, Some(SearchPhase::Failed));
        assert!(st.message.unwrap().contains("at most 20"));
    }

    #[test]
    fn the_ttl_is_bounded() {
        let long = search(None, Some("9999h"));
        let o = Observed {
            object: &long,
            now: now(),
            older_live: 0,
        };
        assert_eq!(ttl(&o), MAX_TTL);
    }
}
