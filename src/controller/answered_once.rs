//! What the kinds answered once share (SessionSearch, MaintenanceReport:
//! Velero's request objects are the model): an answer kept for a ttl and
//! then deleted, the conditions of an answer and of a refusal, and the
//! per-namespace bound on live questions.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, DeleteParams};

use super::clock::parse_duration;
use super::conditions;
use super::error::Error;
use super::store_slot::StoreSlot;
use crate::api::{AnsweredOnce, SearchPhase};

/// What an answered question does next: wait out its ttl, or go.
#[derive(Debug, PartialEq, Eq)]
pub enum Expiry {
    Wait(Duration),
    Delete,
}

/// For an answered (or refused) question, what its expiry says now; `None`
/// while it is still to be answered.
pub fn expiry(phase: Option<SearchPhase>, expires_at: Option<&Time>, now: Timestamp) -> Option<Expiry> {
    if !matches!(phase, Some(SearchPhase::Complete | SearchPhase::Failed)) {
        return None;
    }
    let expires = expires_at.map_or(now, |t| t.0);
    Some(match Duration::try_from(expires.duration_since(now)) {
        Ok(left) if !left.is_zero() => Expiry::Wait(left),
        _ => Expiry::Delete,
    })
}

/// Whether a question in `phase` that expires at `expires_at` is still
/// live at `now` (counts against its namespace's bound).
pub fn live(phase: Option<SearchPhase>, expires_at: Option<&Time>, now: Timestamp) -> bool {
    !(matches!(phase, Some(SearchPhase::Complete | SearchPhase::Failed)) && expires_at.is_some_and(|t| t.0 <= now))
}

/// Questions of `obj`'s namespace created before it (by creation time,
/// then name) that have not expired: from the watch's store once it
/// synced, else one LIST (the bound holds from the first reconcile).
pub async fn older_live<K>(store: &StoreSlot<K>, obj: &K, api: &Api<K>, now: Timestamp) -> Result<usize, Error>
where
    K: kube::Resource<DynamicType = ()>
        + AnsweredOnce
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + 'static,
{
    use kube::ResourceExt as _;
    let ns = obj.namespace();
    let key = |s: &K| (s.meta().creation_timestamp.clone().map(|t| t.0), s.name_any());
    let mine = key(obj);
    let counts = |s: &K| {
        s.namespace() == ns
            && key(s) < mine
            && s.meta().deletion_timestamp.is_none()
            && s.answer().is_none_or(|a| live(a.phase, a.expires_at, now))
    };
    if let Some(found) = store.select(counts) {
        return Ok(found.len());
    }
    let all = api.list(&Default::default()).await?;
    Ok(all.items.iter().filter(|s| counts(s)).count())
}

/// How long an answer is kept: `spec_ttl`, else `default`, at most `max`.
pub fn ttl(spec_ttl: Option<&str>, default: Duration, max: Duration) -> Duration {
    parse_duration(spec_ttl).unwrap_or(default).min(max)
}

/// When an answer given at `now` and kept for `ttl` expires.
pub fn expires_at(now: Timestamp, ttl: Duration) -> Time {
    let ttl = SignedDuration::try_from(ttl).unwrap_or(SignedDuration::from_hours(1));
    Time(now.checked_add(ttl).unwrap_or(now))
}

/// `Ready` for an answer.
pub fn answered(conditions: &mut Vec<Condition>, message: String, now: Timestamp) {
    conditions::set(conditions, conditions::READY, true, "Answered", message, None, now);
}

/// `Stalled` and not `Ready` for a question that cannot be answered.
pub fn refused(conditions: &mut Vec<Condition>, reason: &str, message: String, now: Timestamp) {
    conditions::set(
        conditions,
        conditions::STALLED,
        true,
        reason,
        message.clone(),
        None,
        now,
    );
    conditions::set(conditions, conditions::READY, false, reason, message, None, now);
}

/// Deletes an expired question (already gone is fine).
pub async fn delete<K>(api: &Api<K>, name: &str) -> Result<(), Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_waits_out_its_ttl_then_goes_and_an_open_question_has_no_expiry() {
        let now: Timestamp = "2026-12-06T12:00:00Z".parse().unwrap();
        let at = |t: &str| Some(Time(t.parse().unwrap()));
        assert_eq!(expiry(Some(SearchPhase::Pending), None, now), None);
        assert_eq!(
            expiry(Some(SearchPhase::Complete), at("2026-12-06T13:00:00Z").as_ref(), now),
            Some(Expiry::Wait(Duration::from_secs(3600)))
        );
        assert_eq!(
            expiry(Some(SearchPhase::Failed), at("2026-12-06T12:00:00Z").as_ref(), now),
            Some(Expiry::Delete)
        );
        assert!(live(None, None, now));
        assert!(!live(
            Some(SearchPhase::Complete),
            at("2026-12-06T11:00:00Z").as_ref(),
            now
        ));
        assert_eq!(
            ttl(Some("2h"), Duration::from_secs(60), Duration::from_secs(3600)),
            Duration::from_secs(3600)
        );
        assert_eq!(
            ttl(None, Duration::from_secs(60), Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
    }
}
