//! The simulated instance's state and how sessions move through it.
//!
//! No HTTP here. The server calls [`Engine::advance_to`] with the clock's
//! time before it reads or changes anything, so a session's progress depends
//! only on the clock: under the manual clock a test decides exactly when a
//! stage ends.
//!
//! Simplifications (the real ImmyBot does more; none of it changes what a
//! client sees on the wire): one stage runs at a time for a fixed duration;
//! detection derives one action per software item from installed vs desired
//! version; the concurrent-session limit is checked when a session leaves
//! `Created` and whenever the engine advances.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use uuid::Uuid;

use super::fleet::{FleetSeed, SeedComputer, SoftwareBehaviour};
use controls::cancel_now;
use immybot_client::*;
use progress::{begin_stage, finish, push_log};

/// Cancel, resume and reruns.
mod compliance;
mod controls;
mod history;
/// How one session moves through its stages.
mod progress;
/// ImmyBot's own schedules: stored, fired on the clock, run now.
mod schedules;
/// What the instance answers when asked (read-only).
mod views;

/// Knobs of the simulated instance.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineSettings {
    /// How long each stage runs (simulated time).
    pub stage_duration: Duration,
    /// How long a session stays `Created` before it runs.
    pub queue_delay: Duration,
    /// ImmyBot's instance-wide limit on running sessions; `skipBackgroundJob`
    /// bypasses it. 0 means no limit.
    pub max_concurrent_sessions: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            stage_duration: Duration::from_secs(5),
            queue_delay: Duration::from_secs(1),
            max_concurrent_sessions: 0,
        }
    }
}

/// What a start call asked for, in the simulator's terms.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionArgs {
    pub mode: RunMode,
    pub reboot: RebootPreference,
    pub offline: ComputerOfflineMaintenanceSessionBehavior,
    pub skip_background_job: bool,
    pub group_id: Option<Uuid>,
    /// A single deployment instead of full maintenance.
    pub deployment_id: Option<i32>,
    /// For a single-action rerun: only this item runs.
    pub only_identifier: Option<String>,
    pub rerun_of_action: Option<i32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    Full,
    DetectionOnly,
    ResolutionOnly,
    InventoryOnly,
}

impl SessionArgs {
    pub fn from_request(req: &StartRequest) -> Self {
        let mode = if req.detection_only {
            RunMode::DetectionOnly
        } else if req.resolution_only {
            RunMode::ResolutionOnly
        } else if req.inventory_only {
            RunMode::InventoryOnly
        } else {
            RunMode::Full
        };
        Self {
            mode,
            reboot: req.reboot_preference.clone().unwrap_or(RebootPreference::Normal),
            // ImmyBot's default for offline computers is to skip them.
            offline: req
                .offline_behavior
                .clone()
                .unwrap_or(ComputerOfflineMaintenanceSessionBehavior::Skip),
            skip_background_job: req.skip_background_job,
            group_id: req.session_group_id,
            deployment_id: req.deployment_id,
            only_identifier: None,
            rerun_of_action: None,
        }
    }

    fn stages(&self) -> Vec<SessionStageType> {
        use SessionStageType::*;
        match self.mode {
            RunMode::Full => vec![Detection, Execution, Inventory],
            RunMode::DetectionOnly => vec![Detection],
            RunMode::ResolutionOnly => vec![Resolution, Execution],
            RunMode::InventoryOnly => vec![Inventory],
        }
    }
}

#[derive(Clone, Debug)]
struct Stage {
    id: i32,
    kind: SessionStageType,
    status: SessionStatus,
    started: Option<Timestamp>,
}

#[derive(Clone, Debug)]
struct Session {
    id: i32,
    computer_id: i32,
    tenant_id: i32,
    args: SessionArgs,
    created: Timestamp,
    updated: Timestamp,
    status: SessionStatus,
    stages: Vec<Stage>,
    /// Index of the running stage.
    current: usize,
    /// When the next timed transition happens.
    next_event: Option<Timestamp>,
    actions: Vec<MaintenanceAction>,
    logs: Vec<SessionLog>,
    /// The schedule that started it, if one did.
    scheduled_id: Option<i32>,
    /// How often it was postponed: a resume answers one postponement, so
    /// this names the intent a resume call serves (`postponements`).
    postponements: u32,
    /// A cancel was accepted and takes effect when the running stage ends.
    cancel_requested: bool,
}

#[derive(Clone, Debug)]
struct ComputerState {
    seed: SeedComputer,
    online: bool,
    installed: BTreeMap<String, String>,
}

/// Why a start or a control call was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineError {
    NotFound(String),
    BadRequest(String),
}

/// The result of a start, before it is shaped into a response body.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Started {
    pub started: Vec<StartedSession>,
    pub already_in_progress: Vec<StartedSession>,
}

/// One row of the session ledger the admin API serves.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub id: i32,
    pub computer_id: i32,
    pub tenant_id: i32,
    pub session_group_id: Option<Uuid>,
    pub status: String,
    pub created: Timestamp,
}

pub struct Engine {
    settings: EngineSettings,
    tenants: BTreeMap<i32, (String, Option<i32>)>,
    computers: BTreeMap<i32, ComputerState>,
    sessions: BTreeMap<i32, Session>,
    next_id: i32,
    schedules: BTreeMap<i32, schedules::SimSchedule>,
    last_schedule_id: i32,
}

impl Engine {
    pub fn new(seed: &FleetSeed, settings: EngineSettings) -> Self {
        let tenants = seed
            .tenants
            .iter()
            .map(|t| (t.id, (t.name.clone(), t.parent_id)))
            .collect();
        let computers = seed
            .computers
            .iter()
            .map(|c| {
                let installed = c
                    .software
                    .iter()
                    .filter_map(|s| Some((identifier(&s.name, s.identifier.as_deref()), s.installed.clone()?)))
                    .collect();
                (
                    c.id,
                    ComputerState {
                        seed: c.clone(),
                        online: c.online,
                        installed,
                    },
                )
            })
            .collect();
        Self {
            settings,
            tenants,
            computers,
            sessions: BTreeMap::new(),
            next_id: 1000,
            schedules: BTreeMap::new(),
            last_schedule_id: 0,
        }
    }

    pub fn settings_mut(&mut self) -> &mut EngineSettings {
        &mut self.settings
    }

    fn next_id(&mut self) -> i32 {
        self.next_id += 1;
        self.next_id
    }

    // ---- look-ups -------------------------------------------------------

    pub fn computer(&self, id: i32) -> Option<Computer> {
        let c = self.computers.get(&id)?;
        Some(Computer {
            id,
            device_id: Some(Uuid::from_u128(id as u128)),
            tenant_id: c.seed.tenant_id,
            computer_name: Some(c.seed.name.clone()),
            is_online: c.online,
            tenant_name: self.tenants.get(&c.seed.tenant_id).map(|t| t.0.clone()),
            exclude_from_maintenance: false,
        })
    }

    pub fn computer_rows(&self) -> Vec<ComputerListItem> {
        self.computers
            .iter()
            .map(|(id, c)| {
                let active = self.active_session_of(*id);
                ComputerListItem {
                    id: *id,
                    computer_name: Some(c.seed.name.clone()),
                    tenant_id: c.seed.tenant_id,
                    tenant_name: self.tenants.get(&c.seed.tenant_id).map(|t| t.0.clone()),
                    device_id: Some(Uuid::from_u128(*id as u128)),
                    is_online: Some(c.online),
                    active_session_id: active.map(|s| s.id),
                    active_session_status: active.map(|s| s.status.clone()),
                }
            })
            .collect()
    }

    pub fn tenant(&self, id: i32) -> Option<Tenant> {
        let (name, parent) = self.tenants.get(&id)?;
        Some(Tenant {
            id,
            name: Some(name.clone()),
            slug: Some(name.to_ascii_lowercase().replace(' ', "-")),
            parent_tenant_id: *parent,
            active: true,
            is_msp: parent.is_none() && id == 1,
        })
    }

    pub fn tenants(&self) -> Vec<Tenant> {
        self.tenants.keys().filter_map(|id| self.tenant(*id)).collect()
    }

    pub fn set_online(&mut self, computer_id: i32, online: bool) -> Result<(), EngineError> {
        let c = self
            .computers
            .get_mut(&computer_id)
            .ok_or_else(|| EngineError::NotFound(format!("computer {computer_id}")))?;
        c.online = online;
        Ok(())
    }

    /// A computer joins its tenant (a test's fleet grows).
    pub fn add_computer(&mut self, seed: crate::fleet::SeedComputer) {
        let installed = seed
            .software
            .iter()
            .filter_map(|s| Some((identifier(&s.name, s.identifier.as_deref()), s.installed.clone()?)))
            .collect();
        self.computers.insert(
            seed.id,
            ComputerState {
                online: seed.online,
                seed,
                installed,
            },
        );
    }

    /// Assigns a software item to a computer from now on (a new
    /// deployment), or changes what it has installed if assigned already
    /// (installed or removed by hand): how a test makes the fleet drift
    /// between a plan and its execution.
    pub fn assign_software(
        &mut self,
        computer_id: i32,
        software: crate::fleet::SeedSoftware,
    ) -> Result<(), EngineError> {
        let c = self
            .computers
            .get_mut(&computer_id)
            .ok_or_else(|| EngineError::NotFound(format!("computer {computer_id}")))?;
        let ident = identifier(&software.name, software.identifier.as_deref());
        match &software.installed {
            Some(v) => {
                c.installed.insert(ident, v.clone());
            }
            None => {
                c.installed.remove(&ident);
            }
        }
        c.seed.software.retain(|s| !s.name.eq_ignore_ascii_case(&software.name));
        c.seed.software.push(software);
        Ok(())
    }

    /// What installing `item` (its name, any case) does on the computer
    /// from now on: how a test "fixes the cause" of a failure.
    pub fn set_behaviour(
        &mut self,
        computer_id: i32,
        item: &str,
        behaviour: crate::fleet::SoftwareBehaviour,
    ) -> Result<(), EngineError> {
        let c = self
            .computers
            .get_mut(&computer_id)
            .ok_or_else(|| EngineError::NotFound(format!("computer {computer_id}")))?;
        let software = c
            .seed
            .software
            .iter_mut()
            .find(|s| s.name.eq_ignore_ascii_case(item))
            .ok_or_else(|| EngineError::NotFound(format!("item {item} on computer {computer_id}")))?;
        software.behaviour = behaviour;
        Ok(())
    }

    fn active_session_of(&self, computer_id: i32) -> Option<&Session> {
        self.sessions
            .values()
            .find(|s| s.computer_id == computer_id && !s.status.is_terminal())
    }

    fn tenant_and_children(&self, root: i32, include_children: bool) -> Vec<i32> {
        let mut out = vec![root];
        if include_children {
            let mut i = 0;
            while i < out.len() {
                let parent = out[i];
                out.extend(
                    self.tenants
                        .iter()
                        .filter(|(_, (_, p))| *p == Some(parent))
                        .map(|(id, _)| *id),
                );
                i += 1;
            }
        }
        out
    }

    // ---- starting -------------------------------------------------------

    /// Creates one session per targeted computer; computers that already
    /// have a session are reported, not started twice.
    pub fn start(&mut self, req: &StartRequest, now: Timestamp) -> Result<Started, EngineError> {
        let mut targets: Vec<i32> = Vec::new();
        for c in req.computers.iter().flatten() {
            if !self.computers.contains_key(&c.computer_id) {
                return Err(EngineError::BadRequest(format!(
                    "Computer with id {} was not found",
                    c.computer_id
                )));
            }
            targets.push(c.computer_id);
        }
        for t in req.tenants.iter().flatten() {
            if !self.tenants.contains_key(&t.tenant_id) {
                return Err(EngineError::BadRequest(format!(
                    "Tenant with id {} was not found",
                    t.tenant_id
                )));
            }
            let scope = self.tenant_and_children(t.tenant_id, req.propagate_to_child_tenants);
            targets.extend(
                self.computers
                    .iter()
                    .filter(|(_, c)| scope.contains(&c.seed.tenant_id))
                    .map(|(id, _)| *id),
            );
        }
        if targets.is_empty() {
            return Err(EngineError::BadRequest(
                "No computers, tenants or persons were specified".into(),
            ));
        }
        // The contract offers full maintenance *or* a single deployment; what
        // ImmyBot does with both is not written anywhere, so the simulator
        // refuses it rather than guess in the client's favour.
        if req.full_maintenance && req.deployment_id.is_some() {
            return Err(EngineError::BadRequest(
                "fullMaintenance and deploymentId cannot be combined: a single deployment is not full maintenance"
                    .into(),
            ));
        }
        targets.sort_unstable();
        targets.dedup();
        let args = SessionArgs::from_request(req);
        let mut out = Started::default();
        for computer_id in targets {
            if let Some(busy) = self.active_session_of(computer_id) {
                out.already_in_progress.push(StartedSession {
                    session_id: busy.id,
                    computer_id: Some(computer_id),
                    tenant_id: Some(busy.tenant_id),
                    person_id: None,
                });
                continue;
            }
            let session = self.create_session(computer_id, args.clone(), now);
            out.started.push(StartedSession {
                session_id: session,
                computer_id: Some(computer_id),
                tenant_id: self.computers.get(&computer_id).map(|c| c.seed.tenant_id),
                person_id: None,
            });
        }
        Ok(out)
    }

    fn create_session(&mut self, computer_id: i32, args: SessionArgs, now: Timestamp) -> i32 {
        let id = self.next_id();
        let tenant_id = self
            .computers
            .get(&computer_id)
            .map(|c| c.seed.tenant_id)
            .unwrap_or_default();
        let kinds = args.stages();
        let stages = kinds
            .into_iter()
            .map(|kind| Stage {
                id: 0,
                kind,
                status: SessionStatus::Created,
                started: None,
            })
            .collect::<Vec<_>>();
        let mut session = Session {
            id,
            computer_id,
            tenant_id,
            args,
            created: now,
            updated: now,
            status: SessionStatus::Created,
            stages,
            current: 0,
            next_event: Some(add(now, self.settings.queue_delay)),
            actions: vec![],
            logs: vec![],
            scheduled_id: None,
            postponements: 0,
            cancel_requested: false,
        };
        for i in 0..session.stages.len() {
            session.stages[i].id = self.next_id();
        }
        push_log(&mut session, now, SessionLogType::Generic, "Session created");
        self.sessions.insert(id, session);
        id
    }

    // ---- time -----------------------------------------------------------

    /// Applies every transition due at or before `now` in time order across
    /// all sessions. After each one, sessions that wait for a slot or a
    /// connection are re-checked at that instant, so a slot freed at 10:00:16
    /// is taken at 10:00:16, not when the clock is next read.
    pub fn advance_to(&mut self, now: Timestamp) {
        self.fire_due_schedules(now);
        loop {
            let next = self
                .sessions
                .values()
                .filter_map(|s| s.next_event.filter(|at| *at <= now).map(|at| (at, s.id)))
                .min();
            match next {
                Some((at, id)) => {
                    self.step(id, at);
                    self.wake_waiting(at);
                }
                None => {
                    if !self.wake_waiting(now) {
                        break;
                    }
                }
            }
        }
    }

    /// Re-checks waiting sessions at `at`; true if any of them moved.
    fn wake_waiting(&mut self, at: Timestamp) -> bool {
        let waiting: Vec<i32> = self
            .sessions
            .values()
            .filter(|s| {
                matches!(s.status, SessionStatus::Pending | SessionStatus::PendingConnectivity)
                    && s.next_event.is_none()
            })
            .map(|s| s.id)
            .collect();
        let mut moved = false;
        for id in waiting {
            moved |= self.step(id, at);
        }
        moved
    }

    fn running_count(&self) -> usize {
        self.sessions
            .values()
            .filter(|s| s.status == SessionStatus::Running)
            .count()
    }
}

fn stage_name(kind: &SessionStageType) -> String {
    kind.name().into_owned()
}

fn identifier(name: &str, explicit: Option<&str>) -> String {
    explicit
        .map(str::to_owned)
        .unwrap_or_else(|| name.to_ascii_lowercase().replace(' ', "-"))
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(d).unwrap_or(t)
}
