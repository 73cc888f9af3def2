//! The Argo CD health checks and actions (`deploy/argocd/`) run in a real
//! Lua 5.1 interpreter (Argo CD's gopher-lua implements Lua 5.1) over status
//! fixtures captured from MaintenanceSessions on the test API server
//! (`tests/data/argocd/`, written by the e2e kstatus test with
//! IMMYBOT_CAPTURE_FIXTURES set).
// Helpers panic on broken fixtures or scripts: that is how a test reports them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mlua::{Lua, LuaSerdeExt as _, Value as LuaValue};
use serde_json::Value;

const ROOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/argocd/resource_customizations/immybot.io"
);

fn script(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/data/argocd/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

/// Runs `code` with the global `obj` set, as Argo CD does, and returns its result as JSON.
fn run(code: &str, obj: &Value) -> Value {
    let lua = Lua::new();
    let options = mlua::serde::SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false);
    let table = lua.to_value_with(obj, options).unwrap();
    lua.globals().set("obj", table).unwrap();
    let result: LuaValue = lua.load(code).eval().unwrap_or_else(|e| panic!("Lua error: {e}"));
    lua.from_value(result).unwrap()
}

fn health(name: &str) -> (String, String) {
    let hs = run(&script("MaintenanceSession/health.lua"), &fixture(name));
    (
        hs["status"].as_str().unwrap_or_default().to_owned(),
        hs["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn health_follows_the_phase_and_says_why() {
    let cases = [
        ("awaitingapproval", "Progressing", "kubectl immybot approve"),
        ("suspended", "Suspended", "spec.suspend is true"),
        ("queued", "Progressing", "ImmyBot accepted the sessions"),
        ("succeeded", "Healthy", "passed"),
        ("partiallysucceeded", "Degraded", "did not pass"),
        ("pending-stalled", "Degraded", "matches no ImmyBot computer"),
    ];
    for (name, status, message) in cases {
        let (got_status, got_message) = health(name);
        assert_eq!(got_status, status, "{name}: {got_message}");
        assert!(
            got_message.contains(message),
            "{name}: {got_message:?} lacks {message:?}"
        );
    }
}

#[test]
fn health_waits_for_the_operator_to_catch_up() {
    let mut obj = fixture("succeeded");
    obj["metadata"]["generation"] = (obj["status"]["observedGeneration"].as_i64().unwrap() + 1).into();
    let hs = run(&script("MaintenanceSession/health.lua"), &obj);
    assert_eq!(hs["status"], "Progressing");
    let mut fresh = fixture("succeeded");
    fresh.as_object_mut().unwrap().remove("status");
    assert_eq!(
        run(&script("MaintenanceSession/health.lua"), &fresh)["status"],
        "Progressing"
    );
}

#[test]
fn actions_are_offered_only_when_they_make_sense() {
    let discovery = script("MaintenanceSession/actions/discovery.lua");
    let disabled = |name: &str, action: &str| run(&discovery, &fixture(name))[action]["disabled"].as_bool().unwrap();
    assert!(!disabled("queued", "suspend") && !disabled("queued", "cancel") && disabled("queued", "resume"));
    assert!(disabled("suspended", "suspend") && !disabled("suspended", "resume"));
    for action in ["suspend", "resume", "cancel", "continue"] {
        assert!(
            disabled("succeeded", action),
            "{action} must be disabled on a finished session"
        );
    }
    assert!(disabled("queued", "continue"), "nothing waits for a person");
}

#[test]
fn a_halted_rollout_can_be_continued_once_per_action() {
    let mut halted = fixture("queued");
    halted["status"]["phase"] = "Halted".into();
    let discovery = script("MaintenanceSession/actions/discovery.lua");
    assert_eq!(run(&discovery, &halted)["continue"]["disabled"], false);
    let action = script("MaintenanceSession/actions/continue/action.lua");
    let once = run(&action, &halted);
    let before = halted["spec"]["resume"]["requests"].as_i64().unwrap_or(0);
    assert_eq!(once["spec"]["resume"]["requests"].as_i64(), Some(before + 1));
    assert_eq!(
        run(&action, &once)["spec"]["resume"]["requests"].as_i64(),
        Some(before + 2)
    );
    assert_eq!(once["spec"]["target"], halted["spec"]["target"], "nothing else changes");
    let mut bare = halted.clone();
    bare["spec"].as_object_mut().unwrap().remove("resume");
    assert_eq!(run(&action, &bare)["spec"]["resume"]["requests"], 1);
}

#[test]
fn actions_change_exactly_the_control_fields() {
    let before = fixture("queued");
    let suspended = run(&script("MaintenanceSession/actions/suspend/action.lua"), &before);
    assert_eq!(suspended["spec"]["suspend"], true);
    assert_eq!(
        suspended["spec"]["target"], before["spec"]["target"],
        "nothing else changes"
    );
    let resumed = run(&script("MaintenanceSession/actions/resume/action.lua"), &suspended);
    assert_eq!(resumed["spec"]["suspend"], false);
    let cancelled = run(&script("MaintenanceSession/actions/cancel/action.lua"), &before);
    assert_eq!(cancelled["spec"]["cancel"]["reason"], "cancelled from Argo CD");
    let mut already = before.clone();
    already["spec"]["cancel"] = serde_json::json!({"reason": "by a person"});
    let again = run(&script("MaintenanceSession/actions/cancel/action.lua"), &already);
    assert_eq!(
        again["spec"]["cancel"]["reason"], "by a person",
        "an existing reason is kept"
    );
}

#[test]
fn approvals_are_healthy_until_they_expire() {
    let approval = |expires: &str| {
        serde_json::json!({
            "metadata": {"name": "a", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"sessionName": "s", "digest": "sha256:ab", "approver": "bob", "expiresAt": expires},
        })
    };
    let code = script("MaintenanceApproval/health.lua");
    assert_eq!(run(&code, &approval("2999-01-01T00:00:00Z"))["status"], "Healthy");
    assert_eq!(run(&code, &approval("2020-01-01T00:00:00Z"))["status"], "Degraded");
}

fn schedule_health(name: &str) -> (String, String) {
    let hs = run(&script("ImmyBotSchedule/health.lua"), &fixture(name));
    (
        hs["status"].as_str().unwrap_or_default().to_owned(),
        hs["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn schedule_health_follows_the_conditions_and_says_why() {
    let cases = [
        (
            "schedule-awaitingapproval",
            "Progressing",
            "nothing is created in ImmyBot before approval",
        ),
        ("schedule-ready", "Healthy", "matches the approved definition"),
        ("schedule-suspended", "Suspended", "disabled in ImmyBot"),
        ("schedule-drifted", "Degraded", "customCronExpression"),
        ("schedule-stalled", "Degraded", "No Such Tenant"),
    ];
    for (name, status, message) in cases {
        let (got_status, got_message) = schedule_health(name);
        assert_eq!(got_status, status, "{name}: {got_message}");
        assert!(
            got_message.contains(message),
            "{name}: {got_message:?} lacks {message:?}"
        );
    }
    let mut stale = fixture("schedule-ready");
    stale["metadata"]["generation"] = (stale["status"]["observedGeneration"].as_i64().unwrap() + 1).into();
    assert_eq!(
        run(&script("ImmyBotSchedule/health.lua"), &stale)["status"],
        "Progressing"
    );
    let mut failed_run = fixture("schedule-ready");
    failed_run["status"]["lastRun"] =
        serde_json::json!({"result": "Failed", "computers": 2, "passed": 0, "failed": 2, "missed": 0, "running": 0});
    let hs = run(&script("ImmyBotSchedule/health.lua"), &failed_run);
    assert_eq!(hs["status"], "Healthy", "a failed run is the computers' health");
    assert!(hs["message"].as_str().unwrap().contains("last run Failed"));
}

#[test]
fn schedule_actions_are_offered_when_they_make_sense_and_count_requests() {
    let discovery = script("ImmyBotSchedule/actions/discovery.lua");
    let disabled = |obj: &Value, action: &str| run(&discovery, obj)[action]["disabled"].as_bool().unwrap();
    let waiting = fixture("schedule-awaitingapproval");
    assert!(disabled(&waiting, "run-now"), "nothing to run before ImmyBot has it");
    assert!(disabled(&waiting, "cancel-running") && disabled(&waiting, "resume"));
    let ready = fixture("schedule-ready");
    assert!(!disabled(&ready, "run-now") && !disabled(&ready, "suspend"));
    let suspended = fixture("schedule-suspended");
    assert!(disabled(&suspended, "run-now") && disabled(&suspended, "suspend") && !disabled(&suspended, "resume"));
    let mut running = ready.clone();
    running["status"]["running"] = true.into();
    assert!(!disabled(&running, "cancel-running"));

    let once = run(&script("ImmyBotSchedule/actions/run-now/action.lua"), &ready);
    let before = ready["spec"]["runNow"]["requests"].as_i64().unwrap_or(0);
    assert_eq!(once["spec"]["runNow"]["requests"].as_i64(), Some(before + 1));
    let twice = run(&script("ImmyBotSchedule/actions/run-now/action.lua"), &once);
    assert_eq!(twice["spec"]["runNow"]["requests"].as_i64(), Some(before + 2));
    assert_eq!(twice["spec"]["target"], ready["spec"]["target"], "nothing else changes");
    let mut bare = ready.clone();
    bare["spec"].as_object_mut().unwrap().remove("cancelRunning");
    let cancelled = run(&script("ImmyBotSchedule/actions/cancel-running/action.lua"), &bare);
    assert_eq!(cancelled["spec"]["cancelRunning"]["requests"], 1);
    let held = run(&script("ImmyBotSchedule/actions/suspend/action.lua"), &ready);
    assert_eq!(held["spec"]["suspend"], true);
    assert_eq!(
        run(&script("ImmyBotSchedule/actions/resume/action.lua"), &held)["spec"]["suspend"],
        false
    );
}

fn maintenance_schedule_health(obj: &Value) -> (String, String) {
    let hs = run(&script("MaintenanceSchedule/health.lua"), obj);
    (
        hs["status"].as_str().unwrap_or_default().to_owned(),
        hs["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn maintenance_schedule_health_follows_the_conditions_and_says_why() {
    let cases = [
        ("maintenanceschedule-scheduled", "Healthy", "next run at"),
        ("maintenanceschedule-suspended", "Suspended", "spec.suspend is true"),
        ("maintenanceschedule-stalled", "Degraded", "0 25 * * *"),
    ];
    for (name, status, message) in cases {
        let (got_status, got_message) = maintenance_schedule_health(&fixture(name));
        assert_eq!(got_status, status, "{name}: {got_message}");
        assert!(
            got_message.contains(message),
            "{name}: {got_message:?} lacks {message:?}"
        );
    }
    let mut stale = fixture("maintenanceschedule-scheduled");
    stale["metadata"]["generation"] = (stale["status"]["observedGeneration"].as_i64().unwrap() + 1).into();
    assert_eq!(maintenance_schedule_health(&stale).0, "Progressing");
    let mut failed_run = fixture("maintenanceschedule-scheduled");
    failed_run["status"]["lastRun"] =
        serde_json::json!({"name": "fine-29925180", "scheduledTime": "2026-12-01T00:00:00Z", "phase": "Failed"});
    let (status, message) = maintenance_schedule_health(&failed_run);
    assert_eq!(status, "Healthy", "a failed run is the computers' health");
    assert!(message.contains("last run fine-29925180 Failed"), "{message}");
}

#[test]
fn maintenance_schedule_actions_suspend_and_resume() {
    let discovery = script("MaintenanceSchedule/actions/discovery.lua");
    let disabled = |obj: &Value, action: &str| run(&discovery, obj)[action]["disabled"].as_bool().unwrap();
    let scheduled = fixture("maintenanceschedule-scheduled");
    assert!(!disabled(&scheduled, "suspend") && disabled(&scheduled, "resume"));
    let suspended = fixture("maintenanceschedule-suspended");
    assert!(disabled(&suspended, "suspend") && !disabled(&suspended, "resume"));
    let held = run(&script("MaintenanceSchedule/actions/suspend/action.lua"), &scheduled);
    assert_eq!(held["spec"]["suspend"], true);
    assert_eq!(held["spec"]["sessionTemplate"], scheduled["spec"]["sessionTemplate"]);
    assert_eq!(
        run(&script("MaintenanceSchedule/actions/resume/action.lua"), &held)["spec"]["suspend"],
        false
    );
}
