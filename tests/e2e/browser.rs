//! A real headless browser for what people open: Debian's Chromium
//! (`CHROMIUM`, default `/usr/bin/chromium`; `hack/test.sh` installs it),
//! started as the machine's notes say it must be here (no sandbox as root,
//! no background networking on a closed network, a fresh profile).

use std::path::Path;
use std::time::Duration;

use crate::harness::Context as _;

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

async fn run(page: &Path, extra: &[String]) -> Result<Vec<u8>, String> {
    // A profile of its own per run: two browsers on one profile hand the
    // page to each other (Chromium's single-instance lock) and one fails.
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let profile = std::env::temp_dir().join(format!("immybot-chromium-{}-{run}", std::process::id()));
    let url = format!("file://{}", page.display());
    let mut cmd = tokio::process::Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // Scripts run until the page is idle, on virtual time.
        "--virtual-time-budget=10000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(&url)
    .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .ctx("chromium timed out")?
        .map_err(|e| {
            format!(
                "starting {} (install Debian's chromium, or set CHROMIUM): {e}",
                chromium()
            )
        })?;
    let _ = std::fs::remove_dir_all(&profile);
    if !out.status.success() {
        return Err(format!(
            "chromium failed on {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}

/// The page's DOM after its scripts ran.
pub async fn rendered_dom(page: &Path) -> Result<String, String> {
    let out = run(page, &["--dump-dom".into()]).await?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A screenshot of the page to `png`; its size in bytes.
pub async fn screenshot(page: &Path, png: &Path) -> Result<u64, String> {
    run(
        page,
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1200,1800".into(),
            "--hide-scrollbars".into(),
        ],
    )
    .await?;
    Ok(std::fs::metadata(png).ctx("the screenshot")?.len())
}
