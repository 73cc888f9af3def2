//! Prints the operator's CRDs as YAML, or writes them into a directory.
//!
//!   cargo run --bin crdgen              # print all, separated by `---`
//!   cargo run --bin crdgen -- crds      # (re)write crds/*.yaml and deploy/admission-policies.yaml
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
            // The admission policies live beside the CRDs' directory.
            let deploy = dir.parent().unwrap_or(std::path::Path::new(".")).join("deploy");
            std::fs::create_dir_all(&deploy).with_context(|| format!("creating {}", deploy.display()))?;
            let path = deploy.join("admission-policies.yaml");
            let yaml = immybot_operator::api::admission_file().context("serialising admission policies")?;
            std::fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
        None => {
            let docs: Vec<String> = files.into_iter().map(|(_, yaml)| yaml).collect();
            print!("{}", docs.join("---\n"));
        }
    }
    Ok(())
}
