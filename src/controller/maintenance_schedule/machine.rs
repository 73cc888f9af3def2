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

pub fn decide(o: &Observed<'_>) -> Decision {
    let mut status = o.status.clone();
    status.observed_generation = o.generation;
    status.template_digest = Some(o.template_digest.to_owned());
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    record_runs(&mut status, o.runs);
    let standing_wake = record_standing(&mut status, o);

    let parsed = Cron::parse(&o.spec.schedule)
        .map_err(|e| ("InvalidSchedule", format!("spec.schedule {:?}: {e}", o.spec.schedule)))
        .and_then(|cron| {
            time_zone(&o.spec.time_zone)
                .map(|tz| (cron, tz))
                .map_err(|e| ("InvalidTimeZone", format!("spec.timeZone {:?}: {e}", o.spec.time_zone)))
        });
    let (cron, tz) = match parsed {
        Ok(ok) => ok,
        Err((reason, message)) => {
            let message = format!("{message}; fix the spec, nothing runs until then");
            status.next_schedule_time = None;
            set(&mut status, o, STALLED, true, reason, &message);
            set(&mut status, o, READY, false, reason, &message);
            return Decision {
                status,
                steps,
                notes,
                requeue_after: standing_wake,
            };
        }
    };
    conditions::remove(&mut status.conditions, STALLED);

    steps.extend(prune(o));

    let last = o.status.last_schedule_time.as_ref().map(|t| t.0);
    let after = last.unwrap_or(o.created).max(o.created);
    let next = cron.next_after(o.now, &tz);
    status.next_schedule_time = if o.spec.suspend { None } else { next.map(stored_time) };
    let wake = next.map(|n| until(o.now, n));
    let requeue_after = [wake, standing_wake].into_iter().flatten().min();
    let next_text = next.map_or_else(|| "no later time matches".to_owned(), |n| format!("next run at {n}"));

    if o.spec.suspend {
        set(
            &mut status,
            o,
            READY,
            true,
            "Suspended",
            "spec.suspend is true: no run is created; times missed meanwhile are subject to startingDeadlineSeconds",
        );
        return Decision {
            status,
            steps,
            notes,
            requeue_after: standing_wake,
        };
    }

    let Some(due) = latest_due(&cron, &tz, after, o.now) else {
        set(&mut status, o, READY, true, "Scheduled", &next_text);
        return Decision {
            status,
            steps,
            notes,
            requeue_after,
        };
    };

    if let Some(deadline) = o.spec.starting_deadline_seconds {
        let late = o.now.duration_since(due);
        if late > SignedDuration::from_secs(deadline) {
            let message = format!(
                "missed the run due at {due}: {}s late, past startingDeadlineSeconds ({deadline}s); {next_text}",
                late.as_secs()
            );
            set(&mut status, o, READY, true, "MissedSchedule", &message);
            notes.push(Note {
                warning: true,
                reason: "MissedSchedule",
                message,
            });
            return Decision {
                status,
                steps,
                notes,
                requeue_after,
            };
        }
    }

    let active: Vec<&RunView> = o.runs.iter().filter(|r| !r.is_final() && !r.deleting).collect();
    let name = run_name(o.name, due);
    if o.runs.iter().any(|r| r.name == name) {
        // Created by an earlier reconcile whose status write was lost or
        // not yet seen: record it, do not create it again.
        status.last_schedule_time = Some(stored_time(due));
        set(&mut status, o, READY, true, "Scheduled", &next_text);
        return Decision {
            status,
            steps,
            notes,
            requeue_after,
        };
    }
    if !active.is_empty() {
        let names: Vec<&str> = active.iter().map(|r| r.name.as_str()).collect();
        match o.spec.concurrency_policy {
            ConcurrencyPolicy::Allow => {}
            ConcurrencyPolicy::Forbid => {
                let message = format!(
                    "the run due at {due} waits: concurrencyPolicy Forbid and {} still active; it is created if they end {}",
                    names.join(", "),
                    o.spec
                        .starting_deadline_seconds
                        .map_or("before the next time".to_owned(), |d| format!("within {d}s of {due}"))
                );
                set(&mut status, o, READY, true, "RunSkipped", &message);
                notes.push(Note {
                    warning: false,
                    reason: "RunSkipped",
                    message,
                });
                return Decision {
                    status,
                    steps,
                    notes,
                    requeue_after,
                };
            }
            ConcurrencyPolicy::Replace => {
                for run in &active {
                    steps.push(Step::Delete {
                        name: run.name.clone(),
                        why: DeleteWhy::Replaced,
                    });
                }
                status.active.clear();
            }
        }
    }
    steps.push(Step::Create {
        name: name.clone(),
        scheduled: due,
    });
    status.last_schedule_time = Some(stored_time(due));
    status.active.push(RunRef {
        name,
        scheduled_time: stored_time(due),
        phase: None,
    });
    count_active(&mut status);
    set(&mut status, o, READY, true, "Scheduled", &next_text);
    Decision {
        status,
        steps,
        notes,
        requeue_after,
    }
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
