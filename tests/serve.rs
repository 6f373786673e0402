//! `faultline serve`'s guards, over plain HTTP: state changes need the
//! page's CSRF token and come from the page's own origin; served beyond
//! loopback it needs a token; bound to loopback it answers only loopback
//! host names (so a web page cannot rebind its domain name to reach it).

#[path = "support/browser.rs"]
mod browser;
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use browser::Server;
use common::{faultline, ok};

/// Sends one HTTP/1.1 request and returns the status line, headers and body.
fn http(server: &Server, request: &str) -> String {
    let addr = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("serve accepts connections");
    let request = request.replace("HOST", addr);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn get(server: &Server, path: &str, extra: &str) -> String {
    http(
        server,
        &format!("GET {path} HTTP/1.1\r\nHost: HOST\r\n{extra}Connection: close\r\n\r\n"),
    )
}

fn post(server: &Server, path: &str, body: &str, extra: &str) -> String {
    http(
        server,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: HOST\r\n{extra}Content-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn store_with_one_issue(dir: &Path) -> String {
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/python-uncaught-text.json");
    ok(
        &["ingest", "--notify", "none", events.to_str().unwrap()],
        dir,
    );
    let listed: serde_json::Value = serde_json::from_str(&ok(&["issues", "--json"], dir)).unwrap();
    listed[0]["id"].as_str().unwrap().to_string()
}

fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    page[at..at + 32].to_string()
}

#[test]
fn a_status_change_needs_the_pages_csrf_token_and_origin() {
    let dir = tempfile::tempdir().unwrap();
    let id = store_with_one_issue(dir.path());
    let server = Server::start(dir.path(), &[]);
    let page = get(&server, &format!("/issues/{id}"), "");
    assert!(page.starts_with("HTTP/1.1 200"), "{page:.300}");
    assert!(page.contains("content-security-policy: default-src 'none'; style-src 'self'"));
    let csrf = csrf_of(&page);
    let resolve = format!("/issues/{id}/resolve");

    let forged = post(
        &server,
        &resolve,
        "csrf=0123456789abcdef0123456789abcdef",
        "",
    );
    assert!(forged.starts_with("HTTP/1.1 403"), "{forged:.300}");
    let missing = post(&server, &resolve, "in_version=", "");
    assert!(missing.starts_with("HTTP/1.1 403"), "{missing:.300}");
    let cross_site = post(
        &server,
        &resolve,
        &format!("csrf={csrf}"),
        "Origin: https://evil.example\r\n",
    );
    assert!(cross_site.starts_with("HTTP/1.1 403"), "{cross_site:.300}");
    assert!(
        ok(&["issues", "--json"], dir.path()).contains(&id),
        "still open"
    );

    let done = post(&server, &resolve, &format!("csrf={csrf}&in_version=42"), "");
    assert!(done.starts_with("HTTP/1.1 303"), "{done:.300}");
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&["issues", "show", &id, "--json"], dir.path())).unwrap();
    assert_eq!(shown["status"], "resolved");
    assert_eq!(shown["resolved_in"], "42");

    let bad = post(
        &server,
        &format!("/issues/{id}/ignore"),
        &format!("csrf={csrf}&until=someday"),
        "",
    );
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad:.300}");
    let past = post(
        &server,
        &format!("/issues/{id}/ignore"),
        &format!("csrf={csrf}&until=2020-01-01&for="),
        "",
    );
    assert!(
        past.starts_with("HTTP/1.1 400") && past.contains("until 2020-01-01 is not in the future"),
        "the CLI's check: {past:.600}"
    );
    assert!(
        bad.contains("use a duration (30m, 12h, 7d, 2w)"),
        "the CLI's message: {bad}"
    );
}

#[test]
fn loopback_serves_only_loopback_host_names() {
    let dir = tempfile::tempdir().unwrap();
    store_with_one_issue(dir.path());
    let server = Server::start(dir.path(), &[]);
    assert!(get(&server, "/", "").starts_with("HTTP/1.1 200"));
    let rebound = http(
        &server,
        "GET / HTTP/1.1\r\nHost: attacker.example:80\r\nConnection: close\r\n\r\n",
    );
    assert!(rebound.starts_with("HTTP/1.1 421"), "{rebound:.300}");
}

#[test]
fn beyond_loopback_a_token_is_required_and_then_checked() {
    let dir = tempfile::tempdir().unwrap();
    let refused = faultline(&["serve", "--listen", "0.0.0.0:0"], dir.path());
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("without an access token"), "{stderr}");
    let weak = faultline(
        &["serve", "--listen", "127.0.0.1:0", "--token", "short"],
        dir.path(),
    );
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 16 characters"));

    store_with_one_issue(dir.path());
    let token = "correct-horse-battery-staple";
    let server = Server::start(dir.path(), &["--token", token]);
    assert!(get(&server, "/", "").starts_with("HTTP/1.1 401"));
    assert!(get(&server, "/?token=wrong-wrong-wrong-wrong", "").starts_with("HTTP/1.1 401"));
    let welcome = get(&server, &format!("/?status=all&token={token}"), "");
    assert!(welcome.starts_with("HTTP/1.1 303"), "{welcome:.300}");
    assert!(
        welcome.contains("location: /?status=all\r\n"),
        "{welcome:.300}"
    );
    assert!(welcome.contains(&format!("set-cookie: faultline_token={token};")));
    let cookie = format!("Cookie: faultline_token={token}\r\n");
    assert!(get(&server, "/", &cookie).starts_with("HTTP/1.1 200"));
}

#[test]
fn an_issue_page_lists_the_runs_it_appeared_in() {
    let dir = tempfile::tempdir().unwrap();
    let events = Path::new(env!("CARGO_MANIFEST_DIR")).join("events/step-functions.json");
    ok(
        &["ingest", "--notify", "none", events.to_str().unwrap()],
        dir.path(),
    );
    let runs: serde_json::Value =
        serde_json::from_str(&ok(&["runs", "--json"], dir.path())).unwrap();
    let run = &runs[0];
    let issue = run["issues"][0]["id"].as_str().unwrap();
    let server = Server::start(dir.path(), &[]);
    let page = get(&server, &format!("/issues/{issue}"), "");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let table = &page[page.find("<table class=\"runs\">").expect("a runs table")..];
    assert!(
        table.contains(run["name"].as_str().unwrap())
            && table.contains(run["outcome"].as_str().unwrap()),
        "{table}"
    );
    // An issue no run had says so instead.
    let elsewhere = tempfile::tempdir().unwrap();
    let other = store_with_one_issue(elsewhere.path());
    let server = Server::start(elsewhere.path(), &[]);
    let page = get(&server, &format!("/issues/{other}"), "");
    assert!(page.contains("No job run has had this issue"), "{page}");
    assert!(!page.contains("<table class=\"runs\">"), "{page}");
}
