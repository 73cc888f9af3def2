//! Installs cluster objects the operator depends on but does not own at run
//! time: the admission policies. The Helm chart installs them in production;
//! the local run and the tests install them with this.

use k8s_openapi::api::admissionregistration::v1::{ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding};
use kube::api::{Api, Patch, PatchParams};

use crate::api::admission_policies;

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("admission object {0} does not decode: {1}")]
    Decode(String, serde_json::Error),
    #[error("applying {0}: {1}")]
    Apply(String, kube::Error),
}

/// Server-side applies the ValidatingAdmissionPolicies and their bindings.
pub async fn install_admission_policies(client: &kube::Client) -> Result<(), BootstrapError> {
    let pp = PatchParams::apply("immybot-operator").force();
    for object in admission_policies() {
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        let kind = object["kind"].as_str().unwrap_or_default().to_owned();
        let what = format!("{kind} {name}");
        if kind == "ValidatingAdmissionPolicy" {
            let p: ValidatingAdmissionPolicy =
                serde_json::from_value(object).map_err(|e| BootstrapError::Decode(what.clone(), e))?;
            Api::<ValidatingAdmissionPolicy>::all(client.clone())
                .patch(&name, &pp, &Patch::Apply(&p))
                .await
                .map_err(|e| BootstrapError::Apply(what, e))?;
        } else {
            let b: ValidatingAdmissionPolicyBinding =
                serde_json::from_value(object).map_err(|e| BootstrapError::Decode(what.clone(), e))?;
            Api::<ValidatingAdmissionPolicyBinding>::all(client.clone())
                .patch(&name, &pp, &Patch::Apply(&b))
                .await
                .map_err(|e| BootstrapError::Apply(what, e))?;
        }
    }
    Ok(())
}
