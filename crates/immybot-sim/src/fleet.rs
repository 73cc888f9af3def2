//! The simulated instance's tenants and computers, from a YAML seed file or
//! generated, each with software items and a behaviour.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A seed file (`examples/sim-fleet.yaml` shows every field).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FleetSeed {
    pub tenants: Vec<SeedTenant>,
    pub computers: Vec<SeedComputer>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedTenant {
    pub id: i32,
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<i32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedComputer {
    pub id: i32,
    pub name: String,
    pub tenant_id: i32,
    #[serde(default = "yes")]
    pub online: bool,
    /// The user postpones reboot prompts: a `Prompt` session ends `Postponed`
    /// until resumed.
    #[serde(default)]
    pub postpones: bool,
    #[serde(default)]
    pub software: Vec<SeedSoftware>,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedSoftware {
    pub name: String,
    /// `maintenanceIdentifier`; defaults to the name in lower case.
    #[serde(default)]
    pub identifier: Option<String>,
    /// The installed version; absent means not installed.
    #[serde(default)]
    pub installed: Option<String>,
    pub desired: String,
    #[serde(default)]
    pub behaviour: SoftwareBehaviour,
}

/// What happens when the simulator installs or updates an item.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SoftwareBehaviour {
    #[default]
    Succeeds,
    Fails,
    NeedsReboot,
}

impl FleetSeed {
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let seed: FleetSeed = serde_saphyr::from_str(text).map_err(|e| format!("fleet seed: {e}"))?;
        seed.validate()?;
        Ok(seed)
    }

    /// `tenants` tenants of `computers_per_tenant` computers each, with a
    /// repeatable mix: most computers need an update, every 10th has an item
    /// that fails, every 7th needs a reboot, every 13th is offline.
    pub fn generate(tenants: u32, computers_per_tenant: u32) -> Self {
        let mut seed = FleetSeed::default();
        let mut computer_id = 1;
        for t in 1..=tenants as i32 {
            seed.tenants.push(SeedTenant {
                id: t,
                name: format!("Tenant {t:03}"),
                parent_id: None,
            });
            for c in 1..=computers_per_tenant {
                let n = computer_id;
                let mut software = vec![
                    SeedSoftware {
                        name: "7-Zip".into(),
                        identifier: None,
                        installed: Some("23.01".into()),
                        desired: "24.08".into(),
                        behaviour: SoftwareBehaviour::Succeeds,
                    },
                    SeedSoftware {
                        name: "Google Chrome".into(),
                        identifier: None,
                        installed: Some("131.0".into()),
                        desired: "131.0".into(),
                        behaviour: SoftwareBehaviour::Succeeds,
                    },
                ];
                if n % 10 == 0 {
                    software.push(SeedSoftware {
                        name: "Legacy VPN".into(),
                        identifier: None,
                        installed: None,
                        desired: "5.2".into(),
                        behaviour: SoftwareBehaviour::Fails,
                    });
                }
                if n % 7 == 0 {
                    software.push(SeedSoftware {
                        name: "Windows Update KB5044284".into(),
                        identifier: None,
                        installed: None,
                        desired: "1".into(),
                        behaviour: SoftwareBehaviour::NeedsReboot,
                    });
                }
                seed.computers.push(SeedComputer {
                    id: n,
                    name: format!("T{t:03}-PC{c:04}"),
                    tenant_id: t,
                    online: n % 13 != 0,
                    postpones: false,
                    software,
                });
                computer_id += 1;
            }
        }
        seed
    }

    fn validate(&self) -> Result<(), String> {
        let mut tenants = BTreeMap::new();
        for t in &self.tenants {
            if tenants.insert(t.id, t).is_some() {
                return Err(format!("fleet seed: tenant id {} appears twice", t.id));
            }
        }
        for t in &self.tenants {
            if let Some(p) = t.parent_id
                && !tenants.contains_key(&p)
            {
                return Err(format!("fleet seed: tenant {} names unknown parent {p}", t.id));
            }
        }
        let mut ids = std::collections::BTreeSet::new();
        for c in &self.computers {
            if !ids.insert(c.id) {
                return Err(format!("fleet seed: computer id {} appears twice", c.id));
            }
            if !tenants.contains_key(&c.tenant_id) {
                return Err(format!(
                    "fleet seed: computer {} names unknown tenant {}",
                    c.id, c.tenant_id
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_fleet_has_the_promised_mix() {
        let seed = FleetSeed::generate(3, 10);
        assert_eq!(seed.tenants.len(), 3);
        assert_eq!(seed.computers.len(), 30);
        assert_eq!(seed.computers.iter().filter(|c| !c.online).count(), 2); // 13, 26
        assert_eq!(
            seed.computers
                .iter()
                .filter(|c| c.software.iter().any(|s| s.behaviour == SoftwareBehaviour::Fails))
                .count(),
            3
        );
        seed.validate().unwrap();
    }

    #[test]
    fn seed_errors_name_the_problem() {
        let err = FleetSeed::from_yaml(
            "tenants: [{id: 1, name: A}]\ncomputers: [{id: 1, name: PC, tenantId: 2, software: []}]",
        )
        .unwrap_err();
        assert!(err.contains("unknown tenant 2"), "{err}");
        let err = FleetSeed::from_yaml("tenants: []\ncomputers: []\nextra: 1").unwrap_err();
        assert!(err.contains("extra"), "{err}");
    }
}
