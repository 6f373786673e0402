//! One line for every failed AWS call: what failed, why, and what to do.
//!
//! The SDK's own errors print as pages of internals, and its "dispatch
//! failure" covers both a dead endpoint and missing credentials. Every AWS
//! caller (the DynamoDB store, the SNS notifier, the CloudWatch Logs reader)
//! turns its errors into an [`AwsError`] here, so users read the same kind
//! of sentence for the same cause; the SDK's full error is logged at debug
//! level (`FAULTLINE_LOG=debug`).

use std::error::Error as StdError;
use std::fmt::Debug;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What was being done when a call failed, for the message.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The IAM action, such as `dynamodb:UpdateItem` or `logs:FilterLogEvents`.
    pub action: &'a str,
    /// What it acted on, as people name it: `DynamoDB table faultline`.
    pub resource: &'a str,
    /// What to do when the resource does not exist.
    pub when_missing: &'a str,
}

/// Why a call failed, as far as what to do next goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// No credentials anywhere the SDK looks.
    NoCredentials,
    /// Credentials were found but refused (unknown, expired, mis-signed).
    BadCredentials,
    AccessDenied,
    NotFound,
    /// Throttled, or a server-side error: later may work.
    Throttled,
    /// The endpoint could not be reached or did not answer in time.
    Unreachable,
    /// The request itself was refused as invalid.
    Invalid,
    Other,
}

/// A failed AWS call, described in one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}")]
pub struct AwsError {
    pub cause: Cause,
    pub line: String,
}

impl AwsError {
    /// Whether retrying the same call later may succeed. Never for missing
    /// or refused credentials, a denied action or a missing resource.
    pub fn is_transient(&self) -> bool {
        matches!(self.cause, Cause::Throttled | Cause::Unreachable)
    }
}

const NO_CREDENTIALS: &str = "no AWS credentials found: run `aws configure` (or `aws sso login`), or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";

/// Describes a failed SDK call in one line, and logs the SDK's whole error
/// at debug level.
pub fn describe<E, R>(call: &Call<'_>, err: &SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: Debug + 'static,
{
    tracing::debug!(action = call.action, error = ?err, "AWS call failed");
    let failed = format!("{} on {} failed", call.action, call.resource);
    let chain = chain(err);
    let (cause, why) = match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("");
            let message = e.message().unwrap_or("").trim();
            let said = if message.is_empty() {
                code.to_string()
            } else {
                format!("{code}: {message}")
            };
            classify_code(code, said, call)
        }
        SdkError::TimeoutError(_) => (
            Cause::Unreachable,
            "no answer in time; check the network, the region (AWS_REGION) and AWS_ENDPOINT_URL, then try again".to_string(),
        ),
        _ if mentions_credentials(&chain) => (Cause::NoCredentials, NO_CREDENTIALS.to_string()),
        SdkError::DispatchFailure(_) => (
            Cause::Unreachable,
            format!(
                "cannot reach AWS ({}); check the network, the region (AWS_REGION) and AWS_ENDPOINT_URL, then try again",
                last(&chain)
            ),
        ),
        SdkError::ResponseError(_) => (
            Cause::Throttled,
            "the answer could not be read; try again".to_string(),
        ),
        _ => (Cause::Other, last(&chain)),
    };
    AwsError {
        cause,
        line: one_line(&format!("{failed}: {why}")),
    }
}

fn classify_code(code: &str, said: String, call: &Call<'_>) -> (Cause, String) {
    match code {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "AuthorizationError"
        | "AuthorizationErrorException" => (
            Cause::AccessDenied,
            format!(
                "access denied ({said}); allow {} on {} for these credentials",
                call.action, call.resource
            ),
        ),
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "InvalidSignatureException"
        | "MissingAuthenticationToken"
        | "IncompleteSignature" => (
            Cause::BadCredentials,
            format!(
                "the AWS credentials were refused ({said}); check which ones are used with `aws sts get-caller-identity`"
            ),
        ),
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => (
            Cause::BadCredentials,
            format!(
                "the AWS session has expired ({said}); log in again (`aws sso login`) or refresh the credentials"
            ),
        ),
        "ResourceNotFoundException" | "NotFound" | "NotFoundException" | "NoSuchEntity" => (
            Cause::NotFound,
            format!(
                "{} does not exist ({said}); {}",
                call.resource, call.when_missing
            ),
        ),
        "ThrottlingException"
        | "Throttling"
        | "ThrottledException"
        | "TooManyRequestsException"
        | "ProvisionedThroughputExceededException"
        | "RequestLimitExceeded"
        | "LimitExceededException"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "InternalServerError"
        | "InternalFailure"
        | "InternalServerException" => (
            Cause::Throttled,
            format!("AWS is busy or failing ({said}); try again in a moment"),
        ),
        _ if code.starts_with("Invalid") || code.starts_with("Validation") => {
            (Cause::Invalid, format!("the request was refused ({said})"))
        }
        _ => (Cause::Other, said),
    }
}

/// The error and its sources, outermost first.
fn chain(err: &(dyn StdError + 'static)) -> Vec<String> {
    let mut parts = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        parts.push(e.to_string());
        next = e.source();
    }
    parts
}

fn mentions_credentials(chain: &[String]) -> bool {
    chain.iter().any(|part| {
        let part = part.to_ascii_lowercase();
        part.contains("credential") && !part.contains("expired")
    })
}

fn last(chain: &[String]) -> String {
    chain.last().cloned().unwrap_or_default()
}

/// Whitespace runs (newlines included) as one space: one line, always.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    const CALL: Call<'static> = Call {
        action: "dynamodb:UpdateItem",
        resource: "DynamoDB table faultline",
        when_missing: "create it with `faultline store init --store dynamodb://faultline`",
    };

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Service(ErrorMetadata);

    impl ProvideErrorMetadata for Service {
        fn meta(&self) -> &ErrorMetadata {
            &self.0
        }
    }

    fn service(code: &str, message: &str) -> AwsError {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        let response = Response::new(StatusCode::try_from(400).unwrap(), SdkBody::empty());
        describe(&CALL, &SdkError::service_error(Service(meta), response))
    }

    #[derive(Debug, thiserror::Error)]
    #[error("the credential provider was not enabled")]
    struct NoProvider;

    #[test]
    fn a_missing_credential_says_how_to_set_one_and_is_not_transient() {
        let err: SdkError<Service, Response> = SdkError::dispatch_failure(
            aws_smithy_runtime_api::client::result::ConnectorError::other(
                Box::new(NoProvider),
                None,
            ),
        );
        let described = describe(&CALL, &err);
        assert_eq!(described.cause, Cause::NoCredentials);
        assert!(!described.is_transient());
        assert!(described.line.contains("aws configure") && described.line.contains("AWS_PROFILE"));
        assert!(!described.line.contains("retrying"), "{}", described.line);
    }

    #[test]
    fn a_missing_table_says_to_create_it() {
        let e = service("ResourceNotFoundException", "Requested resource not found");
        assert_eq!(e.cause, Cause::NotFound);
        assert_eq!(
            e.line,
            "dynamodb:UpdateItem on DynamoDB table faultline failed: DynamoDB table faultline does not exist (ResourceNotFoundException: Requested resource not found); create it with `faultline store init --store dynamodb://faultline`"
        );
    }

    #[test]
    fn access_denied_names_the_action_and_the_resource() {
        let e = service(
            "AccessDeniedException",
            "User: arn:aws:iam::1:user/x is not authorized\nto perform: dynamodb:UpdateItem",
        );
        assert_eq!(e.cause, Cause::AccessDenied);
        assert!(
            e.line
                .contains("allow dynamodb:UpdateItem on DynamoDB table faultline")
        );
        assert!(!e.line.contains('\n'));
    }

    #[test]
    fn throttling_is_transient_and_refused_credentials_are_not() {
        assert!(service("ThrottlingException", "Rate exceeded").is_transient());
        assert!(service("ProvisionedThroughputExceededException", "").is_transient());
        let refused = service(
            "UnrecognizedClientException",
            "The security token is invalid",
        );
        assert_eq!(refused.cause, Cause::BadCredentials);
        assert!(!refused.is_transient());
        assert!(refused.line.contains("aws sts get-caller-identity"));
        assert_eq!(
            service("ExpiredTokenException", "").cause,
            Cause::BadCredentials
        );
    }

    #[test]
    fn a_timeout_is_transient() {
        let err: SdkError<Service, Response> =
            SdkError::timeout_error(Box::new(std::io::Error::other("timed out")));
        let e = describe(&CALL, &err);
        assert!(e.is_transient());
        assert!(e.line.contains("AWS_ENDPOINT_URL"));
    }
}
