//! The bootstrap binary against a Lambda Runtime API, as deployed: fed by
//! a subscription (one CloudWatch Logs batch per invocation) and by a
//! Kinesis stream's event source mapping (many per invocation).

use std::io::Write;
use std::process::Child;
use std::time::{Duration, Instant};

use base64::Engine;

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

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What a subscription hands the function: `{"awslogs":{"data":...}}`.
fn envelope(message: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"awslogs": {"data": base64(&gzip(message))}})).unwrap()
}

fn with_log_group(group: &str) -> Vec<u8> {
    envelope(&support::data_message(
        group,
        "s",
        1,
        &["[ERROR] KeyError: 'x'".to_string()],
    ))
}

/// What a stream's event source mapping hands the function: the records as
/// Kinesis returns them, each `(sequence number, data)`.
fn kinesis_event(records: &[(String, Vec<u8>)]) -> Vec<u8> {
    let stream = "arn:aws:kinesis:us-east-1:123456789012:stream/logs";
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|(sequence_number, data)| {
            serde_json::json!({
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "faultline",
                    "sequenceNumber": sequence_number,
                    "data": base64(data),
                    "approximateArrivalTimestamp": 1_764_460_800.25
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{sequence_number}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/faultline",
                "awsRegion": "us-east-1",
                "eventSourceARN": stream
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap()
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
            .contains("neither a CloudWatch Logs subscription payload"),
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
/// Port 1 (tcpmux), not a free port picked and let go: the tests around it
/// bind free ports for their Runtime APIs, and one of them got an alert
/// published to the port another test had let go.
fn dead_endpoint() -> String {
    "http://127.0.0.1:1".to_string()
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

/// A batch recorded before the function fails on its alerts is not
/// recorded again by Lambda's retry (a duplicate prints no metrics), so its
/// metrics line must be out before the alerts are read; the failure is
/// counted beside it.
#[test]
fn a_batch_recorded_before_its_alerts_fail_still_prints_its_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.db");
    let store = format!("sqlite:{}", path.display());
    let init = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["store", "init", "--store", &store])
        .output()
        .unwrap();
    assert!(init.status.success(), "{init:?}");
    // An alert the function cannot read: reading the outbox fails after
    // the batch is written.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO outbox (alert_id, payload, created_at) VALUES ('damaged', 'not an alert', 0)",
            [],
        )
        .unwrap();
    let printed = dir.path().join("stdout");
    let api = RuntimeApi::start();
    let mut child = api.spawn_to(
        env!("CARGO_BIN_EXE_bootstrap"),
        &[
            ("FAULTLINE_STORE", store),
            ("FAULTLINE_NOTIFY", "none".into()),
        ],
        std::fs::File::create(&printed).unwrap().into(),
    );
    assert!(api.first_poll(Duration::from_secs(30)).is_some());
    let outcomes = api.invoke_all(
        &[event("python-uncaught-text.json")],
        Duration::from_secs(120),
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(outcomes[0].kind, "error", "{outcomes:?}");
    assert_eq!(json(&outcomes[0])["errorType"], "StoreMisconfigured");

    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&printed)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let metrics = lines
        .iter()
        .find(|l| l.get("ErrorOccurrences").is_some())
        .unwrap_or_else(|| panic!("no metrics line: {lines:?}"));
    assert!(
        metrics["ErrorOccurrences"].as_u64().unwrap() > 0,
        "{metrics}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["InvocationFailures"] == 1 && l["ErrorType"] == "StoreMisconfigured"),
        "{lines:?}"
    );
}

/// A backlog of queued alerts (SNS was down, a burst of new issues) goes
/// out round after round in one invocation while the invocation's deadline
/// leaves time for another round of 200, and one round only when it does
/// not: a round cut off by the timeout would send its alerts twice.
#[test]
fn a_tick_sends_queued_alerts_while_its_invocation_has_time_for_another_round() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.db");
    let settings = vec![
        ("FAULTLINE_STORE", format!("sqlite:{}", path.display())),
        ("FAULTLINE_NOTIFY", "none".to_string()),
    ];
    let mut function = Running::start(&settings);
    let tick = event("eventbridge-scheduled.json");
    let sent = |outcome: &Outcome| json(outcome)["alerts_sent"].clone();
    let first = function.invoke_all(std::slice::from_ref(&tick));
    assert_eq!(sent(&first[0]), 0, "{first:?}");

    let per_round = faultline::limits::MAX_ALERTS_PER_FLUSH;
    let queued = 2 * per_round + 5;
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for i in 0..queued {
            let alert = serde_json::json!({
                "id": format!("backlog-{i}:new_issue"), "event_type": "new_issue",
                "log_group": "/aws/lambda/orders", "created_at": i, "issues": [],
            });
            conn.execute(
                "INSERT INTO outbox (alert_id, payload, created_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![
                    format!("backlog-{i}:new_issue"),
                    alert.to_string(),
                    i as i64
                ],
            )
            .unwrap();
        }
    }
    // Less time than a round is given: the first round goes, no other.
    function.api.set_timeout(Duration::from_secs(10));
    let short = function.invoke_all(std::slice::from_ref(&tick));
    assert_eq!(sent(&short[0]), per_round, "{short:?}");
    function.api.set_timeout(Duration::from_secs(60));
    let long = function.invoke_all(std::slice::from_ref(&tick));
    assert_eq!(sent(&long[0]), queued - per_round, "{long:?}");
}

/// A run whose settlement fails for good is counted in the `RunsNotSettled`
/// metric by every invocation that meets it: the tick's answer names it,
/// but a stream's answer (`batchItemFailures`) has no room for it, so the
/// metrics line is all an operator can chart or alarm on there.
#[test]
fn a_run_that_cannot_settle_is_counted_whichever_way_the_function_is_invoked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.db");
    let store = format!("sqlite:{}", path.display());
    let settings = |policy: &str| {
        vec![
            ("FAULTLINE_STORE", store.clone()),
            ("FAULTLINE_NOTIFY", "none".to_string()),
            ("FAULTLINE_POLICY", policy.to_string()),
        ]
    };
    // Recorded, and not due for a long while, so that it is still to
    // settle when it is damaged.
    let mut function = Running::start(&settings("run_settle_minutes=100000000"));
    let outcomes = function.invoke_all(&[event("eventbridge-sfn-execution-failed.json")]);
    drop(function);
    assert_eq!(json(&outcomes[0])["status"], "recorded", "{outcomes:?}");
    let run: String = {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("UPDATE runs SET errors = 'many'", []).unwrap();
        conn.query_row("SELECT id FROM runs", [], |r| r.get(0))
            .unwrap()
    };

    let printed = dir.path().join("stdout");
    let api = RuntimeApi::start();
    let mut child = api.spawn_to(
        env!("CARGO_BIN_EXE_bootstrap"),
        &settings("run_settle_minutes=0"),
        std::fs::File::create(&printed).unwrap().into(),
    );
    assert!(api.first_poll(Duration::from_secs(30)).is_some());
    let logs = gzip(&support::data_message(
        "/aws/lambda/orders",
        "s",
        1,
        &["[INFO] done".to_string()],
    ));
    let outcomes = api.invoke_all(
        &[
            event("eventbridge-scheduled.json"),
            kinesis_event(&[("1".to_string(), logs)]),
        ],
        Duration::from_secs(120),
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        json(&outcomes[0]),
        serde_json::json!({"status": "settled", "runs": 0, "alerts_sent": 0, "runs_not_settled": [run]}),
        "{outcomes:?}"
    );
    assert_eq!(json(&outcomes[1]), item_failures(&[]), "{outcomes:?}");

    let counted: Vec<serde_json::Value> = std::fs::read_to_string(&printed)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l.get("RunsNotSettled").is_some())
        .collect();
    assert_eq!(counted.len(), 2, "one line per invocation: {counted:?}");
    for line in &counted {
        assert_eq!(line["RunsNotSettled"], 1, "{line}");
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "faultline", "{line}");
        assert_eq!(directive["Metrics"][0]["Name"], "RunsNotSettled", "{line}");
        // The stack's alarm watches its own function's series.
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["FunctionName"]])
        );
        assert_eq!(line["FunctionName"], "faultline", "{line}");
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

/// The response a stream's event source mapping reads: the records to retry from.
fn item_failures(sequence_numbers: &[&str]) -> serde_json::Value {
    let failures: Vec<serde_json::Value> = sequence_numbers
        .iter()
        .map(|s| serde_json::json!({ "itemIdentifier": s }))
        .collect();
    serde_json::json!({ "batchItemFailures": failures })
}

/// Issues as the CLI lists them from `store`: (kind, count), sorted.
fn counts_by_kind(store: &str, env: &[(&str, &str)]) -> Vec<(String, u64)> {
    let listing = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["issues", "--status", "all", "--json", "--store", store])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    let issues: serde_json::Value = serde_json::from_slice(&listing.stdout).unwrap();
    let mut counts: Vec<(String, u64)> = issues
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["count"].as_u64().unwrap(),
            )
        })
        .collect();
    counts.sort();
    counts
}

const CONTROL: &[u8] = br#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]}"#;

/// The `dynamodb://` URL of a fresh table in moto, named after `prefix`.
fn fresh_store_url(moto: &support::Moto, prefix: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let table =
        runtime.block_on(async { moto.fresh_store(prefix, None).await.table().to_string() });
    format!("dynamodb://{table}")
}

/// What the CLI needs to read a store in moto.
fn cli_env(endpoint: &str) -> [(&str, &str); 4] {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ]
}

#[test]
fn a_stream_batch_is_counted_once_and_a_bad_record_fails_alone() {
    let Some(moto) = support::moto() else { return };
    let group = "/aws/lambda/nightly-export";
    let error = |text: &str| format!("[ERROR] {text}");
    let batches = [
        support::data_message(
            group,
            "a",
            1,
            &[
                error("KeyError: 'a'"),
                error("KeyError: 'a'"),
                "[INFO] done".into(),
            ],
        ),
        support::data_message(
            group,
            "b",
            10,
            &[error("ValueError: bad row"), "[INFO] done".into()],
        ),
        support::data_message(
            group,
            "c",
            20,
            &[
                error("KeyError: 'a'"),
                "[INFO] done".into(),
                error("TimeoutError: slow"),
                "[INFO] done".into(),
            ],
        ),
    ];
    // Records as CloudWatch Logs writes them (each one gzip batch), with one
    // in the middle that is not a CloudWatch Logs batch at all.
    let payloads = [
        gzip(&batches[0]),
        gzip(&batches[1]),
        b"not a log batch".to_vec(),
        gzip(&batches[2]),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (table, records) = runtime.block_on(async {
        use aws_sdk_kinesis::primitives::Blob;
        use aws_sdk_kinesis::types::ShardIteratorType;
        let store = moto.fresh_store("stream", None).await;
        let kinesis = aws_sdk_kinesis::Client::new(&moto.sdk_config().await);
        let stream = support::unique("logs");
        kinesis
            .create_stream()
            .stream_name(&stream)
            .shard_count(1)
            .send()
            .await
            .expect("create stream");
        for payload in &payloads {
            kinesis
                .put_record()
                .stream_name(&stream)
                .partition_key("faultline")
                .data(Blob::new(payload.clone()))
                .send()
                .await
                .expect("put record");
        }
        let iterator = kinesis
            .get_shard_iterator()
            .stream_name(&stream)
            .shard_id("shardId-000000000000")
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("shard iterator");
        let records: Vec<(String, Vec<u8>)> = kinesis
            .get_records()
            .shard_iterator(iterator.shard_iterator().expect("an iterator"))
            .send()
            .await
            .expect("get records")
            .records()
            .iter()
            .map(|r| (r.sequence_number().to_string(), r.data().as_ref().to_vec()))
            .collect();
        (store.table().to_string(), records)
    });
    assert_eq!(records.len(), payloads.len());
    let bad = records[2].0.clone();

    let mut function = Running::start(&[
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("FAULTLINE_STORE", format!("dynamodb://{table}")),
    ]);
    // The whole batch, then what Lambda retries: from the failed record on.
    let outcomes = function.invoke_all(&[kinesis_event(&records), kinesis_event(&records[2..])]);
    drop(function);
    for outcome in &outcomes {
        assert_eq!(outcome.kind, "response", "{outcome:?}");
        assert_eq!(
            json(outcome),
            item_failures(&[&bad]),
            "Lambda retries from the bad record on, and takes those before it as done"
        );
    }

    let env = cli_env(&moto.endpoint);
    let counts = counts_by_kind(&format!("dynamodb://{table}"), &env);
    assert_eq!(
        counts,
        [
            ("KeyError".to_string(), 3),
            ("TimeoutError".to_string(), 1),
            ("ValueError".to_string(), 1)
        ],
        "every error of the three batches, once, though batch c was delivered twice"
    );
}

#[test]
fn a_stream_batch_whose_alerts_wait_asks_for_its_last_record_again() {
    let dir = tempfile::tempdir().unwrap();
    let batch = support::data_message(
        "/aws/lambda/orders",
        "s",
        1,
        &["[ERROR] KeyError: 'x'".into(), "END RequestId: 1".into()],
    );
    let records = [
        ("100".to_string(), gzip(&batch)),
        ("101".to_string(), gzip(CONTROL)),
    ];
    let mut function = Running::start(&[
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
    let outcomes = function.invoke_all(&[kinesis_event(&records)]);
    assert_eq!(outcomes[0].kind, "response", "{outcomes:?}");
    // The new issue is recorded and its alert queued; naming the last record
    // makes Lambda retry it (a control message, nothing to count) soon, and
    // that retry sends the alert.
    assert_eq!(json(&outcomes[0]), item_failures(&["101"]));
}

#[test]
fn a_batch_read_from_a_stream_is_the_batch_a_subscription_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("f.db").display());
    let batch = support::data_message(
        "/aws/batch/job",
        "nightly/default/3f1a",
        7,
        &[
            "[ERROR] KeyError: 'customer_id'".into(),
            "[INFO] retrying".into(),
            "[ERROR] ValueError: bad row 12".into(),
            "[ERROR] KeyError: 'customer_id'".into(),
            "[INFO] next file".into(),
        ],
    );
    let mut function = Running::start(&[("FAULTLINE_STORE", store.clone())]);
    // CloudWatch Logs checks a new destination with a control message first.
    let outcomes = function.invoke_all(&[
        kinesis_event(&[("100".into(), gzip(CONTROL)), ("101".into(), gzip(&batch))]),
        envelope(&batch),
    ]);
    drop(function);
    assert_eq!(outcomes[0].kind, "response", "{outcomes:?}");
    assert_eq!(
        json(&outcomes[0]),
        item_failures(&[]),
        "the control message is skipped, not failed"
    );
    let delivered = json(&outcomes[1]);
    assert_eq!(
        delivered["status"], "duplicate",
        "the subscription's copy has the id the stream's record was recorded under: {delivered}"
    );
    assert_eq!(delivered["errors"], 3, "{delivered}");
    assert_eq!(
        counts_by_kind(&store, &[]),
        [("KeyError".to_string(), 2), ("ValueError".to_string(), 1)]
    );
}

#[test]
fn a_stream_batch_the_store_cannot_take_is_retried_from_its_first_log_batch() {
    use support::proxy::{Fault, Proxy};
    let Some(moto) = support::moto() else { return };
    let store = fresh_store_url(moto, "stream-down");
    let group = "/aws/lambda/nightly-export";
    let done = || "[INFO] done".to_string();
    let a = support::data_message(group, "a", 1, &["[ERROR] KeyError: 'a'".into(), done()]);
    let b = support::data_message(
        group,
        "b",
        10,
        &["[ERROR] ValueError: bad row".into(), done()],
    );
    let records = [
        ("200".to_string(), gzip(CONTROL)),
        ("201".to_string(), gzip(&a)),
        ("202".to_string(), gzip(&b)),
    ];
    // Every write the store tries fails, however often the SDK retries it.
    let proxy = Proxy::start(&moto.endpoint);
    let occurrences: Vec<usize> = (1..=200).collect();
    proxy.fail_each("TransactWriteItems", &occurrences, Fault::ServerError);
    let mut function = Running::start(&[
        ("AWS_ENDPOINT_URL", proxy.endpoint.clone()),
        ("FAULTLINE_STORE", store.clone()),
    ]);
    let down = function.invoke_all(&[kinesis_event(&records)]);
    assert!(
        proxy.injected("TransactWriteItems", Fault::ServerError) > 0,
        "the store was asked to write: {}",
        proxy.summary()
    );
    assert_eq!(down[0].kind, "response", "{down:?}");
    assert_eq!(
        json(&down[0]),
        item_failures(&["201"]),
        "nothing after the control message is taken as done"
    );

    // The store is back; Lambda retries from the record named.
    proxy.heal();
    let retried = function.invoke_all(&[kinesis_event(&records[1..])]);
    drop(function);
    assert_eq!(json(&retried[0]), item_failures(&[]), "{retried:?}");
    let env = cli_env(&moto.endpoint);
    assert_eq!(
        counts_by_kind(&store, &env),
        [("KeyError".to_string(), 1), ("ValueError".to_string(), 1)]
    );
}

/// The runs the CLI lists from `store`: (name, outcome), sorted.
fn runs_listed(store: &str, env: &[(&str, &str)]) -> Vec<(String, String)> {
    let listing = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["runs", "--json", "--store", store])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    let runs: serde_json::Value = serde_json::from_slice(&listing.stdout).unwrap();
    let mut listed: Vec<(String, String)> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    listed.sort();
    listed
}

/// The `event_type` of each SNS envelope, in order.
fn event_types(envelopes: &[serde_json::Value]) -> Vec<String> {
    envelopes
        .iter()
        .map(|e| {
            e["MessageAttributes"]["event_type"]["Value"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Runs reach the function as EventBridge job events and as log lines
/// carrying the run id field the policy names (`run_fields`); a run that
/// ended is settled (its digest sent) once `run_settle_minutes` have passed
/// since its end, by whichever invocation comes then: here the settling
/// schedule's tick.
/// A subscription delivery of one error of `group` with the run id field
/// `run_id`, logged now, so that its run is not quiet for a long while.
fn error_in_run(group: &str, run_id: &str) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let line = format!(r#"{{"level":"error","message":"KeyError: 'sku'","run_id":"{run_id}"}}"#);
    envelope(&support::data_message_at(
        group,
        "2025/11/23/[$LATEST]0f",
        1,
        now,
        &[line],
    ))
}

#[test]
fn job_events_run_fields_and_the_settling_tick_reach_runs_through_the_function() {
    let Some(moto) = support::moto() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (table, topic, queue) = runtime.block_on(async {
        let store = moto.fresh_store("runs", None).await;
        let (topic, queue) = moto.topic_with_queue("runs").await;
        (store.table().to_string(), topic, queue)
    });
    let store = format!("dynamodb://{table}");
    let group = "/aws/lambda/fanout";
    let fields = format!("run_fields.\"{group}\".id=\"run_id\"");
    let settings = |policy: String| {
        vec![
            ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
            ("FAULTLINE_STORE", store.clone()),
            ("FAULTLINE_NOTIFY", format!("sns://{topic}")),
            ("FAULTLINE_POLICY", policy),
        ]
    };
    let logs = error_in_run(group, "r-42");
    let failed = event("eventbridge-sfn-execution-failed.json");
    let tick = event("eventbridge-scheduled.json");

    // The default wait: 5 minutes after the execution's end.
    let mut function = Running::start(&settings(fields.clone()));
    let outcomes = function.invoke_all(&[failed.clone(), failed, logs, tick.clone()]);
    drop(function);
    let statuses: Vec<String> = outcomes
        .iter()
        .map(|o| json(o)["status"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        statuses,
        ["recorded", "duplicate", "recorded", "settled"],
        "{outcomes:#?}"
    );
    assert_eq!(json(&outcomes[3])["runs"], 0, "nothing is due yet");
    let sent = runtime.block_on(moto.drain(&queue));
    assert_eq!(
        event_types(&sent),
        ["new_issue"],
        "no digest before the wait"
    );
    let env = cli_env(&moto.endpoint);
    assert_eq!(
        runs_listed(&store, &env),
        [
            ("r-42".to_string(), "running".to_string()),
            ("run-2025-11-23".to_string(), "failed".to_string()),
        ],
        "the execution from its event, the fan-out from its run_id field"
    );

    // Later, as far as the policy is concerned: the tick settles the
    // execution, which ended, and not the fan-out, still logging.
    let mut function = Running::start(&settings(format!("{fields};run_settle_minutes=0")));
    let outcomes = function.invoke_all(&[tick]);
    drop(function);
    assert_eq!(
        json(&outcomes[0]),
        serde_json::json!({"status": "settled", "runs": 1, "alerts_sent": 1}),
        "{outcomes:#?}"
    );
    let sent = runtime.block_on(moto.drain(&queue));
    assert_eq!(event_types(&sent), ["run_digest"]);
    let digest: serde_json::Value =
        serde_json::from_str(sent[0]["Message"].as_str().unwrap_or_default())
            .unwrap_or_else(|_| serde_json::json!({"text": sent[0]["Message"]}));
    assert!(
        digest.to_string().contains("run-2025-11-23"),
        "the execution's digest: {digest}"
    );
}

/// A Python trace as the awslogs driver writes it: one event per line.
const TRACE: [&str; 6] = [
    "2024-05-01 10:00:00,001 ERROR could not load shard 3",
    "Traceback (most recent call last):",
    "  File \"/app/load.py\", line 8, in load",
    "    raise KeyError(name)",
    "KeyError: 'shard-3'",
    "done",
];

/// Lines `from..to` of the trace as one DATA_MESSAGE of `stream`, each
/// event's id its place in the stream.
fn trace_part(stream: &str, from: usize, to: usize) -> Vec<u8> {
    let lines: Vec<String> = TRACE[from..to].iter().map(|l| l.to_string()).collect();
    support::data_message("/aws/batch/job", stream, from as u64 + 1, &lines)
}

/// Issues as the CLI lists them from `store`: (fingerprint, kind, count),
/// sorted.
fn issues_listed(store: &str, env: &[(&str, &str)]) -> Vec<(String, String, u64)> {
    let listing = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["issues", "--status", "all", "--json", "--store", store])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    let issues: serde_json::Value = serde_json::from_slice(&listing.stdout).unwrap();
    let mut listed: Vec<(String, String, u64)> = issues
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["fingerprint"].as_str().unwrap().to_string(),
                i["kind"].as_str().unwrap().to_string(),
                i["count"].as_u64().unwrap(),
            )
        })
        .collect();
    listed.sort();
    listed
}

/// What `faultline ingest` records from these DATA_MESSAGEs, each file
/// ingested by a run of its own (so each is judged alone, as it is).
fn ingested_alone(
    dir: &std::path::Path,
    name: &str,
    messages: &[Vec<u8>],
) -> Vec<(String, String, u64)> {
    let store = format!("sqlite:{}", dir.join(format!("{name}.db")).display());
    for (i, message) in messages.iter().enumerate() {
        let path = dir.join(format!("{name}-{i}.json"));
        std::fs::write(&path, message).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_faultline"))
            .args(["ingest", "--notify", "none", "--store", &store])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    issues_listed(&store, &[])
}

#[test]
fn a_trace_cut_across_two_deliveries_is_one_issue_with_its_whole_identity() {
    let Some(moto) = support::moto() else { return };
    let store = fresh_store_url(moto, "held");
    let head = envelope(&trace_part("job/default/0f", 0, 2));
    let rest = envelope(&trace_part("job/default/0f", 2, TRACE.len()));
    let mut function = Running::start(&[
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("FAULTLINE_STORE", store.clone()),
        ("FAULTLINE_NOTIFY", "none".into()),
    ]);
    // Each delivered twice, as Lambda may: the second of each changes nothing.
    let outcomes = function.invoke_all(&[head.clone(), rest.clone(), rest, head]);
    drop(function);
    let statuses: Vec<String> = outcomes
        .iter()
        .map(|o| json(o)["status"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        statuses,
        ["recorded", "recorded", "duplicate", "duplicate"],
        "{outcomes:#?}"
    );
    assert_eq!(
        json(&outcomes[0])["errors"],
        0,
        "the head waits for the rest"
    );
    assert_eq!(json(&outcomes[1])["errors"], 1, "which completes it");
    let dir = tempfile::tempdir().unwrap();
    let whole = ingested_alone(
        dir.path(),
        "whole",
        &[trace_part("job/default/0f", 0, TRACE.len())],
    );
    assert_eq!(whole.len(), 1);
    assert_eq!(whole[0].1, "KeyError");
    assert_eq!(
        issues_listed(&store, &cli_env(&moto.endpoint)),
        whole,
        "one issue, counted once, with the identity of the trace whole"
    );
}

/// A stream's records are judged as a subscription's deliveries are: a
/// trace cut between two records of one invocation, and again between two
/// invocations, is one issue with the identity it has whole.
#[test]
fn a_trace_cut_across_stream_records_is_one_issue_with_its_whole_identity() {
    let Some(moto) = support::moto() else { return };
    let store = fresh_store_url(moto, "held-stream");
    let stream = "job/default/1e";
    let first = kinesis_event(&[
        ("300".into(), gzip(&trace_part(stream, 0, 2))),
        ("301".into(), gzip(&trace_part(stream, 2, 4))),
    ]);
    let second = kinesis_event(&[("302".into(), gzip(&trace_part(stream, 4, TRACE.len())))]);
    let mut function = Running::start(&[
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("FAULTLINE_STORE", store.clone()),
        ("FAULTLINE_NOTIFY", "none".into()),
    ]);
    // The first invocation comes again at the end, as a retry may.
    let outcomes = function.invoke_all(&[first.clone(), second, first]);
    drop(function);
    for outcome in &outcomes {
        assert_eq!(json(outcome), item_failures(&[]), "{outcomes:#?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let whole = ingested_alone(dir.path(), "whole", &[trace_part(stream, 0, TRACE.len())]);
    assert_eq!(whole.len(), 1);
    assert_eq!(
        issues_listed(&store, &cli_env(&moto.endpoint)),
        whole,
        "one issue, counted once, with the identity of the trace whole"
    );
}

#[test]
fn the_tick_judges_a_trace_whose_rest_never_came_and_out_of_order_batches_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("lambda.db").display());
    let orphan = trace_part("orphan", 0, 2);
    let (late_head, early_rest) = (
        trace_part("swapped", 0, 2),
        trace_part("swapped", 2, TRACE.len()),
    );
    let mut function = Running::start(&[
        ("FAULTLINE_STORE", store.clone()),
        ("FAULTLINE_NOTIFY", "none".into()),
        ("FAULTLINE_POLICY", "held_trace_minutes=0".into()),
    ]);
    let tick = event("eventbridge-scheduled.json");
    let outcomes = function.invoke_all(&[
        envelope(&orphan),
        envelope(&early_rest),
        envelope(&late_head),
        tick.clone(),
        tick,
    ]);
    drop(function);
    let errors: Vec<u64> = outcomes[..3]
        .iter()
        .map(|o| json(o)["errors"].as_u64().unwrap_or(u64::MAX))
        .collect();
    assert_eq!(
        errors,
        [0, 0, 0],
        "each ends inside what may be a trace: {outcomes:#?}"
    );
    // The orphan's head, the swapped head (its rest came first, so it is no
    // batch's to take) and the last lines of the swapped rest.
    assert_eq!(json(&outcomes[3])["held_traces_judged"], 3, "{outcomes:#?}");
    assert_eq!(
        json(&outcomes[4])["held_traces_judged"],
        serde_json::Value::Null,
        "judged once"
    );
    // Each part counted once, as it is: what judging each batch alone gives.
    let alone = ingested_alone(dir.path(), "alone", &[orphan, early_rest, late_head]);
    assert_eq!(issues_listed(&store, &[]), alone);
}

/// moto does not check IAM, so a request the function's role does not
/// allow passes every other test and fails on AWS. Here a moto of its own
/// enforces IAM, and the function runs with a user holding exactly the
/// actions template.yaml grants its role: recording a run's logs and its
/// job event, queueing and claiming their alerts, and the settling tick
/// all go through. (Alerts go nowhere: moto refuses the Rust SDK's SNS
/// requests once it checks IAM, whatever the policy, while boto3's pass;
/// `sns:Publish` is the one SNS action the function makes.)
#[test]
fn the_function_needs_nothing_its_role_does_not_grant() {
    let Some(moto) = support::own_moto() else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let table = runtime.block_on(async { moto.fresh_store("iam", None).await.table().to_string() });
    let actions = support::function_actions();
    assert!(actions.len() > 5, "{actions:?}");
    let (key, secret) = support::enforce_iam(&moto, &actions);

    let group = "/aws/lambda/fanout";
    let logs = error_in_run(group, "r-7");
    let mut function = Running::start(&[
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", key),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("FAULTLINE_STORE", format!("dynamodb://{table}")),
        ("FAULTLINE_NOTIFY", "none".into()),
        (
            "FAULTLINE_POLICY",
            format!("run_fields.\"{group}\".id=\"run_id\";run_settle_minutes=0"),
        ),
    ]);
    let outcomes = function.invoke_all(&[
        event("eventbridge-sfn-execution-failed.json"),
        logs,
        event("eventbridge-scheduled.json"),
    ]);
    let answers: Vec<serde_json::Value> = outcomes.iter().map(json).collect();
    assert!(
        outcomes.iter().all(|o| o.kind != "error"),
        "a request the role does not grant: {answers:#?}"
    );
    // The execution ended long ago: with no wait it is settled by the
    // invocation that records it, and its digest is the alert it sends.
    assert_eq!(answers[0]["status"], "recorded", "{answers:#?}");
    assert_eq!(answers[0]["alerts_sent"], 1, "{answers:#?}");
    assert_eq!(answers[1]["status"], "recorded", "{answers:#?}");
    assert_eq!(answers[1]["new_issues"].as_array().map(Vec::len), Some(1));
    assert_eq!(answers[1]["alerts_sent"], 1, "{answers:#?}");
    assert_eq!(answers[2]["status"], "settled", "{answers:#?}");
}
