//! The Lambda: CloudWatch Logs subscription payloads in, issues and alerts out.
//!
//! A thin shell over the pipeline. Settings come from `FAULTLINE_STORE` and
//! `FAULTLINE_NOTIFY`, the same URLs as the CLI's `--store` and `--notify`,
//! and `FAULTLINE_POLICY` (a policy file's path, its TOML text, or the
//! one-line `key=value;...` form template.yaml's AlertPolicy takes); AWS
//! clients read the standard AWS environment.
//!
//! A setting the function cannot start with ([`InitError`]) is reported to
//! Lambda's `/runtime/init/error` with its own error type before the process
//! exits, so the first invocation fails with "InvalidPolicy: ..." instead of
//! every batch failing later.
//!
//! What fails an invocation ([`Failure`]), and why. Each kind is the
//! invocation's `errorType`, which Lambda puts in the on-failure record's
//! `responsePayload`, and is counted in the `InvocationFailures` metric by
//! `ErrorType`:
//! - `StoreUnavailable` (throttling, 5xx, a dropped connection): Lambda's
//!   retry will likely succeed;
//! - `StoreMisconfigured` (missing table, missing permission): failing still
//!   helps, because after Lambda's two retries the batch waits in the
//!   on-failure queue, whose alarm tells someone, and can be replayed once
//!   the cause is fixed (replays never double-count);
//! - `AlertsPending`: an alert could not be sent; it stays queued in the
//!   store, and the retry (a duplicate batch, so nothing is counted twice)
//!   sends it;
//! - `UndecodablePayload`: retrying cannot help, but failing is what
//!   delivers it to the on-failure queue for inspection.
//!
//! Batches from this function's own log group are refused (logged, not
//! failed): processing them would feed every alert back into itself.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::Serialize;
use serde_json::value::RawValue;

use faultline::decode::DecodeError;
use faultline::notify::NotifyError;
use faultline::pipeline::{self, Pipeline, Prepared};
use faultline::policy::{Policy, PolicyError};
use faultline::store::StoreError;
use faultline::{metrics, notify, store};

/// mimalloc keeps freed memory for reuse instead of returning it to the
/// kernel after every batch: with the system allocator, each 1 MB batch
/// buffer was mapped and faulted in anew (55,000 page faults per 100 batches,
/// 15% of the CPU time; BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Inside Lambda only /tmp is writable; the real deployment sets a DynamoDB URL.
const DEFAULT_STORE: &str = "sqlite:/tmp/faultline/faultline.db";

fn main() -> std::process::ExitCode {
    // Lambda sets this for every function it runs. Without it the runtime
    // client would panic with a backtrace; a person who started the binary
    // by hand gets one line saying what it is instead.
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        eprintln!(
            "bootstrap is faultline's AWS Lambda entry point and runs only inside Lambda (AWS_LAMBDA_RUNTIME_API is not set); to run the same pipeline locally, use `faultline ingest FILE...` (see the README)"
        );
        return std::process::ExitCode::from(2);
    }
    match lambda_main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bootstrap: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn lambda_main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let function = match Function::from_env().await {
        Ok(function) => function,
        Err(e) => return Err(report_init_error(e).await),
    };
    let function = &function;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            function.invoke(event.payload.get().as_bytes()).await
        },
    ))
    .await
}

/// A setting the function cannot start with.
#[derive(Debug, thiserror::Error)]
enum InitError {
    #[error("FAULTLINE_POLICY: {0} (fix the stack's AlertPolicy parameter)")]
    Policy(#[from] PolicyError),
    #[error("FAULTLINE_STORE: {0}")]
    Store(#[from] StoreError),
    #[error("FAULTLINE_NOTIFY: {0}")]
    Notifier(#[from] NotifyError),
}

impl InitError {
    fn error_type(&self) -> &'static str {
        match self {
            InitError::Policy(_) => "InvalidPolicy",
            InitError::Store(_) => "StoreMisconfigured",
            InitError::Notifier(_) => "NotifierMisconfigured",
        }
    }
}

/// Why an invocation failed; see the module documentation.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("undecodable payload: {0}")]
    UndecodablePayload(#[source] DecodeError),
    #[error("store unavailable, Lambda's retry may succeed: {0}")]
    StoreUnavailable(#[source] StoreError),
    #[error("store misconfigured: {0}")]
    StoreMisconfigured(#[source] StoreError),
    #[error(
        "{0} alert(s) could not be sent; they stay queued in the store and Lambda's retry sends them"
    )]
    AlertsPending(usize),
}

impl Failure {
    fn error_type(&self) -> &'static str {
        match self {
            Failure::UndecodablePayload(_) => "UndecodablePayload",
            Failure::StoreUnavailable(_) => "StoreUnavailable",
            Failure::StoreMisconfigured(_) => "StoreMisconfigured",
            Failure::AlertsPending(_) => "AlertsPending",
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        if e.is_transient() {
            Failure::StoreUnavailable(e)
        } else {
            Failure::StoreMisconfigured(e)
        }
    }
}

impl From<Failure> for Diagnostic {
    fn from(failure: Failure) -> Diagnostic {
        Diagnostic {
            error_type: failure.error_type().into(),
            error_message: failure.to_string(),
        }
    }
}

/// What an invocation did, as its response says.
#[derive(Debug, Serialize, PartialEq)]
#[serde(tag = "status", rename_all = "snake_case")]
enum Response {
    Recorded(Counts),
    /// Delivered before (Lambda retries, and may deliver twice): not counted again.
    Duplicate(Counts),
    ControlMessage,
    OwnLogGroupSkipped,
}

#[derive(Debug, Serialize, PartialEq)]
struct Counts {
    events: usize,
    errors: usize,
    new_issues: Vec<String>,
    alerts_sent: usize,
}

struct Function {
    pipeline: Pipeline,
    own_log_group: Option<String>,
}

impl Function {
    async fn from_env() -> Result<Function, InitError> {
        let setting = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let policy = match setting("FAULTLINE_POLICY") {
            Some(policy) => Policy::from_setting(&policy)?,
            None => Policy::default(),
        };
        let store_url = setting("FAULTLINE_STORE").unwrap_or_else(|| DEFAULT_STORE.into());
        let notify_url = setting("FAULTLINE_NOTIFY").unwrap_or_else(|| "none".into());
        let pipeline = Pipeline::new(
            store::open(&store_url).await?,
            notify::open(&notify_url).await?,
        )
        .with_policy(policy);
        // template.yaml names the group; Lambda's variable is the fallback.
        let own_log_group =
            setting("FAULTLINE_OWN_LOG_GROUP").or_else(|| setting("AWS_LAMBDA_LOG_GROUP_NAME"));
        Ok(Function {
            pipeline,
            own_log_group,
        })
    }

    /// One invocation: its failures are logged and counted by type before
    /// Lambda hears of them.
    async fn invoke(&self, payload: &[u8]) -> Result<Response, Failure> {
        let result = self.handle(payload).await;
        if let Err(failure) = &result {
            tracing::error!(error_type = failure.error_type(), error = %failure, "invocation failed");
            println!(
                "{}",
                metrics::failure_emf(failure.error_type(), (self.pipeline.clock)())
            );
        }
        result
    }

    async fn handle(&self, payload: &[u8]) -> Result<Response, Failure> {
        let batch = match pipeline::prepare(payload).map_err(Failure::UndecodablePayload)? {
            Prepared::Control => return Ok(Response::ControlMessage),
            Prepared::Batch(batch) => batch,
        };
        if self.own_log_group.as_deref() == Some(batch.log_group.as_str()) {
            tracing::error!(log_group = %batch.log_group, "refusing to process this function's own log group; remove its subscription filter");
            return Ok(Response::OwnLogGroupSkipped);
        }
        let ingested = self.pipeline.record(std::slice::from_ref(&batch)).await?;
        let recorded = ingested.recorded.into_iter().next().unwrap_or_default();
        if let Some(line) = metrics::emf(&batch, &recorded, (self.pipeline.clock)()) {
            // Standard output of a Lambda goes to CloudWatch Logs, which turns
            // Embedded Metric Format lines into metrics.
            println!("{line}");
        }
        let flushed = ingested.flushed;
        if !flushed.failed.is_empty() {
            return Err(Failure::AlertsPending(flushed.failed.len()));
        }
        let counts = Counts {
            events: batch.events,
            errors: batch.errors,
            new_issues: recorded.new_issues,
            alerts_sent: flushed.sent,
        };
        Ok(if recorded.duplicate {
            Response::Duplicate(counts)
        } else {
            Response::Recorded(counts)
        })
    }
}

/// Tells Lambda why the function cannot start (Lambda then fails the
/// invocation with this error type and message), and returns the error so
/// the process exits.
async fn report_init_error(e: InitError) -> lambda_runtime::Error {
    tracing::error!(error_type = e.error_type(), error = %e, "cannot start");
    // Outside Lambda (no Runtime API) there is no one to tell but the log.
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        let diagnostic = Diagnostic {
            error_type: e.error_type().into(),
            error_message: e.to_string(),
        };
        let sent = match (
            serde_json::to_vec(&diagnostic),
            lambda_runtime_api_client::Client::builder().build(),
        ) {
            (Ok(body), Ok(client)) => {
                match lambda_runtime_api_client::build_request()
                    .method("POST")
                    .uri("/2018-06-01/runtime/init/error")
                    .header("Lambda-Runtime-Function-Error-Type", e.error_type())
                    .body(lambda_runtime_api_client::body::Body::from(body))
                {
                    Ok(request) => client
                        .call(request)
                        .await
                        .map(drop)
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
            (Err(e), _) => Err(e.to_string()),
            (_, Err(e)) => Err(e.to_string()),
        };
        if let Err(reason) = sent {
            tracing::error!(%reason, "could not report the init error to Lambda");
        }
    }
    e.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(log_group: &str, message: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "messageType": "DATA_MESSAGE",
            "owner": "123456789012",
            "logGroup": log_group,
            "logStream": "s",
            "subscriptionFilters": ["f"],
            "logEvents": [{"id": "1", "timestamp": 1_763_900_000_000i64, "message": message}],
        }))
        .unwrap()
    }

    async fn local(own_log_group: Option<&str>) -> (Function, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("f.db").display());
        let pipeline = Pipeline::new(store::open(&url).await.unwrap(), Box::new(notify::Discard));
        let function = Function {
            pipeline,
            own_log_group: own_log_group.map(str::to_string),
        };
        (function, dir)
    }

    #[tokio::test]
    async fn its_own_log_group_is_refused_without_recording() {
        let own = "/aws/lambda/faultline-FaultlineFunction-abc";
        let (function, _dir) = local(Some(own)).await;
        let out = function
            .invoke(&payload(own, "[ERROR] KeyError: 'x'"))
            .await
            .unwrap();
        assert_eq!(out, Response::OwnLogGroupSkipped);
        let issues = function
            .pipeline
            .store
            .issues(faultline::model::StatusFilter::All)
            .await
            .unwrap();
        assert!(issues.is_empty());
    }

    #[tokio::test]
    async fn other_log_groups_are_recorded_and_replays_recognised() {
        let (function, _dir) = local(Some("/aws/lambda/faultline")).await;
        let input = payload("/aws/lambda/orders", "[ERROR] KeyError: 'x'");
        let Response::Recorded(counts) = function.invoke(&input).await.unwrap() else {
            panic!("the first delivery is recorded");
        };
        assert_eq!(counts.new_issues.len(), 1);
        assert!(matches!(
            function.invoke(&input).await.unwrap(),
            Response::Duplicate(_)
        ));
    }

    #[tokio::test]
    async fn an_undecodable_payload_fails_with_its_own_type() {
        let (function, _dir) = local(None).await;
        let err = function
            .invoke(br#"{"awslogs":{"data":"not base64!"}}"#)
            .await
            .unwrap_err();
        let diagnostic = Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, "UndecodablePayload");
        assert!(
            diagnostic.error_message.contains("base64"),
            "{diagnostic:?}"
        );
    }

    #[test]
    fn store_errors_are_told_apart_by_whether_a_retry_can_help() {
        let transient = Failure::from(StoreError::Transient("throttled".into()));
        assert_eq!(transient.error_type(), "StoreUnavailable");
        let permanent = Failure::from(StoreError::Backend("no such table".into()));
        assert_eq!(permanent.error_type(), "StoreMisconfigured");
    }

    #[test]
    fn responses_name_their_status() {
        let json = serde_json::to_value(Response::Recorded(Counts {
            events: 3,
            errors: 1,
            new_issues: vec!["a".into()],
            alerts_sent: 1,
        }))
        .unwrap();
        assert_eq!(json["status"], "recorded");
        assert_eq!(json["errors"], 1);
        assert_eq!(
            serde_json::to_value(Response::OwnLogGroupSkipped).unwrap()["status"],
            "own_log_group_skipped"
        );
    }
}
