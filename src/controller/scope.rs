//! What every kind's controller is set up with: the namespaces it serves,
//! and where its reconciles' results are counted.

use kube::api::Api;

/// Which namespaces one controller serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    AllNamespaces,
    Namespace(String),
}

impl Scope {
    /// The namespaced kind `K` in this scope.
    pub fn api<K>(&self, client: &kube::Client) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match self {
            Scope::AllNamespaces => Api::all(client.clone()),
            Scope::Namespace(ns) => Api::namespaced(client.clone(), ns),
        }
    }
}

/// One reconcile's result, to the metrics (its error as the label).
fn report<T, E: std::fmt::Display>(
    observer: &dyn super::observer::ControllerObserver,
    result: &Result<T, kube::runtime::controller::Error<super::error::Error, E>>,
) {
    match result {
        Ok(_) => observer.reconciled(None),
        Err(kube::runtime::controller::Error::ReconcilerFailed(e, _)) => observer.reconciled(Some(e.metric_label())),
        Err(e) => tracing::debug!(error = %e, "controller stream error"),
    }
}

/// Runs a controller's stream to its end, counting every result.
pub async fn report_all<T, E: std::fmt::Display + 'static>(
    results: impl futures::Stream<Item = Result<T, kube::runtime::controller::Error<super::error::Error, E>>>,
    observer: std::sync::Arc<dyn super::observer::ControllerObserver>,
) {
    use futures::StreamExt as _;
    results
        .for_each(|result| {
            report(&*observer, &result);
            futures::future::ready(())
        })
        .await;
}
