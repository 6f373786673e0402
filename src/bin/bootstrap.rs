//! The Lambda: CloudWatch Logs subscription payloads in, issues and alerts out.
//!
//! A thin shell over the pipeline. Settings come from `FAULTLINE_STORE` and
//! `FAULTLINE_NOTIFY`, the same URLs as the CLI's `--store` and `--notify`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;

use faultline::pipeline::{self, Pipeline, Prepared};
use faultline::{notify, store};

/// Inside Lambda only /tmp is writable; the real deployment sets a DynamoDB URL.
const DEFAULT_STORE: &str = "sqlite:/tmp/faultline/faultline.db";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let store_url = std::env::var("FAULTLINE_STORE").unwrap_or_else(|_| DEFAULT_STORE.into());
    let notify_url = std::env::var("FAULTLINE_NOTIFY").unwrap_or_else(|_| "none".into());
    let pipeline = Pipeline::new(
        store::open(&store_url).await?,
        notify::open(&notify_url).await?,
    );
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
    let recorded = pipeline.apply(&batch).await?;
    let flushed = pipeline.flush_alerts().await?;
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
