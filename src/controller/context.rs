//! What every reconcile shares: clients, policy, timing. One `Context`,
//! nothing global.

use std::sync::Arc;
use std::time::Duration;

use kube::runtime::events::{Recorder, Reporter};

use super::approval::ApprovalPolicy;
use super::observer::{ControllerObserver, NoObserver};
use crate::immybot::ImmyBotClient;

/// Timing of the controller; the defaults suit production, tests shorten them.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    /// How long an unanswered start may still be in flight in another
    /// controller before its sessions are looked up. Must exceed the ImmyBot
    /// request timeout, or a slow start could be taken for a lost one.
    pub start_grace: Duration,
    /// How long until computers ImmyBot reported busy with another session
    /// are tried again (doubling while they stay busy, up to ten times this).
    pub busy_retry: Duration,
    /// How long deletion waits for ImmyBot to confirm a cancellation.
    pub cancel_confirm_timeout: Duration,
    /// Poll interval while sessions run, and while nothing runs.
    pub poll_active: Duration,
    pub poll_idle: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            start_grace: Duration::from_secs(90),
            busy_retry: Duration::from_secs(60),
            cancel_confirm_timeout: Duration::from_secs(120),
            poll_active: Duration::from_secs(10),
            poll_idle: Duration::from_secs(60),
        }
    }
}

/// Where a test can make the controller "crash" inside the start protocol:
/// the reconcile stops there as if the process died. Never set in production.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CrashPoint {
    #[default]
    Never,
    /// After the intent is recorded, before the start call is sent.
    AfterIntent,
    /// After ImmyBot answered, before the session ids are recorded.
    AfterStart,
}

pub struct Context {
    pub client: kube::Client,
    pub immybot: ImmyBotClient,
    /// The ImmyBot instance's base URL, recorded in status.
    pub instance: String,
    pub policy: ApprovalPolicy,
    pub timing: Timing,
    pub recorder: Recorder,
    pub crash_point: CrashPoint,
    pub observer: Arc<dyn ControllerObserver>,
    /// Actions of ended ImmyBot sessions, read once (see `action_reader`).
    pub actions: super::action_reader::ActionCache,
}

impl Context {
    /// A context that reports to no one and never crashes on purpose; set
    /// `observer` (and, in tests, `crash_point`) before sharing it.
    pub fn new(
        client: kube::Client,
        immybot: ImmyBotClient,
        instance: String,
        policy: ApprovalPolicy,
        timing: Timing,
    ) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "immybot-operator".into(),
                instance: None,
            },
        );
        Self {
            client,
            immybot,
            instance,
            policy,
            timing,
            recorder,
            crash_point: CrashPoint::Never,
            observer: Arc::new(NoObserver),
            actions: Default::default(),
        }
    }
}
