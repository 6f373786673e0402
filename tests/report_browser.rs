//! The HTML report opened in a real browser (headless Chromium).
//!
//! Chromium comes from scripts/setup-browser.sh. Without it this test says
//! loudly that it skips; under CI=true it fails instead, so CI cannot pass
//! without having looked at the page.

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

fn browser(binary: &Path, profile: &Path, args: &[&str]) -> std::process::Output {
    Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1200,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs")
}

mod common;

use common::ok;

#[test]
fn the_report_renders_in_a_browser_and_log_markup_stays_text() {
    let Some(chromium) = chromium() else {
        let message = "SKIPPED: no chromium; run scripts/setup-browser.sh (scripts/test does)";
        assert!(
            std::env::var("CI").is_err(),
            "{message}, and CI=true requires it"
        );
        eprintln!("{message}");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    ok(
        &["ingest", "--notify", "none", events.to_str().unwrap()],
        dir.path(),
    );
    let hostile = serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/lambda/<b>web</b>",
        "logStream": "s\"><script>document.title='pwned'</script>",
        "subscriptionFilters": [],
        "logEvents": [{"id": "1", "timestamp": 1_763_900_000_000i64,
            "message": "[ERROR] Error: <script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"}],
    });
    std::fs::write(dir.path().join("hostile.json"), hostile.to_string()).unwrap();
    ok(&["ingest", "--notify", "none", "hostile.json"], dir.path());
    ok(&["report", "--html", "report.html"], dir.path());

    let page = dir.path().join("report.html");
    let url = format!("file://{}", page.display());
    let dom = browser(
        &chromium,
        &dir.path().join("profile-dom"),
        &["--dump-dom", &url],
    );
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("<title>faultline report</title>"),
        "the page was not rendered: {dom:.500}"
    );
    assert!(!dom.contains("pwned</title>"), "a log line ran script");
    assert!(
        !dom.contains("<script"),
        "a log line became a script element"
    );
    assert!(!dom.contains("<img"), "a log line became an image element");
    assert!(
        dom.contains("&lt;script&gt;document.title="),
        "the markup is shown as text"
    );

    // A screenshot for people, kept under target/ to look at.
    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    // A worktree built with CARGO_TARGET_DIR elsewhere has no target/ yet.
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let out = browser(
        &chromium,
        &dir.path().join("profile-shot"),
        &[&format!("--screenshot={}", shot.display()), &url],
    );
    let png = std::fs::read(&shot)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    assert!(
        png.len() > 20_000,
        "suspiciously small screenshot: {} bytes",
        png.len()
    );
}
