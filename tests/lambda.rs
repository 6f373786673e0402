//! The bootstrap binary against a Lambda Runtime API, as deployed.

use std::process::Child;
use std::time::{Duration, Instant};

#[path = "support/runtime_api.rs"]
mod runtime_api;
mod support;

use runtime_api::{Outcome, RuntimeApi};

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

fn json(outcome: &Outcome) -> serde_json::Value {
    serde_json::from_str(&outcome.body).unwrap_or_else(|e| panic!("{e}: {outcome:?}"))
}

/// The bootstrap binary, started by a Runtime API with these settings (and
/// dummy credentials, so the AWS SDK never looks for real ones).
struct Running {
    api: RuntimeApi,
    child: Child,
}

impl Running {
    fn start(settings: &[(&str, String)]) -> Running {
        let api = RuntimeApi::start();
        let mut env = vec![
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ];
        env.extend(settings.iter().cloned());
        let child = api.spawn(env!("CARGO_BIN_EXE_bootstrap"), &env);
        Running { api, child }
    }

    fn invoke_all(&mut self, events: &[Vec<u8>]) -> Vec<Outcome> {
        assert!(
            self.api.first_poll(Duration::from_secs(30)).is_some(),
            "the function polls for work"
        );
        self.api.invoke_all(events, Duration::from_secs(120))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_lambda_records_batches_once_and_rejects_what_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("lambda.db").display());
    let mut function = Running::start(&[
        ("FAULTLINE_STORE", store.clone()),
        ("FAULTLINE_NOTIFY", "none".into()),
    ]);
    let sample = event("python-uncaught-text.json");
    let outcomes = function.invoke_all(&[
        sample.clone(),
        sample,
        event("control-message.json"),
        b"{\"not\":\"a log batch\"}".to_vec(),
        with_log_group("/aws/lambda/faultline"),
    ]);
    drop(function);

    let kinds: Vec<&str> = outcomes.iter().map(|o| o.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["response", "response", "response", "error", "response"],
        "{outcomes:#?}"
    );
    let first = json(&outcomes[0]);
    assert_eq!(first["status"], "recorded");
    assert!(first["errors"].as_u64().unwrap() > 0);
    assert_eq!(
        json(&outcomes[1])["status"],
        "duplicate",
        "a redelivered batch is not counted again"
    );
    assert_eq!(json(&outcomes[2])["status"], "control_message");
    let undecodable = json(&outcomes[3]);
    assert_eq!(undecodable["errorType"], "UndecodablePayload");
    assert!(
        undecodable["errorMessage"]
            .as_str()
            .unwrap()
            .contains("neither a Lambda input"),
        "the message says what is wrong: {undecodable}"
    );
    assert_eq!(json(&outcomes[4])["status"], "own_log_group_skipped");

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
fn an_invalid_policy_stops_the_function_at_init_with_its_own_error_type() {
    let dir = tempfile::tempdir().unwrap();
    let mut function = Running::start(&[
        (
            "FAULTLINE_STORE",
            format!("sqlite:{}", dir.path().join("f.db").display()),
        ),
        (
            "FAULTLINE_POLICY",
            "new_issue=true;threshold.count=0".into(),
        ),
    ]);
    let reported = function
        .api
        .init_error(Duration::from_secs(30))
        .expect("the function reports why it cannot start");
    let diagnostic = json(&reported);
    assert_eq!(diagnostic["errorType"], "InvalidPolicy");
    let message = diagnostic["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("threshold") && message.contains("AlertPolicy"),
        "{message}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = function.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the function exits");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    assert!(
        function.api.first_poll(Duration::ZERO).is_none(),
        "it never asked for work"
    );
}

/// A loopback address where nothing listens: every AWS call fails to connect.
fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[test]
fn failures_carry_the_type_of_what_went_wrong() {
    let Some(moto) = support::moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sample = event("python-uncaught-text.json");

    // A table that does not exist: retrying cannot help until someone fixes it.
    let mut missing_table = Running::start(&[
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        (
            "FAULTLINE_STORE",
            format!("dynamodb://{}", support::unique("missing")),
        ),
    ]);
    // A store that cannot be reached: a retry may succeed.
    let mut unreachable = Running::start(&[
        ("AWS_ENDPOINT_URL", dead_endpoint()),
        ("FAULTLINE_STORE", "dynamodb://faultline".into()),
    ]);
    // The batch is recorded, but its new issue's alert cannot be sent.
    let mut topic_down = Running::start(&[
        ("AWS_ENDPOINT_URL", dead_endpoint()),
        (
            "FAULTLINE_STORE",
            format!("sqlite:{}", dir.path().join("f.db").display()),
        ),
        (
            "FAULTLINE_NOTIFY",
            "sns://arn:aws:sns:us-east-1:123456789012:faultline".into(),
        ),
    ]);

    for (function, expected) in [
        (&mut missing_table, "StoreMisconfigured"),
        (&mut unreachable, "StoreUnavailable"),
        (&mut topic_down, "AlertsPending"),
    ] {
        let outcomes = function.invoke_all(std::slice::from_ref(&sample));
        assert_eq!(outcomes.len(), 1, "{outcomes:?}");
        assert_eq!(outcomes[0].kind, "error", "{outcomes:?}");
        let diagnostic = json(&outcomes[0]);
        assert_eq!(diagnostic["errorType"], expected, "{diagnostic}");
    }
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
