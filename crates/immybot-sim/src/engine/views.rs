//! What the simulated instance answers when asked: sessions, actions, logs,
//! phases and the ledger, as the wire types show them. Read-only.

use super::*;

impl Engine {
    pub fn session(&self, id: i32, include_actions: bool, include_stages: bool) -> Option<MaintenanceSession> {
        let s = self.sessions.get(&id)?;
        Some(self.view(s, include_actions, include_stages))
    }

    pub fn sessions(&self) -> impl Iterator<Item = MaintenanceSession> + '_ {
        self.sessions.values().map(|s| self.view(s, false, false))
    }

    /// Every action of every session, oldest session first, with the
    /// read-only `*Name` fields live rows carry.
    pub fn all_actions(&self) -> impl Iterator<Item = MaintenanceAction> + '_ {
        self.actions_of(None, true)
    }

    /// The actions of one session (or of all with `None`), as `dx` rows
    /// carry them. One session's are found without touching the others'.
    /// Without `detection_in_full`, a detection-only session's rows carry
    /// what ImmyBot's document promises of them and no more: `actionType`
    /// and `maintenanceDisplayName` (with the ids and times that find
    /// them), no versions, no result (`ResponseShape::detection_rows_in_full`).
    pub fn actions_of(
        &self,
        session: Option<i32>,
        detection_in_full: bool,
    ) -> impl Iterator<Item = MaintenanceAction> + '_ {
        let sessions: Box<dyn Iterator<Item = &Session> + '_> = match session {
            Some(id) => Box::new(self.sessions.get(&id).into_iter()),
            None => Box::new(self.sessions.values()),
        };
        sessions
            .flat_map(move |s| {
                let thin = !detection_in_full && s.args.mode == super::RunMode::DetectionOnly;
                s.actions.iter().map(move |a| (thin, a))
            })
            .map(|(thin, a)| {
                let mut a = a.clone();
                if thin {
                    a.detected_version_string = None;
                    a.desired_version_string = None;
                    a.result = None;
                    a.result_reason = None;
                    a.result_reason_message = None;
                    a.status = None;
                }
                a.action_type_name = a.action_type.as_ref().map(|v| v.name().into_owned());
                a.status_name = a.status.as_ref().map(|v| v.name().into_owned());
                a.result_name = a.result.as_ref().map(|v| v.name().into_owned());
                a.maintenance_type_name = a.maintenance_type.as_ref().map(|v| v.name().into_owned());
                a
            })
    }

    pub fn logs(&self, id: i32) -> Option<Vec<SessionLog>> {
        self.sessions.get(&id).map(|s| s.logs.clone())
    }

    pub fn action_logs(&self, action_id: i32) -> Option<Vec<SessionLog>> {
        let s = self
            .sessions
            .values()
            .find(|s| s.actions.iter().any(|a| a.id == action_id))?;
        let name = s
            .actions
            .iter()
            .find(|a| a.id == action_id)?
            .maintenance_display_name
            .clone()
            .unwrap_or_default();
        Some(
            s.logs
                .iter()
                .filter(|l| l.message.as_deref().is_some_and(|m| m.starts_with(&format!("{name}:"))))
                .cloned()
                .map(|mut l| {
                    l.maintenance_action_id = Some(action_id);
                    l
                })
                .collect(),
        )
    }

    pub fn phases(&self, id: i32) -> Option<Vec<SessionPhase>> {
        let s = self.sessions.get(&id)?;
        Some(
            s.stages
                .iter()
                .filter(|st| st.started.is_some())
                .map(|st| SessionPhase {
                    id: st.id * 10,
                    phase_name: Some(format!("{} phase", stage_name(&st.kind))),
                    maintenance_session_id: s.id,
                    maintenance_session_stage_id: st.id,
                    maintenance_action_id: None,
                    status: Some(match st.status {
                        SessionStatus::Running => SessionPhaseStatus::Running,
                        SessionStatus::Passed => SessionPhaseStatus::Succeeded,
                        SessionStatus::Failed | SessionStatus::Cancelled => SessionPhaseStatus::Failed,
                        _ => SessionPhaseStatus::Unstarted,
                    }),
                    progress_percent_complete: Some(if st.status == SessionStatus::Running {
                        50.0
                    } else {
                        100.0
                    }),
                    progress_completed: st.status != SessionStatus::Running,
                    date_started_utc: st.started.map(WireTime),
                    date_completed_utc: None,
                })
                .collect(),
        )
    }

    /// The sessions a schedule started, each with whether it ended.
    pub fn sessions_of_schedule(&self, schedule: i32) -> Vec<(i32, bool)> {
        self.sessions
            .values()
            .filter(|s| s.scheduled_id == Some(schedule))
            .map(|s| (s.id, s.status.is_terminal()))
            .collect()
    }

    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.sessions
            .values()
            .map(|s| LedgerEntry {
                id: s.id,
                computer_id: s.computer_id,
                tenant_id: s.tenant_id,
                session_group_id: s.args.group_id,
                status: s.status.name().into_owned(),
                created: s.created,
            })
            .collect()
    }

    fn view(&self, s: &Session, include_actions: bool, include_stages: bool) -> MaintenanceSession {
        let stage_status =
            |kind: SessionStageType| s.stages.iter().find(|st| st.kind == kind).map(|st| st.status.clone());
        MaintenanceSession {
            id: s.id,
            computer_id: Some(s.computer_id),
            tenant_id: Some(s.tenant_id),
            person_id: None,
            session_status: Some(s.status.clone()),
            created_date_utc: Some(WireTime(s.created)),
            updated_date_utc: Some(WireTime(s.updated)),
            created_by: Some("immybot-simulator".into()),
            full_maintenance: s.args.mode == RunMode::Full && s.args.deployment_id.is_none(),
            computer_name: self.computers.get(&s.computer_id).map(|c| c.seed.name.clone()),
            tenant_name: self.tenants.get(&s.tenant_id).map(|t| t.0.clone()),
            onboarding_stage_status: None,
            detection_stage_status: stage_status(SessionStageType::Detection),
            execution_stage_status: stage_status(SessionStageType::Execution),
            agent_updates_stage_status: None,
            resolution_stage_status: stage_status(SessionStageType::Resolution),
            inventory_stage_status: stage_status(SessionStageType::Inventory),
            session_job_args: Some(SessionJobArgs {
                session_group_id: s.args.group_id,
                computer_id: Some(s.computer_id),
                tenant_id: Some(s.tenant_id),
                reboot_preference: Some(s.args.reboot.clone()),
                offline_behavior: Some(s.args.offline.clone()),
                detection_only: s.args.mode == RunMode::DetectionOnly,
                resolution_only: s.args.mode == RunMode::ResolutionOnly,
                inventory_only: s.args.mode == RunMode::InventoryOnly,
                rerunning_action: s.args.rerun_of_action.is_some(),
                action_id_to_rerun: s.args.rerun_of_action,
                manually_resumed: false,
            }),
            scheduled_execution_date: None,
            scheduled_id: s.scheduled_id,
            maintenance_actions: include_actions.then(|| s.actions.clone()),
            stages: include_stages.then(|| {
                s.stages
                    .iter()
                    .filter(|st| st.started.is_some() || st.status.is_terminal())
                    .map(|st| MaintenanceSessionStage {
                        id: st.id,
                        maintenance_session_id: s.id,
                        stage_status: Some(st.status.clone()),
                        stage_type: Some(st.kind.clone()),
                        created_date_utc: st.started.map(WireTime),
                        updated_date_utc: Some(WireTime(s.updated)),
                    })
                    .collect()
            }),
            logs: None,
        }
    }
}
