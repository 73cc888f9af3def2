//! How one session moves: a step from stage to stage, detection, execution
//! (reboots and postponements included), and the log lines they leave.

use super::*;

impl Engine {
    /// One transition of one session. Returns false when nothing changed
    /// (the session waits for something other than time).
    pub(super) fn step(&mut self, id: i32, at: Timestamp) -> bool {
        let running = self.running_count();
        let limit = self.settings.max_concurrent_sessions;
        let stage_duration = self.settings.stage_duration;
        let Some(mut s) = self.sessions.remove(&id) else {
            return false;
        };
        let computer = self.computers.get(&s.computer_id).cloned();
        let online = computer.as_ref().is_some_and(|c| c.online);
        if s.cancel_requested && s.status == SessionStatus::Running {
            super::cancel_now(&mut s, at);
            self.sessions.insert(id, s);
            return true;
        }
        let changed = match s.status.clone() {
            SessionStatus::Created | SessionStatus::Pending | SessionStatus::PendingConnectivity => {
                if !online {
                    match s.args.offline {
                        ComputerOfflineMaintenanceSessionBehavior::ApplyOnConnect => {
                            let changed = s.status != SessionStatus::PendingConnectivity;
                            if changed {
                                s.status = SessionStatus::PendingConnectivity;
                                push_log(
                                    &mut s,
                                    at,
                                    SessionLogType::Generic,
                                    "Computer is offline; the session will run when it connects",
                                );
                            }
                            s.next_event = None;
                            changed
                        }
                        _ => {
                            s.status = SessionStatus::Missed;
                            s.next_event = None;
                            for st in &mut s.stages {
                                st.status = SessionStatus::Missed;
                            }
                            push_log(&mut s, at, SessionLogType::Error, "Computer is offline; skipped");
                            true
                        }
                    }
                } else if limit > 0 && running >= limit && !s.args.skip_background_job {
                    let changed = s.status != SessionStatus::Pending;
                    if changed {
                        s.status = SessionStatus::Pending;
                        push_log(&mut s, at, SessionLogType::Generic, "Waiting for a free session slot");
                    }
                    s.next_event = None;
                    changed
                } else {
                    s.status = SessionStatus::Running;
                    begin_stage(&mut s, at, stage_duration);
                    true
                }
            }
            SessionStatus::Running => {
                let kind = s.stages[s.current].kind.clone();
                let mut postponed = false;
                match kind {
                    SessionStageType::Detection => detect(&mut s, computer.as_ref(), at),
                    SessionStageType::Execution => postponed = self.execute(&mut s, at),
                    _ => {}
                }
                let stage = &mut s.stages[s.current];
                if postponed {
                    stage.status = SessionStatus::Postponed;
                    s.status = SessionStatus::Postponed;
                    s.postponements += 1;
                    s.next_event = None;
                    push_log(
                        &mut s,
                        at,
                        SessionLogType::Generic,
                        "The user postponed the reboot; resume the session to finish",
                    );
                } else {
                    stage.status = SessionStatus::Passed;
                    push_log(
                        &mut s,
                        at,
                        SessionLogType::Generic,
                        &format!("{} stage finished", stage_name(&kind)),
                    );
                    if s.current + 1 < s.stages.len() {
                        s.current += 1;
                        begin_stage(&mut s, at, stage_duration);
                    } else {
                        finish(&mut s, at);
                    }
                }
                true
            }
            _ => {
                s.next_event = None;
                false
            }
        };
        if changed {
            s.updated = at;
        }
        self.sessions.insert(id, s);
        changed
    }

    /// Runs the pending actions. Returns true when the session must wait for
    /// a postponed reboot.
    fn execute(&mut self, s: &mut Session, at: Timestamp) -> bool {
        let Some(computer) = self.computers.get_mut(&s.computer_id) else {
            return false;
        };
        let mut reboot_needed = false;
        let mut lines = Vec::new();
        for action in s
            .actions
            .iter_mut()
            .filter(|a| a.status == Some(MaintenanceActionStatus::PendingExecution))
        {
            let ident = action.maintenance_identifier.clone().unwrap_or_default();
            let behaviour = computer
                .seed
                .software
                .iter()
                .find(|i| identifier(&i.name, i.identifier.as_deref()) == ident)
                .map(|i| i.behaviour)
                .unwrap_or_default();
            action.status = Some(MaintenanceActionStatus::Complete);
            action.end_time = Some(WireTime(at));
            let name = action.maintenance_display_name.clone().unwrap_or_default();
            match behaviour {
                SoftwareBehaviour::Succeeds => {
                    action.result = Some(MaintenanceActionResult::Success);
                    if let Some(v) = &action.desired_version_string {
                        computer.installed.insert(ident, v.clone());
                    }
                    lines.push((
                        SessionLogType::Generic,
                        format!(
                            "{name}: installed {}",
                            action.desired_version_string.clone().unwrap_or_default()
                        ),
                    ));
                }
                SoftwareBehaviour::Fails => {
                    action.result = Some(MaintenanceActionResult::Failed);
                    action.result_reason_message = Some("The installer exited with code 1603".into());
                    lines.push((
                        SessionLogType::Error,
                        format!("{name}: the installer exited with code 1603"),
                    ));
                }
                SoftwareBehaviour::NeedsReboot if s.args.reboot == RebootPreference::Suppress => {
                    // GUESS: the notes say suppressed reboots give the reason
                    // `RebootsSuppressed` but not the result; the install is
                    // not finished until the reboot, so it is Indeterminable.
                    action.result = Some(MaintenanceActionResult::Indeterminable);
                    action.result_reason = Some(MaintenanceActionResultReason::RebootsSuppressed);
                    action.result_reason_message = Some("A reboot is required but reboots are suppressed".into());
                    lines.push((
                        SessionLogType::Error,
                        format!("{name}: a reboot is required but reboots are suppressed"),
                    ));
                }
                SoftwareBehaviour::NeedsReboot => {
                    action.result = Some(MaintenanceActionResult::Success);
                    if let Some(v) = &action.desired_version_string {
                        computer.installed.insert(ident, v.clone());
                    }
                    reboot_needed = true;
                    lines.push((SessionLogType::Generic, format!("{name}: installed; rebooting")));
                }
            }
        }
        for (kind, line) in lines {
            push_log(s, at, kind, &line);
        }
        reboot_needed && s.args.reboot == RebootPreference::Prompt && computer.seed.postpones
    }
}

/// Derives one action per software item from installed vs desired version.
/// Action ids are the session id times 1,000 plus the item's position.
fn detect(s: &mut Session, computer: Option<&ComputerState>, at: Timestamp) {
    let Some(computer) = computer else { return };
    let mut next = s.id.saturating_mul(1_000);
    for item in &computer.seed.software {
        let ident = identifier(&item.name, item.identifier.as_deref());
        if s.args.only_identifier.as_ref().is_some_and(|only| *only != ident) {
            continue;
        }
        let installed = computer.installed.get(&ident).cloned();
        let action_type = match &installed {
            None => MaintenanceActionType::Install,
            Some(v) if *v == item.desired => MaintenanceActionType::NoAction,
            Some(_) => MaintenanceActionType::Update,
        };
        let compliant = action_type == MaintenanceActionType::NoAction;
        next += 1;
        s.actions.push(MaintenanceAction {
            id: next,
            maintenance_session_id: s.id,
            tenant_id: Some(s.tenant_id),
            computer_id: Some(s.computer_id),
            computer_name: Some(computer.seed.name.clone()),
            start_time: Some(WireTime(at)),
            end_time: compliant.then_some(WireTime(at)),
            action_type: Some(action_type),
            status: Some(if compliant {
                MaintenanceActionStatus::Complete
            } else {
                MaintenanceActionStatus::PendingExecution
            }),
            maintenance_type: Some(MaintenanceType::GlobalSoftware),
            maintenance_identifier: Some(ident.clone()),
            maintenance_display_name: Some(item.name.clone()),
            detected_version_string: installed.clone(),
            desired_version_string: Some(item.desired.clone()),
            result: Some(if compliant {
                MaintenanceActionResult::Success
            } else {
                MaintenanceActionResult::Pending
            }),
            result_reason: None,
            result_reason_message: None,
            created_date_utc: Some(WireTime(at)),
            ..Default::default()
        });
        let line = match &installed {
            None => format!("{}: not installed, desired {}", item.name, item.desired),
            Some(v) => format!("{}: detected {v}, desired {}", item.name, item.desired),
        };
        push_log(s, at, SessionLogType::Generic, &line);
    }
}

pub(super) fn begin_stage(s: &mut Session, at: Timestamp, duration: Duration) {
    let stage = &mut s.stages[s.current];
    stage.status = SessionStatus::Running;
    stage.started = Some(at);
    let line = format!("{} stage started", stage_name(&stage.kind));
    s.next_event = Some(add(at, duration));
    push_log(s, at, SessionLogType::Generic, &line);
}

pub(super) fn finish(s: &mut Session, at: Timestamp) {
    let acted: Vec<&MaintenanceAction> = s
        .actions
        .iter()
        .filter(|a| a.action_type != Some(MaintenanceActionType::NoAction))
        .collect();
    let good = acted
        .iter()
        .filter(|a| {
            matches!(
                a.result,
                Some(
                    MaintenanceActionResult::Success
                        | MaintenanceActionResult::Resolved
                        | MaintenanceActionResult::Pending
                )
            )
        })
        .count();
    s.status = if good == acted.len() {
        SessionStatus::Passed
    } else if good == 0 {
        SessionStatus::Failed
    } else {
        SessionStatus::PartialPassed
    };
    s.next_event = None;
    let line = format!("Session finished: {}", s.status.name());
    push_log(s, at, SessionLogType::Generic, &line);
}

/// Log ids are the session id times 10,000 plus the line number: unique,
/// increasing, and stable across runs.
pub(super) fn push_log(s: &mut Session, at: Timestamp, kind: SessionLogType, message: &str) {
    let id = s.id.saturating_mul(10_000).saturating_add(s.logs.len() as i32 + 1);
    let stage_id = s.stages.get(s.current).map(|st| st.id);
    s.logs.push(SessionLog {
        id,
        message: Some(message.to_owned()),
        maintenance_session_id: s.id,
        maintenance_session_stage_id: stage_id,
        maintenance_action_id: None,
        time: Some(WireTime(at)),
        session_log_type: Some(kind),
    });
}
