//! `faultline ingest --log-group NAME`: a log group's history read through
//! the CloudWatch Logs API (moto), recorded once however often it is read,
//! and clipped where a subscription takes over; AWS failures in one line.

mod support;

use std::process::Command;

use aws_sdk_cloudwatchlogs::types::InputLogEvent;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn logs(moto: &support::Moto) -> aws_sdk_cloudwatchlogs::Client {
    aws_sdk_cloudwatchlogs::Client::new(&moto.sdk_config().await)
}

/// A log group with two streams of a Lambda's lines from about two hours
/// ago: three KeyErrors (one of them in the other stream), one TypeError,
/// and INFO lines.
async fn log_group(moto: &support::Moto) -> String {
    let client = logs(moto).await;
    let group = format!("/aws/lambda/{}", support::unique("backfill"));
    client
        .create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    let start = now() - 2 * 3_600_000;
    let lines: [(&str, &[&str]); 2] = [
        (
            "2025/11/24/[$LATEST]a",
            &[
                "START RequestId: 1 Version: $LATEST",
                "[ERROR] KeyError: 'order_id'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 4, in handler\n",
                "[INFO] retrying",
                "[ERROR] KeyError: 'order_id'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 4, in handler\n",
                "[ERROR] TypeError: unsupported operand type(s) for +: 'int' and 'str'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 9, in total\n",
            ],
        ),
        (
            "2025/11/24/[$LATEST]b",
            &[
                "[ERROR] KeyError: 'order_id'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 4, in handler\n",
            ],
        ),
    ];
    for (stream, messages) in lines {
        client
            .create_log_stream()
            .log_group_name(&group)
            .log_stream_name(stream)
            .send()
            .await
            .unwrap();
        let events: Vec<InputLogEvent> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                // Spread over minutes, so batches of several minutes meet.
                InputLogEvent::builder()
                    .timestamp(start + i as i64 * 50_000)
                    .message(*m)
                    .build()
                    .unwrap()
            })
            .collect();
        client
            .put_log_events()
            .log_group_name(&group)
            .log_stream_name(stream)
            .set_log_events(Some(events))
            .send()
            .await
            .unwrap();
    }
    group
}

fn counts(moto: &support::Moto, cwd: &std::path::Path) -> Vec<(String, u64)> {
    let out = moto.faultline(cwd, &["issues", "--status", "all", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut rows: Vec<(String, u64)> = listed
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
    rows.sort();
    rows
}

#[tokio::test]
async fn a_log_groups_history_is_recorded_once_however_often_it_is_read() {
    let Some(moto) = support::moto() else { return };
    let group = log_group(moto).await;
    let dir = tempfile::tempdir().unwrap();
    let out = moto.faultline(
        dir.path(),
        &[
            "ingest",
            "--notify",
            "none",
            "--log-group",
            &group,
            "--since",
            "3h",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("read 6 events of {group}")),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\r'),
        "no progress line off a terminal: {stderr:?}"
    );
    let expected = vec![("KeyError".to_string(), 3), ("TypeError".to_string(), 1)];
    assert_eq!(counts(moto, dir.path()), expected);

    // A wider window, and a narrower one: the overlap is recognised.
    for since in ["5h", "119m"] {
        let again = moto.faultline(
            dir.path(),
            &[
                "ingest",
                "--notify",
                "none",
                "--log-group",
                &group,
                "--since",
                since,
            ],
        );
        assert!(
            again.status.success(),
            "{}",
            String::from_utf8_lossy(&again.stderr)
        );
        assert_eq!(
            counts(moto, dir.path()),
            expected,
            "--since {since} counted twice"
        );
    }

    let filtered = tempfile::tempdir().unwrap();
    let out = moto.faultline(
        filtered.path(),
        &[
            "ingest",
            "--notify",
            "none",
            "--log-group",
            &group,
            "--since",
            "3h",
            "--filter-pattern",
            "TypeError",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        counts(moto, filtered.path()),
        vec![("TypeError".to_string(), 1)]
    );
}

#[tokio::test]
async fn a_subscribed_log_group_is_read_only_up_to_its_subscription() {
    let Some(moto) = support::moto() else { return };
    let group = log_group(moto).await;
    let client = logs(moto).await;
    let target = format!("{group}-copy");
    client
        .create_log_group()
        .log_group_name(&target)
        .send()
        .await
        .unwrap();
    client
        .put_subscription_filter()
        .log_group_name(&group)
        .filter_name("faultline")
        .filter_pattern("")
        .destination_arn(format!(
            "arn:aws:logs:us-east-1:123456789012:log-group:{target}:*"
        ))
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = moto.faultline(
        dir.path(),
        &[
            "ingest",
            "--notify",
            "none",
            "--log-group",
            &group,
            "--since",
            "3h",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("has subscription filter \"faultline\"")
            && stderr.contains("reads only those before it"),
        "{stderr}"
    );
    let ignoring = moto.faultline(
        dir.path(),
        &[
            "ingest",
            "--notify",
            "none",
            "--log-group",
            &group,
            "--since",
            "3h",
            "--ignore-subscription",
        ],
    );
    assert!(!String::from_utf8_lossy(&ignoring.stderr).contains("subscription filter"));
}

#[tokio::test]
async fn aws_failures_are_one_line_saying_what_to_do() {
    let Some(moto) = support::moto() else { return };
    let dir = tempfile::tempdir().unwrap();
    let missing = moto.faultline(
        dir.path(),
        &["ingest", "--log-group", "/aws/lambda/no-such-group"],
    );
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("log group /aws/lambda/no-such-group does not exist (")
            && stderr.contains("describe-log-groups"),
        "{stderr}"
    );

    let table = support::unique("missing");
    let no_table = moto.faultline(
        dir.path(),
        &["issues", "--store", &format!("dynamodb://{table}")],
    );
    let stderr = String::from_utf8_lossy(&no_table.stderr);
    assert!(!no_table.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("DynamoDB table {table} does not exist ("))
            && stderr.contains("faultline store init"),
        "{stderr}"
    );
    assert!(!stderr.contains("retrying may succeed"), "{stderr}");

    let empty = dir.path().join("empty");
    std::fs::write(&empty, "").unwrap();
    let no_credentials = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["ingest", "--log-group", "/g"])
        .current_dir(dir.path())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_PROFILE", "faultline-test-no-such-profile")
        .env("AWS_CONFIG_FILE", &empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", &empty)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&no_credentials.stderr);
    assert!(!no_credentials.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("no AWS credentials found") && stderr.contains("aws configure"),
        "{stderr}"
    );
    assert!(!stderr.contains("retrying may succeed"), "{stderr}");
}

#[tokio::test]
async fn on_a_terminal_a_progress_line_counts_the_events_read() {
    let Some(moto) = support::moto() else { return };
    let group = log_group(moto).await;
    let dir = tempfile::tempdir().unwrap();
    let binary = env!("CARGO_BIN_EXE_faultline");
    // script(1) runs faultline on a pseudo-terminal, as a person would.
    let out = Command::new("script")
        .args([
            "-qec",
            &format!("{binary} ingest --notify none --log-group {group} --since 3h"),
            "/dev/null",
        ])
        .current_dir(dir.path())
        .env_remove("FAULTLINE_STORE")
        .env_remove("AWS_PROFILE")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(
        screen.contains(&format!("\r\x1b[Kreading {group}: 6 events")),
        "{screen:?}"
    );
    assert!(
        screen.contains(&format!("read 6 events of {group}")),
        "{screen:?}"
    );
}
