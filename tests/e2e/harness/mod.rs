//! The shared test bed: one control plane per test binary, one namespace per
//! test. See `testbed.rs` for how binaries are found and logs are kept.

pub mod alerting;
pub mod cloud_events;
mod cluster_fixtures;
mod context;
pub mod invariants;
mod operator;
mod proxy;
mod testbed;

pub use cluster_fixtures::SETTINGS_NAMESPACE;
pub use context::{TestContext, apiserver_requests, delete_namespace, until, wait_for};
pub use operator::{
    CLUSTER_CONNECTION_SECRETS, Controller, fleet, lose_next_start_answer, manual_simulator, simulator, simulator_of,
    spawn_operator_binary,
};
pub use proxy::ApiServerProxy;
pub use testbed::{TEST_USERS_GROUP, Testbed, reexec_with_logging_wrappers};

/// Installs the once-per-run fixtures (admission policies, test users' RBAC).
pub async fn install_cluster_fixtures(testbed: &Testbed) -> Result<(), String> {
    cluster_fixtures::install(testbed).await
}

use std::future::Future;
use std::pin::Pin;

pub type TestResult = Result<(), String>;
pub type TestFn = fn(TestContext) -> Pin<Box<dyn Future<Output = TestResult> + Send>>;

/// Lists tests as `(name, fn)` pairs: `tests![module::test_a, module::test_b]`.
#[macro_export]
macro_rules! tests {
    ($($path:path),* $(,)?) => {
        vec![$((
            stringify!($path).replace(' ', ""),
            (|ctx| Box::pin($path(ctx))) as $crate::harness::TestFn,
        )),*]
    };
}

/// Turns any displayable error into a test failure message.
pub trait Context<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T, E: std::fmt::Display> Context<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}
