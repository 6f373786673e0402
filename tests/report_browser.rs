//! The HTML report opened in a real browser (headless Chromium through
//! chromedriver): log markup stays text and runs nothing, and the page reads
//! at 1,100 pixels wide without scrolling sideways.

#[path = "support/browser.rs"]
mod browser;
mod common;

use std::path::Path;

use browser::Browser;
use common::ok;

#[tokio::test]
async fn the_report_renders_in_a_browser_and_log_markup_stays_text() {
    let Some((chromium, driver)) = browser::installed() else {
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
        "logStream": "s\"><script>window.pwned=1;document.title='pwned'</script>",
        "subscriptionFilters": [],
        "logEvents": [{"id": "1", "timestamp": 1_763_900_000_000i64,
            "message": "[ERROR] Error: <script>window.pwned=1;document.title='pwned'</script><img src=x onerror=\"window.pwned=1\">"}],
    });
    std::fs::write(dir.path().join("hostile.json"), hostile.to_string()).unwrap();
    ok(&["ingest", "--notify", "none", "hostile.json"], dir.path());
    ok(&["report", "--html", "report.html"], dir.path());

    let b = Browser::start(&chromium, &driver).await;
    let url = format!("file://{}", dir.path().join("report.html").display());
    b.client.goto(&url).await.unwrap();
    let state = b
        .eval(
            "return [document.title, typeof window.pwned, \
             document.querySelectorAll('script, img').length, \
             document.querySelectorAll('section.issue').length]",
        )
        .await;
    assert_eq!(state[0], "faultline report", "a log line retitled the page");
    assert_eq!(state[1], "undefined", "a log line ran script");
    assert_eq!(state[2], 0, "a log line became an element");
    assert!(state[3].as_u64().unwrap() > 5, "the issues are on the page");
    let text = b.text().await;
    assert!(
        text.contains("<script>window.pwned=1;"),
        "the markup shows as text"
    );
    assert_eq!(
        b.overflow().await,
        0,
        "the report scrolls sideways at 1,100 px"
    );
    let shot = b.screenshot("report-screenshot.png").await;
    let size = std::fs::metadata(&shot).unwrap().len();
    assert!(size > 20_000, "suspiciously small screenshot: {size} bytes");
    b.eval("document.querySelector('section.issue').scrollIntoView(); return 0")
        .await;
    b.screenshot("report-issue.png").await;
    b.close().await;
}
