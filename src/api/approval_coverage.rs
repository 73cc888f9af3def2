//! What an approval covers, declared once per kind.
//!
//! Every spec field of every kind that can be approved is classified here,
//! and nothing else decides it: the approval digest (`controller::digest`),
//! the admission rule that only the requester may change what is approved
//! (`admission.rs`, generated into `deploy/`), the stamping of who used a
//! control (`control_audit.rs`), the plugin's approval prompt and the table
//! in docs/design.md are all derived from these lists. A unit test walks
//! each CRD's schema and fails on a spec field that is not classified, so a
//! new field is classified on purpose, not by whoever remembers a list.
//!
//! The rule: a field that decides what happens to computers, or when, is
//! `Covered` (in the digest, changed by the requester only, so a change
//! revokes the approval and nobody else can make one); a field that only
//! stops, holds, repeats or continues the approved maintenance is a
//! `Control` (open to anyone with edit rights; who used it is recorded).

use std::sync::LazyLock;

/// How a spec field relates to approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldClass {
    /// Decides what happens to computers, or when: in the approval digest,
    /// and only the requester may change it.
    Covered,
    /// Explains the request (why, the labels of runs): only the requester
    /// may change it, but it changes nothing done to a computer, so it is
    /// not in the digest.
    Words,
    /// The inline approval (GitOps): only the requester may set or change it.
    InlineApproval,
    /// Who asked: checked at creation and never changed (CRD rules).
    Identity,
    /// Stops, holds, repeats or continues the approved maintenance: open to
    /// anyone with edit rights; who changed it last is stamped at admission
    /// and recorded in status.
    Control,
}

impl FieldClass {
    /// Whether only the requester may change it after creation.
    pub fn is_requester_only(self) -> bool {
        matches!(
            self,
            FieldClass::Covered | FieldClass::Words | FieldClass::InlineApproval
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FieldClass::Covered => "covered",
            FieldClass::Words => "words",
            FieldClass::InlineApproval => "inline approval",
            FieldClass::Identity => "identity",
            FieldClass::Control => "control",
        }
    }
}

/// One spec field (or one sub-field, where a field's parts are classified
/// apart, as `rollout.maxFailures` is from the rest of `rollout`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecField {
    /// The camelCase path under `spec`, dotted (`rollout.maxConcurrent`).
    pub path: String,
    pub class: FieldClass,
    /// For a covered field added after objects existed: the value that
    /// digests as if the field were absent (JSON), so that the digests of
    /// objects written before it (and their approvals) still hold.
    pub digest_absent_when: Option<&'static str>,
    /// For a requester-only field: a merge patch of `spec` (JSON) that
    /// changes this field on the kind's `example_spec`. The admission walk
    /// test (tests/e2e/approval_coverage.rs) applies it as a third party
    /// (refused) and as the requester (accepted, digest changed), so a new
    /// field is tested without anyone editing the test.
    pub sample_edit: Option<String>,
}

impl SpecField {
    fn new(path: &str, class: FieldClass) -> Self {
        Self {
            path: path.to_owned(),
            class,
            digest_absent_when: None,
            sample_edit: None,
        }
    }

    fn edit(mut self, patch: &str) -> Self {
        self.sample_edit = Some(patch.to_owned());
        self
    }

    fn absent_when(mut self, value: &'static str) -> Self {
        self.digest_absent_when = Some(value);
        self
    }

    /// The path's segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.path.split('.')
    }
}

/// A kind's classification.
#[derive(Clone, Debug)]
pub struct KindCoverage {
    pub kind: &'static str,
    /// The plural resource name admission policies match.
    pub resource: &'static str,
    /// Put into the digest as `"kind"`; `None` for MaintenanceSession,
    /// whose digests never carried it (so existing approvals hold).
    pub digest_kind: Option<&'static str>,
    pub fields: Vec<SpecField>,
    /// A spec every `sample_edit` applies to (JSON; `requestedBy` is
    /// filled in by the test).
    pub example_spec: &'static str,
}

impl KindCoverage {
    pub fn covered(&self) -> impl Iterator<Item = &SpecField> {
        self.fields.iter().filter(|f| f.class == FieldClass::Covered)
    }

    pub fn requester_only(&self) -> impl Iterator<Item = &SpecField> {
        self.fields.iter().filter(|f| f.class.is_requester_only())
    }

    pub fn controls(&self) -> impl Iterator<Item = &SpecField> {
        self.fields.iter().filter(|f| f.class == FieldClass::Control)
    }

    pub fn field(&self, path: &str) -> Option<&SpecField> {
        self.fields.iter().find(|f| f.path == path)
    }
}

use FieldClass::{Control, Covered, Identity, InlineApproval, Words};

/// A MaintenanceSession's spec fields.
fn session_fields() -> Vec<SpecField> {
    vec![
        SpecField::new("requestedBy", Identity),
        SpecField::new("scheduledBy", Identity),
        // Which ImmyBot session an observe-only object mirrors: fixed at
        // creation (CRD rules) like who asked; the object (its uid, which
        // the digest names) stands for that one session for good.
        SpecField::new("observe", Identity),
        SpecField::new("target", Covered).edit(r#"{"target":{"tenant":{"id":3}}}"#),
        SpecField::new("mode", Covered).edit(r#"{"mode":"DetectionOnly"}"#),
        SpecField::new("deployment", Covered).edit(r#"{"deployment":{"id":7,"type":"Global"}}"#),
        SpecField::new("reboot", Covered).edit(r#"{"reboot":{"policy":"Always"}}"#),
        SpecField::new("offline", Covered).edit(r#"{"offline":"ApplyOnConnect"}"#),
        SpecField::new("priority", Covered).edit(r#"{"priority":"High"}"#),
        // Which instance the maintenance runs in, with whose credentials.
        SpecField::new("connectionRef", Covered).edit(r#"{"connectionRef":{"name":"lab"}}"#),
        // When it may start is part of what is approved. Absent when
        // empty (serde skips an empty list), so older digests hold.
        SpecField::new("windows", Covered).edit(
            r#"{"windows":[{"days":["Monday","Tuesday","Wednesday","Thursday","Friday","Saturday","Sunday"],"start":"00:00","duration":"24h","timeZone":"UTC"}]}"#,
        ),
        // How the computers are rolled out is approved; AllAtOnce (what no
        // rollout means) digests as no rollout.
        SpecField::new("rollout.strategy", Covered)
            .absent_when(r#""AllAtOnce""#)
            .edit(r#"{"rollout":{"strategy":"AllAtOnce","pilot":null,"maxConcurrent":null,"maxFailures":null,"tenantByTenant":null,"maxFailuresPerTenant":null,"countOfflineAsFailures":null,"healthGate":null}}"#),
        SpecField::new("rollout.pilot", Covered).edit(r#"{"rollout":{"pilot":{"count":2}}}"#),
        SpecField::new("rollout.maxConcurrent", Covered).edit(r#"{"rollout":{"maxConcurrent":3}}"#),
        // The failure budget is a brake: raising it continues a halted
        // rollout without a new approval.
        SpecField::new("rollout.maxFailures", Control),
        // Which tenants go together is what the approver approves.
        SpecField::new("rollout.tenantByTenant", Covered).edit(r#"{"rollout":{"tenantByTenant":{"tenantsAtOnce":2}}}"#),
        // Like maxFailures: when to stop, not what runs.
        SpecField::new("rollout.maxFailuresPerTenant", Control),
        SpecField::new("rollout.countOfflineAsFailures", Control),
        // Which alarms stop the rollout is part of what the approver
        // agrees to: loosening a gate (or pointing it elsewhere) is a new
        // request, and nobody but the requester may do it.
        SpecField::new("rollout.healthGate", Covered).edit(
            r#"{"rollout":{"healthGate":{"alertmanager":{"address":"http://alertmanager.monitoring:9093","matchers":["severity=\"critical\""]}}}}"#,
        ),
        // Planning before approval, how old a plan may get and what drift
        // does: all part of what the approver agrees to.
        SpecField::new("plan", Covered).edit(r#"{"plan":{"enabled":true,"maxAge":"1h","onDrift":"Proceed"}}"#),
        SpecField::new("reason", Words).edit(r#"{"reason":"CHG-2 another ticket"}"#),
        SpecField::new("approval", InlineApproval)
            .edit(r#"{"approval":{"approvedBy":"carol","reference":"https://git.example/pr/1"}}"#),
        SpecField::new("suspend", Control),
        SpecField::new("cancel", Control),
        SpecField::new("timeout", Control),
        SpecField::new("retry", Control),
        SpecField::new("resume", Control),
        SpecField::new("deletionPolicy", Control),
    ]
}

/// The session fields a MaintenanceSchedule's `sessionTemplate.spec` does
/// not have: the operator fills them in (`requestedBy`, `scheduledBy`),
/// runs start their own sessions (`observe`), or they act on one run
/// (`approval`, `suspend`, `cancel`, `resume`).
const NOT_IN_TEMPLATE: &[&str] = &[
    "requestedBy",
    "scheduledBy",
    "observe",
    "approval",
    "suspend",
    "cancel",
    "resume",
    // A run's plan would need a person per run (docs/design.md).
    "plan",
];

/// Where a MaintenanceSchedule keeps what each run does.
pub const TEMPLATE_SPEC_PATH: &str = "sessionTemplate.spec";

static SESSION: LazyLock<KindCoverage> = LazyLock::new(|| KindCoverage {
    kind: "MaintenanceSession",
    resource: "maintenancesessions",
    digest_kind: None,
    fields: session_fields(),
    example_spec: r#"{"reason":"CHG-1 patch the desk","suspend":true,
        "target":{"tenant":{"id":1,"includeChildTenants":true}},
        "rollout":{"strategy":"Waves","pilot":{"count":1},"maxConcurrent":2}}"#,
});

/// A MaintenanceSchedule's runs are sessions: its template's fields are
/// classified as the session's are, under `sessionTemplate.spec`.
static SESSION_TEMPLATE: LazyLock<KindCoverage> = LazyLock::new(|| KindCoverage {
    kind: "MaintenanceSchedule",
    resource: "maintenanceschedules",
    digest_kind: None,
    fields: session_fields()
        .into_iter()
        .filter(|f| !NOT_IN_TEMPLATE.contains(&f.path.as_str()))
        .collect(),
    example_spec: "{}",
});

static MAINTENANCE_SCHEDULE: LazyLock<KindCoverage> = LazyLock::new(|| {
    let mut fields = vec![
        SpecField::new("requestedBy", Identity),
        SpecField::new("schedule", Covered).edit(r#"{"schedule":"0 3 * * *"}"#),
        SpecField::new("timeZone", Covered).edit(r#"{"timeZone":"America/New_York"}"#),
        SpecField::new("sessionTemplate.metadata", Words)
            .edit(r#"{"sessionTemplate":{"metadata":{"labels":{"team":"another"}}}}"#),
        SpecField::new("approval", InlineApproval)
            .edit(r#"{"approval":{"approvedBy":"carol","reference":"https://git.example/pr/1"}}"#),
        SpecField::new("suspend", Control),
        SpecField::new("concurrencyPolicy", Control),
        SpecField::new("startingDeadlineSeconds", Control),
        SpecField::new("successfulRunsHistoryLimit", Control),
        SpecField::new("failedRunsHistoryLimit", Control),
    ];
    fields.extend(SESSION_TEMPLATE.fields.iter().map(|f| {
        SpecField {
            path: format!("{TEMPLATE_SPEC_PATH}.{}", f.path),
            // `{"x": ...}` becomes `{"sessionTemplate": {"spec": {"x": ...}}}`.
            sample_edit: f
                .sample_edit
                .as_ref()
                .map(|e| format!(r#"{{"sessionTemplate":{{"spec":{e}}}}}"#)),
            ..f.clone()
        }
    }));
    KindCoverage {
        kind: "MaintenanceSchedule",
        resource: "maintenanceschedules",
        digest_kind: Some("MaintenanceSchedule"),
        fields,
        example_spec: r#"{"schedule":"0 2 * * 6","timeZone":"Europe/Berlin","suspend":true,
            "sessionTemplate":{"metadata":{"labels":{"team":"desk"}},"spec":{"reason":"CHG-1 weekly",
                "target":{"tenant":{"id":1,"includeChildTenants":true}},
                "rollout":{"strategy":"Waves","pilot":{"count":1},"maxConcurrent":2}}}}"#,
    }
});

static IMMYBOT_SCHEDULE: LazyLock<KindCoverage> = LazyLock::new(|| KindCoverage {
    kind: "ImmyBotSchedule",
    resource: "immybotschedules",
    digest_kind: Some("ImmyBotSchedule"),
    fields: vec![
        SpecField::new("requestedBy", Identity),
        SpecField::new("reason", Words).edit(r#"{"reason":"CHG-2 another ticket"}"#),
        SpecField::new("target", Covered).edit(r#"{"target":{"tenant":{"id":3}}}"#),
        // Which instance holds the schedule: fixed at creation (CRD rule),
        // like `observe` on a session; the approval names the object (its
        // uid), which stands for that instance for good.
        SpecField::new("connectionRef", Identity),
        SpecField::new("daily", Covered).edit(r#"{"daily":{"time":"23:00"}}"#),
        SpecField::new("weekly", Covered).edit(r#"{"daily":null,"weekly":{"days":["Saturday"],"time":"22:30"}}"#),
        SpecField::new("monthly", Covered).edit(r#"{"daily":null,"monthly":{"day":1,"time":"22:30"}}"#),
        SpecField::new("cron", Covered).edit(r#"{"daily":null,"cron":"30 22 * * 1-5"}"#),
        SpecField::new("timeZone", Covered).edit(r#"{"timeZone":"America/New_York"}"#),
        SpecField::new("useComputersTimeZone", Covered).edit(r#"{"useComputersTimeZone":true}"#),
        SpecField::new("afterActiveHours", Covered).edit(r#"{"afterActiveHours":true}"#),
        SpecField::new("maintenanceItem", Covered)
            .edit(r#"{"maintenanceItem":{"type":"GlobalSoftware","identifier":"7"}}"#),
        SpecField::new("applyWindowsUpdates", Covered).edit(r#"{"applyWindowsUpdates":true}"#),
        SpecField::new("reboot", Covered).edit(r#"{"reboot":{"policy":"Always"}}"#),
        SpecField::new("offline", Covered).edit(r#"{"offline":"ApplyOnConnect"}"#),
        SpecField::new("prompts", Covered).edit(r#"{"prompts":{"showPostponeButton":true}}"#),
        SpecField::new("emails", Covered).edit(r#"{"emails":{"followUp":true}}"#),
        // Which existing ImmyBot schedule gets replaced by this one: the
        // approver must see it (before, anyone could add it after approval).
        SpecField::new("adopt", Covered).edit(r#"{"adopt":{"scheduleId":77}}"#),
        SpecField::new("approval", InlineApproval)
            .edit(r#"{"approval":{"approvedBy":"carol","reference":"https://git.example/pr/1"}}"#),
        SpecField::new("suspend", Control),
        SpecField::new("deletionPolicy", Control),
        SpecField::new("driftPolicy", Control),
        SpecField::new("runNow", Control),
        SpecField::new("cancelRunning", Control),
    ],
    example_spec: r#"{"reason":"CHG-1 nightly","target":{"tenant":{"id":2}},"daily":{"time":"22:30"},
        "timeZone":"Europe/Berlin","suspend":true,"deletionPolicy":"Orphan"}"#,
});

/// What a MaintenanceSession's approval covers.
pub fn session_coverage() -> &'static KindCoverage {
    &SESSION
}

/// The session fields a MaintenanceSchedule's template carries, with the
/// session's classification (paths relative to `sessionTemplate.spec`).
pub fn session_template_coverage() -> &'static KindCoverage {
    &SESSION_TEMPLATE
}

/// What a standing approval of a MaintenanceSchedule covers.
pub fn maintenance_schedule_coverage() -> &'static KindCoverage {
    &MAINTENANCE_SCHEDULE
}

/// What an ImmyBotSchedule's approval covers.
pub fn immybot_schedule_coverage() -> &'static KindCoverage {
    &IMMYBOT_SCHEDULE
}

/// Every kind an approval can name, in the order the docs list them.
pub fn all_coverages() -> [&'static KindCoverage; 3] {
    [&SESSION, &IMMYBOT_SCHEDULE, &MAINTENANCE_SCHEDULE]
}

/// The table for docs/design.md: every field of every kind and its class.
pub fn coverage_markdown() -> String {
    let mut out = String::from(
        "| kind | covered: in the digest, requester only | words and inline approval: requester only, not in the digest | controls: anyone with edit rights, audited | identity: fixed at creation |\n| --- | --- | --- | --- | --- |\n",
    );
    for kind in all_coverages() {
        let list = |pick: &dyn Fn(FieldClass) -> bool| {
            let names: Vec<String> = kind
                .fields
                .iter()
                .filter(|f| pick(f.class))
                .map(|f| format!("`{}`", f.path))
                .collect();
            names.join(", ")
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            kind.kind,
            list(&|c| c == Covered),
            list(&|c| matches!(c, Words | InlineApproval)),
            list(&|c| c == Control),
            list(&|c| c == Identity),
        ));
    }
    out
}

/// The markers around the generated table in docs/design.md.
pub const COVERAGE_TABLE_BEGIN: &str =
    "<!-- approval-coverage: generated by `cargo run --bin crdgen -- crds`; do not edit -->";
pub const COVERAGE_TABLE_END: &str = "<!-- approval-coverage: end -->";

/// `doc` with the text between the markers replaced by today's table, or
/// `None` when the markers are missing.
pub fn with_coverage_table(doc: &str) -> Option<String> {
    let begin = doc.find(COVERAGE_TABLE_BEGIN)? + COVERAGE_TABLE_BEGIN.len();
    let end = begin + doc[begin..].find(COVERAGE_TABLE_END)?;
    Some(format!("{}\n{}{}", &doc[..begin], coverage_markdown(), &doc[end..]))
}

#[cfg(test)]
mod tests;
