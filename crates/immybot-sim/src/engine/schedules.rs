//! ImmyBot's own schedules in the simulated instance: stored as sent, fired
//! on the engine's clock, run now, cancelled.
//!
//! What the simulator decides (ImmyBot documents none of it; docs/simulator.md):
//! - a schedule fires at its `customCronExpression`, in `timeZoneInfoId`
//!   (IANA or a Windows id the zone table knows; UTC when null); without a
//!   cron expression, daily at `time` (`HH:mm`);
//! - a custom cron must run at most once a day (ImmyBot's NCronTab rule);
//! - a firing creates one session per targeted computer that has none
//!   running, as a start does, each carrying `scheduledId`; a late clock
//!   fires only the latest due occurrence (no catch-up storm);
//! - every simulated computer is a workstation: `Servers` and the domain
//!   controller filters select none.

use jiff::Timestamp;

use super::{Engine, EngineError, RunMode, SessionArgs};
use immybot_client::cron::{Cron, time_zone};
use immybot_client::*;

/// One stored schedule.
#[derive(Clone, Debug)]
pub(super) struct SimSchedule {
    pub id: i32,
    pub definition: ScheduleDefinition,
    pub created: Timestamp,
    pub updated: Timestamp,
    /// Occurrences at or before this instant have been dealt with.
    pub checked_until: Timestamp,
}

/// When a definition fires.
fn timing(def: &ScheduleDefinition) -> Result<(Cron, jiff::tz::TimeZone), EngineError> {
    let cron = match (&def.custom_cron_expression, &def.time) {
        (Some(expr), _) => {
            let cron = Cron::parse(expr).map_err(|e| EngineError::BadRequest(format!("customCronExpression: {e}")))?;
            if !cron.at_most_daily() {
                return Err(EngineError::BadRequest(
                    "customCronExpression: a schedule runs at most once a day; '*', ',', '-' and '/' are not allowed in the minute and hour fields".into(),
                ));
            }
            cron
        }
        (None, Some(time)) => {
            let (h, m) = time
                .split_once(':')
                .and_then(|(h, m)| Some((h.parse::<u8>().ok()?, m.get(..2)?.parse::<u8>().ok()?)))
                .ok_or_else(|| EngineError::BadRequest(format!("time {time:?} is not HH:mm")))?;
            Cron::parse(&format!("{m} {h} * * *")).map_err(|e| EngineError::BadRequest(format!("time: {e}")))?
        }
        (None, None) => {
            return Err(EngineError::BadRequest(
                "a schedule needs a time or a customCronExpression".into(),
            ));
        }
    };
    let zone = match def.time_zone_info_id.as_deref() {
        None => jiff::tz::TimeZone::UTC,
        Some(id) => time_zone(id)
            .or_else(|e| iana_of(id).map(time_zone).unwrap_or(Err(e)))
            .map_err(|_| EngineError::BadRequest(format!("timeZoneInfoId {id:?} is not a known time zone")))?,
    };
    Ok((cron, zone))
}

impl Engine {
    fn check_schedule(&self, def: &ScheduleDefinition) -> Result<(), EngineError> {
        timing(def)?;
        match def.target_type.as_ref() {
            Some(TargetType::Computer) => {
                let id = def.target.as_deref().and_then(|t| t.trim().parse::<i32>().ok());
                if !id.is_some_and(|id| self.computers.contains_key(&id)) {
                    return Err(EngineError::BadRequest(format!(
                        "target {:?} is not a computer id of this instance",
                        def.target
                    )));
                }
            }
            Some(TargetType::AllForTenant) | Some(TargetType::SpecificTenant) => {
                if !def.tenant_id.is_some_and(|t| self.tenants.contains_key(&t)) {
                    return Err(EngineError::BadRequest(format!(
                        "tenantId {:?} is not a tenant of this instance",
                        def.tenant_id
                    )));
                }
            }
            Some(TargetType::All) | Some(TargetType::AllTenants) => {}
            other => {
                return Err(EngineError::BadRequest(format!(
                    "targetType {other:?} is not supported by the simulator"
                )));
            }
        }
        Ok(())
    }

    pub fn create_schedule(&mut self, def: &ScheduleDefinition, now: Timestamp) -> Result<Schedule, EngineError> {
        self.check_schedule(def)?;
        let id = self.next_schedule_id();
        self.schedules.insert(
            id,
            SimSchedule {
                id,
                definition: def.clone(),
                created: now,
                updated: now,
                checked_until: now,
            },
        );
        self.schedule(id)
            .ok_or_else(|| EngineError::NotFound(format!("schedule {id}")))
    }

    pub fn update_schedule(
        &mut self,
        id: i32,
        def: &ScheduleDefinition,
        now: Timestamp,
    ) -> Result<Schedule, EngineError> {
        self.check_schedule(def)?;
        let s = self
            .schedules
            .get_mut(&id)
            .ok_or_else(|| EngineError::NotFound(format!("Schedule {id}")))?;
        s.definition = def.clone();
        s.updated = now;
        // A new time applies from now on; it does not fire what it would
        // have fired in the past.
        s.checked_until = now;
        self.schedule(id)
            .ok_or_else(|| EngineError::NotFound(format!("schedule {id}")))
    }

    pub fn delete_schedule(&mut self, id: i32) -> Result<(), EngineError> {
        self.schedules
            .remove(&id)
            .map(drop)
            .ok_or_else(|| EngineError::NotFound(format!("Schedule {id}")))
    }

    pub fn schedule(&self, id: i32) -> Option<Schedule> {
        let s = self.schedules.get(&id)?;
        let next = timing(&s.definition)
            .ok()
            .and_then(|(cron, zone)| cron.next_after(s.checked_until, &zone));
        Some(Schedule {
            id,
            definition: s.definition.clone(),
            created_date_utc: Some(WireTime(s.created)),
            updated_date_utc: Some(WireTime(s.updated)),
            next_occurence_date: if s.definition.disabled == Some(true) {
                None
            } else {
                next.map(WireTime)
            },
            present: Default::default(),
        })
    }

    pub fn schedules(&self, tenant_id: Option<i32>) -> Vec<Schedule> {
        self.schedules
            .values()
            .filter(|s| tenant_id.is_none() || s.definition.tenant_id == tenant_id)
            .filter_map(|s| self.schedule(s.id))
            .collect()
    }

    /// The schedules with a session that has not ended.
    pub fn running_schedule_ids(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = self
            .sessions
            .values()
            .filter(|s| !s.status.is_terminal())
            .filter_map(|s| s.scheduled_id)
            .filter(|id| self.schedules.contains_key(id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Runs a schedule now, disabled or not; the ids of the sessions it made.
    pub fn run_schedule_now(&mut self, id: i32, now: Timestamp) -> Result<Vec<i32>, EngineError> {
        let def = self
            .schedules
            .get(&id)
            .map(|s| s.definition.clone())
            .ok_or_else(|| EngineError::NotFound(format!("Schedule {id}")))?;
        Ok(self.fire(id, &def, now))
    }

    /// Cancels every running session the schedule started.
    pub fn cancel_schedule(&mut self, id: i32, now: Timestamp) -> Result<(), EngineError> {
        if !self.schedules.contains_key(&id) {
            return Err(EngineError::NotFound(format!("Schedule {id}")));
        }
        let running: Vec<i32> = self
            .sessions
            .values()
            .filter(|s| s.scheduled_id == Some(id) && !s.status.is_terminal())
            .map(|s| s.id)
            .collect();
        for session in running {
            self.cancel(session, now)?;
        }
        Ok(())
    }

    /// Fires every enabled schedule due at or before `now` (once each).
    pub(super) fn fire_due_schedules(&mut self, now: Timestamp) {
        let due: Vec<(i32, ScheduleDefinition, Timestamp)> = self
            .schedules
            .values()
            .filter(|s| s.definition.disabled != Some(true))
            .filter_map(|s| {
                let (cron, zone) = timing(&s.definition).ok()?;
                let mut at = cron.next_after(s.checked_until, &zone)?;
                if at > now {
                    return None;
                }
                // Only the latest due occurrence fires.
                while let Some(later) = cron.next_after(at, &zone).filter(|t| *t <= now) {
                    at = later;
                }
                Some((s.id, s.definition.clone(), at))
            })
            .collect();
        for (id, def, at) in due {
            self.fire(id, &def, at);
        }
        for s in self.schedules.values_mut() {
            s.checked_until = s.checked_until.max(now);
        }
    }

    fn fire(&mut self, schedule_id: i32, def: &ScheduleDefinition, at: Timestamp) -> Vec<i32> {
        let computers: Vec<i32> = match def.target_type.as_ref() {
            Some(TargetType::Computer) => def
                .target
                .as_deref()
                .and_then(|t| t.trim().parse().ok())
                .into_iter()
                .collect(),
            Some(TargetType::AllForTenant) | Some(TargetType::SpecificTenant) => {
                let scope = def
                    .tenant_id
                    .map(|t| self.tenant_and_children(t, def.propagate_to_child_tenants == Some(true)))
                    .unwrap_or_default();
                self.computers
                    .iter()
                    .filter(|(_, c)| scope.contains(&c.seed.tenant_id))
                    .map(|(id, _)| *id)
                    .collect()
            }
            _ => self.computers.keys().copied().collect(),
        };
        let workstations = !matches!(
            def.target_group_filter,
            Some(
                TargetGroupFilter::Servers
                    | TargetGroupFilter::DomainControllers
                    | TargetGroupFilter::PrimaryDomainControllers
            )
        );
        let args = SessionArgs {
            mode: RunMode::Full,
            reboot: def.reboot_preference.clone().unwrap_or(RebootPreference::Normal),
            offline: def
                .offline_behavior
                .clone()
                .unwrap_or(ComputerOfflineMaintenanceSessionBehavior::Skip),
            skip_background_job: false,
            group_id: None,
            deployment_id: None,
            only_identifier: def.maintenance_identifier.clone(),
            rerun_of_action: None,
        };
        let mut made = Vec::new();
        for computer in computers.into_iter().filter(|_| workstations) {
            if !self.computers.contains_key(&computer) || self.active_session_of(computer).is_some() {
                continue;
            }
            let id = self.create_session(computer, args.clone(), at);
            if let Some(s) = self.sessions.get_mut(&id) {
                s.scheduled_id = Some(schedule_id);
            }
            made.push(id);
        }
        made
    }

    /// Ids are never reused, as a database's are not.
    fn next_schedule_id(&mut self) -> i32 {
        self.last_schedule_id += 1;
        self.last_schedule_id
    }
}
