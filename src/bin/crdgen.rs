//! Prints the operator's CRDs as YAML, or writes them into a directory.
//!
//!   cargo run --bin crdgen              # print all, separated by `---`
//!   cargo run --bin crdgen -- crds      # (re)write crds/, deploy/, the chart's copies and the generated docs
#![forbid(unsafe_code)]

use anyhow::Context as _;

fn main() -> anyhow::Result<()> {
    let files = immybot_operator::api::crd_files().context("serialising CRDs")?;
    match std::env::args().nth(1) {
        Some(dir) => {
            let dir = std::path::Path::new(&dir);
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, yaml) in files {
                let path = dir.join(name);
                std::fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            // The same files go to the Helm chart, and the admission
            // policies beside the CRDs' directory and into the chart.
            let root = dir.parent().unwrap_or(std::path::Path::new("."));
            let chart = root.join("charts/immybot-operator");
            let policies = immybot_operator::api::admission_file().context("serialising admission policies")?;
            let mut outputs: Vec<(std::path::PathBuf, String)> = immybot_operator::api::crd_files()
                .context("serialising CRDs")?
                .into_iter()
                .map(|(name, yaml)| (chart.join("crds").join(name), yaml))
                .collect();
            outputs.push((root.join("deploy/admission-policies.yaml"), policies.clone()));
            outputs.push((chart.join("files/admission-policies.yaml"), policies));
            let audit = immybot_operator::api::control_audit_file().context("serialising control audit policies")?;
            outputs.push((root.join("deploy/control-audit-policies.yaml"), audit.clone()));
            outputs.push((chart.join("files/control-audit-policies.yaml"), audit));
            let shards = immybot_operator::api::shard_label_file().context("serialising shard label policies")?;
            outputs.push((root.join("deploy/shard-label-policies.yaml"), shards.clone()));
            outputs.push((chart.join("files/shard-label-policies.yaml"), shards));
            // The table of what approvals cover, inside docs/design.md.
            let design = root.join("docs/design.md");
            let text = std::fs::read_to_string(&design).with_context(|| format!("reading {}", design.display()))?;
            let updated = immybot_operator::api::with_coverage_table(&text).with_context(|| {
                format!(
                    "{} lacks the approval-coverage markers ({})",
                    design.display(),
                    immybot_operator::api::COVERAGE_TABLE_BEGIN
                )
            })?;
            outputs.push((design, updated));
            outputs.push((
                root.join("docs/api-reference.md"),
                immybot_operator::api::api_reference_markdown(),
            ));
            for (path, yaml) in outputs {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
                }
                std::fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
        }
        None => {
            let docs: Vec<String> = files.into_iter().map(|(_, yaml)| yaml).collect();
            print!("{}", docs.join("---\n"));
        }
    }
    Ok(())
}
