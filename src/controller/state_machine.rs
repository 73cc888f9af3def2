//! The MaintenanceSession state machine: observed state in, the next status
//! and the one next step out. Pure: no clients, no clock, no I/O, so every
//! transition is a unit test (below). The shell (`reconciler.rs`) gathers
//! what is observed, calls [`decide`], writes the status and performs the step.
//!
//! Steps are single and idempotent; after performing one, the shell decides
//! again. See docs/design.md for the phases and the start protocol.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::approval::Verdict;
use super::conditions::{self, APPROVED, READY, RECONCILING, STALLED, SUCCEEDED};
use super::digest::ApprovalDigest;
use super::group_id::SessionGroupId;
use super::status_mapping::{Aggregate, log_tail, map_sessions};
use crate::api::{
    ApprovalRecord, Attempt, ImmyBotRefs, MaintenanceSession, MaintenanceSessionSpec, MaintenanceSessionStatus, Phase,
};
use crate::immybot::{MaintenanceSession as ImmySession, SessionLog};

/// Everything [`decide`] looks at.
pub struct Observed<'a> {
    pub object: &'a MaintenanceSession,
    pub digest: &'a ApprovalDigest,
    pub verdict: &'a Verdict,
    /// ImmyBot's view of every session id recorded in status (all attempts).
    pub sessions: &'a [ImmySession],
    /// Recent log lines of some of those sessions.
    pub logs: &'a [SessionLog],
    pub now: Timestamp,
    /// The ImmyBot instance, as recorded in status.
    pub instance: &'a str,
    /// How long an unanswered start may still be in flight elsewhere before
    /// its sessions are looked up (see the start protocol).
    pub start_grace: Duration,
}

/// The next thing to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Nothing but the status.
    None,
    /// Resolve computer or tenant names to ImmyBot ids.
    ResolveTargets,
    /// Record this attempt's intent (a write with a resourceVersion
    /// precondition), then send the start.
    Start(Attempt),
    /// An attempt's answer never arrived: find its sessions by group id; if
    /// there are none, start it again.
    Adopt { attempt: i32 },
    /// Cancel these ImmyBot sessions.
    Cancel { session_ids: Vec<i32> },
}

/// What [`decide`] concluded.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub status: MaintenanceSessionStatus,
    pub step: Step,
    /// When to look again if nothing else triggers a reconcile.
    pub requeue_after: Option<Duration>,
}

/// How often a session that is waiting on ImmyBot is looked at, besides the
/// poller's triggers.
const RUNNING_RECHECK: Duration = Duration::from_secs(60);
/// How long to wait before trying computers ImmyBot reported busy again.
const BUSY_RETRY: Duration = Duration::from_secs(60);

pub fn decide(o: &Observed<'_>) -> Decision {
    let spec = &o.object.spec;
    let generation = o.object.metadata.generation;
    let uid = o.object.metadata.uid.clone().unwrap_or_default();
    let mut st = o.object.status.clone().unwrap_or_default();
    st.observed_generation = generation;
    st.approval_digest = Some(o.digest.to_string());
    st.target_summary = Some(target_summary(spec, &st));
    let approved = record_approval(&mut st, o);

    let expected = match (&spec.target.computer, &spec.target.computers) {
        (Some(_), _) => Some(1),
        (_, Some(list)) => Some(list.len()),
        _ => None,
    };
    let mapped = map_sessions(o.sessions, expected);
    if let Some(m) = &mapped {
        st.summary = Some(m.summary.clone());
        st.items = m.items.clone();
        st.computers = m.computers.clone();
        st.progress = Some(m.progress.clone());
    }
    if !o.logs.is_empty() {
        st.log_tail = log_tail(o.logs);
    }
    let attempts: Vec<Attempt> = st.immybot.as_ref().map(|r| r.attempts.clone()).unwrap_or_default();
    let current = attempts.last();
    let active_ids: Vec<i32> = o
        .sessions
        .iter()
        .filter(|s| !s.session_status.as_ref().is_some_and(|x| x.is_terminal()))
        .map(|s| s.id)
        .collect();
    let unanswered = current.filter(|a| a.session_ids.is_empty() && a.busy_computer_ids.is_empty());

    // 1. Cancel and timeout come first: they stop whatever else would happen.
    let timed_out = timeout_passed(spec, &st, o.now);
    if spec.cancel.is_some() || timed_out {
        let (final_phase, why) = match &spec.cancel {
            Some(c) => (Phase::Cancelled, format!("cancelled: {}", c.reason)),
            None => (
                Phase::TimedOut,
                format!("spec.timeout ({}) passed", spec.timeout.clone().unwrap_or_default()),
            ),
        };
        if st.phase.is_some_and(Phase::is_final) {
            // Finished already: there is nothing left to cancel.
            return settle(st, o, None);
        }
        if let Some(a) = unanswered {
            // Cannot cancel what we cannot name: find the sessions first.
            return waiting_or_adopt(st, o, a, &why);
        }
        if !active_ids.is_empty() {
            let phase = st.phase.unwrap_or(Phase::Running);
            set_phase(
                &mut st,
                o,
                phase,
                "Cancelling",
                format!("{why}; cancelling {} ImmyBot session(s)", active_ids.len()),
            );
            return Decision {
                status: st,
                step: Step::Cancel {
                    session_ids: active_ids,
                },
                requeue_after: Some(Duration::from_secs(5)),
            };
        }
        if st.phase != Some(final_phase) {
            set_phase(&mut st, o, final_phase, phase_reason(final_phase), why);
        }
        return settle(st, o, None);
    }

    // 2. Nothing started yet.
    let Some(current) = current else {
        // Suspend is the person's explicit hold, so it shows before approval;
        // the Approved condition still says where the approval stands.
        if spec.suspend {
            set_phase(
                &mut st,
                o,
                Phase::Suspended,
                "Suspended",
                "spec.suspend is true: nothing will start until it is false",
            );
            return settle(st, o, None);
        }
        if !approved {
            let message = conditions::get(&st.conditions, APPROVED)
                .map(|c| c.message.clone())
                .unwrap_or_default();
            set_phase(&mut st, o, Phase::AwaitingApproval, "AwaitingApproval", message);
            return settle(st, o, None);
        }
        if needs_resolution(spec, &st) {
            set_phase(
                &mut st,
                o,
                Phase::Pending,
                "ResolvingTargets",
                "looking up computer and tenant names in ImmyBot",
            );
            return Decision {
                status: st,
                step: Step::ResolveTargets,
                requeue_after: None,
            };
        }
        let attempt = new_attempt(&uid, 1, o.now, first_targets(spec, &st));
        set_phase(
            &mut st,
            o,
            Phase::Starting,
            "Starting",
            "starting the maintenance in ImmyBot",
        );
        return Decision {
            status: st,
            step: Step::Start(attempt),
            requeue_after: None,
        };
    };

    // 3. The current attempt has no answer yet.
    if current.session_ids.is_empty() {
        if !current.busy_computer_ids.is_empty() {
            let age = age(current, o.now);
            let message = format!(
                "ImmyBot reports computer(s) {:?} busy with another session; trying again in a minute",
                current.busy_computer_ids
            );
            if age < BUSY_RETRY || !approved || spec.suspend {
                set_phase(&mut st, o, Phase::Queued, "ComputersBusy", message);
                return settle(st, o, Some(BUSY_RETRY.saturating_sub(age).max(Duration::from_secs(1))));
            }
            let retry = new_attempt(&uid, current.number, o.now, current.computer_ids.clone());
            set_phase(&mut st, o, Phase::Starting, "Starting", message);
            return Decision {
                status: st,
                step: Step::Start(retry),
                requeue_after: None,
            };
        }
        return waiting_or_adopt(st, o, current, "the start's answer has not been recorded");
    }

    // 4. Sessions exist: mirror them.
    let Some(mapped) = mapped else {
        let phase = st.phase.unwrap_or(Phase::Queued);
        set_phase(&mut st, o, phase, "Observing", "reading the ImmyBot sessions");
        return settle(st, o, Some(Duration::from_secs(5)));
    };
    if st.start_time.is_none() {
        st.start_time = Some(Time(current.intent_time.0));
    }
    match mapped.aggregate {
        Aggregate::Queued => set_phase(
            &mut st,
            o,
            Phase::Queued,
            "Queued",
            "ImmyBot accepted the sessions and has not run them yet",
        ),
        Aggregate::Running => {
            let suffix = if spec.suspend {
                "; spec.suspend is true, but ImmyBot cannot pause a running session, so it goes on and no new attempt will start"
            } else {
                ""
            };
            set_phase(
                &mut st,
                o,
                Phase::Running,
                "Running",
                format!("{} of the computers finished{suffix}", mapped.progress),
            );
        }
        Aggregate::Postponed => set_phase(
            &mut st,
            o,
            Phase::Postponed,
            "Postponed",
            "a user postponed a reboot; the session waits until it is resumed in ImmyBot",
        ),
        Aggregate::AllPassed => set_phase(
            &mut st,
            o,
            Phase::Succeeded,
            "Succeeded",
            format!("all {} computer(s) passed", mapped.summary.computers),
        ),
        Aggregate::AllCancelled => set_phase(
            &mut st,
            o,
            Phase::Cancelled,
            "CancelledInImmyBot",
            "the sessions were cancelled in ImmyBot",
        ),
        Aggregate::Partial | Aggregate::AllFailed => {
            let allowed = 1 + spec.retry.limit.max(0) + spec.retry.requests.max(0);
            let used = attempts.len() as i32;
            if used < allowed && approved && !spec.suspend && !mapped.failed_computer_ids.is_empty() {
                let attempt = new_attempt(&uid, current.number + 1, o.now, mapped.failed_computer_ids.clone());
                st.completion_time = None;
                set_phase(
                    &mut st,
                    o,
                    Phase::Starting,
                    "Retrying",
                    format!(
                        "rerunning {} failed computer(s): attempt {} of {allowed}",
                        mapped.failed_computer_ids.len(),
                        current.number + 1
                    ),
                );
                return Decision {
                    status: st,
                    step: Step::Start(attempt),
                    requeue_after: None,
                };
            }
            let phase = if mapped.aggregate == Aggregate::AllFailed {
                Phase::Failed
            } else {
                Phase::PartiallySucceeded
            };
            let failed: Vec<String> = mapped
                .computers
                .iter()
                .filter(|c| c.session_status != "Passed")
                .take(5)
                .map(|c| {
                    format!(
                        "{} ({})",
                        c.name.clone().unwrap_or_else(|| c.id.to_string()),
                        c.session_status
                    )
                })
                .collect();
            let hint = if used < allowed {
                ""
            } else {
                "; increase spec.retry.requests to rerun the failed computers"
            };
            set_phase(
                &mut st,
                o,
                phase,
                phase_reason(phase),
                format!(
                    "{} computer(s) did not pass: {}{hint}",
                    mapped.failed_computer_ids.len(),
                    failed.join(", ")
                ),
            );
        }
    }
    let requeue = (!mapped.aggregate.is_finished()).then_some(RUNNING_RECHECK);
    settle(
        st,
        o,
        requeue.or_else(|| timeout_recheck(spec, &o.object.status, o.now)),
    )
}

/// The attempt was sent (or may have been): wait while it may still be in
/// flight elsewhere, then look its sessions up.
fn waiting_or_adopt(mut st: MaintenanceSessionStatus, o: &Observed<'_>, attempt: &Attempt, why: &str) -> Decision {
    let age = age(attempt, o.now);
    if age < o.start_grace {
        set_phase(
            &mut st,
            o,
            Phase::Starting,
            "Starting",
            format!("{why}; waiting for the start of attempt {} to complete", attempt.number),
        );
        return Decision {
            status: st,
            step: Step::None,
            requeue_after: Some(o.start_grace - age),
        };
    }
    set_phase(
        &mut st,
        o,
        Phase::Starting,
        "RecoveringStart",
        format!(
            "{why}; looking up the sessions of attempt {} by sessionGroupId {}",
            attempt.number, attempt.session_group_id
        ),
    );
    Decision {
        status: st,
        step: Step::Adopt {
            attempt: attempt.number,
        },
        requeue_after: None,
    }
}

fn settle(mut st: MaintenanceSessionStatus, o: &Observed<'_>, requeue_after: Option<Duration>) -> Decision {
    if st.phase.is_some_and(Phase::is_final) && st.completion_time.is_none() {
        st.completion_time = Some(Time(o.now));
    }
    Decision {
        status: st,
        step: Step::None,
        requeue_after,
    }
}

fn age(attempt: &Attempt, now: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(attempt.intent_time.0)).unwrap_or(Duration::ZERO)
}

fn new_attempt(uid: &str, number: i32, now: Timestamp, computer_ids: Vec<i32>) -> Attempt {
    Attempt {
        number,
        session_group_id: SessionGroupId::for_attempt(uid, number).to_string(),
        intent_time: Time(now),
        computer_ids,
        session_ids: vec![],
        ids_from: None,
        busy_computer_ids: vec![],
    }
}

/// The computer ids of the first attempt (empty for a tenant target).
fn first_targets(spec: &MaintenanceSessionSpec, st: &MaintenanceSessionStatus) -> Vec<i32> {
    let refs: Vec<&crate::api::ComputerRef> = spec
        .target
        .computer
        .iter()
        .chain(spec.target.computers.iter().flatten())
        .collect();
    let resolved = st
        .resolved_target
        .as_ref()
        .map(|r| r.computers.clone())
        .unwrap_or_default();
    refs.iter()
        .filter_map(|r| {
            r.id.or_else(|| {
                resolved
                    .iter()
                    .find(|n| {
                        n.name
                            .as_deref()
                            .is_some_and(|x| r.name.as_deref().is_some_and(|y| x.eq_ignore_ascii_case(y)))
                    })
                    .map(|n| n.id)
            })
        })
        .collect()
}

/// Whether any name in the target still lacks an id.
pub fn needs_resolution(spec: &MaintenanceSessionSpec, st: &MaintenanceSessionStatus) -> bool {
    let computers = spec
        .target
        .computer
        .iter()
        .chain(spec.target.computers.iter().flatten());
    let named_computers = computers.filter(|c| c.id.is_none()).count();
    let named_tenant = spec.target.tenant.as_ref().is_some_and(|t| t.id.is_none());
    let resolved = st.resolved_target.as_ref();
    let have_computers = resolved.map(|r| r.computers.len()).unwrap_or(0);
    let have_tenant = resolved.is_some_and(|r| r.tenant.is_some());
    named_computers > have_computers || (named_tenant && !have_tenant)
}

fn timeout_passed(spec: &MaintenanceSessionSpec, st: &MaintenanceSessionStatus, now: Timestamp) -> bool {
    match (parse_duration(spec.timeout.as_deref()), &st.start_time) {
        (Some(limit), Some(start)) => now.duration_since(start.0).as_secs_f64() >= limit.as_secs_f64(),
        _ => false,
    }
}

fn timeout_recheck(
    spec: &MaintenanceSessionSpec,
    old: &Option<MaintenanceSessionStatus>,
    now: Timestamp,
) -> Option<Duration> {
    let start = old.as_ref()?.start_time.as_ref()?;
    let limit = parse_duration(spec.timeout.as_deref())?;
    let elapsed = Duration::try_from(now.duration_since(start.0)).unwrap_or(Duration::ZERO);
    limit.checked_sub(elapsed)
}

/// Parses `90m`, `1h30m`, `45s`, `500ms` (what the schema's pattern allows).
pub fn parse_duration(text: Option<&str>) -> Option<Duration> {
    let text = text?;
    let mut total = Duration::ZERO;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let value: u64 = number.parse().ok()?;
        number.clear();
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                Duration::from_millis(value)
            }
            ('h', _) => Duration::from_secs(value * 3600),
            ('m', _) => Duration::from_secs(value * 60),
            ('s', _) => Duration::from_secs(value),
            _ => return None,
        };
        total += unit;
    }
    (number.is_empty() && total > Duration::ZERO).then_some(total)
}

fn target_summary(spec: &MaintenanceSessionSpec, st: &MaintenanceSessionStatus) -> String {
    let name = |c: &crate::api::ComputerRef| {
        c.name
            .clone()
            .unwrap_or_else(|| format!("#{}", c.id.unwrap_or_default()))
    };
    if let Some(c) = &spec.target.computer {
        return format!("computer {}", name(c));
    }
    if let Some(list) = &spec.target.computers {
        return format!("{} computers", list.len());
    }
    if let Some(t) = &spec.target.tenant {
        let label = t
            .name
            .clone()
            .or_else(|| st.resolved_target.as_ref()?.tenant.as_ref()?.name.clone());
        let label = label.unwrap_or_else(|| format!("#{}", t.id.unwrap_or_default()));
        return format!(
            "tenant {label}{}",
            if t.include_child_tenants { " (+children)" } else { "" }
        );
    }
    "nothing".into()
}

/// Sets the Approved condition and keeps the approval record in step with
/// the digest. Returns whether the session is approved now.
fn record_approval(st: &mut MaintenanceSessionStatus, o: &Observed<'_>) -> bool {
    let generation = o.object.metadata.generation;
    match o.verdict {
        Verdict::Approved {
            approved_by,
            method,
            source,
            comment,
            at,
        } => {
            conditions::set(
                &mut st.conditions,
                APPROVED,
                true,
                method.as_str(),
                format!("approved by {approved_by} for {}", o.digest),
                generation,
                o.now,
            );
            let same = st
                .approval
                .as_ref()
                .is_some_and(|r| r.digest == o.digest.as_str() && r.approved_by == *approved_by);
            if !same {
                st.approval = Some(ApprovalRecord {
                    digest: o.digest.to_string(),
                    approved_by: approved_by.clone(),
                    approved_at: Time(at.unwrap_or(o.now)),
                    method: method.as_str().into(),
                    source: source.clone(),
                    comment: comment.clone(),
                });
            }
            true
        }
        Verdict::NotApproved { reason, message } => {
            conditions::set(
                &mut st.conditions,
                APPROVED,
                false,
                reason,
                message.clone(),
                generation,
                o.now,
            );
            // A record for another digest no longer describes this spec; the
            // record of what started the sessions stays in the attempts' events.
            if st.approval.as_ref().is_some_and(|r| r.digest != o.digest.as_str())
                || st.immybot.as_ref().is_none_or(|r| r.attempts.is_empty())
            {
                st.approval = None;
            }
            false
        }
    }
}

fn phase_reason(phase: Phase) -> &'static str {
    match phase {
        Phase::Pending => "Pending",
        Phase::AwaitingApproval => "AwaitingApproval",
        Phase::Suspended => "Suspended",
        Phase::Starting => "Starting",
        Phase::Queued => "Queued",
        Phase::Running => "Running",
        Phase::Postponed => "Postponed",
        Phase::Succeeded => "Succeeded",
        Phase::PartiallySucceeded => "PartiallySucceeded",
        Phase::Failed => "Failed",
        Phase::Cancelled => "Cancelled",
        Phase::TimedOut => "TimedOut",
    }
}

/// Sets the phase and the kstatus conditions that follow from it:
/// - in progress: `Reconciling=True`, `Ready=False`, `Succeeded=Unknown`;
/// - `Succeeded`: `Ready=True`, `Succeeded=True`;
/// - any other final phase: `Stalled=True`, `Ready=False`, `Succeeded=False`;
/// - waiting on a person (approval, suspend): `Ready=False` only, so that
///   kstatus reports it as in progress without a controller working on it.
fn set_phase(
    st: &mut MaintenanceSessionStatus,
    o: &Observed<'_>,
    phase: Phase,
    reason: &str,
    message: impl Into<String>,
) {
    let message = message.into();
    let (g, now) = (o.object.metadata.generation, o.now);
    st.phase = Some(phase);
    if st.immybot.is_none() {
        st.immybot = Some(ImmyBotRefs {
            instance: o.instance.into(),
            attempts: vec![],
        });
    }
    let c = &mut st.conditions;
    match phase {
        Phase::Succeeded => {
            conditions::set(c, READY, true, reason, message.clone(), g, now);
            conditions::remove(c, RECONCILING);
            conditions::remove(c, STALLED);
            conditions::set_raw(c, SUCCEEDED, "True", reason, message, g, now);
        }
        p if p.is_final() => {
            conditions::set(c, READY, false, reason, message.clone(), g, now);
            conditions::remove(c, RECONCILING);
            conditions::set(c, STALLED, true, reason, message.clone(), g, now);
            conditions::set_raw(c, SUCCEEDED, "False", reason, message, g, now);
        }
        Phase::AwaitingApproval | Phase::Suspended => {
            conditions::set(c, READY, false, reason, message.clone(), g, now);
            conditions::remove(c, RECONCILING);
            conditions::remove(c, STALLED);
            conditions::set_raw(c, SUCCEEDED, "Unknown", reason, message, g, now);
        }
        _ => {
            conditions::set(c, READY, false, reason, message.clone(), g, now);
            conditions::set(c, RECONCILING, true, reason, message.clone(), g, now);
            conditions::remove(c, STALLED);
            conditions::set_raw(c, SUCCEEDED, "Unknown", reason, message, g, now);
        }
    }
}

#[cfg(test)]
#[path = "state_machine_tests.rs"]
mod tests;
