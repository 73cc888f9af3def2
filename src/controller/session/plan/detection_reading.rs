//! What a detection-only ImmyBot session's rows mean for a plan. ALL OF
//! THIS IS A READING, NOT THE CONTRACT: ImmyBot's document says detection
//! adds the actions a session would perform (with `actionType`,
//! `maintenanceDisplayName`, and perhaps `detectedVersionString` and
//! `desiredVersionString`), but not which of those fields a live instance
//! fills for a detection-only session, nor what `result` says
//! (../shared/immybot-api/README.md, "Detection, and what a plan can be
//! built from"). Every guess the operator makes about it is here, and only
//! here:
//!
//! - GUESS: an action row whose `actionType` is Install, Update,
//!   Uninstall, Reinstall, Downgrade or TaskEnforce is a planned change
//!   (`NoAction`, Download, TaskMonitor and TaskAudit change nothing a
//!   person approves). An unknown type (a newer ImmyBot) is kept as a
//!   change under its raw name: it is safer to show than to drop.
//! - GUESS: `Undetermined` means detection could not decide that item on
//!   that computer.
//! - GUESS: the item is `maintenanceDisplayName`, else
//!   `maintenanceIdentifier`; versions are taken only where a row has them
//!   (the simulator's default sends none).
//! - Documented: an offline computer's session ends `Missed` with offline
//!   `Skip` (the plan asks for Skip), so it is "not detected: Offline".
//! - GUESS: a detection session that ended Failed (or Cancelled) with no
//!   change rows did not detect; one that failed with rows still planned
//!   what it lists.
//! - Reboots: nothing in the rows says which change reboots. The plan says
//!   "unknown" rather than guess (`content::REBOOTS_UNKNOWN`).

use std::collections::BTreeSet;

use super::content::{Detection, Planned, Undetected};
use immybot_client::{
    MaintenanceActionType as T, MaintenanceSession as ImmySession, SessionStatus as S, WireEnum as _,
};

/// Reads the ended detection sessions of a plan into what it would do.
/// `targeted`: the computers the plan asked about, where known (a computer
/// or list target; empty for a tenant, whose computers are its sessions').
/// `busy`: computers ImmyBot would not detect because another session held
/// them.
pub fn read(sessions: &[ImmySession], targeted: &[i32], busy: &[i32]) -> Detection {
    let mut d = Detection::default();
    let mut seen: BTreeSet<i32> = BTreeSet::new();
    for s in sessions {
        let Some(computer_id) = s.computer_id else {
            // A session for no computer (a person's) plans nothing here.
            continue;
        };
        seen.insert(computer_id);
        let name = s.computer_name.clone().unwrap_or_else(|| format!("#{computer_id}"));
        let undetected = |why| Undetected {
            why,
            computer_id,
            computer: name.clone(),
        };
        let mut changes = 0;
        for a in s.maintenance_actions.iter().flatten() {
            let item = a
                .maintenance_display_name
                .clone()
                .or_else(|| a.maintenance_identifier.clone())
                .unwrap_or_else(|| "(unnamed item)".into());
            match a.action_type.as_ref() {
                None | Some(T::NoAction | T::Download | T::TaskMonitor | T::TaskAudit) => {}
                Some(T::Undetermined) => d.undetected.push(undetected("Undetermined")),
                Some(other) => {
                    changes += 1;
                    d.planned.push(Planned {
                        item,
                        action: other.name().into_owned(),
                        computer_id,
                        computer: a.computer_name.clone().unwrap_or_else(|| name.clone()),
                        from: a.detected_version_string.clone(),
                        to: a.desired_version_string.clone(),
                    });
                }
            }
        }
        match s.session_status.as_ref() {
            Some(S::Missed | S::PendingConnectivity) => d.undetected.push(undetected("Offline")),
            Some(S::Failed | S::Cancelled) if changes == 0 => d.undetected.push(undetected("Failed")),
            _ => {}
        }
    }
    // Computers with no session of their own: held by another session
    // (`sessionsAlreadyInProgress`), or targeted and not started.
    for (why, ids) in [("Busy", busy), ("NoSession", targeted)] {
        for &id in ids {
            if seen.insert(id) {
                d.undetected.push(Undetected {
                    why,
                    computer_id: id,
                    computer: format!("#{id}"),
                });
            }
        }
    }
    d.computers = i32::try_from(seen.len()).unwrap_or(i32::MAX);
    d
}

/// The changes sessions made (or would make), for what ran
/// (`content::grouped`); the same reading of rows as `read`.
pub fn changes_of(sessions: &[ImmySession]) -> Vec<Planned> {
    read(sessions, &[], &[]).planned
}

#[cfg(test)]
mod tests {
    use super::*;
    use immybot_client::MaintenanceAction;

    fn action(kind: T, name: Option<&str>) -> MaintenanceAction {
        MaintenanceAction {
            action_type: Some(kind),
            maintenance_display_name: name.map(Into::into),
            ..Default::default()
        }
    }

    fn session(id: i32, computer: i32, status: S, actions: Vec<MaintenanceAction>) -> ImmySession {
        ImmySession {
            id,
            computer_id: Some(computer),
            session_status: Some(status),
            maintenance_actions: Some(actions),
            ..Default::default()
        }
    }

    #[test]
    fn changes_undetermined_items_offline_busy_and_unstarted_computers_are_told_apart() {
        let sessions = vec![
            session(
                1,
                101,
                S::Passed,
                vec![
                    action(T::Update, Some("7-Zip")),
                    action(T::NoAction, Some("Chrome")),
                    action(T::Undetermined, Some("Odd")),
                ],
            ),
            session(2, 103, S::Missed, vec![]),
            session(3, 104, S::Failed, vec![]),
        ];
        let d = read(&sessions, &[101, 103, 104, 105], &[106]);
        assert_eq!(d.computers, 5);
        assert_eq!(d.planned.len(), 1);
        assert_eq!(
            (
                d.planned[0].item.as_str(),
                d.planned[0].action.as_str(),
                d.planned[0].from.as_deref()
            ),
            ("7-Zip", "Update", None),
            "no versions in the rows: none invented"
        );
        let why: Vec<(&str, i32)> = d.undetected.iter().map(|u| (u.why, u.computer_id)).collect();
        assert_eq!(
            why,
            vec![
                ("Undetermined", 101),
                ("Offline", 103),
                ("Failed", 104),
                ("Busy", 106),
                ("NoSession", 105)
            ]
        );
    }

    #[test]
    fn an_unknown_action_type_is_kept_as_a_change() {
        let raw = T::from_raw(immybot_client::RawEnum::Int(42));
        let d = read(&[session(1, 1, S::Passed, vec![action(raw, Some("New"))])], &[], &[]);
        assert_eq!(d.planned.len(), 1);
        assert_eq!(d.planned[0].action, "42");
    }
}
