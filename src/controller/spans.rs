//! The span every reconcile runs in, so that each log line and each
//! ImmyBot call span below it names the object: its kind, namespace and
//! name. (kube-runtime's own `reconciling object` span is its parent; its
//! `object.ref` is one string, not fields a trace backend can filter on.)

use std::future::Future;
use std::sync::Arc;

use tracing::Instrument as _;

/// `reconcile` of `obj`, in a `reconcile` span with the object's kind,
/// namespace and name (`object`).
pub fn traced<K, C, F>(
    reconcile: impl Fn(Arc<K>, Arc<C>) -> F,
) -> impl FnMut(Arc<K>, Arc<C>) -> tracing::instrument::Instrumented<F>
where
    K: kube::Resource<DynamicType = ()>,
    F: Future,
{
    move |obj, ctx| {
        let span = tracing::info_span!(
            "reconcile",
            kind = %K::kind(&()),
            namespace = obj.meta().namespace.as_deref().unwrap_or_default(),
            // `object`, not `name`: JSON logs give a span's own name that key.
            object = obj.meta().name.as_deref().unwrap_or_default(),
        );
        reconcile(obj, ctx).instrument(span)
    }
}
