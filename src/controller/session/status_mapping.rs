//! ImmyBot sessions, as observed, mapped into the status a person reads. The
//! only place that knows both vocabularies for results.
//!
//! Size matters: a tenant of 5,000 computers must stay well under the 1.5 MiB
//! object limit (we aim for 256 KiB). Every computer is counted in `summary`
//! and every item in `items`; only the worst `MAX_COMPUTERS_IN_STATUS`
//! computers are listed in full.

use std::collections::BTreeMap;

use crate::controller::clock::stored_time;

use crate::api::{
    ActionStatus, ComputerStatus, ItemSummary, LOG_TAIL_LINES, LogLine, MAX_COMPUTERS_IN_STATUS, OutcomeSummary,
    StageStatuses,
};
use immybot_client::{
    MaintenanceActionResult, MaintenanceActionType, MaintenanceSession, SessionLog, SessionStatus, WireEnum as _,
};

/// Where the observed sessions stand, taken together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    /// Accepted by ImmyBot, none running yet.
    Queued,
    Running,
    /// Waiting for a user who postponed a reboot.
    Postponed,
    AllPassed,
    /// Everything ended; some passed and some did not.
    Partial,
    AllFailed,
    /// Everything ended cancelled (in ImmyBot, by someone).
    AllCancelled,
}

impl Aggregate {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            Aggregate::AllPassed | Aggregate::Partial | Aggregate::AllFailed | Aggregate::AllCancelled
        )
    }
}

/// The mapped view of the latest session of each computer.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapped {
    pub aggregate: Aggregate,
    pub summary: OutcomeSummary,
    pub items: Vec<ItemSummary>,
    pub computers: Vec<ComputerStatus>,
    /// `finished/total`, e.g. `7/10`.
    pub progress: String,
    /// The two numbers of `progress`.
    pub finished: i32,
    pub total: i32,
    /// Computers whose latest session did not pass: what a rerun targets.
    pub failed_computer_ids: Vec<i32>,
    /// Of those, the ones ImmyBot ended `Missed` (offline when it ran): a
    /// rollout counts them in a class of their own.
    pub offline_computer_ids: Vec<i32>,
}

/// Whether a session status counts as a failure of that computer.
fn is_failure(s: &SessionStatus) -> bool {
    matches!(
        s,
        SessionStatus::Failed
            | SessionStatus::PartialPassed
            | SessionStatus::Missed
            | SessionStatus::MaxTrackedDevicesPerMonthExceeded
            | SessionStatus::MaintenanceForTrackableDevicesNotAllowed
    )
}

/// How bad a computer's state is, for "worst first" (lower is worse).
fn severity(s: &SessionStatus) -> u8 {
    match s {
        SessionStatus::Failed => 0,
        SessionStatus::PartialPassed => 1,
        SessionStatus::Missed | SessionStatus::MaxTrackedDevicesPerMonthExceeded => 2,
        SessionStatus::MaintenanceForTrackableDevicesNotAllowed => 2,
        SessionStatus::Cancelled => 3,
        SessionStatus::Postponed => 4,
        SessionStatus::Running => 5,
        SessionStatus::Passed => 9,
        _ => 6,
    }
}

/// The newest session of each computer (a session without one stands
/// alone), leaving out computers in `skip`.
fn latest_by_computer<'a>(sessions: &'a [MaintenanceSession], skip: &[i32]) -> BTreeMap<i32, &'a MaintenanceSession> {
    let mut latest: BTreeMap<i32, &MaintenanceSession> = BTreeMap::new();
    for s in sessions {
        if s.computer_id.is_some_and(|c| skip.contains(&c)) {
            continue;
        }
        let key = s.computer_id.unwrap_or(-s.id);
        if latest.get(&key).is_none_or(|existing| existing.id <= s.id) {
            latest.insert(key, s);
        }
    }
    latest
}

/// Where a computer's newest session stands in status's list: worst
/// first, by session severity, then failed actions, then computer id.
fn listing_key(s: &MaintenanceSession) -> (u8, i32, i32) {
    let failed = s
        .maintenance_actions
        .iter()
        .flatten()
        .filter(|a| {
            matches!(
                a.result,
                Some(MaintenanceActionResult::Failed | MaintenanceActionResult::Indeterminable)
            )
        })
        .count() as i32;
    let status = s.session_status.clone().unwrap_or(SessionStatus::Created);
    (severity(&status), -failed, s.computer_id.unwrap_or_default())
}

/// The newest session of each computer in the order status lists them.
pub fn listing_order(sessions: &[MaintenanceSession]) -> Vec<&MaintenanceSession> {
    let mut order: Vec<&MaintenanceSession> = latest_by_computer(sessions, &[]).into_values().collect();
    order.sort_by_key(|s| listing_key(s));
    order
}

/// Maps sessions (any number of attempts) to status, keeping per computer
/// only the newest session.
///
/// `targeted` are the computers a `computer`/`computers` target names (None
/// for a tenant, whose computers are known only from ImmyBot's answers).
/// Once ImmyBot answered, a targeted computer with neither a session nor a
/// busy report never ran: it counts as not started (not passed) and is a
/// rerun candidate, so that a silently skipped computer cannot hide behind
/// a `Succeeded`. `waiting` are targeted computers that have not run yet
/// because ImmyBot reported them busy: they count as waiting, whatever an
/// earlier session of theirs says, so that nothing counts as finished while
/// one of them has not run.
///
/// `compliant`, when given, is ImmyBot's count of `NoAction` rows per item
/// (for large objects, whose `NoAction` rows are counted, not read): it sets
/// each item's `compliant` figure. `excerpts`: log excerpts of failed actions by action id
/// (`action_excerpts`).
pub fn map_sessions(
    sessions: &[MaintenanceSession],
    targeted: Option<&[i32]>,
    waiting: &[i32],
    compliant: Option<&BTreeMap<String, i64>>,
    excerpts: &BTreeMap<i32, Vec<String>>,
) -> Option<Mapped> {
    let latest = latest_by_computer(sessions, waiting);
    let mut waiting: Vec<i32> = waiting.to_vec();
    waiting.sort_unstable();
    waiting.dedup();
    if latest.is_empty() && waiting.is_empty() {
        return None;
    }
    let mut summary = OutcomeSummary {
        computers: (latest.len() + waiting.len()) as i32,
        waiting: waiting.len() as i32,
        ..Default::default()
    };
    let mut items: BTreeMap<String, ItemSummary> = BTreeMap::new();
    let mut failed_computer_ids = Vec::new();
    let mut offline_computer_ids = Vec::new();
    let mut all: Vec<((u8, i32, i32), ComputerStatus)> = Vec::with_capacity(latest.len());
    for (computer, s) in &latest {
        let status = s.session_status.clone().unwrap_or(SessionStatus::Created);
        match &status {
            SessionStatus::Passed => summary.passed += 1,
            SessionStatus::PartialPassed => summary.partially_passed += 1,
            SessionStatus::Failed
            | SessionStatus::MaxTrackedDevicesPerMonthExceeded
            | SessionStatus::MaintenanceForTrackableDevicesNotAllowed => summary.failed += 1,
            SessionStatus::Cancelled => summary.cancelled += 1,
            SessionStatus::Missed => summary.missed += 1,
            SessionStatus::Running => summary.running += 1,
            // GUESS: a session ImmyBot created and has not begun waits for
            // a place under its concurrent-session limit (the facts page:
            // the limit queues sessions; the document names no status
            // for "queued").
            SessionStatus::Created | SessionStatus::Pending => {
                summary.waiting += 1;
                summary.queued += 1;
            }
            _ => summary.waiting += 1,
        }
        if is_failure(&status) && *computer > 0 {
            failed_computer_ids.push(*computer);
            if status == SessionStatus::Missed {
                offline_computer_ids.push(*computer);
            }
        }
        let actions: Vec<ActionStatus> = s
            .maintenance_actions
            .iter()
            .flatten()
            .map(|a| {
                let name = super::action_reruns::action_name(a);
                let item = items.entry(name.clone()).or_insert_with(|| ItemSummary {
                    name: name.clone(),
                    maintenance_type: a.maintenance_type.as_ref().map(|t| t.name().into_owned()),
                    ..Default::default()
                });
                let compliant = a.action_type == Some(MaintenanceActionType::NoAction);
                match &a.result {
                    Some(MaintenanceActionResult::Success | MaintenanceActionResult::Resolved) if compliant => {
                        item.compliant += 1
                    }
                    Some(MaintenanceActionResult::Success | MaintenanceActionResult::Resolved) => item.succeeded += 1,
                    Some(MaintenanceActionResult::Failed | MaintenanceActionResult::Indeterminable) => item.failed += 1,
                    Some(MaintenanceActionResult::Pending) | None => item.pending += 1,
                    _ => item.other += 1,
                }
                ActionStatus {
                    name,
                    maintenance_type: a.maintenance_type.as_ref().map(|t| t.name().into_owned()),
                    action_type: a.action_type.as_ref().map(|t| t.name().into_owned()),
                    status: a.status.as_ref().map(|t| t.name().into_owned()),
                    result: a.result.as_ref().map(|t| t.name().into_owned()),
                    result_reason: a.result_reason.as_ref().map(|t| t.name().into_owned()),
                    message: a.result_reason_message.clone(),
                    detected_version: a.detected_version_string.clone(),
                    desired_version: a.desired_version_string.clone(),
                    start_time: a.start_time.map(|t| stored_time(t.0)),
                    end_time: a.end_time.map(|t| stored_time(t.0)),
                    id: Some(a.id),
                    session_id: (a.maintenance_session_id > 0 && a.maintenance_session_id != s.id)
                        .then_some(a.maintenance_session_id),
                    log_excerpt: excerpts.get(&a.id).cloned().unwrap_or_default(),
                }
            })
            .collect();
        let name = |st: &Option<SessionStatus>| st.as_ref().map(|v| v.name().into_owned());
        let computer_status = ComputerStatus {
            id: s.computer_id.unwrap_or_default(),
            name: s.computer_name.clone(),
            session_id: s.id,
            session_status: status.name().into_owned(),
            stages: StageStatuses {
                onboarding: name(&s.onboarding_stage_status),
                detection: name(&s.detection_stage_status),
                execution: name(&s.execution_stage_status),
                agent_updates: name(&s.agent_updates_stage_status),
                resolution: name(&s.resolution_stage_status),
                inventory: name(&s.inventory_stage_status),
            },
            actions,
        };
        all.push((listing_key(s), computer_status));
    }
    all.sort_by_key(|(key, _)| *key);
    let computers = all.into_iter().take(MAX_COMPUTERS_IN_STATUS).map(|(_, c)| c).collect();

    for (name, count) in compliant.into_iter().flatten() {
        let item = items.entry(name.clone()).or_insert_with(|| ItemSummary {
            name: name.clone(),
            ..Default::default()
        });
        item.compliant = i32::try_from(*count).unwrap_or(i32::MAX);
    }
    let unaccounted: Vec<i32> = targeted
        .into_iter()
        .flatten()
        .filter(|c| !latest.contains_key(c) && !waiting.contains(c))
        .copied()
        .collect();
    summary.computers += unaccounted.len() as i32;
    summary.not_started += unaccounted.len() as i32;
    failed_computer_ids.extend(&unaccounted);
    failed_computer_ids.sort_unstable();
    failed_computer_ids.dedup();

    let finished = summary.passed
        + summary.partially_passed
        + summary.failed
        + summary.cancelled
        + summary.missed
        + summary.not_started;
    let total = targeted
        .map(|t| t.len() as i32)
        .unwrap_or(summary.computers)
        .max(summary.computers);
    let aggregate = if finished < summary.computers {
        let statuses = latest.values().filter_map(|s| s.session_status.clone());
        let statuses: Vec<SessionStatus> = statuses.collect();
        if statuses.contains(&SessionStatus::Running) {
            Aggregate::Running
        } else if statuses.contains(&SessionStatus::Postponed) {
            Aggregate::Postponed
        } else {
            Aggregate::Queued
        }
    } else if summary.passed == summary.computers {
        Aggregate::AllPassed
    } else if summary.cancelled == summary.computers {
        Aggregate::AllCancelled
    } else if summary.passed == 0 && summary.partially_passed == 0 {
        // Nothing passed (never-started computers included).
        Aggregate::AllFailed
    } else {
        Aggregate::Partial
    };
    Some(Mapped {
        aggregate,
        summary,
        items: items.into_values().collect(),
        computers,
        progress: format!("{finished}/{total}"),
        finished,
        total,
        failed_computer_ids,
        offline_computer_ids,
    })
}

/// The newest `LOG_TAIL_LINES` lines over the given sessions' logs.
pub fn log_tail(logs: &[SessionLog]) -> Vec<LogLine> {
    let mut lines: Vec<&SessionLog> = logs.iter().filter(|l| l.message.is_some()).collect();
    lines.sort_by_key(|l| (l.time, l.id));
    let skip = lines.len().saturating_sub(LOG_TAIL_LINES);
    lines
        .into_iter()
        .skip(skip)
        .map(|l| LogLine {
            time: l.time.map(|t| stored_time(t.0)),
            session_id: l.maintenance_session_id,
            message: l.message.clone().unwrap_or_default().chars().take(500).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use immybot_client::*;

    fn session(id: i32, computer: i32, status: SessionStatus, actions: Vec<MaintenanceAction>) -> MaintenanceSession {
        MaintenanceSession {
            id,
            computer_id: Some(computer),
            computer_name: Some(format!("PC-{computer}")),
            session_status: Some(status),
            maintenance_actions: Some(actions),
            ..Default::default()
        }
    }

    fn action(name: &str, kind: MaintenanceActionType, result: MaintenanceActionResult) -> MaintenanceAction {
        MaintenanceAction {
            maintenance_display_name: Some(name.into()),
            action_type: Some(kind),
            result: Some(result),
            ..Default::default()
        }
    }

    #[test]
    fn aggregates_outcomes_and_items() {
        use MaintenanceActionResult as R;
        use MaintenanceActionType as T;
        let sessions = vec![
            session(
                1,
                10,
                SessionStatus::Passed,
                vec![
                    action("7-Zip", T::Update, R::Success),
                    action("Chrome", T::NoAction, R::Success),
                ],
            ),
            session(
                2,
                11,
                SessionStatus::PartialPassed,
                vec![
                    action("7-Zip", T::Update, R::Success),
                    action("VPN", T::Install, R::Failed),
                ],
            ),
        ];
        let m = map_sessions(&sessions, None, &[], None, &BTreeMap::new()).unwrap();
        assert_eq!(m.aggregate, Aggregate::Partial);
        assert_eq!((m.summary.passed, m.summary.partially_passed), (1, 1));
        assert_eq!(m.progress, "2/2");
        assert_eq!(m.failed_computer_ids, vec![11]);
        let zip = m.items.iter().find(|i| i.name == "7-Zip").unwrap();
        assert_eq!(zip.succeeded, 2);
        assert_eq!(m.items.iter().find(|i| i.name == "Chrome").unwrap().compliant, 1);
        assert_eq!(m.computers[0].id, 11, "worst computer first");
    }

    #[test]
    fn the_newest_session_of_a_computer_wins() {
        let sessions = vec![
            session(1, 10, SessionStatus::Failed, vec![]),
            session(5, 10, SessionStatus::Passed, vec![]),
        ];
        let m = map_sessions(&sessions, Some(&[10]), &[], None, &BTreeMap::new()).unwrap();
        assert_eq!(m.aggregate, Aggregate::AllPassed);
        assert_eq!(m.computers[0].session_id, 5);
    }

    #[test]
    fn counted_compliance_sets_the_items_compliant_figure() {
        use MaintenanceActionResult as R;
        use MaintenanceActionType as T;
        let sessions = vec![session(
            1,
            10,
            SessionStatus::Passed,
            vec![action("7-Zip", T::Update, R::Success)],
        )];
        let counts: BTreeMap<String, i64> = [("7-Zip".to_string(), 40), ("Chrome".to_string(), 41)].into();
        let m = map_sessions(&sessions, None, &[], Some(&counts), &BTreeMap::new()).unwrap();
        let zip = m.items.iter().find(|i| i.name == "7-Zip").unwrap();
        assert_eq!((zip.succeeded, zip.compliant), (1, 40));
        assert_eq!(m.items.iter().find(|i| i.name == "Chrome").unwrap().compliant, 41);
    }

    #[test]
    fn running_postponed_and_queued() {
        let m = |statuses: &[SessionStatus]| {
            let s: Vec<_> = statuses
                .iter()
                .enumerate()
                .map(|(i, st)| session(i as i32 + 1, i as i32 + 10, st.clone(), vec![]))
                .collect();
            map_sessions(&s, None, &[], None, &BTreeMap::new()).unwrap().aggregate
        };
        assert_eq!(m(&[SessionStatus::Passed, SessionStatus::Running]), Aggregate::Running);
        assert_eq!(
            m(&[SessionStatus::Postponed, SessionStatus::Created]),
            Aggregate::Postponed
        );
        assert_eq!(m(&[SessionStatus::Created, SessionStatus::Pending]), Aggregate::Queued);
        let queued = |statuses: &[SessionStatus]| {
            let s: Vec<_> = statuses
                .iter()
                .enumerate()
                .map(|(i, st)| session(i as i32 + 1, i as i32 + 10, st.clone(), vec![]))
                .collect();
            let summary = map_sessions(&s, None, &[], None, &BTreeMap::new()).unwrap().summary;
            (summary.queued, summary.waiting)
        };
        // Queued in ImmyBot (behind its limit) is one kind of waiting; an
        // offline computer's is another.
        assert_eq!(
            queued(&[SessionStatus::Created, SessionStatus::Pending, SessionStatus::Running]),
            (2, 2)
        );
        assert_eq!(queued(&[SessionStatus::PendingConnectivity]), (0, 1));
        assert_eq!(m(&[SessionStatus::Failed, SessionStatus::Missed]), Aggregate::AllFailed);
        assert_eq!(m(&[SessionStatus::Cancelled]), Aggregate::AllCancelled);
        assert!(map_sessions(&[], None, &[], None, &BTreeMap::new()).is_none());
    }

    #[test]
    fn waiting_computers_keep_the_session_from_finishing() {
        // Computer 10 passed; 11 and 12 were busy with someone else's session.
        let sessions = vec![session(1, 10, SessionStatus::Passed, vec![])];
        let m = map_sessions(&sessions, None, &[11, 12], None, &BTreeMap::new()).unwrap();
        assert_eq!(m.aggregate, Aggregate::Queued, "not AllPassed while two have not run");
        assert_eq!((m.summary.computers, m.summary.passed, m.summary.waiting), (3, 1, 2));
        assert_eq!(m.progress, "1/3");
        // A computer waiting again after an earlier (failed) session of its
        // own counts as waiting, not failed, and is not a rerun candidate.
        let sessions = vec![
            session(1, 10, SessionStatus::Passed, vec![]),
            session(2, 11, SessionStatus::Failed, vec![]),
        ];
        let m = map_sessions(&sessions, Some(&[10, 11]), &[11], None, &BTreeMap::new()).unwrap();
        assert_eq!((m.summary.failed, m.summary.waiting), (0, 1));
        assert!(m.failed_computer_ids.is_empty());
        assert!(!m.aggregate.is_finished());
        // Nothing started at all, everything busy.
        let m = map_sessions(&[], None, &[5], None, &BTreeMap::new()).unwrap();
        assert_eq!((m.aggregate, m.progress.as_str()), (Aggregate::Queued, "0/1"));
    }

    #[test]
    fn a_targeted_computer_immybot_skipped_silently_is_not_passed() {
        // Three computers targeted; ImmyBot made sessions for two of them and
        // said nothing about 12.
        let sessions = vec![
            session(1, 10, SessionStatus::Passed, vec![]),
            session(2, 11, SessionStatus::Passed, vec![]),
        ];
        let m = map_sessions(&sessions, Some(&[10, 11, 12]), &[], None, &BTreeMap::new()).unwrap();
        assert_eq!(
            m.aggregate,
            Aggregate::Partial,
            "never Succeeded with a computer that never ran"
        );
        assert_eq!((m.summary.computers, m.summary.not_started), (3, 1));
        assert_eq!(m.failed_computer_ids, vec![12]);
        assert_eq!(m.progress, "3/3");
    }

    #[test]
    fn only_the_worst_computers_are_listed_in_full() {
        let sessions: Vec<_> = (0..100)
            .map(|i| {
                session(
                    i + 1,
                    i + 1,
                    if i % 10 == 0 {
                        SessionStatus::Failed
                    } else {
                        SessionStatus::Passed
                    },
                    vec![],
                )
            })
            .collect();
        let m = map_sessions(&sessions, None, &[], None, &BTreeMap::new()).unwrap();
        assert_eq!(m.computers.len(), MAX_COMPUTERS_IN_STATUS);
        assert!(m.computers[..10].iter().all(|c| c.session_status == "Failed"));
        assert_eq!(m.summary.computers, 100);
        assert_eq!(m.failed_computer_ids.len(), 10);
    }

    /// A 5,000-computer tenant with three actions each, every fifth failing,
    /// all session ids recorded: the status stays under 256 KiB.
    #[test]
    fn a_five_thousand_computer_tenant_keeps_status_small() {
        use crate::api::*;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        let item = |name: &str, failed: bool| MaintenanceAction {
            maintenance_display_name: Some(name.into()),
            maintenance_type: Some(MaintenanceType::GlobalSoftware),
            action_type: Some(MaintenanceActionType::Update),
            result: Some(if failed {
                MaintenanceActionResult::Failed
            } else {
                MaintenanceActionResult::Success
            }),
            result_reason_message: failed
                .then(|| "The installer exited with code 1603 after a long explanation".into()),
            detected_version_string: Some("23.01.0.1234".into()),
            desired_version_string: Some("24.08.0.5678".into()),
            ..Default::default()
        };
        let sessions: Vec<_> = (1..=5000)
            .map(|i| {
                let failed = i % 5 == 0;
                let status = if failed {
                    SessionStatus::PartialPassed
                } else {
                    SessionStatus::Passed
                };
                session(
                    i,
                    i,
                    status,
                    vec![
                        item("7-Zip", false),
                        item("Google Chrome", false),
                        item("Legacy VPN Client", failed),
                    ],
                )
            })
            .collect();
        let mut sessions = sessions;
        for s in &mut sessions {
            let base = s.id * 10;
            for (i, a) in s.maintenance_actions.iter_mut().flatten().enumerate() {
                a.id = base + i as i32;
            }
        }
        // Every excerpt as long as the bounds let it be.
        use super::super::action_excerpts::{MAX_ACTIONS, MAX_LINE_CHARS, MAX_LINES, worth_excerpts};
        let excerpts: BTreeMap<i32, Vec<String>> = worth_excerpts(&sessions)
            .into_iter()
            .map(|id| (id, vec!["e".repeat(MAX_LINE_CHARS); MAX_LINES]))
            .collect();
        let m = map_sessions(&sessions, None, &[], None, &excerpts).unwrap();
        let shown = m
            .computers
            .iter()
            .flat_map(|c| c.actions.iter())
            .filter(|a| !a.log_excerpt.is_empty())
            .count();
        assert_eq!(shown, MAX_ACTIONS, "the excerpts belong to listed computers");
        let status = MaintenanceSessionStatus {
            phase: Some(Phase::PartiallySucceeded),
            summary: Some(m.summary),
            items: m.items,
            computers: m.computers,
            progress: Some(m.progress),
            immybot: Some(ImmyBotRefs {
                instance: "https://acme.immy.bot/".into(),
                connection: None,
                attempts: vec![Attempt {
                    number: 1,
                    session_group_id: uuid::Uuid::nil().to_string(),
                    intent_time: Time(jiff::Timestamp::now()),
                    computer_ids: vec![],
                    session_ids: (1..=5000).collect(),
                    ids_from: Some("StartResponse".into()),
                    busy_computer_ids: vec![],
                    purpose: None,
                    busy_round: 0,
                }],
            }),
            log_tail: (0..LOG_TAIL_LINES)
                .map(|i| LogLine {
                    time: None,
                    session_id: 1,
                    message: "x".repeat(500) + &i.to_string(),
                })
                .collect(),
            ..Default::default()
        };
        let bytes = serde_json::to_vec(&status).unwrap().len();
        println!("status of a 5,000-computer tenant: {bytes} bytes");
        assert!(bytes < 256 * 1024, "{bytes} bytes");
        // The same tenant rolled out in waves of 250: the plan's ids, and
        // each wave's attempt with its computers and sessions.
        let mut waves = status.clone();
        let ids: Vec<i32> = (100_001..=105_000).collect();
        waves.rollout = Some(RolloutStatus {
            computer_ids: ids.clone(),
            wave_size: 250,
            waves: 20,
            ..Default::default()
        });
        waves.immybot.as_mut().unwrap().attempts = ids
            .chunks(250)
            .enumerate()
            .map(|(i, chunk)| Attempt {
                number: i as i32 + 1,
                session_group_id: uuid::Uuid::nil().to_string(),
                intent_time: Time(jiff::Timestamp::now()),
                computer_ids: chunk.to_vec(),
                session_ids: chunk.iter().map(|c| c + 1_000_000).collect(),
                ids_from: Some("StartResponse".into()),
                busy_computer_ids: vec![],
                purpose: Some(attempt_purpose::WAVE.into()),
                busy_round: 0,
            })
            .collect();
        let bytes = serde_json::to_vec(&waves).unwrap().len();
        println!("status of a 5,000-computer tenant in 20 waves: {bytes} bytes");
        assert!(bytes < 256 * 1024, "{bytes} bytes");
        assert_eq!(status.summary.unwrap().partially_passed, 1000);
    }

    #[test]
    fn log_tail_keeps_the_newest_lines_in_order() {
        let logs: Vec<SessionLog> = (0..30)
            .map(|i| SessionLog {
                id: i,
                maintenance_session_id: 1,
                message: Some(format!("line {i}")),
                time: WireTime::parse(&format!("2026-01-01T00:00:{i:02}Z")),
                ..Default::default()
            })
            .collect();
        let tail = log_tail(&logs);
        assert_eq!(tail.len(), LOG_TAIL_LINES);
        assert_eq!(tail.last().unwrap().message, "line 29");
        assert_eq!(tail[0].message, "line 20");
    }
}
