//! The control plane one test binary shares: real etcd + kube-apiserver
//! started through the `envtest` crate, with our CRDs installed.
//!
//! Binaries come from `testbed/build.sh` (exported as `KUBEBUILDER_ASSETS`);
//! nothing is downloaded. A missing binary is a loud failure that names the
//! command to run.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The group of the people tests act as (alice requests, bob approves, ...).
pub const TEST_USERS_GROUP: &str = "immybot:e2e-users";

/// Set in the re-executed child so that the wrapper directory is built once.
const CHILD_MARKER: &str = "IMMYBOT_E2E_WRAPPED";
const REQUIRED: [&str; 3] = ["kube-apiserver", "etcd", "kubectl"];

/// Where the real binaries are, or a message that says how to get them.
pub fn real_assets_dir() -> Result<PathBuf, String> {
    let hint = "build them with `eval \"$(testbed/build.sh --env)\"` (or run the suite through `hack/test.sh`)";
    let dir = std::env::var_os("KUBEBUILDER_ASSETS")
        .map(PathBuf::from)
        .ok_or_else(|| {
            format!("KUBEBUILDER_ASSETS is not set: the tests need a real kube-apiserver, etcd and kubectl; {hint}")
        })?;
    for bin in REQUIRED {
        let path = dir.join(bin);
        if !path.is_file() {
            return Err(format!("{} is missing; {hint}", path.display()));
        }
    }
    Ok(dir)
}

/// Runs the test binary again with `KUBEBUILDER_ASSETS` pointing at wrappers
/// that send each control-plane process's output to a log file. Returns
/// `None` in the child (carry on testing) and the exit code in the parent.
///
/// Re-executing is how we change the environment the Go side reads without
/// `std::env::set_var`, which is `unsafe` in a multi-threaded process.
pub fn reexec_with_logging_wrappers() -> Option<i32> {
    if std::env::var_os(CHILD_MARKER).is_some() {
        return None;
    }
    let real = match real_assets_dir() {
        Ok(dir) => dir,
        Err(msg) => {
            eprintln!("e2e: {msg}");
            return Some(2);
        }
    };
    let run_dir = std::env::temp_dir().join(format!("immybot-e2e-{}", std::process::id()));
    let (wrappers, logs) = (run_dir.join("bin"), run_dir.join("logs"));
    if let Err(e) = write_wrappers(&real, &wrappers, &logs) {
        eprintln!("e2e: cannot prepare {}: {e}", run_dir.display());
        return Some(2);
    }
    let Ok(me) = std::env::current_exe() else {
        eprintln!("e2e: cannot find the test binary to re-execute");
        return Some(2);
    };
    let status = Command::new(me)
        .args(std::env::args_os().skip(1))
        .env(CHILD_MARKER, "1")
        .env("KUBEBUILDER_ASSETS", &wrappers)
        .env("IMMYBOT_E2E_LOGS", &logs)
        .status();
    match status {
        Ok(s) if s.success() => {
            let _ = std::fs::remove_dir_all(&run_dir);
            Some(0)
        }
        Ok(s) => {
            eprintln!("e2e: control-plane logs kept in {}", logs.display());
            Some(s.code().unwrap_or(1))
        }
        Err(e) => {
            eprintln!("e2e: cannot run the test binary: {e}");
            Some(2)
        }
    }
}

fn write_wrappers(real: &Path, wrappers: &Path, logs: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(wrappers)?;
    std::fs::create_dir_all(logs)?;
    for bin in ["kube-apiserver", "etcd"] {
        let script = format!(
            "#!/bin/sh\nexec '{}' \"$@\" >>'{}' 2>&1\n",
            real.join(bin).display(),
            logs.join(format!("{bin}.log")).display()
        );
        let path = wrappers.join(bin);
        std::fs::write(&path, script)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    // Every other test-bed binary (kubectl, helm, kstatus, ...) as it is.
    for entry in std::fs::read_dir(real)? {
        let entry = entry?;
        let link = wrappers.join(entry.file_name());
        if !link.exists() {
            std::os::unix::fs::symlink(entry.path(), link)?;
        }
    }
    Ok(())
}

/// A running control plane. Dropping it stops etcd and kube-apiserver.
pub struct Testbed {
    server: envtest::Server,
    kubeconfig_path: PathBuf,
    kubectl: PathBuf,
    pub logs: Option<PathBuf>,
}

impl Testbed {
    /// Starts the control plane with every CRD from [`immybot_operator::api::crds`].
    pub fn start() -> Result<Self, String> {
        let assets = real_assets_dir()?;
        let env = envtest::Environment {
            binary_assets_settings: envtest::BinaryAssetsSettings {
                download_binary_assets: false,
                binary_assets_directory: Some(assets.display().to_string()),
                ..Default::default()
            },
            ..Default::default()
        }
        .with_crds(immybot_operator::api::crds())
        .map_err(|e| format!("preparing CRDs for envtest: {e}"))?;
        let server = futures::executor::block_on(env.create())
            .map_err(|e| format!("starting kube-apiserver and etcd from {}: {e}", assets.display()))?;
        let kubeconfig_path = std::env::temp_dir().join(format!("immybot-e2e-{}.kubeconfig", std::process::id()));
        std::fs::write(&kubeconfig_path, server.as_ref()).map_err(|e| format!("writing kubeconfig: {e}"))?;
        Ok(Self {
            server,
            kubeconfig_path,
            kubectl: assets.join("kubectl"),
            logs: std::env::var_os("IMMYBOT_E2E_LOGS").map(PathBuf::from),
        })
    }

    /// A client for the calling tokio runtime. Clients are cheap and must not
    /// outlive the runtime they were made on, so every test makes its own.
    pub async fn client(&self) -> Result<kube::Client, String> {
        kube::Client::try_from(self.config().await?).map_err(|e| format!("client: {e}"))
    }

    /// A client that acts as `user` in the group every test user is in, by
    /// impersonation: the API server authorises and admits its requests as
    /// that user's.
    pub async fn client_as(&self, user: &str) -> Result<kube::Client, String> {
        self.client_as_groups(user, vec![TEST_USERS_GROUP.to_owned()]).await
    }

    pub async fn client_as_groups(&self, user: &str, groups: Vec<String>) -> Result<kube::Client, String> {
        let mut config = self.config().await?;
        config.auth_info.impersonate = Some(user.to_owned());
        config.auth_info.impersonate_groups = (!groups.is_empty()).then_some(groups);
        kube::Client::try_from(config).map_err(|e| format!("client: {e}"))
    }

    async fn config(&self) -> Result<kube::Config, String> {
        let kubeconfig: kube::config::Kubeconfig =
            serde_json::from_str(self.server.as_ref()).map_err(|e| format!("decoding envtest kubeconfig: {e}"))?;
        kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .map_err(|e| format!("kubeconfig: {e}"))
    }

    /// The kubeconfig file, for kubectl and other processes.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// The pinned kubectl built by `testbed/build.sh`.
    pub fn kubectl(&self) -> &Path {
        &self.kubectl
    }
}

impl Testbed {
    /// Stops etcd and kube-apiserver. Called explicitly at the end of the run
    /// because the test bed lives in a static, and statics are never dropped.
    pub fn stop(&self) {
        if let Err(e) = futures::executor::block_on(self.server.destroy()) {
            eprintln!("e2e: stopping the control plane: {e}");
        }
        let _ = std::fs::remove_file(&self.kubeconfig_path);
    }
}
