//! The controller's errors. The variant names the failure in logs and is the
//! `error` label of the reconcile-failure metric.

use immybot_client::ImmyBotError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("ImmyBot: {0}")]
    ImmyBot(#[from] ImmyBotError),
    /// Another writer changed the object first; nothing was done, look again.
    #[error("the object changed while it was being reconciled; looking again")]
    Conflict,
    /// Deletion waits for ImmyBot to confirm cancelled sessions.
    #[error("waiting for ImmyBot to confirm that sessions {0:?} are cancelled")]
    AwaitingCancellation(Vec<i32>),
    /// A test stopped the reconcile at a crash point (`test_hooks`).
    #[cfg(any(test, feature = "test-hooks"))]
    #[error("simulated crash at {0}")]
    SimulatedCrash(&'static str),
    /// The operator could not learn its own user name (SelfSubjectReview),
    /// which the runs it creates must carry as `requestedBy`.
    #[error("cannot learn the operator's own Kubernetes user name: {0}")]
    Identity(#[from] IdentityError),
    /// A run's name is taken by an object this schedule does not own.
    #[error(
        "the run due at {scheduled} would be MaintenanceSession {run}, but a session of that name exists that this schedule did not create; rename or delete it"
    )]
    RunNameTaken { run: String, scheduled: jiff::Timestamp },
    /// The object's ImmyBot connection cannot be used (missing, not ready,
    /// ambiguous, or moved to another instance): nothing is sent.
    #[error("{0}")]
    Connection(#[from] super::connections::ConnectionProblem),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

impl Error {
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
            Error::ImmyBot(e) => e.kind().label(),
            Error::Conflict => "conflict",
            Error::AwaitingCancellation(_) => "awaiting_cancellation",
            #[cfg(any(test, feature = "test-hooks"))]
            Error::SimulatedCrash(_) => "simulated_crash",
            Error::Identity(_) => "identity",
            Error::RunNameTaken { .. } => "run_name_taken",
            Error::Connection(_) => "connection",
            Error::Finalizer(inner) => match &**inner {
                kube::runtime::finalizer::Error::ApplyFailed(e) | kube::runtime::finalizer::Error::CleanupFailed(e) => {
                    e.metric_label()
                }
                _ => "finalizer",
            },
        }
    }
}

/// Why the operator's own user name is unknown.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("the SelfSubjectReview failed: {0}")]
    Review(#[source] kube::Error),
    #[error("the API server's answer names no user")]
    NoUserName,
}

/// Whether a Kubernetes error is a 409 Conflict (a failed precondition).
pub fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}
