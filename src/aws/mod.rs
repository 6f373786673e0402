//! The AWS SDK configuration the DynamoDB store and the SNS notifier share.
//!
//! Loaded from the standard AWS environment (`AWS_REGION`, credentials,
//! `AWS_ENDPOINT_URL` and the per-service `AWS_ENDPOINT_URL_DYNAMODB` /
//! `AWS_ENDPOINT_URL_SNS`), so an emulator such as moto works without any
//! faultline-specific setting.
//!
//! The HTTP client is set here rather than by the SDK's default features:
//! those compile a second TLS stack (aws-lc) that takes longer to build than
//! the rest of faultline together. hyper 1 with rustls on ring is enough.
//! Timeouts are bounded so that a dead endpoint fails an invocation in seconds
//! (and Lambda retries it) instead of holding it until the function times out.

use std::time::Duration;

pub mod errors;
pub mod logs;

pub use errors::{AwsError, Call, Cause, describe};

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls;

/// Connect within this long, or count the attempt as a dropped connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// One HTTP attempt, including reading the response.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// One operation including the SDK's own retries (3 attempts by default).
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// The SDK configuration from the environment, with faultline's HTTP client
/// and timeouts.
pub async fn sdk_config() -> SdkConfig {
    loader().load().await
}

/// The loader behind [`sdk_config`], for callers that set some values
/// explicitly (the tests point it at an emulator without touching the
/// process environment, which parallel tests share).
pub fn loader() -> ConfigLoader {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
}
