//! The Lambda: CloudWatch Logs subscription payloads in, issues and alerts out.
//!
//! A thin shell over the pipeline. Settings come from `FAULTLINE_STORE` and
//! `FAULTLINE_NOTIFY`, the same URLs as the CLI's `--store` and `--notify`,
//! and `FAULTLINE_POLICY` (a policy file's path or its TOML text)
//! (template.yaml sets `dynamodb://TABLE` and `sns://TOPIC_ARN`); AWS clients
//! read the standard AWS environment.
//!
//! What fails an invocation, and why:
//! - a store error: a transient one (throttling, 5xx, a dropped connection)
//!   so Lambda retries it; a permanent one (missing table, missing
//!   permission) too, so that after Lambda's two retries the batch waits in
//!   the on-failure queue, whose alarm tells someone, and can be replayed
//!   once the cause is fixed (replays never double-count);
//! - an alert that could not be sent: it stays queued in the store, and the
//!   retry (a duplicate batch, so nothing is counted twice) sends it;
//! - a payload that can never be decoded: retrying cannot help, but failing
//!   is what delivers it to the on-failure queue for inspection.
//!
//! Batches from this function's own log group are refused (logged, not
//! failed): processing them would feed every alert back into itself.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;

use faultline::pipeline::{self, Pipeline, Prepared};
use faultline::policy::Policy;
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let store_url = std::env::var("FAULTLINE_STORE").unwrap_or_else(|_| DEFAULT_STORE.into());
    let notify_url = std::env::var("FAULTLINE_NOTIFY").unwrap_or_else(|_| "none".into());
    let policy = match std::env::var("FAULTLINE_POLICY") {
        Ok(setting) if !setting.trim().is_empty() => Policy::from_setting(&setting)?,
        _ => Policy::default(),
    };
    let pipeline = Pipeline::new(
        store::open(&store_url).await?,
        notify::open(&notify_url).await?,
    )
    .with_policy(policy);
    let own_log_group = std::env::var("AWS_LAMBDA_LOG_GROUP_NAME").ok();
    let pipeline = &pipeline;
    let own_log_group = own_log_group.as_deref();
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            handle(pipeline, own_log_group, event.payload.get().as_bytes()).await
        },
    ))
    .await
}

/// Processes one invocation. Returning `Err` fails the invocation: Lambda
/// retries it twice, then hands it to the on-failure destination.
async fn handle(
    pipeline: &Pipeline,
    own_log_group: Option<&str>,
    payload: &[u8],
) -> Result<serde_json::Value, Error> {
    let batch = match pipeline::prepare(payload) {
        Ok(Prepared::Control) => return Ok(serde_json::json!({"status": "control message"})),
        Ok(Prepared::Batch(batch)) => batch,
        Err(e) => {
            // Retrying cannot fix a payload; failing sends it, after Lambda's
            // retries, to the on-failure destination where it can be inspected.
            tracing::error!(error = %e, "payload can never be processed");
            return Err(format!("undecodable payload: {e}").into());
        }
    };
    if own_log_group == Some(batch.log_group.as_str()) {
        // Processing our own logs would feed every alert back into itself.
        tracing::error!(log_group = %batch.log_group, "refusing to process this function's own log group; remove its subscription filter");
        return Ok(serde_json::json!({"status": "skipped own log group"}));
    }
    let recorded = pipeline.apply(&batch).await.map_err(store_failure)?;
    if let Some(line) = metrics::emf(&batch, &recorded, (pipeline.clock)()) {
        // Standard output of a Lambda goes to CloudWatch Logs, which turns
        // Embedded Metric Format lines into metrics.
        println!("{line}");
    }
    let flushed = pipeline.flush_alerts().await.map_err(store_failure)?;
    if !flushed.failed.is_empty() {
        // The alerts stay queued; failing makes Lambda retry soon, and the
        // retry (a duplicate batch, so no double count) sends them.
        return Err(format!("{} alerts could not be sent", flushed.failed.len()).into());
    }
    Ok(serde_json::json!({
        "status": if recorded.duplicate { "duplicate" } else { "recorded" },
        "events": batch.events,
        "errors": batch.errors,
        "new_issues": recorded.new_issues,
        "alerts_sent": flushed.sent,
    }))
}

/// Logs a store error by kind and turns it into a failed invocation.
fn store_failure(e: StoreError) -> Error {
    if e.is_transient() {
        tracing::warn!(error = %e, "store temporarily unavailable; failing so Lambda retries");
    } else {
        tracing::error!(error = %e, "store failed; after Lambda's retries the batch goes to the on-failure queue");
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

    async fn local() -> (Pipeline, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("f.db").display());
        let pipeline = Pipeline::new(store::open(&url).await.unwrap(), Box::new(notify::Discard));
        (pipeline, dir)
    }

    #[tokio::test]
    async fn its_own_log_group_is_refused_without_recording() {
        let (pipeline, _dir) = local().await;
        let own = "/aws/lambda/faultline-FaultlineFunction-abc";
        let out = handle(&pipeline, Some(own), &payload(own, "[ERROR] KeyError: 'x'"))
            .await
            .unwrap();
        assert_eq!(out["status"], "skipped own log group");
        let issues = pipeline
            .store
            .issues(faultline::model::StatusFilter::All)
            .await
            .unwrap();
        assert!(issues.is_empty());
    }

    #[tokio::test]
    async fn other_log_groups_are_recorded_and_replays_recognised() {
        let (pipeline, _dir) = local().await;
        let input = payload("/aws/lambda/orders", "[ERROR] KeyError: 'x'");
        let out = handle(&pipeline, Some("/aws/lambda/faultline"), &input)
            .await
            .unwrap();
        assert_eq!(out["status"], "recorded");
        assert_eq!(out["new_issues"].as_array().unwrap().len(), 1);
        let again = handle(&pipeline, Some("/aws/lambda/faultline"), &input)
            .await
            .unwrap();
        assert_eq!(again["status"], "duplicate");
    }

    #[tokio::test]
    async fn an_undecodable_payload_fails_the_invocation() {
        let (pipeline, _dir) = local().await;
        let err = handle(&pipeline, None, br#"{"awslogs":{"data":"not base64!"}}"#)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("undecodable payload"), "{err}");
    }
}
