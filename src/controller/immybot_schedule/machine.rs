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

pub fn decide(o: &Observed<'_>) -> Decision {
    let mut status = o.status.clone();
    let mut event = None;
    let stalled = |reason, message: String| Standing::Stalled { reason, message };
    let done = |step, standing, status, event| Decision {
        step,
        standing,
        status,
        event,
    };
    let wanted = match &o.wanted {
        Ok(w) => w.clone(),
        Err(why) => return done(Step::None, stalled("InvalidSpec", why.clone()), status, None),
    };
    let approved = o.approved.is_ok();
    // 2. An interrupted create.
    if status.schedule_id.is_none()
        && let Some(pending) = status.pending_create.clone()
    {
        let mut matches = o.pending_matches.clone().unwrap_or_default();
        // A person resolving an ambiguous create names the one to keep.
        if let Some(keep) = o.spec.adopt.as_ref().map(|a| a.schedule_id)
            && matches.contains(&keep)
        {
            matches = vec![keep];
        }
        match matches.as_slice() {
            [one] => {
                status.schedule_id = Some(*one);
                status.applied_digest = Some(pending.digest.clone());
                status.pending_create = None;
                event = Some((
                    "FoundAfterInterruptedCreate",
                    format!(
                        "the create of ImmyBot schedule {one} was interrupted before its answer was recorded; found it by its exact definition and took it over"
                    ),
                    false,
                ));
                return done(
                    Step::None,
                    Standing::Progressing {
                        reason: "Adopted",
                        message: format!("ImmyBot schedule {one}"),
                    },
                    status,
                    event,
                );
            }
            [] => {
                let definition = status
                    .applied_definition
                    .clone()
                    .and_then(|v| serde_json::from_value(v).ok())
                    .unwrap_or(wanted);
                return done(
                    Step::Create(definition),
                    Standing::Progressing {
                        reason: "Creating",
                        message: "an interrupted create left no schedule in ImmyBot; creating it again".into(),
                    },
                    status,
                    None,
                );
            }
            many => {
                let ids: Vec<String> = many.iter().map(i32::to_string).collect();
                return done(
                    Step::None,
                    stalled(
                        "AmbiguousCreate",
                        format!(
                            "a create was interrupted and ImmyBot now has {} schedules with exactly this definition (ids {}); nothing more is created. Delete the extra ones in ImmyBot (the one left is taken over), or set spec.adopt.scheduleId to the one to keep",
                            many.len(),
                            ids.join(", ")
                        ),
                    ),
                    status,
                    None,
                );
            }
        }
    }
    let Some(id) = status.schedule_id else {
        // 3. Not created yet.
        if let Some(adopt) = &o.spec.adopt {
            return match &o.remote {
                Remote::Found(_) => {
                    status.schedule_id = Some(adopt.schedule_id);
                    done(
                        Step::None,
                        Standing::Progressing {
                            reason: "Adopted",
                            message: format!("took over ImmyBot schedule {}", adopt.schedule_id),
                        },
                        status,
                        Some((
                            "Adopted",
                            format!("took over ImmyBot schedule {}", adopt.schedule_id),
                            false,
                        )),
                    )
                }
                _ => done(
                    Step::None,
                    stalled(
                        "AdoptedScheduleMissing",
                        format!(
                            "spec.adopt.scheduleId {} is not a schedule of this ImmyBot instance",
                            adopt.schedule_id
                        ),
                    ),
                    status,
                    None,
                ),
            };
        }
        return match &o.approved {
            Ok(_) => done(
                Step::Create(wanted),
                Standing::Progressing {
                    reason: "Creating",
                    message: "creating the schedule in ImmyBot".into(),
                },
                status,
                None,
            ),
            Err(why) => done(
                Step::None,
                Standing::Waiting {
                    reason: "AwaitingApproval",
                    message: format!("nothing is created in ImmyBot before approval: {why}"),
                },
                status,
                None,
            ),
        };
    };
    // What ImmyBot should hold: the spec if approved; otherwise the
    // definition approved before, `disabled` following `suspend`.
    let applied: Option<ScheduleDefinition> = status
        .applied_definition
        .clone()
        .and_then(|v| serde_json::from_value(v).ok());
    let desired = if approved {
        Some(wanted.clone())
    } else {
        applied.clone().map(|mut d| {
            d.disabled = Some(o.spec.suspend);
            d
        })
    };
    let waiting_for_change = !approved
        && applied.is_some_and(|a| {
            let mut a = a;
            a.disabled = wanted.disabled;
            a != wanted
        });
    let remote = match &o.remote {
        Remote::Found(r) => r,
        Remote::Gone => {
            return match (o.spec.drift_policy, desired) {
                (DriftPolicy::Correct, Some(d)) => {
                    status.schedule_id = None;
                    status.applied_definition = None;
                    done(
                        Step::Create(d),
                        Standing::Progressing {
                            reason: "Recreating",
                            message: format!(
                                "ImmyBot schedule {id} was deleted in ImmyBot; recreating the approved definition"
                            ),
                        },
                        status,
                        Some((
                            "RecreatedAfterDeletion",
                            format!("ImmyBot schedule {id} was deleted in ImmyBot; recreating the approved definition"),
                            true,
                        )),
                    )
                }
                _ => done(
                    Step::None,
                    Standing::Drifted {
                        message: format!(
                            "ImmyBot schedule {id} was deleted in ImmyBot (driftPolicy Report: not recreated)"
                        ),
                    },
                    status,
                    None,
                ),
            };
        }
        Remote::NotCreated => return done(Step::None, Standing::InSync, status, None),
    };
    let Some(desired) = desired else {
        // Adopted, never approved: watch only.
        return done(
            Step::None,
            Standing::Waiting {
                reason: "AwaitingApproval",
                message: format!(
                    "ImmyBot schedule {id} is adopted as it is; its definition is replaced once approved: {}",
                    o.approved.clone().err().unwrap_or_default()
                ),
            },
            status,
            None,
        );
    };
    let differing = remote.differences(&desired);
    if !differing.is_empty() {
        let ours = status.applied_digest.as_deref() != Some(definition_digest(&desired).as_str());
        if ours || o.spec.drift_policy == DriftPolicy::Correct {
            return done(
                Step::Update {
                    id,
                    definition: desired,
                    fields: differing,
                    drift: !ours,
                },
                Standing::Progressing {
                    reason: "Updating",
                    message: format!("updating ImmyBot schedule {id}"),
                },
                status,
                None,
            );
        }
        return done(
            Step::None,
            Standing::Drifted {
                message: format!(
                    "ImmyBot schedule {id} differs from the approved definition in {} (driftPolicy Report: not corrected)",
                    differing.join(", ")
                ),
            },
            status,
            None,
        );
    }
    // In sync: the requests.
    if o.spec.run_now.requests > status.run_now_handled {
        if let Some(pending) = status.run_now_pending {
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
        } else {
            return done(
                Step::RunNow {
                    id,
                    request: o.spec.run_now.requests,
                },
                Standing::InSync,
                status,
                None,
            );
        }
    }
    if o.spec.cancel_running.requests > status.cancel_running_handled {
        return done(
            Step::CancelRunning {
                id,
                request: o.spec.cancel_running.requests,
            },
            Standing::InSync,
            status,
            event,
        );
    }
    if waiting_for_change {
        let why = o.approved.clone().err().unwrap_or_default();
        return done(
            Step::None,
            Standing::Waiting {
                reason: "AwaitingApproval",
                message: format!(
                    "the spec changed; ImmyBot keeps the previously approved definition until the new digest is approved: {why}"
                ),
            },
            status,
            event,
        );
    }
    done(Step::None, Standing::InSync, status, event)
}

#[cfg(test)]
mod tests;
