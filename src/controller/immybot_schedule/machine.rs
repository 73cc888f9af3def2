//! What to do about one ImmyBotSchedule, decided from what was observed.
//! Pure: no I/O, no clock.
//!
//! The rules, in order:
//! 1. A spec the operator cannot turn into a definition stops with Stalled.
//! 2. A create whose answer was never recorded (`pendingCreate`) is looked
//!    for among ImmyBot's schedules: exactly one match is adopted, none is
//!    created again, several stop with Stalled (never a silent second one).
//! 3. Nothing is created or changed in ImmyBot without an approval of the
//!    current digest, except `disabled` following `suspend`, and putting
//!    back the approved definition (drift, deletion in ImmyBot).
//! 4. One ImmyBot write per reconcile: update, else run now, else cancel.
//! 5. A tenant grown past the count its approval names (`grew`) is held
//!    disabled in ImmyBot, created disabled or not at all, and runs nothing
//!    now, until the new count is approved; cancelling its runs stays open.
//!
//! `decide` takes them stage by stage: `interrupted_create`,
//! `not_created`, `gone`, `keep_in_sync`, `requests`.

use super::definition::definition_digest;
use crate::api::{DriftPolicy, ImmyBotScheduleSpec, ImmyBotScheduleStatus};
use immybot_client::{Schedule, ScheduleDefinition};

/// ImmyBot's side, as read this reconcile.
#[derive(Clone, Debug, PartialEq)]
pub enum Remote {
    /// No schedule id known.
    NotCreated,
    Found(Box<Schedule>),
    /// The id is known and ImmyBot answers 404.
    Gone,
}

pub struct Observed<'a> {
    pub spec: &'a ImmyBotScheduleSpec,
    pub status: &'a ImmyBotScheduleStatus,
    /// The definition the spec asks for, or why there is none.
    pub wanted: Result<ScheduleDefinition, String>,
    /// Whether the current digest is approved (and if not, why).
    pub approved: Result<String, String>,
    pub remote: Remote,
    /// With a pending create: the schedules that match it exactly.
    pub pending_matches: Option<Vec<i32>>,
    /// The target outgrew the count its approval names, in words
    /// (`blast_radius::count`).
    pub grew: Option<String>,
}

/// One ImmyBot write.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    None,
    /// Record the intent, then create.
    Create(ScheduleDefinition),
    Update {
        id: i32,
        definition: ScheduleDefinition,
        /// The fields that differed (drift) or changed (spec).
        fields: Vec<String>,
        drift: bool,
    },
    RunNow {
        id: i32,
        request: i32,
    },
    CancelRunning {
        id: i32,
        request: i32,
    },
}

/// How the object stands, for its conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    InSync,
    /// Waiting for something a person must do (approve, resolve).
    Waiting {
        reason: &'static str,
        message: String,
    },
    /// Cannot go on until the spec or ImmyBot changes.
    Stalled {
        reason: &'static str,
        message: String,
    },
    /// ImmyBot differs and the policy is to report it.
    Drifted {
        message: String,
    },
    /// A write is under way.
    Progressing {
        reason: &'static str,
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub step: Step,
    pub standing: Standing,
    /// Status changes that need no ImmyBot call (adoption of a found
    /// create, a run-now that was interrupted).
    pub status: ImmyBotScheduleStatus,
    /// (reason, message, warning) for an event.
    pub event: Option<(&'static str, String, bool)>,
}

impl Decision {
    fn new(step: Step, standing: Standing, status: ImmyBotScheduleStatus) -> Self {
        Self {
            step,
            standing,
            status,
            event: None,
        }
    }

    fn event(mut self, reason: &'static str, message: String, warning: bool) -> Self {
        self.event = Some((reason, message, warning));
        self
    }
}

fn progressing(reason: &'static str, message: impl Into<String>) -> Standing {
    Standing::Progressing {
        reason,
        message: message.into(),
    }
}

fn waiting(message: String) -> Standing {
    Standing::Waiting {
        reason: "AwaitingApproval",
        message,
    }
}

fn grown(message: &str) -> Standing {
    Standing::Waiting {
        reason: "BlastRadiusGrew",
        message: message.to_owned(),
    }
}

/// The rules above, in order: each stage decides or passes.
pub fn decide(o: &Observed<'_>) -> Decision {
    let status = o.status.clone();
    // 1. A spec that is no definition.
    let wanted = match &o.wanted {
        Ok(w) => w.clone(),
        Err(why) => {
            let stalled = Standing::Stalled {
                reason: "InvalidSpec",
                message: why.clone(),
            };
            return Decision::new(Step::None, stalled, status);
        }
    };
    // 2. An interrupted create.
    let mut status = status;
    if let Some(decided) = interrupted_create(o, &mut status, &wanted) {
        return decided;
    }
    // 3. Not created yet.
    let Some(id) = status.schedule_id else {
        return not_created(o, status, wanted);
    };
    // What ImmyBot should hold: the spec if approved; otherwise the
    // definition approved before, `disabled` following `suspend`.
    let held = Held::of(o, &status, &wanted);
    let remote = match &o.remote {
        Remote::Found(r) => r,
        Remote::Gone => return gone(o, status, id, held.desired),
        Remote::NotCreated => return Decision::new(Step::None, Standing::InSync, status),
    };
    let Some(desired) = held.desired else {
        // Adopted, never approved: watch only.
        let message = format!(
            "ImmyBot schedule {id} is adopted as it is; its definition is replaced once approved: {}",
            o.approved.clone().err().unwrap_or_default()
        );
        return Decision::new(Step::None, waiting(message), status);
    };
    // 4. One write per reconcile: the definition first.
    if let Some(decided) = keep_in_sync(o, &status, id, remote, desired) {
        return decided;
    }
    // 5. In sync: the requests, then where the approval stands.
    requests(o, status, id, held.waiting_for_change)
}

/// With a create whose answer was never recorded: exactly one match is
/// taken over, none is created again, several stop with Stalled (unless a
/// person named the one to keep with `spec.adopt`). `None` when there is
/// no such create.
fn interrupted_create(
    o: &Observed<'_>,
    status: &mut ImmyBotScheduleStatus,
    wanted: &ScheduleDefinition,
) -> Option<Decision> {
    let pending = match (&status.pending_create, status.schedule_id) {
        (Some(p), None) => p.clone(),
        _ => return None,
    };
    let mut status = std::mem::take(status);
    let mut matches = o.pending_matches.clone().unwrap_or_default();
    // A person resolving an ambiguous create names the one to keep.
    if let Some(keep) = o.spec.adopt.as_ref().map(|a| a.schedule_id)
        && matches.contains(&keep)
    {
        matches = vec![keep];
    }
    Some(match matches.as_slice() {
        [one] => {
            status.schedule_id = Some(*one);
            status.applied_digest = Some(pending.digest.clone());
            status.pending_create = None;
            Decision::new(Step::None, progressing("Adopted", format!("ImmyBot schedule {one}")), status).event(
                "FoundAfterInterruptedCreate",
                format!(
                    "the create of ImmyBot schedule {one} was interrupted before its answer was recorded; found it by its exact definition and took it over"
                ),
                false,
            )
        }
        [] => {
            let definition = status
                .applied_definition
                .clone()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_else(|| wanted.clone());
            Decision::new(
                Step::Create(definition),
                progressing(
                    "Creating",
                    "an interrupted create left no schedule in ImmyBot; creating it again",
                ),
                status,
            )
        }
        many => {
            let ids: Vec<String> = many.iter().map(i32::to_string).collect();
            let stalled = Standing::Stalled {
                reason: "AmbiguousCreate",
                message: format!(
                    "a create was interrupted and ImmyBot now has {} schedules with exactly this definition (ids {}); nothing more is created. Delete the extra ones in ImmyBot (the one left is taken over), or set spec.adopt.scheduleId to the one to keep",
                    many.len(),
                    ids.join(", ")
                ),
            };
            Decision::new(Step::None, stalled, status)
        }
    })
}

/// No schedule yet: take over the one `spec.adopt` names, or create one
/// once approved.
fn not_created(o: &Observed<'_>, mut status: ImmyBotScheduleStatus, wanted: ScheduleDefinition) -> Decision {
    if let Some(adopt) = &o.spec.adopt {
        let id = adopt.schedule_id;
        return match &o.remote {
            Remote::Found(_) => {
                status.schedule_id = Some(id);
                let message = format!("took over ImmyBot schedule {id}");
                Decision::new(Step::None, progressing("Adopted", message.clone()), status)
                    .event("Adopted", message, false)
            }
            _ => {
                let stalled = Standing::Stalled {
                    reason: "AdoptedScheduleMissing",
                    message: format!("spec.adopt.scheduleId {id} is not a schedule of this ImmyBot instance"),
                };
                Decision::new(Step::None, stalled, status)
            }
        };
    }
    match &o.approved {
        Ok(_) if o.grew.is_some() => Decision::new(Step::None, grown(o.grew.as_deref().unwrap_or_default()), status),
        Ok(_) => Decision::new(
            Step::Create(wanted),
            progressing("Creating", "creating the schedule in ImmyBot"),
            status,
        ),
        Err(why) => Decision::new(
            Step::None,
            waiting(format!("nothing is created in ImmyBot before approval: {why}")),
            status,
        ),
    }
}

/// What ImmyBot should hold, and whether a changed spec waits for approval.
struct Held {
    /// The spec if approved; else the definition approved before with
    /// `disabled` following `suspend`; `None` if nothing was ever approved.
    desired: Option<ScheduleDefinition>,
    /// The spec differs from what was approved (beyond `disabled`).
    waiting_for_change: bool,
}

impl Held {
    fn of(o: &Observed<'_>, status: &ImmyBotScheduleStatus, wanted: &ScheduleDefinition) -> Self {
        let approved = o.approved.is_ok();
        let applied: Option<ScheduleDefinition> = status
            .applied_definition
            .clone()
            .and_then(|v| serde_json::from_value(v).ok());
        let mut desired = if approved {
            Some(wanted.clone())
        } else {
            applied.clone().map(|mut d| {
                d.disabled = Some(o.spec.suspend);
                d
            })
        };
        // Outgrown: what it holds stays, disabled.
        if let (Some(d), Some(_)) = (desired.as_mut(), &o.grew) {
            d.disabled = Some(true);
        }
        let waiting_for_change = !approved
            && applied.is_some_and(|mut a| {
                a.disabled = wanted.disabled;
                a != *wanted
            });
        Self {
            desired,
            waiting_for_change,
        }
    }
}

/// The schedule was deleted in ImmyBot: recreate the approved definition
/// (`Correct`) or report it (`Report`).
fn gone(o: &Observed<'_>, mut status: ImmyBotScheduleStatus, id: i32, desired: Option<ScheduleDefinition>) -> Decision {
    match (o.spec.drift_policy, desired) {
        (DriftPolicy::Correct, Some(d)) => {
            status.schedule_id = None;
            status.applied_definition = None;
            let message = format!("ImmyBot schedule {id} was deleted in ImmyBot; recreating the approved definition");
            Decision::new(Step::Create(d), progressing("Recreating", message.clone()), status).event(
                "RecreatedAfterDeletion",
                message,
                true,
            )
        }
        _ => {
            let drifted = Standing::Drifted {
                message: format!("ImmyBot schedule {id} was deleted in ImmyBot (driftPolicy Report: not recreated)"),
            };
            Decision::new(Step::None, drifted, status)
        }
    }
}

/// ImmyBot's schedule differs from what it should hold: our change goes
/// out; a change made in ImmyBot is put back (`Correct`) or reported.
fn keep_in_sync(
    o: &Observed<'_>,
    status: &ImmyBotScheduleStatus,
    id: i32,
    remote: &Schedule,
    desired: ScheduleDefinition,
) -> Option<Decision> {
    let differing = remote.differences(&desired);
    if differing.is_empty() {
        return None;
    }
    let ours = status.applied_digest.as_deref() != Some(definition_digest(&desired).as_str());
    if ours || o.spec.drift_policy == DriftPolicy::Correct {
        return Some(Decision::new(
            Step::Update {
                id,
                definition: desired,
                fields: differing,
                drift: !ours,
            },
            progressing("Updating", format!("updating ImmyBot schedule {id}")),
            status.clone(),
        ));
    }
    let drifted = Standing::Drifted {
        message: format!(
            "ImmyBot schedule {id} differs from the approved definition in {} (driftPolicy Report: not corrected)",
            differing.join(", ")
        ),
    };
    Some(Decision::new(Step::None, drifted, status.clone()))
}

/// In sync: a run-now request (never repeated after an interruption), then
/// a cancel-running request, then where the approval stands.
fn requests(o: &Observed<'_>, mut status: ImmyBotScheduleStatus, id: i32, waiting_for_change: bool) -> Decision {
    let mut event = None;
    if let Some(why) = &o.grew {
        // Cancelling what runs stays open; running more does not.
        let decided = if o.spec.cancel_running.requests > status.cancel_running_handled {
            let cancel = Step::CancelRunning {
                id,
                request: o.spec.cancel_running.requests,
            };
            Decision::new(cancel, grown(why), status)
        } else {
            Decision::new(Step::None, grown(why), status)
        };
        return decided;
    }
    if o.spec.run_now.requests > status.run_now_handled {
        let Some(pending) = status.run_now_pending else {
            let run = Step::RunNow {
                id,
                request: o.spec.run_now.requests,
            };
            return Decision::new(run, Standing::InSync, status);
        };
        // Interrupted: it may have run. Never repeated.
        status.run_now_handled = pending.max(status.run_now_handled);
        status.run_now_pending = None;
        event = Some((
            "RunNowUnconfirmed",
            format!(
                "run-now request {pending} was interrupted before ImmyBot's answer was recorded; it is not sent again (it may have run). Ask again if it did not"
            ),
            true,
        ));
    }
    let mut decided = if o.spec.cancel_running.requests > status.cancel_running_handled {
        let cancel = Step::CancelRunning {
            id,
            request: o.spec.cancel_running.requests,
        };
        Decision::new(cancel, Standing::InSync, status)
    } else if waiting_for_change {
        let why = o.approved.clone().err().unwrap_or_default();
        let message = format!(
            "the spec changed; ImmyBot keeps the previously approved definition until the new digest is approved: {why}"
        );
        Decision::new(Step::None, waiting(message), status)
    } else {
        Decision::new(Step::None, Standing::InSync, status)
    };
    decided.event = event;
    decided
}

#[cfg(test)]
mod tests;
