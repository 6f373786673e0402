//! Why the function could not start ([`InitError`]) or an invocation failed
//! ([`Failure`]), each with the error type Lambda records.
//!
//! An invocation's `errorType` goes into the on-failure record's
//! `responsePayload` and, counted by the function, into the
//! `InvocationFailures` metric by `ErrorType`:
//! - `StoreUnavailable` (throttling, 5xx, a dropped connection): Lambda's
//!   retry will likely succeed;
//! - `StoreMisconfigured` (missing table, missing permission): failing still
//!   helps, because after Lambda's retries the batch waits in the on-failure
//!   queue, whose alarm tells someone, and can be replayed once the cause is
//!   fixed (replays never double-count);
//! - `AlertsPending`: an alert could not be sent; it stays queued in the
//!   store, and the retry (a duplicate batch, so nothing is counted twice)
//!   sends it;
//! - `UndecodablePayload`: retrying cannot help, but failing is what
//!   delivers it to the on-failure queue for inspection.
//!
//! A setting the function cannot start with is reported to Lambda's
//! `/runtime/init/error` with its own error type before the process exits,
//! so the first invocation fails with "InvalidPolicy: ..." instead of every
//! batch failing later.

use lambda_runtime::Diagnostic;

use faultline::notify::NotifyError;
use faultline::policy::PolicyError;
use faultline::store::StoreError;

/// A setting the function cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("FAULTLINE_POLICY: {0} (fix the stack's AlertPolicy parameter)")]
    Policy(#[from] PolicyError),
    #[error("FAULTLINE_STORE: {0}")]
    Store(#[from] StoreError),
    #[error("FAULTLINE_NOTIFY: {0}")]
    Notifier(#[from] NotifyError),
}

impl InitError {
    pub fn error_type(&self) -> &'static str {
        match self {
            InitError::Policy(_) => "InvalidPolicy",
            InitError::Store(_) => "StoreMisconfigured",
            InitError::Notifier(_) => "NotifierMisconfigured",
        }
    }
}

/// Why an invocation (or one record of a stream's batch) failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("undecodable payload: {0}")]
    UndecodablePayload(String),
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
    pub fn error_type(&self) -> &'static str {
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

/// Tells Lambda why the function cannot start (Lambda then fails the
/// invocation with this error type and message), and returns the error so
/// the process exits.
pub async fn report_init_error(e: InitError) -> lambda_runtime::Error {
    tracing::error!(error_type = e.error_type(), error = %e, "cannot start");
    if let Err(reason) = post_init_error(&e).await {
        tracing::error!(%reason, "could not report the init error to Lambda");
    }
    e.into()
}

async fn post_init_error(e: &InitError) -> Result<(), String> {
    let diagnostic = Diagnostic {
        error_type: e.error_type().into(),
        error_message: e.to_string(),
    };
    let body = serde_json::to_vec(&diagnostic).map_err(|e| e.to_string())?;
    let client = lambda_runtime_api_client::Client::builder()
        .build()
        .map_err(|e| e.to_string())?;
    let request = lambda_runtime_api_client::build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("Lambda-Runtime-Function-Error-Type", e.error_type())
        .body(lambda_runtime_api_client::body::Body::from(body))
        .map_err(|e| e.to_string())?;
    client.call(request).await.map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_are_told_apart_by_whether_a_retry_can_help() {
        let transient = Failure::from(StoreError::Transient("throttled".into()));
        assert_eq!(transient.error_type(), "StoreUnavailable");
        let permanent = Failure::from(StoreError::Backend("no such table".into()));
        assert_eq!(permanent.error_type(), "StoreMisconfigured");
    }

    #[test]
    fn the_diagnostic_carries_the_type_and_the_message() {
        let diagnostic = Diagnostic::from(Failure::AlertsPending(2));
        assert_eq!(diagnostic.error_type, "AlertsPending");
        assert!(diagnostic.error_message.starts_with("2 alert(s)"));
    }
}
