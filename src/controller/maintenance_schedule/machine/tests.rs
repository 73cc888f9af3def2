//! The MaintenanceSchedule decision, driven the way the shell drives it:
//! runs are created and deleted in a pretend API server, the status is
//! written after the steps (or lost, as in a crash), and the clock moves.

use jiff::{SignedDuration, Timestamp};

use super::{Decision, DeleteWhy, Observed, RunView, STANDING_APPROVAL, Step, decide};
use crate::api::{ConcurrencyPolicy, MaintenanceSchedule, MaintenanceScheduleStatus, Phase};
use crate::controller::approval::Verdict;
use crate::controller::conditions;
use crate::controller::maintenance_schedule::template::run_name;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn schedule(cron: &str) -> MaintenanceSchedule {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "immybot.io/v1alpha1", "kind": "MaintenanceSchedule",
        "metadata": {"name": "nightly", "namespace": "ops", "uid": "s-1"},
        "spec": {
            "requestedBy": "alice", "schedule": cron, "timeZone": "Europe/Berlin",
            "sessionTemplate": {"spec": {"target": {"tenant": {"id": 2}}, "reason": "CHG-1"}}
        }
    }))
    .unwrap()
}

fn not_approved() -> Verdict {
    Verdict::NotApproved {
        reason: "AwaitingApproval",
        message: "waiting for someone other than alice".into(),
    }
}

/// A pretend cluster: the schedule, its status as stored, its runs.
struct Bed {
    schedule: MaintenanceSchedule,
    created: Timestamp,
    status: MaintenanceScheduleStatus,
    runs: Vec<RunView>,
    now: Timestamp,
    /// Every create ever sent, by name (a second one would be refused).
    creates: Vec<String>,
    standing: Verdict,
}

impl Bed {
    fn new(cron: &str, created: &str) -> Self {
        Self {
            schedule: schedule(cron),
            created: at(created),
            status: Default::default(),
            runs: vec![],
            now: at(created),
            creates: vec![],
            standing: not_approved(),
        }
    }

    fn with(mut self, f: impl FnOnce(&mut crate::api::MaintenanceScheduleSpec)) -> Self {
        f(&mut self.schedule.spec);
        self
    }

    /// What a reconcile of the bed's schedule observes.
    fn observed(&self) -> Observed<'_> {
        Observed {
            name: "nightly",
            spec: &self.schedule.spec,
            generation: Some(1),
            created: self.created,
            status: &self.status,
            runs: &self.runs,
            template_digest: "sha256:00",
            standing: &self.standing,
            standing_expires: None,
            now: self.now,
        }
    }

    fn decide(&self) -> Decision {
        decide(&self.observed())
    }

    /// One reconcile at `now`: steps performed, then the status written
    /// unless `lose_status` (the process died after the steps).
    fn reconcile_at(&mut self, now: &str, lose_status: bool) -> Decision {
        self.now = at(now);
        let d = self.decide();
        for step in &d.steps {
            match step {
                Step::Delete { name, .. } => self.runs.retain(|r| &r.name != name),
                Step::Create { name, scheduled } => {
                    assert!(
                        !self.creates.contains(name),
                        "{name} created twice (creates so far: {:?})",
                        self.creates
                    );
                    self.creates.push(name.clone());
                    self.runs.push(RunView {
                        name: name.clone(),
                        scheduled: *scheduled,
                        phase: None,
                        completed: None,
                        deleting: false,
                    });
                }
            }
        }
        if !lose_status {
            self.status = d.status.clone();
        }
        d
    }

    fn reconcile(&mut self, now: &str) -> Decision {
        self.reconcile_at(now, false)
    }

    fn finish(&mut self, name: &str, phase: Phase) {
        let now = self.now;
        let run = self.runs.iter_mut().find(|r| r.name == name).unwrap();
        run.phase = Some(phase);
        run.completed = Some(now);
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.runs.iter().map(|r| r.name.clone()).collect();
        names.sort();
        names
    }
}

fn created(d: &Decision) -> Vec<Timestamp> {
    d.steps
        .iter()
        .filter_map(|s| match s {
            Step::Create { scheduled, .. } => Some(*scheduled),
            _ => None,
        })
        .collect()
}

fn reason(d: &Decision, type_: &str) -> String {
    conditions::get(&d.status.conditions, type_)
        .map(|c| c.reason.clone())
        .unwrap_or_default()
}

#[test]
fn fires_at_the_wall_time_in_its_zone_once_and_names_the_run_by_the_minute() {
    // 02:00 Europe/Berlin in May is 00:00 UTC.
    let mut bed = Bed::new("0 2 * * *", "2026-05-03T12:00:00Z");
    let d = bed.reconcile("2026-05-03T23:59:59Z");
    assert!(created(&d).is_empty());
    assert_eq!(d.status.next_schedule_time.unwrap().0, at("2026-05-04T00:00:00Z"));
    assert_eq!(d.requeue_after, Some(std::time::Duration::from_secs(2)));
    let d = bed.reconcile("2026-05-04T00:00:05Z");
    assert_eq!(created(&d), vec![at("2026-05-04T00:00:00Z")]);
    assert_eq!(bed.names(), vec![run_name("nightly", at("2026-05-04T00:00:00Z"))]);
    assert_eq!(d.status.last_schedule_time.unwrap().0, at("2026-05-04T00:00:00Z"));
    assert_eq!(d.status.active_count, 1);
    // Seen again (the run's own status changes): nothing more.
    assert!(created(&bed.reconcile("2026-05-04T00:03:00Z")).is_empty());
    assert_eq!(bed.creates.len(), 1);
}

#[test]
fn no_time_before_the_schedule_existed_is_due() {
    let mut bed = Bed::new("0 2 * * *", "2026-05-04T00:30:00Z");
    assert!(created(&bed.reconcile("2026-05-04T00:30:10Z")).is_empty());
}

#[test]
fn across_spring_forward_and_fall_back_each_day_runs_once() {
    // 02:30 Berlin: skipped on 29 March (runs 03:30 CEST = 01:30 UTC),
    // repeated on 25 October (runs at the first, 00:30 UTC).
    let mut bed = Bed::new("30 2 * * *", "2026-03-28T12:00:00Z");
    assert!(created(&bed.reconcile("2026-03-29T01:29:00Z")).is_empty());
    assert_eq!(
        created(&bed.reconcile("2026-03-29T01:30:30Z")),
        vec![at("2026-03-29T01:30:00Z")]
    );
    let mut bed = Bed::new("30 2 * * *", "2026-10-24T12:00:00Z");
    assert_eq!(
        created(&bed.reconcile("2026-10-25T00:30:30Z")),
        vec![at("2026-10-25T00:30:00Z")]
    );
    assert!(created(&bed.reconcile("2026-10-25T01:30:30Z")).is_empty());
    assert!(created(&bed.reconcile("2026-10-25T23:00:00Z")).is_empty());
    assert_eq!(bed.creates.len(), 1);
}

#[test]
fn after_an_outage_only_the_latest_missed_time_runs_and_only_within_the_deadline() {
    // Every hour on the hour; the operator was down from 01:00 to 05:20.
    let mut bed = Bed::new("0 * * * *", "2026-05-04T00:30:00Z").with(|s| s.starting_deadline_seconds = Some(600));
    let d = bed.reconcile("2026-05-04T05:20:00Z");
    assert!(created(&d).is_empty(), "05:00 is 20 min late, past the 10 min deadline");
    assert_eq!(reason(&d, "Ready"), "MissedSchedule");
    assert!(
        d.notes
            .iter()
            .any(|n| n.warning && n.message.contains("past startingDeadlineSeconds"))
    );
    // Within the deadline of the next time: it runs, once.
    let d = bed.reconcile("2026-05-04T06:05:00Z");
    assert_eq!(created(&d), vec![at("2026-05-04T06:00:00Z")]);
    // Without a deadline the latest missed time runs however late.
    let mut bed = Bed::new("0 * * * *", "2026-05-04T00:30:00Z");
    assert_eq!(
        created(&bed.reconcile("2026-05-04T05:59:00Z")),
        vec![at("2026-05-04T05:00:00Z")]
    );
}

#[test]
fn forbid_skips_while_a_run_is_active_and_runs_late_within_the_deadline() {
    let mut bed = Bed::new("0 * * * *", "2026-05-04T00:30:00Z").with(|s| {
        s.concurrency_policy = ConcurrencyPolicy::Forbid;
        s.starting_deadline_seconds = Some(900);
    });
    bed.reconcile("2026-05-04T01:00:01Z");
    let first = run_name("nightly", at("2026-05-04T01:00:00Z"));
    // 02:00: the 01:00 run still waits for approval (active).
    let d = bed.reconcile("2026-05-04T02:00:01Z");
    assert!(created(&d).is_empty());
    assert_eq!(reason(&d, "Ready"), "RunSkipped");
    assert!(d.status.conditions.iter().any(|c| c.message.contains(&first)));
    // It ends at 02:10, inside the 15 min deadline: 02:00 runs late.
    bed.now = at("2026-05-04T02:10:00Z");
    bed.finish(&first, Phase::Succeeded);
    assert_eq!(
        created(&bed.reconcile("2026-05-04T02:10:00Z")),
        vec![at("2026-05-04T02:00:00Z")]
    );
    // 03:00 skipped again; the run ends at 03:20, past the deadline: missed.
    bed.reconcile("2026-05-04T03:00:01Z");
    bed.now = at("2026-05-04T03:20:00Z");
    bed.finish(&run_name("nightly", at("2026-05-04T02:00:00Z")), Phase::Failed);
    let d = bed.reconcile("2026-05-04T03:20:00Z");
    assert!(created(&d).is_empty());
    assert_eq!(reason(&d, "Ready"), "MissedSchedule");
}

#[test]
fn replace_deletes_the_active_runs_then_creates() {
    let mut bed =
        Bed::new("0 * * * *", "2026-05-04T00:30:00Z").with(|s| s.concurrency_policy = ConcurrencyPolicy::Replace);
    bed.reconcile("2026-05-04T01:00:01Z");
    let d = bed.reconcile("2026-05-04T02:00:01Z");
    assert_eq!(
        d.steps,
        vec![
            Step::Delete {
                name: run_name("nightly", at("2026-05-04T01:00:00Z")),
                why: DeleteWhy::Replaced
            },
            Step::Create {
                name: run_name("nightly", at("2026-05-04T02:00:00Z")),
                scheduled: at("2026-05-04T02:00:00Z")
            },
        ]
    );
    assert_eq!(d.status.active.len(), 1);
    assert_eq!(bed.names(), vec![run_name("nightly", at("2026-05-04T02:00:00Z"))]);
}

#[test]
fn allow_runs_alongside_active_runs() {
    let mut bed = Bed::new("0 * * * *", "2026-05-04T00:30:00Z");
    bed.reconcile("2026-05-04T01:00:01Z");
    let d = bed.reconcile("2026-05-04T02:00:01Z");
    assert_eq!(created(&d).len(), 1);
    assert_eq!(d.status.active_count, 2);
}

#[test]
fn history_limits_prune_the_oldest_finished_runs_by_outcome() {
    let mut bed = Bed::new("0 * * * *", "2026-05-04T00:30:00Z").with(|s| {
        s.successful_runs_history_limit = 2;
        s.failed_runs_history_limit = 1;
    });
    let outcomes = [
        Phase::Succeeded,
        Phase::Failed,
        Phase::Succeeded,
        Phase::PartiallySucceeded,
        Phase::Succeeded,
    ];
    for (hour, phase) in (1..).zip(outcomes) {
        bed.reconcile(&format!("2026-05-04T{hour:02}:00:01Z"));
        bed.finish(&run_name("nightly", at(&format!("2026-05-04T{hour:02}:00:00Z"))), phase);
    }
    let d = bed.reconcile("2026-05-04T05:30:00Z");
    let hour = |h: u32| run_name("nightly", at(&format!("2026-05-04T{h:02}:00:00Z")));
    // Kept: the two newest successes (03, 05) and the newest failure (04).
    assert_eq!(bed.names(), {
        let mut v = vec![hour(3), hour(4), hour(5)];
        v.sort();
        v
    });
    assert_eq!(d.status.last_run.as_ref().unwrap().name, hour(5));
    assert_eq!(d.status.last_successful_time.unwrap().0, at("2026-05-04T05:00:01Z"));
}

#[test]
fn a_run_newer_than_the_recorded_last_time_is_never_pruned_nor_created_again() {
    // The create went through, the status write was lost, the run finished
    // fast; with a history limit of 0 it would be pruned, and then its time
    // would look due again.
    let mut bed = Bed::new("0 * * * *", "2026-05-04T00:30:00Z").with(|s| s.successful_runs_history_limit = 0);
    bed.reconcile_at("2026-05-04T01:00:01Z", true);
    bed.now = at("2026-05-04T01:02:00Z");
    bed.finish(&run_name("nightly", at("2026-05-04T01:00:00Z")), Phase::Succeeded);
    let d = bed.reconcile("2026-05-04T01:02:00Z");
    assert!(d.steps.is_empty(), "{:?}", d.steps);
    assert_eq!(d.status.last_schedule_time.unwrap().0, at("2026-05-04T01:00:00Z"));
    // Now recorded: the next reconcile prunes it and creates nothing.
    let d = bed.reconcile("2026-05-04T01:03:00Z");
    assert_eq!(d.steps.len(), 1, "{:?}", d.steps);
    assert!(matches!(
        &d.steps[0],
        Step::Delete {
            why: DeleteWhy::Pruned,
            ..
        }
    ));
    assert!(created(&bed.reconcile("2026-05-04T01:04:00Z")).is_empty());
    assert_eq!(bed.creates.len(), 1);
}

#[test]
fn lost_status_writes_at_every_step_never_create_a_time_twice_nor_skip_one() {
    // A week of hourly reconciles (every 7 minutes), each status write lost
    // with a fixed pseudo-random pattern, runs finishing and pruned with a
    // limit of 0: every hour is created exactly once.
    let mut bed = Bed::new("0 * * * *", "2026-05-04T00:30:00Z").with(|s| {
        s.successful_runs_history_limit = 0;
        s.failed_runs_history_limit = 0;
        s.starting_deadline_seconds = Some(3000);
    });
    let start = at("2026-05-04T00:30:00Z");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for step in 1..=(7 * 24 * 60 / 7) {
        let now = start.checked_add(SignedDuration::from_mins(7 * step)).unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let lose = seed.is_multiple_of(3);
        bed.reconcile_at(&now.to_string(), lose);
        bed.now = now;
        let names: Vec<String> = bed
            .runs
            .iter()
            .filter(|r| r.phase.is_none())
            .map(|r| r.name.clone())
            .collect();
        for name in names {
            bed.finish(&name, Phase::Succeeded);
        }
    }
    assert_eq!(
        bed.creates.len(),
        7 * 24,
        "one run per hour, none twice (the driver asserts), none skipped"
    );
}

#[test]
fn suspend_creates_nothing_and_an_invalid_schedule_stalls() {
    let mut bed = Bed::new("0 * * * *", "2026-05-04T00:30:00Z").with(|s| s.suspend = true);
    let d = bed.reconcile("2026-05-04T03:00:01Z");
    assert!(created(&d).is_empty());
    assert_eq!(reason(&d, "Ready"), "Suspended");
    assert_eq!(d.status.next_schedule_time, None);
    bed.schedule.spec.suspend = false;
    assert_eq!(
        created(&bed.reconcile("2026-05-04T03:10:00Z")),
        vec![at("2026-05-04T03:00:00Z")]
    );

    for (cron, zone, why) in [
        ("61 * * * *", "UTC", "InvalidSchedule"),
        ("0 2 * * *", "Mars/Olympus", "InvalidTimeZone"),
    ] {
        let mut bed = Bed::new(cron, "2026-05-04T00:30:00Z").with(|s| s.time_zone = zone.into());
        let d = bed.reconcile("2026-05-05T03:00:00Z");
        assert!(d.steps.is_empty());
        assert_eq!(reason(&d, "Stalled"), why);
        assert_eq!(reason(&d, "Ready"), why);
        let stalled = conditions::get(&d.status.conditions, "Stalled").unwrap();
        assert!(
            stalled
                .message
                .contains(if why == "InvalidSchedule" { "61" } else { "Mars" }),
            "{}",
            stalled.message
        );
    }
}

#[test]
fn the_standing_approval_shows_and_its_expiry_wakes_the_controller() {
    let mut bed = Bed::new("0 2 * * 1", "2026-05-04T00:30:00Z");
    let d = bed.reconcile("2026-05-04T00:31:00Z");
    assert_eq!(reason(&d, STANDING_APPROVAL), "AwaitingApproval");
    assert!(d.status.standing_approval.is_none());
    bed.standing = Verdict::Approved {
        approved_by: "bob".into(),
        method: crate::controller::ApprovalMethod::MaintenanceApproval,
        source: Some("nightly-bob".into()),
        comment: None,
        at: None,
        digest: None,
        computers: None,
        plan_digest: None,
    };
    bed.now = at("2026-05-04T00:32:00Z");
    let d = decide(&Observed {
        standing_expires: Some(at("2026-05-04T00:42:00Z")),
        ..bed.observed()
    });
    let c = conditions::get(&d.status.conditions, STANDING_APPROVAL).unwrap();
    assert_eq!(c.status, "True");
    assert!(
        c.message.contains("bob") && c.message.contains("2026-05-04T00:42:00Z"),
        "{}",
        c.message
    );
    assert_eq!(d.requeue_after, Some(std::time::Duration::from_secs(601)));
}

/// Each stage alone.
mod stages {
    use super::super::{create, make_room, missed, when};
    use super::*;

    fn empty() -> Decision {
        Decision {
            status: Default::default(),
            steps: vec![],
            notes: vec![],
            requeue_after: None,
        }
    }

    fn active(name: &str) -> RunView {
        RunView {
            name: name.into(),
            scheduled: at("2026-05-04T00:00:00Z"),
            phase: Some(Phase::Running),
            completed: None,
            deleting: false,
        }
    }

    #[test]
    fn when_names_what_cannot_be_read() {
        let bed = Bed::new("0 61 * * *", "2026-05-04T00:00:00Z");
        assert_eq!(when(&bed.observed()).err().map(|e| e.0), Some("InvalidSchedule"));
        let bed = Bed::new("0 2 * * *", "2026-05-04T00:00:00Z").with(|s| s.time_zone = "Mars/Olympus".into());
        let (reason, message) = when(&bed.observed()).err().unwrap();
        assert_eq!(reason, "InvalidTimeZone");
        assert!(message.contains("\"Mars/Olympus\""), "{message}");
    }

    #[test]
    fn missed_only_past_the_deadline() {
        let mut bed = Bed::new("0 2 * * *", "2026-05-04T00:00:00Z").with(|s| s.starting_deadline_seconds = Some(60));
        let due = at("2026-05-04T02:00:00Z");
        bed.now = at("2026-05-04T02:00:30Z");
        assert_eq!(missed(&bed.observed(), due, "next"), None);
        bed.now = at("2026-05-04T02:05:00Z");
        assert!(missed(&bed.observed(), due, "next").is_some_and(|m| m.contains("300s late")));
    }

    #[test]
    fn make_room_follows_the_concurrency_policy() {
        let due = at("2026-05-05T00:00:00Z");
        for (policy, room, deletes) in [
            (ConcurrencyPolicy::Allow, true, 0),
            (ConcurrencyPolicy::Forbid, false, 0),
            (ConcurrencyPolicy::Replace, true, 1),
        ] {
            let mut bed = Bed::new("0 2 * * *", "2026-05-04T00:00:00Z").with(|s| s.concurrency_policy = policy);
            bed.runs = vec![active("nightly-1")];
            let mut d = empty();
            assert_eq!(make_room(&bed.observed(), &mut d, due).is_ok(), room, "{policy:?}");
            assert_eq!(d.steps.len(), deletes, "{policy:?}");
        }
    }

    #[test]
    fn create_moves_last_schedule_time_with_the_run() {
        let mut d = empty();
        let due = at("2026-05-05T00:00:00Z");
        create(&mut d, "nightly-29632320".into(), due);
        assert_eq!(d.status.last_schedule_time.map(|t| t.0), Some(due));
        assert_eq!(d.status.active_count, 1);
        assert!(matches!(&d.steps[..], [Step::Create { scheduled, .. }] if *scheduled == due));
    }
}
