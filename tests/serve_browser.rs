//! `faultline serve` used as a person uses it, in headless Chromium: filter
//! the list by a context value, open an issue, follow a facet link, resolve
//! the issue and see it leave the open list; merge one issue into another
//! and undo it. And log lines that carry markup
//! and script show as text, with no script run.

#[path = "support/browser.rs"]
mod browser;
mod common;

use std::path::Path;

use browser::{Browser, Server};
use common::ok;
use fantoccini::Locator;
use serde_json::json;

/// 2025-11-23T14:13:20Z, within the hour the other fixtures share.
const T: i64 = 1_763_907_200_000;

/// A pino-style structured error line.
fn pino(env: &str, kind: &str, message: &str, function: &str) -> String {
    json!({
        "level": "error",
        "msg": "request failed",
        "environment": env,
        "service": "billing",
        "function_arn": "arn:aws:lambda:eu-central-1:123456789012:function:billing",
        "err": {
            "type": kind,
            "message": message,
            "stack": format!(
                "{kind}: {message}\n    at {function} (/var/task/src/{function}.js:42:11)\n    at handler (/var/task/src/index.js:7:3)\n    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"
            ),
        },
    })
    .to_string()
}

fn batch(group: &str, stream: &str, first_id: u64, lines: &[(i64, String)]) -> String {
    let events: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, (at, message))| json!({"id": (first_id + i as u64).to_string(), "timestamp": at, "message": message}))
        .collect();
    json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": group,
        "logStream": stream, "subscriptionFilters": ["faultline"], "logEvents": events,
    })
    .to_string()
}

/// A store with three issues told apart by their `environment` values:
/// PaymentDeclined in prod and staging, InventoryTimeout in staging only,
/// and MissingSku in prod only.
fn store_with_environments(dir: &Path) {
    let hour = 3_600_000;
    let declined = |env| pino(env, "PaymentDeclined", "card declined", "charge");
    let lines = vec![
        (T - 30 * hour, declined("prod")),
        (T - 5 * hour, declined("prod")),
        (T - hour, declined("prod")),
        (T, declined("staging")),
        (
            T - 3 * hour,
            pino(
                "staging",
                "InventoryTimeout",
                "upstream timed out",
                "reserve",
            ),
        ),
        (
            T - 2 * hour,
            pino("prod", "MissingSku", "no sku on line item", "price"),
        ),
    ];
    std::fs::write(
        dir.join("billing.json"),
        batch("/aws/lambda/billing", "2025/11/23/[42]0f3c9a", 1, &lines),
    )
    .unwrap();
    ok(&["ingest", "--notify", "none", "billing.json"], dir);
}

async fn click_link(b: &Browser, text: &str) {
    let from = b.client.current_url().await.unwrap().to_string();
    b.client
        .find(Locator::LinkText(text))
        .await
        .unwrap_or_else(|e| panic!("no link {text:?}: {e}"))
        .click()
        .await
        .unwrap();
    left(b, &from).await;
}

/// Waits until the browser has left the page at `from`. A click or a
/// submit returns once the request is sent, not once the next page is
/// shown: reading at once met the old page, or its elements going stale
/// while it was replaced (CI failed on both).
async fn left(b: &Browser, from: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while b.client.current_url().await.unwrap().as_str() == from {
        assert!(
            std::time::Instant::now() < deadline,
            "the browser never left {from}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn list_titles(b: &Browser) -> Vec<String> {
    let mut titles = Vec::new();
    for link in b
        .client
        .find_all(Locator::Css("td.title > a"))
        .await
        .unwrap()
    {
        titles.push(link.text().await.unwrap());
    }
    titles.sort();
    titles
}

#[tokio::test]
async fn a_person_filters_drills_down_and_resolves() {
    let Some((chromium, driver)) = browser::installed() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    store_with_environments(dir.path());
    let server = Server::start(dir.path(), &[]);
    let b = Browser::start(&chromium, &driver).await;

    b.client.goto(&server.url).await.unwrap();
    assert_eq!(
        list_titles(&b).await,
        [
            "InventoryTimeout: upstream timed out",
            "MissingSku: no sku on line item",
            "PaymentDeclined: card declined",
        ]
    );
    assert!(
        b.text().await.contains("3 issues open"),
        "{}",
        b.text().await
    );
    assert_eq!(b.overflow().await, 0, "the list scrolls sideways");
    b.screenshot("serve-list.png").await;

    // Filter by a context value, through the form.
    let form = b.client.form(Locator::Css("form.filters")).await.unwrap();
    form.set_by_name("field", "environment").await.unwrap();
    form.set_by_name("value", "prod").await.unwrap();
    let from = b.client.current_url().await.unwrap().to_string();
    form.submit().await.unwrap();
    left(&b, &from).await;
    assert_eq!(
        list_titles(&b).await,
        [
            "MissingSku: no sku on line item",
            "PaymentDeclined: card declined"
        ]
    );
    let url = b.client.current_url().await.unwrap();
    assert!(
        url.as_str().contains("field=environment&value=prod"),
        "the filter is in the URL: {url}"
    );

    // Open an issue: its context fields, with shares, and its stack.
    click_link(&b, "PaymentDeclined: card declined").await;
    let text = b.text().await;
    assert!(text.contains("4 occurrences"), "{text}");
    assert!(text.contains("prod 75% (3)"), "{text}");
    assert!(text.contains("staging 25% (1)"), "{text}");
    let newest = b.client.find(Locator::Css("ol.stack")).await.unwrap();
    let frames = newest.find_all(Locator::Css("li")).await.unwrap();
    assert_eq!(frames.len(), 3, "one frame per line");
    assert!(
        frames[0].text().await.unwrap().starts_with("charge "),
        "innermost first, as Node prints it"
    );
    let event = b.client.find(Locator::LinkText("log event")).await.unwrap();
    let href = event.attr("href").await.unwrap().unwrap_or_default();
    assert!(
        href.starts_with("https://eu-central-1.console.aws.amazon.com/"),
        "the region the event's ARN names: {href}"
    );
    assert_eq!(b.overflow().await, 0, "the issue page scrolls sideways");
    b.screenshot("serve-issue.png").await;

    // Follow a facet link: every issue seen in staging.
    click_link(&b, "staging").await;
    assert_eq!(
        list_titles(&b).await,
        [
            "InventoryTimeout: upstream timed out",
            "PaymentDeclined: card declined"
        ]
    );

    // Resolve the issue and see it leave the open list.
    click_link(&b, "PaymentDeclined: card declined").await;
    b.client
        .find(Locator::Css("button[value=resolve]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The click returns once the form is sent, not once the answer is shown:
    // wait for the confirmation itself rather than read the old page.
    assert_eq!(flash(&b).await, "Resolved.");
    b.client.goto(&server.url).await.unwrap();
    assert_eq!(
        list_titles(&b).await,
        [
            "InventoryTimeout: upstream timed out",
            "MissingSku: no sku on line item"
        ]
    );
    b.client
        .goto(&format!("{}/?status=resolved", server.url))
        .await
        .unwrap();
    assert_eq!(list_titles(&b).await, ["PaymentDeclined: card declined"]);
    b.close().await;
}

/// The issue id a list link leads to.
async fn id_of_link(b: &Browser, text: &str) -> String {
    let link = b.client.find(Locator::LinkText(text)).await.unwrap();
    let href = link.attr("href").await.unwrap().unwrap_or_default();
    href.trim_start_matches("/issues/")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The confirmation a change leads to, waited for: a click returns once the
/// form is sent, not once the answer is shown.
async fn flash(b: &Browser) -> String {
    b.client
        .wait()
        .for_element(Locator::Css("p.flash"))
        .await
        .unwrap_or_else(|e| panic!("no confirmation: {e}"))
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_person_merges_two_issues_and_undoes_it() {
    let Some((chromium, driver)) = browser::installed() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    store_with_environments(dir.path());
    let server = Server::start(dir.path(), &[]);
    let b = Browser::start(&chromium, &driver).await;

    b.client.goto(&server.url).await.unwrap();
    let sku = id_of_link(&b, "MissingSku: no sku on line item").await;
    let timeout = id_of_link(&b, "InventoryTimeout: upstream timed out").await;
    click_link(&b, "InventoryTimeout: upstream timed out").await;
    let form = b
        .client
        .form(Locator::Css("form[action$='/merge']"))
        .await
        .unwrap();
    // A prefix, as the CLI takes.
    form.set_by_name("into", &sku[..6]).await.unwrap();
    form.submit_with(Locator::Css("button[value=merge]"))
        .await
        .unwrap();
    assert_eq!(flash(&b).await, "Merged: its later occurrences count here.");
    let url = b.client.current_url().await.unwrap();
    assert!(url.path().ends_with(&sku), "shows the issue kept: {url}");
    let text = b.text().await;
    assert!(
        text.contains("2 occurrences"),
        "the history is summed: {text}"
    );
    b.client.goto(&server.url).await.unwrap();
    assert_eq!(
        list_titles(&b).await,
        [
            "MissingSku: no sku on line item",
            "PaymentDeclined: card declined"
        ]
    );

    b.client
        .goto(&format!("{}/issues/{timeout}", server.url))
        .await
        .unwrap();
    let merged = b.client.find(Locator::Id("merged")).await.unwrap();
    assert!(merged.text().await.unwrap().contains(&sku));
    b.client
        .find(Locator::Css("button[value=unmerge]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        flash(&b).await,
        "Unmerged: it counts its own occurrences again."
    );
    b.client.goto(&server.url).await.unwrap();
    assert_eq!(list_titles(&b).await.len(), 3);
    b.close().await;
}

/// Markup and script planted in every place a log line reaches a page.
const PLANTED: &str =
    "<script>window.pwned=1;document.title='pwned'</script><img src=x onerror=\"window.pwned=1\">";

#[tokio::test]
async fn markup_in_log_lines_stays_text_and_runs_nothing() {
    let Some((chromium, driver)) = browser::installed() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let line = json!({
        "level": "error",
        "msg": "boom",
        "environment": PLANTED,
        "service": format!("svc{PLANTED}"),
        "order": PLANTED,
        "err": {
            "type": "Error",
            "message": format!("title {PLANTED}\nsecond line {PLANTED}"),
            "stack": format!("Error: x\n    at f{PLANTED} (/var/task/{PLANTED}.js:1:1)\n    at g (/var/task/a.js:2:2)"),
        },
    })
    .to_string();
    std::fs::write(
        dir.path().join("hostile.json"),
        batch(
            &format!("/aws/lambda/{PLANTED}"),
            &format!("stream{PLANTED}"),
            1,
            &[(T, line)],
        ),
    )
    .unwrap();
    ok(&["ingest", "--notify", "none", "hostile.json"], dir.path());
    let server = Server::start(dir.path(), &[]);
    let b = Browser::start(&chromium, &driver).await;

    for page in ["list", "issue", "facet"] {
        match page {
            "list" => b.client.goto(&server.url).await.unwrap(),
            "issue" => click_link(&b, &format!("Error: title {PLANTED}")).await,
            _ => {
                b.client
                    .find(Locator::Css("table.facets a"))
                    .await
                    .unwrap()
                    .click()
                    .await
                    .unwrap();
            }
        }
        let state = b
            .eval(
                "return [document.title, typeof window.pwned, \
                 document.querySelectorAll('script, img, iframe, object').length]",
            )
            .await;
        let title = state[0].as_str().unwrap_or_default();
        assert!(
            title.ends_with("· faultline") && !title.starts_with("pwned"),
            "{page}: {title}"
        );
        assert_eq!(state[1], "undefined", "{page}: a planted script ran");
        assert_eq!(
            state[2], 0,
            "{page}: markup from a log line became an element"
        );
        assert!(
            b.text().await.contains("<script>window.pwned=1;"),
            "{page}: the markup shows as text"
        );
    }
    b.close().await;
}
