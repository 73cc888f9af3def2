//! What the kinds answered once and then expired share (SessionSearch,
//! MaintenanceReport): where their answer stands, read the same way by
//! the controller's per-namespace bound and by `kubectl immybot`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{MaintenanceReport, SearchPhase, SessionSearch};

/// Where a question's answer stands.
pub struct AnswerState<'a> {
    pub phase: Option<SearchPhase>,
    pub expires_at: Option<&'a Time>,
    pub message: Option<&'a str>,
}

/// A kind answered once into its status, then deleted when its ttl passes.
pub trait AnsweredOnce {
    /// `None` before any status was written.
    fn answer(&self) -> Option<AnswerState<'_>>;

    /// Answered or refused (no longer waits for the operator).
    fn is_answered(&self) -> bool {
        self.answer()
            .is_some_and(|a| matches!(a.phase, Some(SearchPhase::Complete | SearchPhase::Failed)))
    }
}

impl AnsweredOnce for SessionSearch {
    fn answer(&self) -> Option<AnswerState<'_>> {
        self.status.as_ref().map(|st| AnswerState {
            phase: st.phase,
            expires_at: st.expires_at.as_ref(),
            message: st.message.as_deref(),
        })
    }
}

impl AnsweredOnce for MaintenanceReport {
    fn answer(&self) -> Option<AnswerState<'_>> {
        self.status.as_ref().map(|st| AnswerState {
            phase: st.phase,
            expires_at: st.expires_at.as_ref(),
            message: st.message.as_deref(),
        })
    }
}
