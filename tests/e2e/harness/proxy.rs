//! A TCP proxy in front of the test API server that can be switched off:
//! while down it cuts every open connection (watches included) and refuses
//! new ones, as a restarting API server does. TLS passes through untouched
//! (the serving certificate names the address, not the port).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::TestContext;

pub struct ApiServerProxy {
    addr: std::net::SocketAddr,
    up: watch::Sender<bool>,
    refused: Arc<AtomicU64>,
    kubeconfig: kube::config::Kubeconfig,
    task: tokio::task::JoinHandle<()>,
}

impl ApiServerProxy {
    pub async fn start(ctx: &TestContext) -> Result<Self, String> {
        let text = std::fs::read_to_string(ctx.kubeconfig_path()).map_err(|e| format!("kubeconfig: {e}"))?;
        let kubeconfig: kube::config::Kubeconfig =
            serde_json::from_str(&text).map_err(|e| format!("kubeconfig: {e}"))?;
        let server = kubeconfig
            .clusters
            .first()
            .and_then(|c| c.cluster.as_ref())
            .and_then(|c| c.server.clone())
            .ok_or("the kubeconfig names no server")?;
        let upstream = url::Url::parse(&server).map_err(|e| e.to_string())?;
        let upstream = format!(
            "{}:{}",
            upstream.host_str().unwrap_or("127.0.0.1"),
            upstream.port_or_known_default().unwrap_or(443)
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (up, up_rx) = watch::channel(true);
        let refused = Arc::new(AtomicU64::new(0));
        let counter = refused.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    return;
                };
                if !*up_rx.borrow() {
                    counter.fetch_add(1, Ordering::Relaxed);
                    drop(inbound);
                    continue;
                }
                let mut down = up_rx.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut a, mut b) = (inbound, outbound);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut a, &mut b) => {}
                        // Switched off: the connection is cut mid-stream.
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Ok(Self {
            addr,
            up,
            refused,
            kubeconfig,
            task,
        })
    }

    /// A client that reaches the API server only through the proxy.
    pub async fn client(&self) -> Result<kube::Client, String> {
        let mut config = kube::Config::from_custom_kubeconfig(self.kubeconfig.clone(), &Default::default())
            .await
            .map_err(|e| format!("kubeconfig: {e}"))?;
        let url = format!("https://{}", self.addr);
        config.cluster_url = url.parse().map_err(|e| format!("{url}: {e}"))?;
        kube::Client::try_from(config).map_err(|e| format!("client: {e}"))
    }

    pub fn set_up(&self, up: bool) {
        let _ = self.up.send(up);
    }

    /// Connections refused while down.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

impl Drop for ApiServerProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
