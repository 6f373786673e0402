//! The bootstrap binary against a Lambda Runtime API, as deployed.

use std::time::{Duration, Instant};

#[path = "support/runtime_api.rs"]
mod runtime_api;

use runtime_api::RuntimeApi;

fn event(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("events")
            .join(name),
    )
    .expect("sample event exists")
}

fn with_log_group(group: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": group, "logStream": "s",
        "subscriptionFilters": [],
        "logEvents": [{"id": "1", "timestamp": 1_763_900_000_000i64, "message": "[ERROR] KeyError: 'x'"}],
    }))
    .unwrap()
}

#[test]
fn the_lambda_records_batches_once_and_rejects_what_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("lambda.db").display());
    let api = RuntimeApi::start();
    let mut child = api.spawn(
        env!("CARGO_BIN_EXE_bootstrap"),
        &[
            ("FAULTLINE_STORE", store.clone()),
            ("FAULTLINE_NOTIFY", "none".into()),
        ],
    );
    assert!(
        api.first_poll(Duration::from_secs(30)).is_some(),
        "the function polls for work"
    );

    let sample = event("python-uncaught-text.json");
    let outcomes = api.invoke_all(
        &[
            sample.clone(),
            sample,
            event("control-message.json"),
            b"{\"not\":\"a log batch\"}".to_vec(),
            with_log_group("/aws/lambda/faultline"),
        ],
        Duration::from_secs(60),
    );
    let _ = child.kill();
    let _ = child.wait();

    let kinds: Vec<&str> = outcomes.iter().map(|o| o.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["response", "response", "response", "error", "response"],
        "{outcomes:#?}"
    );
    let first: serde_json::Value = serde_json::from_str(&outcomes[0].body).unwrap();
    assert_eq!(first["status"], "recorded");
    assert!(first["errors"].as_u64().unwrap() > 0);
    let replay: serde_json::Value = serde_json::from_str(&outcomes[1].body).unwrap();
    assert_eq!(
        replay["status"], "duplicate",
        "a redelivered batch is not counted again"
    );
    assert!(
        outcomes[3].body.contains("undecodable"),
        "{}",
        outcomes[3].body
    );
    assert!(
        outcomes[4].body.contains("own log group"),
        "{}",
        outcomes[4].body
    );

    // What the function recorded, read back through the CLI.
    let listing = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["issues", "--status", "all", "--json", "--store", &store])
        .output()
        .unwrap();
    let issues: serde_json::Value = serde_json::from_slice(&listing.stdout).unwrap();
    let total: u64 = issues
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, first["errors"].as_u64().unwrap());
    assert!(
        issues
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["log_group"] != "/aws/lambda/faultline"),
        "its own log group is never recorded"
    );
}

#[test]
fn the_lambda_is_ready_for_its_first_event_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let api = RuntimeApi::start();
    let started = Instant::now();
    let mut child = api.spawn(
        env!("CARGO_BIN_EXE_bootstrap"),
        &[(
            "FAULTLINE_STORE",
            format!("sqlite:{}", dir.path().join("cold.db").display()),
        )],
    );
    let ready = api.first_poll(Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    let ready = ready.expect("the function polls for work");
    // Generous: this pins "starts at all, without network calls at init";
    // the measured figure lives in BENCHMARKS.md.
    assert!(ready.duration_since(started) < Duration::from_secs(10));
}
