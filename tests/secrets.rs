//! Secrets planted in log lines go nowhere: not into the store, an alert,
//! the HTML report or any CLI output.
//!
//! Every shape of secret the scrubber knows is planted in messages and in
//! structured fields; the whole SQLite file is then searched byte for byte,
//! along with everything the command printed and wrote.

use std::path::Path;

mod common;

use faultline::notify::chat;

/// (secret, where it sits in a log line)
const PLANTED: &[(&str, &str)] = &[
    (
        "AKIAIOSFODNN7EXAMPLE",
        "[ERROR] AccessDenied: key AKIAIOSFODNN7EXAMPLE cannot read s3://b/k",
    ),
    (
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "[ERROR] boto failed: aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "[ERROR] upstream 401 Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    (
        "Sup3rS3cret!",
        "[ERROR] OperationalError: could not connect to postgres://app:Sup3rS3cret!@db.internal:5432/orders",
    ),
    (
        "hunter2hunter2",
        "[ERROR] login failed for bob password=hunter2hunter2 retry=3",
    ),
    (
        "MIIEowIBAAKCAQEAsecretkeymaterial",
        "[ERROR] bad key -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAsecretkeymaterial\n-----END RSA PRIVATE KEY-----",
    ),
    // A sample of tests/secrets/planted.tsv, in the shapes issue 15 found leaking.
    (
        "ghp_k3VQpXoYb3l9pW2cN7r0ZsT4uHvJm8AqLdEf",
        "[ERROR] git fetch failed: token := \"ghp_k3VQpXoYb3l9pW2cN7r0ZsT4uHvJm8AqLdEf\"",
    ),
    (
        "xoxb-470455853043-5205617483380-FQ0FJZlCZBTToOFl9h2wJq5t",
        "[ERROR] System.setProperty(\"SLACK_TOKEN\", \"xoxb-470455853043-5205617483380-FQ0FJZlCZBTToOFl9h2wJq5t\") rejected",
    ),
    (
        "T7KGTUYLWUO/BXI9XQPDCGZ/5D8NfbfuKTmloFJsOKIcoZFC",
        "[ERROR] POST https://hooks.slack.com/services/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 returned 404",
    ),
    (
        "Xq7vLp2RmK9sWd4TzB6n",
        "[ERROR] ConnectionError: redis://:Xq7vLp2RmK9sWd4TzB6n@cache.internal:6379/0 refused",
    ),
    (
        "p4ss/w0rd@prod",
        "[ERROR] OperationalError: mysql://admin:p4ss/w0rd@prod@mysql.internal:3306/app unreachable",
    ),
    (
        "c2VjcmV0LWFjY291bnQta2V5LWZvci1zdG9yYWdlLTAxMjM0NTY3ODk=",
        "[ERROR] BlobServiceClient failed: DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=c2VjcmV0LWFjY291bnQta2V5LWZvci1zdG9yYWdlLTAxMjM0NTY3ODk=;EndpointSuffix=core.windows.net",
    ),
    (
        "9f1c0b7e4d2a8c6b5e3f1a0d9c8b7a6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b",
        "[ERROR] 403 GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=9f1c0b7e4d2a8c6b5e3f1a0d9c8b7a6e5f4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b&X-Amz-Date=20251123T000000Z",
    ),
    (
        "LckQzktz7QjWDus0D7fztMXlOicFzFU3ZmTwFnWd",
        "[ERROR] botocore: SignatureDoesNotMatch with AKIAQWONWUOT2O527F5X / LckQzktz7QjWDus0D7fztMXlOicFzFU3ZmTwFnWd",
    ),
    (
        "Zk8pW3rQ9xL2",
        "[ERROR] deploy failed: curl -sf -u ci:Zk8pW3rQ9xL2 https://ci.internal/api exited 22",
    ),
    (
        "npm_EDusTpkr0cStY4qWB8dWKnHfDNxSIvPZZ63f",
        r#"{"level":"error","msg":"Step Functions task failed","error":"States.TaskFailed","cause":"{\"errorMessage\":\"publish failed\",\"npmToken\":\"npm_EDusTpkr0cStY4qWB8dWKnHfDNxSIvPZZ63f\"}"}"#,
    ),
];

/// A structured line whose fields carry secrets by name.
const FIELD_SECRET: &str = "tok_live_abcdef0123456789";

fn batch() -> String {
    let mut events: Vec<serde_json::Value> = PLANTED
        .iter()
        .enumerate()
        .map(|(i, (_, message))| {
            serde_json::json!({"id": i.to_string(), "timestamp": 1_763_900_000_000i64 + i as i64, "message": message})
        })
        .collect();
    let structured = serde_json::json!({
        "level": "error", "msg": "payment declined", "api_token": FIELD_SECRET,
        "headers": {"Authorization": format!("Basic {FIELD_SECRET}")},
        "err": {"type": "PaymentError", "message": "declined", "stack": "PaymentError: declined\n    at pay (/app/pay.js:3:9)"}
    });
    events.push(serde_json::json!({"id": "99", "timestamp": 1_763_900_000_100i64, "message": structured.to_string()}));
    serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/lambda/payments",
        "logStream": "2025/11/23/[$LATEST]abc", "subscriptionFilters": [], "logEvents": events,
    })
    .to_string()
}

fn secrets() -> Vec<&'static str> {
    PLANTED
        .iter()
        .map(|(s, _)| *s)
        .chain([FIELD_SECRET])
        .collect()
}

/// Everything a successful command printed, both streams.
fn run(args: &[&str], cwd: &Path) -> String {
    let out = common::faultline(args, cwd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_clean(what: &str, text: &str) {
    for secret in secrets() {
        assert!(!text.contains(secret), "{what} leaks {secret}");
    }
}

#[test]
fn planted_secrets_reach_no_store_alert_report_or_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("batch.json"), batch()).unwrap();

    let alerts = run(&["ingest", "batch.json"], dir.path());
    assert!(
        alerts.contains("new issue"),
        "the planted lines are errors: {alerts}"
    );
    assert_clean("the console alerts", &alerts);

    let listing = run(&["issues", "--status", "all", "--json"], dir.path());
    assert_clean("issues --json", &listing);
    assert_clean("issues", &run(&["issues"], dir.path()));
    let issues: Vec<serde_json::Value> = serde_json::from_str(&listing).unwrap();
    assert!(issues.len() >= 5, "{} issues", issues.len());
    for issue in &issues {
        let id = issue["id"].as_str().unwrap();
        assert_clean("issues show", &run(&["issues", "show", id], dir.path()));
        assert_clean(
            "issues show --json",
            &run(&["issues", "show", id, "--json"], dir.path()),
        );
    }
    assert_clean(
        "fingerprint --explain",
        &run(&["fingerprint", "--explain", "batch.json"], dir.path()),
    );

    run(&["report", "--html", "report.html"], dir.path());
    assert_clean(
        "the HTML report",
        &std::fs::read_to_string(dir.path().join("report.html")).unwrap(),
    );

    // The store itself, every byte of the database and its WAL.
    for file in std::fs::read_dir(dir.path().join(".faultline")).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert_clean("the SQLite store", &String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn planted_secrets_reach_no_sns_message() {
    // What the SNS notifier would publish for the same batch: the subject,
    // the Chatbot JSON and the email body.
    let faultline::pipeline::Prepared::Batch(summary) =
        faultline::pipeline::prepare(batch().as_bytes()).unwrap()
    else {
        panic!("a data message");
    };
    let deltas: Vec<_> = summary
        .issues
        .iter()
        .map(|d| (faultline::model::EventType::NewIssue, d))
        .collect();
    for alert in faultline::policy::alerts_for_batch(&summary, &deltas, 100, 0) {
        let message = chat::render(&alert, "us-east-1");
        assert_clean("the SNS subject", &message.subject);
        assert_clean("the SNS message", &message.structured);
        assert!(
            message.subject.chars().all(|c| !c.is_control()),
            "control characters in {:?}",
            message.subject
        );
    }
}
