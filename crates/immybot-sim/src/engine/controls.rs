//! What a client asks of a session once it exists: cancel it (at once, or
//! when the running stage ends), resume it, rerun it or one of its actions
//! (in a new session, or inside its own).

use super::*;

impl Engine {
    // ---- controls -------------------------------------------------------

    pub fn cancel(&mut self, id: i32, at: Timestamp) -> Result<(), EngineError> {
        let s = self
            .sessions
            .get_mut(&id)
            .ok_or_else(|| EngineError::NotFound(format!("session {id}")))?;
        cancel_now(s, at);
        Ok(())
    }

    /// A cancel as an instance that lets the running stage finish first
    /// would carry it out (`ResponseShape::cancel_after_the_stage`): a
    /// running session ends `Cancelled` when its stage ends; one that is
    /// not running is cancelled at once.
    pub fn cancel_after_the_stage(&mut self, id: i32, at: Timestamp) -> Result<(), EngineError> {
        let s = self
            .sessions
            .get_mut(&id)
            .ok_or_else(|| EngineError::NotFound(format!("session {id}")))?;
        if s.status == SessionStatus::Running && s.next_event.is_some() {
            s.cancel_requested = true;
        } else {
            cancel_now(s, at);
        }
        Ok(())
    }

    pub fn resume(&mut self, id: i32, at: Timestamp) -> Result<(), EngineError> {
        let duration = self.settings.stage_duration;
        let s = self
            .sessions
            .get_mut(&id)
            .ok_or_else(|| EngineError::NotFound(format!("session {id}")))?;
        if s.status != SessionStatus::Postponed {
            return Err(EngineError::BadRequest(format!("Session {id} is not postponed")));
        }
        s.status = SessionStatus::Running;
        s.stages[s.current].status = SessionStatus::Passed;
        s.updated = at;
        push_log(s, at, SessionLogType::Generic, "Session resumed");
        if s.current + 1 < s.stages.len() {
            s.current += 1;
            begin_stage(s, at, duration);
        } else {
            finish(s, at);
        }
        Ok(())
    }

    /// Starts the session again as a new session; answers its id.
    pub fn rerun(&mut self, id: i32, at: Timestamp) -> Result<i32, EngineError> {
        let s = self
            .sessions
            .get(&id)
            .ok_or_else(|| EngineError::NotFound(format!("session {id}")))?;
        let (computer, args) = (s.computer_id, s.args.clone());
        if self.active_session_of(computer).is_some() {
            return Err(EngineError::BadRequest(format!(
                "Computer {computer} already has a session in progress"
            )));
        }
        Ok(self.create_session(computer, args, at))
    }

    /// Runs one action of a session again, in a new session.
    pub fn rerun_action(&mut self, id: i32, action_id: i32, at: Timestamp) -> Result<i32, EngineError> {
        let s = self
            .sessions
            .get(&id)
            .ok_or_else(|| EngineError::NotFound(format!("session {id}")))?;
        let action = s
            .actions
            .iter()
            .find(|a| a.id == action_id)
            .ok_or_else(|| EngineError::NotFound(format!("action {action_id} of session {id}")))?;
        let mut args = s.args.clone();
        args.mode = RunMode::Full;
        args.only_identifier = action.maintenance_identifier.clone();
        args.rerun_of_action = Some(action_id);
        let computer = s.computer_id;
        if self.active_session_of(computer).is_some() {
            return Err(EngineError::BadRequest(format!(
                "Computer {computer} already has a session in progress"
            )));
        }
        Ok(self.create_session(computer, args, at))
    }

    /// Runs one action of a session again inside that session (the other
    /// reading of the rerun call, `ResponseShape::action_rerun_in_place`):
    /// the session runs its execution stage again for that action alone,
    /// then its later stages, and ends with a status recomputed from all
    /// its actions.
    pub fn rerun_action_in_place(&mut self, id: i32, action_id: i32, at: Timestamp) -> Result<(), EngineError> {
        let duration = self.settings.stage_duration;
        let s = self
            .sessions
            .get(&id)
            .ok_or_else(|| EngineError::NotFound(format!("session {id}")))?;
        if !s.actions.iter().any(|a| a.id == action_id) {
            return Err(EngineError::NotFound(format!("action {action_id} of session {id}")));
        }
        let computer = s.computer_id;
        if self.active_session_of(computer).is_some() {
            return Err(EngineError::BadRequest(format!(
                "Computer {computer} already has a session in progress"
            )));
        }
        let s = self
            .sessions
            .get_mut(&id)
            .ok_or_else(|| EngineError::NotFound(format!("session {id}")))?;
        let Some(execution) = s.stages.iter().position(|st| st.kind == SessionStageType::Execution) else {
            return Err(EngineError::BadRequest(format!("Session {id} has no execution stage")));
        };
        for a in s.actions.iter_mut().filter(|a| a.id == action_id) {
            a.status = Some(MaintenanceActionStatus::PendingExecution);
            a.result = Some(MaintenanceActionResult::Pending);
            a.result_reason = None;
            a.result_reason_message = None;
            a.start_time = Some(WireTime(at));
            a.end_time = None;
        }
        for st in &mut s.stages[execution..] {
            st.status = SessionStatus::Created;
        }
        s.status = SessionStatus::Running;
        s.current = execution;
        s.updated = at;
        push_log(s, at, SessionLogType::Generic, &format!("Rerunning action {action_id}"));
        begin_stage(s, at, duration);
        Ok(())
    }

    /// How often session `id` was postponed (0 for an unknown session).
    pub fn postponements(&self, id: i32) -> u32 {
        self.sessions.get(&id).map_or(0, |s| s.postponements)
    }
}

/// Ends a session `Cancelled` now, its unfinished stages and actions too.
pub(super) fn cancel_now(s: &mut Session, at: Timestamp) {
    if s.status.is_terminal() {
        return;
    }
    s.status = SessionStatus::Cancelled;
    s.next_event = None;
    s.cancel_requested = false;
    s.updated = at;
    for st in s.stages.iter_mut().filter(|st| !st.status.is_terminal()) {
        st.status = SessionStatus::Cancelled;
    }
    for a in s
        .actions
        .iter_mut()
        .filter(|a| a.status != Some(MaintenanceActionStatus::Complete))
    {
        a.status = Some(MaintenanceActionStatus::Complete);
        a.result = Some(MaintenanceActionResult::Cancelled);
        a.end_time = Some(WireTime(at));
    }
    push_log(s, at, SessionLogType::Generic, "Session cancelled");
}
