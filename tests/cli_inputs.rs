//! `faultline ingest` on what a user has at hand: the JSON `aws logs`
//! prints, plain text log files, JSON-lines files, any of them gzipped.

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

mod common;

use common::{faultline, ok};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn issues(cwd: &Path) -> Vec<serde_json::Value> {
    let out = ok(&["issues", "--status", "all", "--json"], cwd);
    serde_json::from_str::<serde_json::Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn kinds_and_counts(cwd: &Path) -> Vec<(String, String, u64)> {
    let mut rows: Vec<(String, String, u64)> = issues(cwd)
        .iter()
        .map(|i| {
            (
                i["log_group"].as_str().unwrap().to_string(),
                i["kind"].as_str().unwrap().to_string(),
                i["count"].as_u64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    rows
}

const FILTER_LOG_EVENTS: &str = r#"{
    "events": [
        {"logStreamName": "2025/11/24/[$LATEST]a1", "timestamp": 1763972370000,
         "message": "[ERROR] KeyError: 'order_id'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 4, in handler\n", "ingestionTime": 1763972371000, "eventId": "3811"},
        {"logStreamName": "2025/11/24/[$LATEST]b2", "timestamp": 1763972380000,
         "message": "[ERROR] KeyError: 'order_id'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 4, in handler\n", "ingestionTime": 1763972381000, "eventId": "3812"},
        {"logStreamName": "2025/11/24/[$LATEST]a1", "timestamp": 1763972390000,
         "message": "START RequestId: 1 Version: $LATEST\n", "ingestionTime": 1763972391000, "eventId": "3813"}
    ],
    "searchedLogStreams": []
}"#;

const GET_LOG_EVENTS: &str = r#"{
    "events": [
        {"timestamp": 1763972370000, "message": "2025-11-24T08:19:30.000Z\tabc\tERROR\tInvoke Error \t{\"errorType\":\"TypeError\",\"errorMessage\":\"x is undefined\",\"stack\":[\"TypeError: x is undefined\",\"    at handler (/var/task/index.js:3:9)\"]}\n", "ingestionTime": 1763972371000}
    ],
    "nextForwardToken": "f/1", "nextBackwardToken": "b/1"
}"#;

const PLAIN: &str = "2025-11-24 08:19:30,101 INFO starting nightly export\n\
2025-11-24 08:19:31,202 ERROR export failed\n\
Traceback (most recent call last):\n\
  File \"/app/export.py\", line 12, in run\n\
    rows = fetch()\n\
ValueError: no rows for 2025-11-23\n\
2025-11-24 08:19:32,303 INFO done\n";

#[test]
fn aws_logs_output_is_read_with_the_log_group_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("filtered.json"), FILTER_LOG_EVENTS).unwrap();
    std::fs::write(dir.path().join("stream.json"), GET_LOG_EVENTS).unwrap();

    let out = faultline(&["ingest", "filtered.json"], dir.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("filtered.json") && stderr.contains("--log-group"),
        "{stderr}"
    );

    let args = [
        "ingest",
        "--notify",
        "none",
        "--log-group",
        "/aws/lambda/orders",
        "filtered.json",
        "stream.json",
    ];
    ok(&args, dir.path());
    assert_eq!(
        kinds_and_counts(dir.path()),
        vec![
            ("/aws/lambda/orders".into(), "KeyError".into(), 2),
            ("/aws/lambda/orders".into(), "TypeError".into(), 1),
        ]
    );
    let replay = faultline(&args, dir.path());
    // Three batches as delivered, and the trace the last one ended on,
    // judged at the end of the run as a batch of its own.
    assert!(String::from_utf8_lossy(&replay.stderr).contains("4 batches were already recorded"));
    assert_eq!(
        kinds_and_counts(dir.path())[0].2,
        2,
        "a replay counts nothing"
    );
}

#[test]
fn plain_text_logs_split_on_timestamps_plain_or_gzipped_alike() {
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(plain.path().join("export.log"), PLAIN).unwrap();
    let zipped = tempfile::tempdir().unwrap();
    std::fs::create_dir(zipped.path().join("logs")).unwrap();
    std::fs::write(
        zipped.path().join("logs/export.log.gz"),
        gzip(PLAIN.as_bytes()),
    )
    .unwrap();

    let out = faultline(&["ingest", "export.log"], plain.path());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log-group"));

    ok(
        &[
            "ingest",
            "--notify",
            "none",
            "--log-group",
            "/batch/export",
            "export.log",
        ],
        plain.path(),
    );
    ok(
        &[
            "ingest",
            "--notify",
            "none",
            "--log-group",
            "/batch/export",
            "logs",
        ],
        zipped.path(),
    );
    let found = kinds_and_counts(plain.path());
    assert_eq!(
        found,
        vec![("/batch/export".into(), "ValueError".into(), 1)]
    );
    assert_eq!(kinds_and_counts(zipped.path()), found);
    let issue = &issues(plain.path())[0];
    assert_eq!(
        issue["last_seen"], "2025-11-24T08:19:31.202Z",
        "the line's own time"
    );
    let shown = ok(
        &["issues", "show", issue["id"].as_str().unwrap()],
        plain.path(),
    );
    assert!(
        shown.contains("export.py"),
        "the traceback is one event:\n{shown}"
    );
}

#[test]
fn a_structured_loggers_json_lines_file_is_one_event_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [
        r#"{"level":30,"time":1763972370000,"msg":"started"}"#,
        r#"{"level":50,"time":1763972371000,"msg":"payment failed","err":{"type":"GatewayTimeout","message":"upstream timed out","stack":"GatewayTimeout: upstream timed out\n    at charge (/app/pay.js:9:11)"}}"#,
    ];
    std::fs::write(dir.path().join("app.json"), lines.join("\n")).unwrap();
    ok(
        &[
            "ingest",
            "--notify",
            "none",
            "--log-group",
            "/ecs/pay",
            "app.json",
        ],
        dir.path(),
    );
    let found = kinds_and_counts(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "/ecs/pay");
    assert_eq!(found[0].2, 1);
}

#[test]
fn skip_invalid_records_the_good_inputs_and_lists_the_bad() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.log"), PLAIN).unwrap();
    std::fs::write(dir.path().join("bad.json"), r#"{"awslogs":{"data":"***"}}"#).unwrap();
    std::fs::write(dir.path().join("cut.log.gz"), &gzip(PLAIN.as_bytes())[..40]).unwrap();
    let args = [
        "ingest",
        "--notify",
        "none",
        "--log-group",
        "/batch/export",
        ".",
    ];

    let stopped = faultline(&args, dir.path());
    assert!(!stopped.status.success());
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert!(
        stderr.contains("2 of 3 inputs could not be read; nothing was recorded"),
        "{stderr}"
    );
    assert!(
        !dir.path().join(".faultline").exists(),
        "nothing was written"
    );

    let mut with_skip = args.to_vec();
    with_skip.insert(1, "--skip-invalid");
    let out = faultline(&with_skip, dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("./bad.json: awslogs.data is not valid base64")
            && stderr.contains("./cut.log.gz:")
            && stderr.contains("skipped 2 inputs"),
        "{stderr}"
    );
    assert_eq!(
        kinds_and_counts(dir.path()),
        vec![("/batch/export".into(), "ValueError".into(), 1)]
    );
}

/// `fingerprint` reads what `ingest` reads, and prints the keys `ingest`
/// stores: every shape of input at once, with one log group named.
#[test]
fn fingerprint_reads_every_input_ingest_reads_and_prints_the_keys_it_stores() {
    let dir = tempfile::tempdir().unwrap();
    let json_lines = [
        r#"{"level":30,"time":1763972370000,"msg":"started"}"#,
        r#"{"level":50,"time":1763972371000,"msg":"payment failed","err":{"type":"GatewayTimeout","message":"upstream timed out","stack":"GatewayTimeout: upstream timed out\n    at charge (/app/pay.js:9:11)"}}"#,
    ]
    .join("\n");
    std::fs::write(dir.path().join("filtered.json"), FILTER_LOG_EVENTS).unwrap();
    std::fs::write(
        dir.path().join("stream.json.gz"),
        gzip(GET_LOG_EVENTS.as_bytes()),
    )
    .unwrap();
    std::fs::write(dir.path().join("export.log.gz"), gzip(PLAIN.as_bytes())).unwrap();
    std::fs::write(dir.path().join("app.json"), json_lines).unwrap();
    let inputs = [
        "filtered.json",
        "stream.json.gz",
        "export.log.gz",
        "app.json",
    ];

    let without = faultline(&["fingerprint", "export.log.gz"], dir.path());
    assert!(!without.status.success());
    let stderr = String::from_utf8_lossy(&without.stderr);
    assert!(
        stderr.contains("export.log.gz") && stderr.contains("--log-group"),
        "{stderr}"
    );

    let group = ["--log-group", "/aws/lambda/orders"];
    let printed = ok(
        &[&["fingerprint"][..], &group, &inputs].concat(),
        dir.path(),
    );
    let mut printed_keys: Vec<String> = printed
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|l| l["fingerprint"].as_str().map(str::to_string))
        .collect();
    printed_keys.sort();
    printed_keys.dedup();

    ok(
        &[&["ingest", "--notify", "none"][..], &group, &inputs].concat(),
        dir.path(),
    );
    let mut stored_keys: Vec<String> = issues(dir.path())
        .iter()
        .map(|i| i["fingerprint"].as_str().unwrap().to_string())
        .collect();
    stored_keys.sort();
    // KeyError, TypeError, the text file's ValueError, GatewayTimeout.
    assert_eq!(stored_keys.len(), 4, "{stored_keys:?}");
    assert_eq!(printed_keys, stored_keys, "{printed}");
}

/// A Kinesis invocation saved to a file (as a stream's event source mapping
/// hands it to the Lambda): each record's data is the same gzip payload a
/// subscription delivers, so ingesting it finds what ingesting the
/// subscription's input finds.
#[test]
fn a_saved_kinesis_event_is_read_record_by_record() {
    let shipped: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("events/python-json.json").unwrap()).unwrap();
    let data = shipped["awslogs"]["data"].as_str().unwrap();
    let control = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        gzip(br#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[]}"#),
    );
    let event = serde_json::json!({"Records": [
        {"kinesis": {"sequenceNumber": "1", "data": control}, "eventSource": "aws:kinesis"},
        {"kinesis": {"sequenceNumber": "2", "data": data}, "eventSource": "aws:kinesis"},
    ]});
    let direct = tempfile::tempdir().unwrap();
    std::fs::copy("events/python-json.json", direct.path().join("in.json")).unwrap();
    ok(&["ingest", "--notify", "none", "in.json"], direct.path());
    let streamed = tempfile::tempdir().unwrap();
    std::fs::write(streamed.path().join("kinesis.json"), event.to_string()).unwrap();
    ok(
        &["ingest", "--notify", "none", "kinesis.json"],
        streamed.path(),
    );
    let found = kinds_and_counts(streamed.path());
    assert!(!found.is_empty());
    assert_eq!(found, kinds_and_counts(direct.path()));
}
