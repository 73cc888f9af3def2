//! The schedule machine's rules, one by one, without Kubernetes or ImmyBot.

use super::*;
use crate::api::{AdoptSpec, PendingCreate};
use crate::controller::immybot_schedule::definition::{ResolvedTarget, definition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

fn spec() -> ImmyBotScheduleSpec {
    serde_json::from_value(serde_json::json!({
        "requestedBy": "alice",
        "reason": "CHG-1",
        "target": {"computer": {"id": 7}},
        "daily": {"time": "22:30"},
        "timeZone": "Europe/Berlin",
    }))
    .unwrap()
}

fn wanted(spec: &ImmyBotScheduleSpec) -> ScheduleDefinition {
    definition(spec, ResolvedTarget::Computer(7))
}

/// ImmyBot's copy of `def`, carrying every field.
fn remote(id: i32, def: &ScheduleDefinition) -> Remote {
    let mut v = serde_json::to_value(def).unwrap();
    v["id"] = id.into();
    Remote::Found(Box::new(Schedule::from_value(v).unwrap()))
}

/// A status after the approved `def` was created as schedule `id`.
fn created(id: i32, def: &ScheduleDefinition) -> ImmyBotScheduleStatus {
    ImmyBotScheduleStatus {
        schedule_id: Some(id),
        applied_digest: Some(definition_digest(def)),
        applied_definition: Some(serde_json::to_value(def).unwrap()),
        ..Default::default()
    }
}

struct Case {
    spec: ImmyBotScheduleSpec,
    status: ImmyBotScheduleStatus,
    approved: bool,
    remote: Remote,
    pending_matches: Option<Vec<i32>>,
    grew: Option<String>,
}

impl Case {
    fn new() -> Self {
        Self {
            spec: spec(),
            status: ImmyBotScheduleStatus::default(),
            approved: false,
            remote: Remote::NotCreated,
            pending_matches: None,
            grew: None,
        }
    }
    fn approved(mut self) -> Self {
        self.approved = true;
        self
    }
    fn decide(&self) -> Decision {
        decide(&Observed {
            spec: &self.spec,
            status: &self.status,
            wanted: Ok(wanted(&self.spec)),
            approved: if self.approved {
                Ok("approved by bob".into())
            } else {
                Err("no MaintenanceApproval names digest sha256:x".into())
            },
            remote: self.remote.clone(),
            pending_matches: self.pending_matches.clone(),
            grew: self.grew.clone(),
        })
    }
}

fn pending() -> Option<PendingCreate> {
    Some(PendingCreate {
        digest: "sha256:d".into(),
        intent_time: Time(jiff::Timestamp::UNIX_EPOCH),
    })
}

#[test]
fn nothing_is_created_before_approval() {
    let d = Case::new().decide();
    assert_eq!(d.step, Step::None);
    assert!(matches!(
        d.standing,
        Standing::Waiting {
            reason: "AwaitingApproval",
            ..
        }
    ));
    let d = Case::new().approved().decide();
    assert_eq!(d.step, Step::Create(wanted(&spec())));
}

#[test]
fn a_spec_that_cannot_be_a_definition_stalls() {
    let c = Case::new().approved();
    let d = decide(&Observed {
        spec: &c.spec,
        status: &c.status,
        wanted: Err("tenant Contoso not found".into()),
        approved: Ok(String::new()),
        remote: Remote::NotCreated,
        pending_matches: None,
        grew: None,
    });
    assert_eq!(d.step, Step::None);
    assert!(
        matches!(d.standing, Standing::Stalled { reason: "InvalidSpec", ref message } if message.contains("Contoso"))
    );
}

#[test]
fn an_interrupted_create_adopts_its_single_match() {
    let mut c = Case::new().approved();
    c.status.pending_create = pending();
    c.pending_matches = Some(vec![41]);
    let d = c.decide();
    assert_eq!(d.step, Step::None, "never a second create");
    assert_eq!(d.status.schedule_id, Some(41));
    assert_eq!(d.status.pending_create, None);
    assert_eq!(d.status.applied_digest.as_deref(), Some("sha256:d"));
    assert_eq!(d.event.map(|e| e.0), Some("FoundAfterInterruptedCreate"));
}

#[test]
fn an_interrupted_create_that_left_nothing_creates_again_even_unapproved_now() {
    // The intent was recorded under an approval; with nothing in ImmyBot
    // the create is finished with the definition that was approved.
    let mut c = Case::new();
    let approved_def = wanted(&c.spec);
    c.status.pending_create = pending();
    c.status.applied_definition = Some(serde_json::to_value(&approved_def).unwrap());
    c.spec.daily = Some(crate::api::DailyWhen { time: "01:00".into() });
    c.pending_matches = Some(vec![]);
    assert_eq!(c.decide().step, Step::Create(approved_def));
}

#[test]
fn an_ambiguous_create_stalls_until_a_person_names_the_one_to_keep() {
    let mut c = Case::new().approved();
    c.status.pending_create = pending();
    c.pending_matches = Some(vec![41, 42]);
    let d = c.decide();
    assert_eq!(d.step, Step::None);
    let Standing::Stalled { reason, message } = &d.standing else {
        panic!("{:?}", d.standing)
    };
    assert_eq!(*reason, "AmbiguousCreate");
    assert!(
        message.contains("41, 42") && message.contains("spec.adopt.scheduleId"),
        "{message}"
    );
    assert_eq!(d.status.schedule_id, None);

    c.spec.adopt = Some(AdoptSpec { schedule_id: 99 });
    assert!(
        matches!(c.decide().standing, Standing::Stalled { .. }),
        "adopting a non-match resolves nothing"
    );
    c.spec.adopt = Some(AdoptSpec { schedule_id: 42 });
    let d = c.decide();
    assert_eq!(d.status.schedule_id, Some(42));
    assert_eq!(d.step, Step::None);
}

#[test]
fn adopt_takes_over_an_existing_schedule_without_writing_it_until_approved() {
    let mut c = Case::new();
    c.spec.adopt = Some(AdoptSpec { schedule_id: 5 });
    let mut other = wanted(&c.spec);
    other.custom_cron_expression = Some("0 1 * * *".into());
    c.remote = remote(5, &other);
    let d = c.decide();
    assert_eq!(d.status.schedule_id, Some(5));
    assert_eq!(d.step, Step::None);
    // Next reconcile: adopted, not approved: watched only.
    c.status = d.status;
    let d = c.decide();
    assert_eq!(d.step, Step::None);
    assert!(matches!(d.standing, Standing::Waiting { .. }));
    // Approved: replaced by the spec.
    let d = c.approved().decide();
    assert!(
        matches!(&d.step, Step::Update { id: 5, fields, drift: false, .. } if fields == &vec!["customCronExpression".to_string()]),
        "{:?}",
        d.step
    );
}

#[test]
fn adopting_a_missing_schedule_stalls() {
    let mut c = Case::new().approved();
    c.spec.adopt = Some(AdoptSpec { schedule_id: 5 });
    c.remote = Remote::Gone;
    assert!(matches!(
        c.decide().standing,
        Standing::Stalled {
            reason: "AdoptedScheduleMissing",
            ..
        }
    ));
}

#[test]
fn a_changed_spec_waits_for_its_approval_but_suspend_does_not() {
    let mut c = Case::new();
    let old = wanted(&c.spec);
    c.status = created(3, &old);
    c.remote = remote(3, &old);
    c.spec.daily = Some(crate::api::DailyWhen { time: "01:00".into() });
    let d = c.decide();
    assert_eq!(d.step, Step::None);
    assert!(matches!(
        d.standing,
        Standing::Waiting {
            reason: "AwaitingApproval",
            ..
        }
    ));

    c.spec.suspend = true;
    let d = c.decide();
    let Step::Update { definition, fields, .. } = d.step else {
        panic!("{:?}", d.step)
    };
    assert_eq!(fields, vec!["disabled".to_string()]);
    assert_eq!(definition.disabled, Some(true));
    assert_eq!(
        definition.custom_cron_expression, old.custom_cron_expression,
        "suspending keeps the approved time, not the unapproved one"
    );
}

#[test]
fn drift_is_corrected_or_reported_following_the_policy() {
    let mut c = Case::new().approved();
    let def = wanted(&c.spec);
    c.status = created(3, &def);
    let mut changed = def.clone();
    changed.reboot_preference = Some(immybot_client::RebootPreference::Force);
    c.remote = remote(3, &changed);
    let d = c.decide();
    assert!(
        matches!(&d.step, Step::Update { drift: true, fields, .. } if fields == &vec!["rebootPreference".to_string()])
    );
    c.spec.drift_policy = DriftPolicy::Report;
    let d = c.decide();
    assert_eq!(d.step, Step::None);
    assert!(matches!(&d.standing, Standing::Drifted { message } if message.contains("rebootPreference")));
}

#[test]
fn a_schedule_deleted_in_immybot_is_recreated_or_reported() {
    let mut c = Case::new().approved();
    let def = wanted(&c.spec);
    c.status = created(3, &def);
    c.remote = Remote::Gone;
    let d = c.decide();
    assert_eq!(d.step, Step::Create(def));
    assert_eq!(d.status.schedule_id, None);
    assert_eq!(d.event.map(|e| e.0), Some("RecreatedAfterDeletion"));
    c.spec.drift_policy = DriftPolicy::Report;
    let d = c.decide();
    assert_eq!(d.step, Step::None);
    assert!(matches!(d.standing, Standing::Drifted { .. }));
}

#[test]
fn run_now_is_sent_once_and_an_interrupted_one_is_never_repeated() {
    let mut c = Case::new().approved();
    let def = wanted(&c.spec);
    c.status = created(3, &def);
    c.remote = remote(3, &def);
    c.spec.run_now.requests = 1;
    assert_eq!(c.decide().step, Step::RunNow { id: 3, request: 1 });
    c.status.run_now_pending = Some(1);
    let d = c.decide();
    assert_eq!(d.step, Step::None);
    assert_eq!(d.status.run_now_handled, 1);
    assert_eq!(d.status.run_now_pending, None);
    assert_eq!(d.event.map(|e| e.0), Some("RunNowUnconfirmed"));
    c.status.run_now_pending = None;
    c.status.run_now_handled = 1;
    assert_eq!(c.decide().step, Step::None);
}

#[test]
fn cancel_running_is_sent_per_request() {
    let mut c = Case::new().approved();
    let def = wanted(&c.spec);
    c.status = created(3, &def);
    c.remote = remote(3, &def);
    c.spec.cancel_running.requests = 2;
    c.status.cancel_running_handled = 1;
    assert_eq!(c.decide().step, Step::CancelRunning { id: 3, request: 2 });
}

#[test]
fn a_tenant_grown_past_its_approval_is_held_disabled_and_runs_nothing_now() {
    // Not created yet: nothing is created.
    let mut c = Case::new().approved();
    c.grew = Some("the tenant now has 53 computers; the approval let 3".into());
    let d = c.decide();
    assert_eq!(d.step, Step::None);
    assert!(matches!(
        d.standing,
        Standing::Waiting {
            reason: "BlastRadiusGrew",
            ..
        }
    ));
    // Created and enabled: disabled, then held there.
    let def = wanted(&c.spec);
    c.status = created(3, &def);
    c.remote = remote(3, &def);
    match c.decide().step {
        Step::Update { id: 3, definition, .. } => assert_eq!(definition.disabled, Some(true)),
        other => panic!("{other:?}"),
    }
    let mut disabled = def.clone();
    disabled.disabled = Some(true);
    c.remote = remote(3, &disabled);
    c.status.applied_digest = Some(definition_digest(&disabled));
    c.spec.run_now.requests = 1;
    let d = c.decide();
    assert_eq!(d.step, Step::None, "no run now while outgrown");
    assert!(matches!(
        d.standing,
        Standing::Waiting {
            reason: "BlastRadiusGrew",
            ..
        }
    ));
    // Cancelling what runs stays open.
    c.spec.cancel_running.requests = 1;
    assert_eq!(c.decide().step, Step::CancelRunning { id: 3, request: 1 });
    // Approved for the new count: enabled again, and the run-now goes.
    c.grew = None;
    c.spec.cancel_running.requests = 0;
    assert!(matches!(c.decide().step, Step::Update { .. }));
    c.remote = remote(3, &def);
    c.status.applied_digest = Some(definition_digest(&def));
    assert_eq!(c.decide().step, Step::RunNow { id: 3, request: 1 });
}

#[test]
fn fields_immybot_does_not_answer_are_not_drift() {
    let mut c = Case::new().approved();
    let def = wanted(&c.spec);
    c.status = created(3, &def);
    let mut v = serde_json::to_value(&def).unwrap();
    v["id"] = 3.into();
    v.as_object_mut().unwrap().remove("rebootPreference");
    c.remote = Remote::Found(Box::new(Schedule::from_value(v).unwrap()));
    let d = c.decide();
    assert_eq!(d.step, Step::None);
    assert_eq!(d.standing, Standing::InSync);
}

/// Each stage alone.
mod stages {
    use super::*;

    fn observed<'a>(c: &'a Case, wanted_def: &ScheduleDefinition) -> Observed<'a> {
        Observed {
            spec: &c.spec,
            status: &c.status,
            wanted: Ok(wanted_def.clone()),
            approved: if c.approved {
                Ok("approved by bob".into())
            } else {
                Err("not approved".into())
            },
            remote: c.remote.clone(),
            pending_matches: c.pending_matches.clone(),
            grew: c.grew.clone(),
        }
    }

    #[test]
    fn interrupted_create_passes_without_a_pending_create() {
        let c = Case::new().approved();
        let def = wanted(&c.spec);
        let mut status = c.status.clone();
        assert!(interrupted_create(&observed(&c, &def), &mut status, &def).is_none());
        assert_eq!(status, c.status, "a stage that passes leaves the status as it was");
    }

    #[test]
    fn not_created_creates_only_once_approved() {
        let c = Case::new();
        let def = wanted(&c.spec);
        assert_eq!(
            not_created(&observed(&c, &def), c.status.clone(), def.clone()).step,
            Step::None
        );
        let c = Case::new().approved();
        assert_eq!(
            not_created(&observed(&c, &def), c.status.clone(), def.clone()).step,
            Step::Create(def)
        );
    }

    #[test]
    fn held_keeps_the_approved_definition_while_a_change_waits() {
        let c = Case::new();
        let old = wanted(&c.spec);
        let mut changed = c.spec.clone();
        changed.time_zone = "UTC".into();
        let new = wanted(&changed);
        let status = created(4, &old);
        let held = Held::of(&observed(&c, &new), &status, &new);
        assert_eq!(held.desired.map(|d| d.time_zone_info_id), Some(old.time_zone_info_id));
        assert!(held.waiting_for_change);
    }

    #[test]
    fn keep_in_sync_passes_when_immybot_holds_what_it_should() {
        let c = Case::new().approved();
        let def = wanted(&c.spec);
        let Remote::Found(schedule) = remote(4, &def) else {
            unreachable!()
        };
        assert_eq!(
            keep_in_sync(&observed(&c, &def), &created(4, &def), 4, &schedule, def.clone()),
            None
        );
    }

    #[test]
    fn gone_recreates_under_correct_and_reports_under_report() {
        let c = Case::new().approved();
        let def = wanted(&c.spec);
        let recreated = gone(&observed(&c, &def), created(4, &def), 4, Some(def.clone()));
        assert_eq!(recreated.step, Step::Create(def.clone()));
        let mut reported = Case::new().approved();
        reported.spec.drift_policy = DriftPolicy::Report;
        let d = gone(&observed(&reported, &def), created(4, &def), 4, Some(def));
        assert!(matches!(d.standing, Standing::Drifted { .. }), "{d:?}");
    }

    #[test]
    fn requests_run_now_before_cancel_running() {
        let mut c = Case::new().approved();
        c.spec.run_now.requests = 1;
        c.spec.cancel_running.requests = 1;
        let def = wanted(&c.spec);
        let d = requests(&observed(&c, &def), created(4, &def), 4, false);
        assert_eq!(d.step, Step::RunNow { id: 4, request: 1 });
    }
}
