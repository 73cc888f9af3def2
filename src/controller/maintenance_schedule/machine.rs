//! What to do about one MaintenanceSchedule, decided from what was
//! observed. Pure: no I/O; `now` comes in.
//!
//! The rules, in order (CronJob's, where CronJob has one):
//! 1. An unreadable `schedule` or `timeZone` stops with Stalled.
//! 2. Finished runs beyond the history limits are deleted, oldest first,
//!    but never one newer than `lastScheduleTime`: until the status says
//!    a time was run, its run is the only proof, and deleting it would let
//!    the time be run again.
//! 3. Suspended: nothing is created.
//! 4. The latest time after `lastScheduleTime` (or the creation) and not
//!    after now is due. Later than `startingDeadlineSeconds`: missed.
//! 5. With active runs, `Forbid` skips (the time stays due, so it runs late
//!    if the runs end within the deadline), `Replace` deletes them first,
//!    `Allow` goes on.
//! 6. Create the run, named after the time; `lastScheduleTime` moves to it
//!    in the status written after the create.
//!
//! `decide` takes them stage by stage: `when`, `prune`, `missed`,
//! `make_room`, `create`.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::due::latest_due;
use super::template::run_name;
use crate::api::{
    ConcurrencyPolicy, MaintenanceScheduleSpec, MaintenanceScheduleStatus, Phase, RunRef, StandingApprovalRecord,
};
use crate::controller::approval::Verdict;
use crate::controller::clock::stored_time;
use crate::controller::conditions::{self, READY, STALLED};
use immybot_client::cron::{Cron, time_zone};

pub const STANDING_APPROVAL: &str = "StandingApproval";

/// One run as the controller sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunView {
    pub name: String,
    pub scheduled: Timestamp,
    pub phase: Option<Phase>,
    pub completed: Option<Timestamp>,
    /// Its deletion has begun (Replace, pruning, a person).
    pub deleting: bool,
}

impl RunView {
    fn is_final(&self) -> bool {
        self.phase.is_some_and(Phase::is_final)
    }
}

pub struct Observed<'a> {
    pub name: &'a str,
    pub spec: &'a MaintenanceScheduleSpec,
    pub generation: Option<i64>,
    /// When the schedule was created: no time before it is due.
    pub created: Timestamp,
    pub status: &'a MaintenanceScheduleStatus,
    pub runs: &'a [RunView],
    pub template_digest: &'a str,
    /// The template's standing approval (see `standing::template_verdict`),
    /// and when it expires.
    pub standing: &'a Verdict,
    pub standing_expires: Option<Timestamp>,
    pub now: Timestamp,
}

/// Why a run is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteWhy {
    /// `concurrencyPolicy: Replace`.
    Replaced,
    /// Beyond a history limit.
    Pruned,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Delete { name: String, why: DeleteWhy },
    Create { name: String, scheduled: Timestamp },
}

/// An event to publish once the status that explains it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The status to write after the steps (with `lastScheduleTime` moved
    /// to a created run's time).
    pub status: MaintenanceScheduleStatus,
    /// Deletions first, then at most one create.
    pub steps: Vec<Step>,
    pub notes: Vec<Note>,
    /// When to look again without a change (the next time, an expiry).
    pub requeue_after: Option<Duration>,
}

/// The rules above, in order: each stage decides or passes.
pub fn decide(o: &Observed<'_>) -> Decision {
    let mut status = o.status.clone();
    status.observed_generation = o.generation;
    status.template_digest = Some(o.template_digest.to_owned());
    record_runs(&mut status, o.runs);
    let standing_wake = record_standing(&mut status, o);
    let mut d = Decision {
        status,
        steps: Vec::new(),
        notes: Vec::new(),
        requeue_after: standing_wake,
    };
    // 1. An unreadable schedule or time zone.
    let (cron, tz) = match when(o) {
        Ok(when) => when,
        Err((reason, message)) => {
            let message = format!("{message}; fix the spec, nothing runs until then");
            d.status.next_schedule_time = None;
            set(&mut d.status, o, STALLED, true, reason, &message);
            set(&mut d.status, o, READY, false, reason, &message);
            return d;
        }
    };
    conditions::remove(&mut d.status.conditions, STALLED);
    // 2. History beyond the limits.
    d.steps.extend(prune(o));
    let next = cron.next_after(o.now, &tz);
    d.status.next_schedule_time = if o.spec.suspend { None } else { next.map(stored_time) };
    let next_text = next.map_or_else(|| "no later time matches".to_owned(), |n| format!("next run at {n}"));
    // 3. Suspended.
    if o.spec.suspend {
        let message =
            "spec.suspend is true: no run is created; times missed meanwhile are subject to startingDeadlineSeconds";
        set(&mut d.status, o, READY, true, "Suspended", message);
        return d;
    }
    d.requeue_after = [next.map(|n| until(o.now, n)), standing_wake]
        .into_iter()
        .flatten()
        .min();
    // 4. The time due, if any, unless missed.
    let after = o
        .status
        .last_schedule_time
        .as_ref()
        .map_or(o.created, |t| t.0)
        .max(o.created);
    let Some(due) = latest_due(&cron, &tz, after, o.now) else {
        set(&mut d.status, o, READY, true, "Scheduled", &next_text);
        return d;
    };
    if let Some(message) = missed(o, due, &next_text) {
        set(&mut d.status, o, READY, true, "MissedSchedule", &message);
        d.notes.push(Note {
            warning: true,
            reason: "MissedSchedule",
            message,
        });
        return d;
    }
    let name = run_name(o.name, due);
    if o.runs.iter().any(|r| r.name == name) {
        // Created by an earlier reconcile whose status write was lost or
        // not yet seen: record it, do not create it again.
        d.status.last_schedule_time = Some(stored_time(due));
        set(&mut d.status, o, READY, true, "Scheduled", &next_text);
        return d;
    }
    // 5. Active runs, by the concurrency policy.
    if let Err(message) = make_room(o, &mut d, due) {
        set(&mut d.status, o, READY, true, "RunSkipped", &message);
        d.notes.push(Note {
            warning: false,
            reason: "RunSkipped",
            message,
        });
        return d;
    }
    // 6. The run.
    create(&mut d, name, due);
    set(&mut d.status, o, READY, true, "Scheduled", &next_text);
    d
}

/// The cron and its zone, or the condition reason and message that say
/// which cannot be read.
fn when(o: &Observed<'_>) -> Result<(Cron, jiff::tz::TimeZone), (&'static str, String)> {
    let cron = Cron::parse(&o.spec.schedule).map_err(|e| {
        (
            "InvalidSchedule",
            format!("spec.schedule {}: {e}", quoted(&o.spec.schedule)),
        )
    })?;
    let tz = time_zone(&o.spec.time_zone).map_err(|e| {
        (
            "InvalidTimeZone",
            format!("spec.timeZone {}: {e}", quoted(&o.spec.time_zone)),
        )
    })?;
    Ok((cron, tz))
}

/// `"text"`, as a person wrote it.
fn quoted(text: &str) -> String {
    format!("\"{text}\"")
}

/// Why `due` is missed (later than `startingDeadlineSeconds`), if it is.
fn missed(o: &Observed<'_>, due: Timestamp, next_text: &str) -> Option<String> {
    let deadline = o.spec.starting_deadline_seconds?;
    let late = o.now.duration_since(due);
    (late > SignedDuration::from_secs(deadline)).then(|| {
        format!(
            "missed the run due at {due}: {}s late, past startingDeadlineSeconds ({deadline}s); {next_text}",
            late.as_secs()
        )
    })
}

/// Active runs and the concurrency policy: `Allow` goes on, `Replace`
/// deletes them first, `Forbid` skips (the message says why).
fn make_room(o: &Observed<'_>, d: &mut Decision, due: Timestamp) -> Result<(), String> {
    let active: Vec<&RunView> = o.runs.iter().filter(|r| !r.is_final() && !r.deleting).collect();
    if active.is_empty() {
        return Ok(());
    }
    match o.spec.concurrency_policy {
        ConcurrencyPolicy::Allow => Ok(()),
        ConcurrencyPolicy::Forbid => {
            let names: Vec<&str> = active.iter().map(|r| r.name.as_str()).collect();
            Err(format!(
                "the run due at {due} waits: concurrencyPolicy Forbid and {} still active; it is created if they end {}",
                names.join(", "),
                o.spec
                    .starting_deadline_seconds
                    .map_or("before the next time".to_owned(), |d| format!("within {d}s of {due}"))
            ))
        }
        ConcurrencyPolicy::Replace => {
            d.steps.extend(active.iter().map(|run| Step::Delete {
                name: run.name.clone(),
                why: DeleteWhy::Replaced,
            }));
            d.status.active.clear();
            Ok(())
        }
    }
}

/// The run for `due`, and `lastScheduleTime` moved to it (written after the
/// create).
fn create(d: &mut Decision, name: String, due: Timestamp) {
    d.steps.push(Step::Create {
        name: name.clone(),
        scheduled: due,
    });
    d.status.last_schedule_time = Some(stored_time(due));
    d.status.active.push(RunRef {
        name,
        scheduled_time: stored_time(due),
        phase: None,
    });
    count_active(&mut d.status);
}

/// `active`, `lastRun` and `lastSuccessfulTime` from the runs.
fn record_runs(status: &mut MaintenanceScheduleStatus, runs: &[RunView]) {
    let mut sorted: Vec<&RunView> = runs.iter().collect();
    sorted.sort_by_key(|r| r.scheduled);
    let as_ref = |r: &RunView| RunRef {
        name: r.name.clone(),
        scheduled_time: stored_time(r.scheduled),
        phase: r.phase,
    };
    status.active = sorted
        .iter()
        .filter(|r| !r.is_final() && !r.deleting)
        .map(|r| as_ref(r))
        .collect();
    count_active(status);
    if let Some(last) = sorted.iter().rev().find(|r| r.is_final()) {
        // Kept when the runs are pruned: the newest final run may be gone.
        let newer = status
            .last_run
            .as_ref()
            .is_none_or(|known| known.scheduled_time.0 <= last.scheduled);
        if newer {
            status.last_run = Some(as_ref(last));
        }
    }
    let succeeded = sorted
        .iter()
        .filter(|r| r.phase == Some(Phase::Succeeded))
        .filter_map(|r| r.completed)
        .max();
    if let Some(t) = succeeded
        && status.last_successful_time.as_ref().is_none_or(|known| known.0 < t)
    {
        status.last_successful_time = Some(stored_time(t));
    }
}

/// The `StandingApproval` condition and record; when to look again (the expiry).
fn record_standing(status: &mut MaintenanceScheduleStatus, o: &Observed<'_>) -> Option<Duration> {
    match o.standing {
        Verdict::Approved {
            approved_by,
            method,
            source,
            ..
        } => {
            status.standing_approval = Some(StandingApprovalRecord {
                approved_by: approved_by.clone(),
                method: method.as_str().to_owned(),
                source: source.clone(),
                expires_at: o.standing_expires.map(stored_time),
            });
            let until_text = o.standing_expires.map_or_else(String::new, |t| format!(" until {t}"));
            let message = format!(
                "runs start without an approval of their own{until_text}: approved by {approved_by} ({}); a change to the template, schedule or timeZone revokes it",
                source.as_deref().unwrap_or(method.as_str())
            );
            set(status, o, STANDING_APPROVAL, true, "Approved", &message);
            o.standing_expires.map(|t| until(o.now, t))
        }
        Verdict::NotApproved { reason, message } => {
            status.standing_approval = None;
            let message = format!(
                "each run waits for its own approval (kubectl immybot approve <run>); for runs to start by themselves, approve the template: {message}"
            );
            set(status, o, STANDING_APPROVAL, false, reason, &message);
            None
        }
    }
}

/// Finished runs beyond the history limits, oldest first; never one newer
/// than the recorded `lastScheduleTime` (rule 2).
fn prune(o: &Observed<'_>) -> Vec<Step> {
    let recorded = o.status.last_schedule_time.as_ref().map(|t| t.0);
    let prunable = |r: &&RunView| r.is_final() && !r.deleting && recorded.is_some_and(|t| r.scheduled <= t);
    let mut steps = Vec::new();
    for (succeeded, limit) in [
        (true, o.spec.successful_runs_history_limit),
        (false, o.spec.failed_runs_history_limit),
    ] {
        let mut finished: Vec<&RunView> = o
            .runs
            .iter()
            .filter(prunable)
            .filter(|r| (r.phase == Some(Phase::Succeeded)) == succeeded)
            .collect();
        finished.sort_by_key(|r| std::cmp::Reverse(r.scheduled));
        let keep = usize::try_from(limit.max(0)).unwrap_or(0);
        steps.extend(finished.into_iter().skip(keep).map(|r| Step::Delete {
            name: r.name.clone(),
            why: DeleteWhy::Pruned,
        }));
    }
    steps
}

/// `activeCount` (a printer column) follows `active`.
pub fn count_active(status: &mut MaintenanceScheduleStatus) {
    status.active_count = i32::try_from(status.active.len()).unwrap_or(i32::MAX);
}

fn set(
    status: &mut MaintenanceScheduleStatus,
    o: &Observed<'_>,
    type_: &str,
    value: bool,
    reason: &str,
    message: &str,
) {
    conditions::set(
        &mut status.conditions,
        type_,
        value,
        reason,
        message,
        o.generation,
        o.now,
    );
}

/// From `now` to `t`, plus a second so that the time has surely come; at
/// most an hour (a clock step or a lost wake-up is noticed within it).
fn until(now: Timestamp, t: Timestamp) -> Duration {
    let d = Duration::try_from(t.duration_since(now)).unwrap_or(Duration::ZERO);
    (d + Duration::from_secs(1)).min(Duration::from_secs(3600))
}

#[cfg(test)]
mod tests;
