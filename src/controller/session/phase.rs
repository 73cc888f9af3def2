//! The status fields that follow from a decision: the phase and the kstatus
//! conditions that go with it, the Approved condition and approval record,
//! the one-line target summary. Pure.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::{ApprovalRecord, ImmyBotRefs, MaintenanceSessionSpec, MaintenanceSessionStatus, Phase};
use crate::controller::approval::Verdict;
use crate::controller::approval::digest::ApprovalDigest;
use crate::controller::conditions::{self, APPROVED, READY, RECONCILING, STALLED, SUCCEEDED};

pub(super) fn target_summary(spec: &MaintenanceSessionSpec, st: &MaintenanceSessionStatus) -> String {
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
    if let Some(o) = &spec.observe {
        // The computer, once ImmyBot said which.
        let computer = st
            .computers
            .first()
            .map(|c| {
                format!(
                    " on {}",
                    c.name.clone().unwrap_or_else(|| format!("computer #{}", c.id))
                )
            })
            .unwrap_or_default();
        return format!("observed session #{}{computer}", o.session_id);
    }
    "nothing".into()
}

/// When and where a decision is made: what every status change is stamped
/// with (the generation it observed, the time, the ImmyBot instance).
#[derive(Clone, Copy, Debug)]
pub(super) struct At<'a> {
    pub generation: Option<i64>,
    pub now: jiff::Timestamp,
    pub instance: &'a str,
    pub connection: Option<&'a crate::api::ConnectionRef>,
}

/// Sets the Approved condition and keeps the approval record in step with
/// the digest. Returns whether the session is approved now.
pub(super) fn record_approval(
    st: &mut MaintenanceSessionStatus,
    verdict: &Verdict,
    own_digest: &ApprovalDigest,
    when: At<'_>,
) -> bool {
    let generation = when.generation;
    match verdict {
        Verdict::Approved {
            approved_by,
            method,
            source,
            comment,
            at,
            digest,
            computers,
            plan_digest,
        } => {
            // The digest the approver saw: this object's, or for a run
            // of a MaintenanceSchedule approved by a standing approval,
            // its template's.
            let approved = digest.clone().unwrap_or_else(|| own_digest.to_string());
            conditions::set(
                &mut st.conditions,
                APPROVED,
                true,
                method.as_str(),
                format!("approved by {approved_by} for {approved}"),
                generation,
                when.now,
            );
            let same = st.approval.as_ref().is_some_and(|r| {
                r.digest == approved
                    && r.approved_by == *approved_by
                    && r.computers == *computers
                    && r.plan_digest == *plan_digest
            });
            if !same {
                st.approval = Some(ApprovalRecord {
                    digest: approved,
                    approved_by: approved_by.clone(),
                    approved_at: Time(at.unwrap_or(when.now)),
                    method: method.as_str().into(),
                    source: source.clone(),
                    comment: comment.clone(),
                    computers: *computers,
                    plan_digest: plan_digest.clone(),
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
                when.now,
            );
            // A record for another digest no longer describes this spec; the
            // record of what started the sessions stays in the attempts' events.
            if st.approval.as_ref().is_some_and(|r| r.digest != own_digest.as_str())
                || st.immybot.as_ref().is_none_or(|r| r.attempts.is_empty())
            {
                st.approval = None;
            }
            false
        }
    }
}

/// Sets the phase and the kstatus conditions that follow from it:
/// - in progress: `Reconciling=True`, `Ready=False`, `Succeeded=Unknown`;
/// - `Succeeded`: `Ready=True`, `Succeeded=True`;
/// - any other final phase: `Stalled=True`, `Ready=False`, `Succeeded=False`;
/// - waiting on a person (approval, suspend): `Ready=False` only, so that
///   kstatus reports it as in progress without a controller working on it.
pub(super) fn set_phase(
    st: &mut MaintenanceSessionStatus,
    at: At<'_>,
    phase: Phase,
    reason: &str,
    message: impl Into<String>,
) {
    let message = message.into();
    let (g, now) = (at.generation, at.now);
    st.phase = Some(phase);
    // Which instance, through which connection: set on the first decision,
    // followed while nothing was started (the requester may name another
    // connection), fixed once anything was (its sessions live there).
    match &mut st.immybot {
        None => {
            st.immybot = Some(ImmyBotRefs {
                instance: at.instance.into(),
                connection: at.connection.cloned(),
                attempts: vec![],
            })
        }
        Some(refs) if refs.attempts.is_empty() && st.start_time.is_none() => {
            refs.instance = at.instance.into();
            refs.connection = at.connection.cloned();
        }
        Some(_) => {}
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
        Phase::Halted => {
            // Not final (a person may continue it), but nothing will happen
            // until someone acts: kstatus reads Stalled as Failed.
            conditions::set(c, READY, false, reason, message.clone(), g, now);
            conditions::remove(c, RECONCILING);
            conditions::set(c, STALLED, true, reason, message.clone(), g, now);
            conditions::set_raw(c, SUCCEEDED, "Unknown", reason, message, g, now);
        }
        Phase::AwaitingApproval | Phase::Suspended | Phase::WaitingForWindow => {
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
