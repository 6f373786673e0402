//! Runs end to end, as a user meets them: the real binary on a real SQLite
//! file, and again on a DynamoDB table in moto, fed a job's logs and its
//! EventBridge events run after run, and checked through `faultline runs`,
//! `issues` and the alerts it prints.
//!
//! One scenario per source: a Step Functions state machine (executions
//! that fail, that a retry recovers, that run clean), an AWS Batch array
//! job (children folded into the parent, an attempt a retry recovered) and
//! an ECS task; and one for item counts named in a log field.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};
use tempfile::TempDir;

mod common;
mod support;

/// The settings a folder's scenario runs with: none for the SQLite file
/// in the folder, a table and the emulator's endpoint for DynamoDB (see
/// [`dynamodb_folder`]).
fn settings(cwd: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(cwd.join("store.env"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `faultline ARGS` in `cwd`, on the folder's store.
fn faultline(args: &[&str], cwd: &Path) -> Output {
    common::faultline_with(args, cwd, &settings(cwd))
}

/// [`faultline`], which must succeed; its standard output.
fn ok(args: &[&str], cwd: &Path) -> String {
    let out = faultline(args, cwd);
    assert!(
        out.status.success(),
        "faultline {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("output is UTF-8")
}

/// A scenario's folder, its store the SQLite file the CLI makes in it.
fn sqlite_folder() -> Option<TempDir> {
    Some(tempfile::tempdir().unwrap())
}

/// A scenario's folder whose store is a fresh DynamoDB table in moto;
/// `None` (the scenario is skipped) when moto is not installed.
fn dynamodb_folder() -> Option<TempDir> {
    let moto = support::moto()?;
    let table = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async { moto.fresh_store("runs", None).await.table().to_string() });
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("FAULTLINE_STORE", format!("dynamodb://{table}")),
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
    ];
    let text: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(dir.path().join("store.env"), text).unwrap();
    Some(dir)
}

/// Each scenario, on both stores: the same story, the same answers.
macro_rules! on_both_stores {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario(super::sqlite_folder);
                }
            )*
        }
        mod dynamodb {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario(super::dynamodb_folder);
                }
            )*
        }
    };
}

on_both_stores!(
    a_state_machine_lifecycle_is_counted_in_runs,
    digests_follow_run_digest_and_alerts_wait_for_alert_after_runs,
    a_batch_array_job_is_one_run_whether_its_logs_or_its_events_come_first,
    an_ecs_task_ends_with_its_stop_event,
    a_run_named_by_a_log_field_shows_the_failed_share_of_its_items,
    a_run_is_forgotten_by_its_execution_arn_and_its_issues_stay,
);

/// Where a scenario runs: a fresh folder and its store, or `None` to skip.
type Folder = fn() -> Option<TempDir>;

const DAY: i64 = 86_400_000;
const T0: i64 = 1_763_856_000_000; // 2025-11-23T00:00:00Z
const GROUP: &str = "/aws/vendedlogs/states/nightly-billing";
const MACHINE: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:nightly-billing";

fn execution_arn(name: &str) -> String {
    format!("arn:aws:states:eu-west-1:123456789012:execution:nightly-billing:{name}")
}

/// A DATA_MESSAGE of `messages`, one event each, from time `t` on.
fn log_batch(group: &str, stream: &str, t: i64, messages: &[String]) -> String {
    let events: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let at = t + i as i64 * 1000;
            json!({"id": format!("{:056}", at * 100 + i as i64), "timestamp": at, "message": m})
        })
        .collect();
    json!({"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": group,
           "logStream": stream, "subscriptionFilters": ["faultline"], "logEvents": events})
    .to_string()
}

/// One Step Functions execution log event.
fn sfn_event(name: &str, id: u32, kind: &str, t: i64, details: Value) -> String {
    json!({"id": id.to_string(), "type": kind, "details": details,
           "previous_event_id": (id - 1).to_string(), "event_timestamp": (t + i64::from(id) * 1000).to_string(),
           "execution_arn": execution_arn(name), "redrive_count": "0"})
    .to_string()
}

fn lambda_failure(error_type: &str, message: &str) -> Value {
    let cause = json!({"errorMessage": message, "errorType": error_type, "requestId": "5e1c7a2b-3d4f-4a6b-9c8d-0e1f2a3b4c5d",
                       "stackTrace": ["  File \"/var/task/billing.py\", line 41, in handler\n    sku = event['sku']\n"]});
    json!({"resourceType": "lambda", "resource": "invoke", "error": error_type, "cause": cause.to_string()})
}

fn lambda_ok() -> Value {
    json!({"resourceType": "lambda", "resource": "invoke", "output": "{}"})
}

/// The "Step Functions Execution Status Change" event of an execution.
fn sfn_status(name: &str, status: &str, start: i64, stop: Option<i64>) -> String {
    json!({"version": "0", "id": format!("sfn-{name}-{status}"), "detail-type": "Step Functions Execution Status Change",
           "source": "aws.states", "account": "123456789012", "time": "2025-11-23T01:00:00Z", "region": "eu-west-1",
           "resources": [execution_arn(name)],
           "detail": {"executionArn": execution_arn(name), "stateMachineArn": MACHINE, "name": name, "status": status,
                      "startDate": start, "stopDate": stop, "input": "{}", "output": null}})
    .to_string()
}

/// Writes `inputs` as files of a fresh folder and ingests them; returns
/// what was printed (the alerts).
fn ingest(cwd: &Path, step: &str, inputs: &[String]) -> String {
    let folder = cwd.join(step);
    std::fs::create_dir_all(&folder).unwrap();
    for (i, input) in inputs.iter().enumerate() {
        std::fs::write(folder.join(format!("{i:02}.json")), input).unwrap();
    }
    ok(&["ingest", "--policy", "policy.toml", step], cwd)
}

fn policy(cwd: &Path, text: &str) {
    std::fs::write(cwd.join("policy.toml"), text).unwrap();
}

fn runs(cwd: &Path) -> Vec<Value> {
    serde_json::from_str::<Value>(&ok(&["runs", "--json"], cwd))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The names of the runs `faultline runs` lists, newest first.
fn run_names(cwd: &Path) -> Vec<String> {
    runs(cwd)
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

fn run_named<'a>(runs: &'a [Value], name: &str) -> &'a Value {
    runs.iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no run {name} in {runs:#?}"))
}

fn issue(cwd: &Path, id: &str) -> Value {
    serde_json::from_str(&ok(&["issues", "show", id, "--json"], cwd)).unwrap()
}

/// The id of the one issue of `run` whose title contains `needle`.
fn issue_in(cwd: &Path, run: &Value, needle: &str) -> String {
    let shown: Value = serde_json::from_str(&ok(
        &["runs", "show", run["id"].as_str().unwrap(), "--json"],
        cwd,
    ))
    .unwrap();
    shown["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"].as_str().unwrap_or("").contains(needle))
        .unwrap_or_else(|| panic!("no issue with {needle} in {shown:#}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A failing execution: its Lambda task fails (no retry) and so does the
/// execution.
fn failing_execution(name: &str, t: i64) -> Vec<String> {
    vec![log_batch(
        GROUP,
        &format!("states/nightly-billing/{name}"),
        t,
        &[
            sfn_event(name, 1, "ExecutionStarted", t, json!({})),
            sfn_event(name, 2, "TaskStateEntered", t, json!({"name": "Bill"})),
            sfn_event(name, 3, "TaskScheduled", t, lambda_ok()),
            sfn_event(
                name,
                4,
                "TaskFailed",
                t,
                lambda_failure("KeyError", "'sku'"),
            ),
            sfn_event(
                name,
                5,
                "ExecutionFailed",
                t,
                json!({"error": "KeyError", "cause": "'sku'"}),
            ),
        ],
    )]
}

/// An execution whose first attempt is throttled and whose retry succeeds.
fn recovered_execution(name: &str, t: i64) -> Vec<String> {
    vec![log_batch(
        GROUP,
        &format!("states/nightly-billing/{name}"),
        t,
        &[
            sfn_event(name, 1, "ExecutionStarted", t, json!({})),
            sfn_event(name, 2, "TaskStateEntered", t, json!({"name": "Bill"})),
            sfn_event(name, 3, "TaskScheduled", t, lambda_ok()),
            sfn_event(
                name,
                4,
                "TaskFailed",
                t,
                lambda_failure("Lambda.TooManyRequestsException", "Rate Exceeded."),
            ),
            sfn_event(name, 5, "TaskScheduled", t, lambda_ok()),
            sfn_event(name, 6, "TaskSucceeded", t, lambda_ok()),
            sfn_event(name, 7, "TaskStateExited", t, json!({"name": "Bill"})),
            sfn_event(name, 8, "ExecutionSucceeded", t, json!({})),
        ],
    )]
}

/// `runs forget` takes what `runs show` takes, says what it removed, and
/// leaves the issues; a run that is not there is an error that says how
/// to list them.
fn a_run_is_forgotten_by_its_execution_arn_and_its_issues_stay(folder: Folder) {
    let Some(dir) = folder() else { return };
    let cwd = dir.path();
    policy(cwd, "");
    ingest(cwd, "run-1", &failing_execution("2025-11-23", T0));
    ingest(cwd, "run-2", &failing_execution("2025-11-24", T0 + DAY));
    let all = runs(cwd);
    let first = run_named(&all, "2025-11-23")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = run_named(&all, "2025-11-24");
    let links = second["issues"].as_array().unwrap().len();
    assert!(links > 1);
    let sku = issue_in(cwd, second, "'sku'");

    let said = ok(&["runs", "forget", &execution_arn("2025-11-23")], cwd);
    assert!(
        said.starts_with(&format!(
            "forgot run {first} and its {links} issue links; it had settled"
        )),
        "{said}"
    );
    assert_eq!(run_names(cwd), ["2025-11-24"]);
    let shown = issue(cwd, &sku);
    assert_eq!(shown["count"], 2, "the issue keeps both runs' occurrences");
    assert_eq!(shown["runs"].as_array().unwrap().len(), 1);

    let again = faultline(&["runs", "forget", &first], cwd);
    assert_eq!(again.status.code(), Some(1));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains(&format!("no run with id {first}")) && err.contains("`faultline runs`"),
        "{err}"
    );
    let wrong = faultline(&["runs", "forget", "2025-11-24", "--limit", "2"], cwd);
    assert_eq!(
        wrong.status.code(),
        Some(2),
        "--limit does not apply to forget"
    );

    let gone: Value =
        serde_json::from_str(&ok(&["runs", "forget", "2025-11-24", "--json"], cwd)).unwrap();
    assert_eq!(gone["links"], links);
    assert_eq!(gone["settled"], true);
    assert!(runs(cwd).is_empty());
    assert_eq!(issue(cwd, &sku)["count"], 2);
}

/// A run whose stored row is damaged is left out of `faultline runs` and
/// `issues show`, which warn with `runs forget` and its id; reading it by
/// its id fails the same way; the other runs are still shown, and `runs
/// forget` with a prefix of its id removes it without reading the row.
#[test]
fn a_damaged_run_is_left_out_of_listings_and_forgotten_by_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    policy(cwd, "");
    ingest(cwd, "run-1", &failing_execution("2025-11-23", T0));
    ingest(cwd, "run-2", &failing_execution("2025-11-24", T0 + DAY));
    let id = faultline::model::run_id(&format!("sfn:{}", execution_arn("2025-11-23")));
    let db = rusqlite::Connection::open(cwd.join(".faultline/faultline.db")).unwrap();
    let damaged = db
        .execute("UPDATE runs SET errors = 'many' WHERE id = ?1", [&id])
        .unwrap();
    assert_eq!(damaged, 1);
    let warning = format!("remove it with `faultline runs forget {id}`");
    let listing = faultline(&["runs", "--json"], cwd);
    assert!(listing.status.success());
    let err = String::from_utf8_lossy(&listing.stderr);
    assert!(err.contains(&warning), "{err}");
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&listing.stdout).unwrap();
    let names: Vec<&str> = listed.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["2025-11-24"]);
    let issue = listed[0]["issues"][0]["id"].as_str().unwrap().to_string();
    let shown = faultline(&["issues", "show", &issue], cwd);
    assert!(shown.status.success());
    let err = String::from_utf8_lossy(&shown.stderr);
    assert!(err.contains(&warning), "{err}");
    let shown = faultline(&["runs", "show", &id], cwd);
    let err = String::from_utf8_lossy(&shown.stderr);
    assert!(
        err.contains(&format!("remove the run with `faultline runs forget {id}`")),
        "{err}"
    );
    let other = ok(&["runs", "show", "2025-11-24"], cwd);
    assert!(other.contains("2025-11-24"), "{other}");

    let said = ok(&["runs", "forget", &id[..8]], cwd);
    assert!(
        said.starts_with(&format!("forgot run {id} and its")),
        "{said}"
    );
    assert_eq!(run_names(cwd), ["2025-11-24"]);
}

fn a_state_machine_lifecycle_is_counted_in_runs(folder: Folder) {
    let Some(dir) = folder() else { return };
    let cwd = dir.path();
    policy(cwd, "auto_resolve_after_runs = 2\n");

    // Run 1 fails: its new issue alerts at once, and the run sends a digest.
    let printed = ingest(cwd, "run-1", &failing_execution("2025-11-23", T0));
    let all = runs(cwd);
    let first = run_named(&all, "2025-11-23");
    assert_eq!(first["outcome"], "failed");
    assert_eq!(first["job"], "nightly-billing");
    let sku = issue_in(cwd, first, "'sku'");
    assert!(printed.contains(&format!("new issue {sku}")), "{printed}");
    assert!(
        printed.contains("run digest")
            && printed.contains("Run failed: nightly-billing 2025-11-23"),
        "{printed}"
    );
    assert!(
        first["issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == sku && i["new"] == true)
    );

    // Run 2: throttled, retried, recovered; it succeeds. The throttle is a
    // new issue, but recovered: no alert, no digest for a succeeded run.
    let printed = ingest(cwd, "run-2", &recovered_execution("2025-11-24", T0 + DAY));
    assert!(printed.is_empty(), "nothing to say: {printed}");
    let all = runs(cwd);
    let second = run_named(&all, "2025-11-24");
    assert_eq!(second["outcome"], "succeeded");
    assert_eq!(
        (second["errors"].as_u64(), second["recovered"].as_u64()),
        (Some(1), Some(1))
    );
    let throttle = issue_in(cwd, second, "Rate Exceeded");
    assert_eq!(issue(cwd, &throttle)["status"], "open");

    // Run 3 is clean and known only from its EventBridge event: the second
    // clean run in a row without 'sku', which resolves it (K = 2).
    let printed = ingest(
        cwd,
        "run-3",
        &[sfn_status(
            "2025-11-25",
            "SUCCEEDED",
            T0 + 2 * DAY,
            Some(T0 + 2 * DAY + 60_000),
        )],
    );
    assert!(printed.is_empty(), "{printed}");
    assert_eq!(run_named(&runs(cwd), "2025-11-25")["errors"], 0);
    assert_eq!(
        issue(cwd, &sku)["status"],
        "resolved",
        "two clean runs after it"
    );
    assert_eq!(
        issue(cwd, &throttle)["status"],
        "open",
        "one clean run after it"
    );

    // Run 4 fails with 'sku' again: a regression, with its alert, and the
    // digest lists it as regressed, not as new.
    let printed = ingest(cwd, "run-4", &failing_execution("2025-11-26", T0 + 3 * DAY));
    assert!(printed.contains(&format!("regression {sku}")), "{printed}");
    let fourth = run_named(&runs(cwd), "2025-11-26").clone();
    let entry = fourth["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == sku)
        .unwrap()
        .clone();
    assert_eq!(
        (entry["new"].as_bool(), entry["regressed"].as_bool()),
        (Some(false), Some(true))
    );
    assert!(printed.contains(&format!("regressed  {sku}")), "{printed}");
    let shown = issue(cwd, &sku);
    assert_eq!(shown["status"], "open");
    assert_eq!(
        shown["seen_in"],
        json!({"job": "nightly-billing", "runs": 2, "of": 4})
    );
    assert_eq!(shown["runs"].as_array().unwrap().len(), 2);
    let newest: Vec<Value> =
        serde_json::from_str(&ok(&["runs", "--limit", "2", "--json"], cwd)).unwrap();
    let names: Vec<&str> = newest.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["2025-11-26", "2025-11-25"], "the newest two");
    let wrong = faultline(&["runs", "show", "2025-11-26", "--limit", "2"], cwd);
    assert!(!wrong.status.success(), "--limit does not apply to show");

    // Run 5 times out (EventBridge says so; its log only logged the end).
    let printed = ingest(
        cwd,
        "run-5",
        &[
            log_batch(
                GROUP,
                "states/nightly-billing/2025-11-27",
                T0 + 4 * DAY,
                &[sfn_event(
                    "2025-11-27",
                    9,
                    "ExecutionTimedOut",
                    T0 + 4 * DAY,
                    json!({"error": "States.Timeout"}),
                )],
            ),
            sfn_status(
                "2025-11-27",
                "TIMED_OUT",
                T0 + 4 * DAY,
                Some(T0 + 4 * DAY + 3_600_000),
            ),
        ],
    );
    assert!(
        printed.contains("Run timed out: nightly-billing 2025-11-27"),
        "{printed}"
    );
    let all = runs(cwd);
    assert_eq!(all.len(), 5);
    let names: Vec<&str> = all.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "2025-11-27",
            "2025-11-26",
            "2025-11-25",
            "2025-11-24",
            "2025-11-23"
        ],
        "newest first"
    );
    // The throttle has not occurred since run 2: runs 3 and 4 resolved it.
    assert_eq!(issue(cwd, &throttle)["status"], "resolved");

    // A replay of everything changes nothing and says nothing.
    let replay = faultline(
        &[
            "ingest",
            "--policy",
            "policy.toml",
            "run-1",
            "run-2",
            "run-3",
            "run-4",
            "run-5",
        ],
        cwd,
    );
    assert!(replay.status.success());
    assert!(
        replay.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&replay.stdout)
    );
    assert_eq!(runs(cwd), all);
}

fn digests_follow_run_digest_and_alerts_wait_for_alert_after_runs(folder: Folder) {
    let Some(dir) = folder() else { return };
    let cwd = dir.path();
    policy(cwd, "run_digest = \"always\"\nalert_after_runs = 2\n");
    let printed = ingest(cwd, "run-1", &recovered_execution("a", T0));
    assert!(
        printed.contains("Run succeeded: nightly-billing a"),
        "always: {printed}"
    );
    let printed = ingest(cwd, "run-2", &failing_execution("b", T0 + DAY));
    assert!(
        !printed.contains("new issue"),
        "held until a second run has it: {printed}"
    );
    let sku = issue_in(cwd, run_named(&runs(cwd), "b"), "'sku'");
    let printed = ingest(cwd, "run-3", &failing_execution("c", T0 + 2 * DAY));
    assert!(
        printed.contains(&format!("new issue {sku}")),
        "the second run in a row: {printed}"
    );
    let printed = ingest(cwd, "run-4", &failing_execution("d", T0 + 3 * DAY));
    assert!(!printed.contains("new issue"), "announced once: {printed}");

    policy(cwd, "run_digest = \"never\"\n");
    let printed = ingest(cwd, "run-5", &failing_execution("e", T0 + 4 * DAY));
    assert!(!printed.contains("run digest"), "never: {printed}");
}

const BATCH_GROUP: &str = "/aws/batch/job";
const PARENT: &str = "4c7599ae-0a82-49aa-ba5a-4727fcce14a8";
const TASKS: [&str; 5] = [
    "0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a01", // child 0, attempt 1: fails
    "0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a02", // child 0, attempt 2: succeeds
    "0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a03", // child 1: succeeds
    "0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a04", // child 2, attempt 1: fails
    "0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a05", // child 2, attempt 2: fails
];

fn batch_stream(task: &str) -> String {
    format!("resize-images/default/{task}")
}

fn batch_job_event(job_id: &str, status: &str, attempts: &[(&str, i64)], array: Value) -> String {
    let attempts: Vec<Value> = attempts
        .iter()
        .map(|(task, exit)| json!({"container": {"taskArn": format!("arn:aws:ecs:eu-west-1:123456789012:task/AWSBatch-nightly-ce/{task}"),
                                                 "exitCode": exit, "logStreamName": batch_stream(task)},
                                   "startedAt": T0, "stoppedAt": T0 + 60_000, "statusReason": "Essential container in task exited"}))
        .collect();
    json!({"version": "0", "id": format!("batch-{job_id}-{status}"), "detail-type": "Batch Job State Change", "source": "aws.batch",
           "account": "123456789012", "time": "2025-11-23T00:10:00Z", "region": "eu-west-1",
           "resources": [format!("arn:aws:batch:eu-west-1:123456789012:job/{job_id}")],
           "detail": {"jobArn": format!("arn:aws:batch:eu-west-1:123456789012:job/{job_id}"), "jobName": "resize-2025-11-23",
                      "jobId": job_id, "jobQueue": "arn:aws:batch:eu-west-1:123456789012:job-queue/nightly", "status": status,
                      "attempts": attempts, "createdAt": T0 - 60_000, "startedAt": T0, "stoppedAt": T0 + 600_000,
                      "retryStrategy": {"attempts": 2}, "dependsOn": [], "arrayProperties": array,
                      "jobDefinition": "arn:aws:batch:eu-west-1:123456789012:job-definition/resize-images:3",
                      "parameters": {}, "container": {}, "tags": {}, "propagateTags": false, "platformCapabilities": []}})
    .to_string()
}

fn traceback(error: &str) -> Vec<String> {
    vec![
        "2025-11-23 00:01:00,001 INFO resize: starting".to_string(),
        "Traceback (most recent call last):".to_string(),
        "  File \"/app/resize.py\", line 40, in <module>".to_string(),
        "    main()".to_string(),
        "  File \"/app/resize.py\", line 31, in main".to_string(),
        "    img = load(path)".to_string(),
        error.to_string(),
    ]
}

fn batch_logs() -> Vec<String> {
    let broken = "PIL.UnidentifiedImageError: cannot identify image file '/data/in/IMG_0042.HEIC'";
    let memory = "MemoryError: cannot allocate 4294967296 bytes";
    vec![
        log_batch(
            BATCH_GROUP,
            &batch_stream(TASKS[0]),
            T0 + 1_000,
            &traceback(memory),
        ),
        log_batch(
            BATCH_GROUP,
            &batch_stream(TASKS[3]),
            T0 + 2_000,
            &traceback(broken),
        ),
        log_batch(
            BATCH_GROUP,
            &batch_stream(TASKS[4]),
            T0 + 90_000,
            &traceback(broken),
        ),
    ]
}

fn batch_job_events() -> Vec<String> {
    vec![
        batch_job_event(
            &format!("{PARENT}:0"),
            "SUCCEEDED",
            &[(TASKS[0], 137), (TASKS[1], 0)],
            json!({"index": 0}),
        ),
        batch_job_event(
            &format!("{PARENT}:1"),
            "SUCCEEDED",
            &[(TASKS[2], 0)],
            json!({"index": 1}),
        ),
        batch_job_event(
            &format!("{PARENT}:2"),
            "FAILED",
            &[(TASKS[3], 1), (TASKS[4], 1)],
            json!({"index": 2}),
        ),
        batch_job_event(
            PARENT,
            "FAILED",
            &[],
            json!({"size": 3, "statusSummary": {"SUCCEEDED": 2, "FAILED": 1}}),
        ),
    ]
}

fn check_batch_run(cwd: &Path, printed: &str) {
    let all = runs(cwd);
    assert_eq!(
        all.len(),
        1,
        "the attempts' tasks are folded into the job: {all:#?}"
    );
    let run = &all[0];
    assert_eq!(run["key"], PARENT);
    assert_eq!(run["job"], "resize-images");
    assert_eq!(run["name"], "resize-2025-11-23");
    assert_eq!(run["outcome"], "failed");
    assert_eq!(run["errors"], 3);
    assert_eq!(
        run["recovered"], 1,
        "child 0's first attempt was recovered by its second"
    );
    let memory = issue_in(cwd, run, "MemoryError");
    let broken = issue_in(cwd, run, "UnidentifiedImageError");
    let issues = run["issues"].as_array().unwrap();
    let entry = |id: &str| issues.iter().find(|i| i["id"] == id).unwrap().clone();
    assert_eq!(
        (
            entry(&memory)["count"].as_u64(),
            entry(&memory)["recovered"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        (
            entry(&broken)["count"].as_u64(),
            entry(&broken)["recovered"].as_u64()
        ),
        (Some(2), Some(0))
    );
    assert_eq!(
        printed.matches("run digest").count(),
        1,
        "one digest for the job: {printed}"
    );
    assert!(
        printed.contains("Run failed: resize-images resize-2025-11-23"),
        "{printed}"
    );
    let shown = ok(&["runs", "show", PARENT], cwd);
    assert!(
        shown.contains("AWS Batch job") && shown.contains("recovered"),
        "{shown}"
    );
}

fn a_batch_array_job_is_one_run_whether_its_logs_or_its_events_come_first(folder: Folder) {
    for logs_first in [true, false] {
        let Some(dir) = folder() else { return };
        let cwd = dir.path();
        policy(cwd, "");
        // One ingest, in this order: its inputs are recorded in order, and
        // runs are settled after all of them.
        let inputs: Vec<String> = if logs_first {
            batch_logs().into_iter().chain(batch_job_events()).collect()
        } else {
            batch_job_events().into_iter().chain(batch_logs()).collect()
        };
        let printed = ingest(cwd, "all", &inputs);
        check_batch_run(cwd, &printed);
    }
}

fn an_ecs_task_ends_with_its_stop_event(folder: Folder) {
    let Some(dir) = folder() else { return };
    let cwd = dir.path();
    policy(cwd, "");
    let task = "c13b4cb40f1f4fe4a2971f76ae5a47ad";
    // Logged a minute ago: the task has not been quiet long enough to end
    // without its stop event.
    let recent = faultline::pipeline::system_clock() - 60_000;
    let logs = log_batch(
        "/ecs/nightly-export",
        &format!("export/app/{task}"),
        recent,
        &[
            r#"{"level":"info","msg":"export started"}"#.to_string(),
            r#"{"level":"error","msg":"upload failed","error":"RequestTimeout: s3 PutObject timed out after 30s"}"#.to_string(),
        ],
    );
    let printed = ingest(cwd, "logs", &[logs]);
    assert!(!printed.contains("run digest"), "still running: {printed}");
    let stopped = json!({"version": "0", "id": "3317b2af-7005-947d-b652-f55e762e571a", "detail-type": "ECS Task State Change",
        "source": "aws.ecs", "account": "123456789012", "time": "2025-11-23T00:30:00Z", "region": "eu-west-1",
        "resources": [format!("arn:aws:ecs:eu-west-1:123456789012:task/nightly/{task}")],
        "detail": {"clusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/nightly",
                   "taskArn": format!("arn:aws:ecs:eu-west-1:123456789012:task/nightly/{task}"),
                   "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/nightly-export:7",
                   "group": "family:nightly-export", "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
                   "createdAt": "2025-11-22T23:59:00.000Z", "startedAt": "2025-11-23T00:00:00.000Z",
                   "stoppedAt": "2025-11-23T00:29:00.000Z", "stopCode": "EssentialContainerExited",
                   "stoppedReason": "Essential container in task exited",
                   "containers": [{"name": "app", "exitCode": 1, "lastStatus": "STOPPED"}], "version": 4}})
    .to_string();
    let printed = ingest(cwd, "stopped", std::slice::from_ref(&stopped));
    let all = runs(cwd);
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0]["job"].as_str(), all[0]["outcome"].as_str()),
        (Some("nightly-export"), Some("failed"))
    );
    assert_eq!(all[0]["errors"], 1);
    assert!(printed.contains("Run failed: nightly-export"), "{printed}");
    // ECS may send a change twice: the same detail.version is one change.
    let mut again: Value = serde_json::from_str(&stopped).unwrap();
    again["id"] = json!("another-envelope-id");
    assert!(ingest(cwd, "again", &[again.to_string()]).is_empty());
}

fn a_run_named_by_a_log_field_shows_the_failed_share_of_its_items(folder: Folder) {
    let Some(dir) = folder() else { return };
    let cwd = dir.path();
    policy(
        cwd,
        "[run_fields.\"/aws/lambda/fanout-*\"]\nid = \"run_id\"\nitems = \"items_total\"\n",
    );
    let mut lines = vec![r#"{"level":"info","run_id":"2025-11-23","msg":"fan-out of 2000 items","items_total":2000}"#.to_string()];
    for i in 0..36 {
        lines.push(format!(r#"{{"level":"error","run_id":"2025-11-23","msg":"item failed","error":"ValueError: bad row","item":{i}}}"#));
    }
    lines.push(r#"{"level":"error","msg":"outside any run"}"#.to_string());
    let printed = ingest(
        cwd,
        "logs",
        &[log_batch(
            "/aws/lambda/fanout-eu",
            "2025/11/23/[$LATEST]abc",
            T0,
            &lines,
        )],
    );
    // Its log went quiet long ago: the run has ended, outcome unknown, with
    // errors no retry got past, so the default policy sends its digest.
    assert!(
        printed.contains("36 errors in 1 issue; 1.8% of 2,000 items failed"),
        "{printed}"
    );
    let all = runs(cwd);
    assert_eq!(all.len(), 1);
    let run = &all[0];
    assert_eq!(
        (
            run["outcome"].as_str(),
            run["items"].as_u64(),
            run["errors"].as_u64()
        ),
        (Some("unknown"), Some(2_000), Some(36))
    );
    assert_eq!(run["job"], "/aws/lambda/fanout-eu");
    let shown = ok(&["runs", "show", "2025-11-23"], cwd);
    assert!(
        shown.contains("2,000 (1.8% failed)") && shown.contains("[1.8% of 2,000 items]"),
        "{shown}"
    );
}
