//! Leader election through a Lease (kube-lease-manager). Only the holder runs
//! the controller, so only it writes status; a standby takes over within the
//! lease duration. Losing the lease stops the controller gracefully, letting
//! in-flight status writes land.

use std::future::Future;
use std::time::Duration;

use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;

/// Lease settings.
#[derive(Clone, Debug)]
pub struct LeaseSettings {
    pub name: String,
    pub namespace: String,
    pub identity: String,
    /// Seconds a lease is valid without renewal: the longest a standby waits.
    pub duration_seconds: u64,
    /// Seconds before expiry that the holder renews.
    pub grace_seconds: u64,
}

/// Runs `work` whenever this replica holds the lease, until `shutdown`
/// flips to true. `work` gets a future that resolves when it must stop.
pub async fn run_when_leader<W, F>(
    client: kube::Client,
    settings: LeaseSettings,
    mut shutdown: watch::Receiver<bool>,
    on_role: impl Fn(bool),
    mut work: W,
) -> Result<(), kube_lease_manager::LeaseManagerError>
where
    W: FnMut(std::pin::Pin<Box<dyn Future<Output = ()> + Send + Sync>>) -> F,
    F: Future<Output = ()>,
{
    let manager = LeaseManagerBuilder::new(client, &settings.name)
        .with_namespace(&settings.namespace)
        .with_identity(&settings.identity)
        .with_duration(settings.duration_seconds)
        .with_grace(settings.grace_seconds)
        .with_field_manager("immybot-operator")
        .build()
        .await?;
    let (mut leader, task) = manager.watch().await;
    on_role(*leader.borrow());
    loop {
        if *shutdown.borrow() {
            break;
        }
        if !*leader.borrow_and_update() {
            tokio::select! {
                changed = leader.changed() => {
                    if changed.is_err() { break; }
                    on_role(*leader.borrow());
                    continue;
                }
                _ = shutdown.changed() => break,
            }
        }
        tracing::info!(identity = %settings.identity, "holding the lease: running the controller");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let mut lost = leader.clone();
        let mut stop_on_shutdown = shutdown.clone();
        let watcher = tokio::spawn(async move {
            tokio::select! {
                _ = lost.wait_for(|held| !*held) => {}
                _ = stop_on_shutdown.wait_for(|stop| *stop) => {}
            }
            let _ = stop_tx.send(());
        });
        work(Box::pin(async move {
            let _ = stop_rx.await;
        }))
        .await;
        watcher.abort();
        on_role(*leader.borrow());
        tracing::info!("the controller stopped");
    }
    // Dropping the receiver makes the manager release the lease, so that a
    // standby takes over at once instead of after the lease expires.
    drop(leader);
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    Ok(())
}
