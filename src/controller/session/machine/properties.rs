//! Property tests: arbitrary specs, statuses and ImmyBot answers through the
//! state machine. Whatever comes in, `decide` does not panic, the status it
//! writes is valid against the CRD's schema, and a final phase stays final
//! unless the spec asks for more (a rerun or a resume).

use std::time::Duration;

use proptest::prelude::*;

use super::{Observed, Step, decide, is_settled};
use crate::api::{MaintenanceSession, Phase};
use crate::controller::approval::digest::ApprovalDigest;
use crate::test_fixtures::*;
use immybot_client::{MaintenanceSession as ImmySession, SessionStatus};

const PHASES: [Phase; 12] = [
    Phase::Pending,
    Phase::AwaitingApproval,
    Phase::Suspended,
    Phase::Starting,
    Phase::Queued,
    Phase::Running,
    Phase::Postponed,
    Phase::Succeeded,
    Phase::PartiallySucceeded,
    Phase::Failed,
    Phase::Cancelled,
    Phase::TimedOut,
];

fn session_status() -> impl Strategy<Value = Option<SessionStatus>> {
    // Integers as ImmyBot sends them, including ones no enum knows.
    prop_oneof![
        Just(None),
        (-2i64..20).prop_map(|n| serde_json::from_value(serde_json::json!(n)).ok())
    ]
}

prop_compose! {
    fn immy_session()(
        id in 1i32..40,
        computer in prop_oneof![Just(None), (1i32..8).prop_map(Some)],
        status in session_status(),
        detection in session_status(),
        execution in session_status(),
        // ImmyBot's times carry milliseconds; the API server keeps seconds.
        action_millis in proptest::option::of(0i64..100_000),
    ) -> ImmySession {
        let at = |ms: i64| immybot_client::WireTime(now().checked_add(jiff::SignedDuration::from_millis(ms)).unwrap());
        ImmySession {
            id,
            computer_id: computer,
            session_status: status,
            detection_stage_status: detection,
            execution_stage_status: execution,
            maintenance_actions: action_millis.map(|ms| vec![immybot_client::MaintenanceAction {
                id: id * 10,
                maintenance_session_id: id,
                computer_id: computer,
                start_time: Some(at(ms)),
                end_time: Some(at(ms + 1_500)),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }
}

/// A timeout as a person might write it, well-formed or not.
fn timeout() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("30m".to_string())),
        Just(Some("0s".to_string())),
        Just(Some("abc".to_string())),
        Just(Some("-5m".to_string())),
        Just(Some("99999999h".to_string())),
        "[0-9]{1,4}[smhd]".prop_map(Some),
    ]
}

prop_compose! {
    fn object()(
        target in 0u8..3,
        ids in proptest::collection::vec(1i32..8, 1..5),
        suspend in any::<bool>(),
        cancel in any::<bool>(),
        timeout in timeout(),
        retry_limit in -2i32..4,
        retry_requests in -1i32..3,
        resume_requests in -1i32..3,
        phase in proptest::option::of(proptest::sample::select(PHASES.to_vec())),
        attempts in proptest::collection::vec((proptest::collection::vec(1i32..40, 0..4), 0i64..20_000, any::<bool>()), 0..4),
    ) -> MaintenanceSession {
        let mut b = match target {
            0 => session().computers(&ids),
            1 => session().tenant(ids[0]),
            _ => session().computer_named("RECEPTION-PC"),
        };
        if suspend { b = b.suspended(); }
        if cancel { b = b.cancelled("stop"); }
        if let Some(t) = timeout { b = b.timeout(&t); }
        b = b.retries(retry_limit);
        b.spec.retry.requests = retry_requests;
        b.spec.resume.requests = resume_requests;
        for (i, (session_ids, age, busy)) in attempts.iter().enumerate() {
            b = b.attempt(i as i32 + 1, *age, session_ids);
            if *busy {
                b = b.busy(&ids);
            }
        }
        if let Some(p) = phase {
            b = b.status(|s| s.phase = Some(p));
        }
        b.build()
    }
}

/// The CRD's status schema, as the API server would check it.
fn status_validator() -> jsonschema::Validator {
    let crd = crate::api::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == "MaintenanceSession")
        .and_then(|c| c.spec.versions.into_iter().next())
        .and_then(|v| v.schema)
        .and_then(|s| s.open_api_v3_schema);
    let schema = serde_json::to_value(crd).unwrap();
    jsonschema::validator_for(&schema["properties"]["status"]).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decide_never_panics_and_writes_a_valid_status(
        obj in object(),
        sessions in proptest::collection::vec(immy_session(), 0..6),
        approved in any::<bool>(),
        start_grace in 0u64..200,
    ) {
        let digest = ApprovalDigest::of("uid-1", &obj.spec);
        let verdict = if approved { crate::test_fixtures::approved() } else { refused() };
        let d = decide(&Observed {
            start_grace: Duration::from_secs(start_grace),
            ..super::tests::observed(&obj, &digest, &verdict, &sessions)
        });
        let status = serde_json::to_value(&d.status).unwrap();
        let validator = status_validator();
        let errors: Vec<String> = validator.iter_errors(&status).map(|e| format!("{e} at {}", e.instance_path())).collect();
        prop_assert!(errors.is_empty(), "invalid status {status}: {errors:?}");
        // What is written is what is stored: read back, the status equals
        // what `decide` made. A difference that the write drops again (a
        // time's milliseconds) makes every later reconcile write for nothing.
        let stored: crate::api::MaintenanceSessionStatus = serde_json::from_value(status.clone()).unwrap();
        prop_assert_eq!(&stored, &d.status, "the status changes on its way through storage");

        let before = obj.status.as_ref().and_then(|s| s.phase);
        if before.is_some_and(Phase::is_final) {
            let after = d.status.phase;
            // Only an explicit request (a rerun within spec.retry, a resume)
            // may take a final object back to work.
            let asked = matches!(d.step, Step::Start(_) | Step::Resume { .. }) || !is_settled(&obj);
            prop_assert!(
                after.is_some_and(Phase::is_final) || asked,
                "{before:?} went back to {after:?} with step {:?}", d.step
            );
            if is_settled(&obj) {
                prop_assert_eq!(after, before);
                prop_assert!(matches!(d.step, Step::None), "a settled object acted: {:?}", d.step);
            }
        }
    }

    #[test]
    fn immybot_session_decoding_never_panics(value in json()) {
        let _ = serde_json::from_value::<ImmySession>(value.clone());
        let _ = serde_json::from_value::<immybot_client::MaintenanceAction>(value.clone());
        let _ = serde_json::from_value::<immybot_client::StartResponseBody>(value.clone());
        let _ = serde_json::from_value::<SessionStatus>(value);
    }
}

/// Arbitrary JSON, biased towards the field names ImmyBot uses so that the
/// decoders see plausible objects with wrong types, not only noise.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let key = prop_oneof![
        Just("id".to_string()),
        Just("sessionStatus".to_string()),
        Just("computerId".to_string()),
        Just("maintenanceActions".to_string()),
        Just("sessionsStarted".to_string()),
        Just("sessionId".to_string()),
        Just("createdDateUTC".to_string()),
        Just("result".to_string()),
        "[a-zA-Z]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        ".{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::json!("2026-11-24T09:00:00Z")),
        Just(serde_json::json!("11/24/2026 09:00:00")),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}
