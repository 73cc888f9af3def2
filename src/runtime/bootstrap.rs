//! Installs cluster objects the operator depends on but does not own at run
//! time: the admission policies. The Helm chart installs them in production;
//! the local run and the tests install them with this.

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};

use crate::api::{admission_policies, control_audit_policies, shard_label_policies};

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("admission object {0} does not decode: {1}")]
    Decode(String, serde_json::Error),
    #[error("applying {0}: {1}")]
    Apply(String, kube::Error),
}

/// Server-side applies the admission policies and their bindings: the
/// validating ones, then the ones that stamp who used a control and label
/// new objects with their shard (the API server must serve
/// `admissionregistration.k8s.io/v1` MutatingAdmissionPolicy, Kubernetes
/// 1.36 or later).
pub async fn install_admission_policies(client: &kube::Client) -> Result<(), BootstrapError> {
    for object in admission_policies()
        .into_iter()
        .chain(control_audit_policies())
        .chain(shard_label_policies())
    {
        apply(client, object).await?;
    }
    Ok(())
}

/// Server-side applies the pilot rule's policy bindings, reading the
/// settings ConfigMap in `namespace` (the chart's `pilot-rule.yaml`).
pub async fn install_pilot_binding(client: &kube::Client, namespace: &str) -> Result<(), BootstrapError> {
    for binding in crate::api::pilot::pilot_bindings(namespace) {
        apply(client, binding).await?;
    }
    Ok(())
}

/// Server-side applies one admission object.
async fn apply(client: &kube::Client, object: serde_json::Value) -> Result<(), BootstrapError> {
    let pp = PatchParams::apply("immybot-operator").force();
    let name = object["metadata"]["name"].as_str().unwrap_or_default().to_owned();
    let kind = object["kind"].as_str().unwrap_or_default().to_owned();
    let what = format!("{kind} {name}");
    let gvk = GroupVersionKind::gvk("admissionregistration.k8s.io", "v1", &kind);
    let lower = kind.to_ascii_lowercase();
    let plural = match lower.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{lower}s"),
    };
    let resource = ApiResource::from_gvk_with_plural(&gvk, &plural);
    let typed: DynamicObject = serde_json::from_value(object).map_err(|e| BootstrapError::Decode(what.clone(), e))?;
    Api::<DynamicObject>::all_with(client.clone(), &resource)
        .patch(&name, &pp, &Patch::Apply(&typed))
        .await
        .map_err(|e| BootstrapError::Apply(what, e))?;
    Ok(())
}
