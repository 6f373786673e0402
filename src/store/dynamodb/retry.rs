//! Which failures are worth retrying, backoff, and the tokens that make
//! retried requests idempotent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::store::StoreError;

/// How often a chunk is re-read and retried after losing a race on an issue
/// before the invocation gives up and leaves it to Lambda's retry.
pub(super) const MAX_CONTENDED_ATTEMPTS: u32 = 12;

/// BatchGetItem takes at most this many keys per request.
pub(super) const KEYS_PER_READ: usize = 100;

/// Reads a listing keeps in flight at once: enough to list 50,000 issues
/// in well under a second of round trips, few enough not to be throttled.
pub(super) const CONCURRENT_READS: usize = 16;

/// Error codes after which trying again later may succeed.
const TRANSIENT_CODES: [&str; 10] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
    "LimitExceededException",
];

/// Cancellation reasons of a transaction that mean "overloaded, try later".
pub(super) const TRANSIENT_REASONS: [&str; 4] = [
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
    "RequestLimitExceeded",
    "InternalServerError",
];

/// Jittered exponential backoff: 20 ms, 40 ms, ... capped at 1 s.
pub(super) fn backoff(attempt: u32) -> Duration {
    let base = 20u64.saturating_mul(1 << attempt.min(6)).min(1000);
    let jitter = unique_u64() % (base / 2 + 1);
    Duration::from_millis(base / 2 + jitter)
}

/// Distinct per call within a process and (through the clock) across
/// processes: enough for jitter and for idempotency tokens, no RNG needed.
pub(super) fn unique_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    xxhash_rust::xxh3::xxh3_64(
        &[
            nanos.to_le_bytes(),
            count.to_le_bytes(),
            u64::from(std::process::id()).to_le_bytes(),
        ]
        .concat(),
    )
}

/// A `ClientRequestToken` for one attempt of one chunk. The SDK resends the
/// same token when it retries the request, which is what makes that retry
/// idempotent; a fresh attempt after re-reading gets a fresh token, because it
/// carries different writes.
pub(super) fn request_token(batch_id: &str, chunk_no: usize, attempt: u32) -> String {
    let digest = xxhash_rust::xxh3::xxh3_128(
        format!("{batch_id}/{chunk_no}/{attempt}/{}", unique_u64()).as_bytes(),
    );
    format!("{digest:032x}")
}

/// Maps an SDK error to the store's, in the one-line words of
/// [`crate::aws::describe`] (the SDK's whole error is logged at debug
/// level): throttling, 5xx, timeouts and dropped connections are transient
/// (the Lambda fails so the event is retried); missing or refused
/// credentials, a denied action and a missing table are not.
pub(crate) fn classify<E>(
    operation: &str,
    table: &str,
    err: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let action = format!("dynamodb:{operation}");
    let resource = format!("DynamoDB table {table}");
    let when_missing = format!("create it with `faultline store init --store dynamodb://{table}`");
    let call = crate::aws::Call {
        action: &action,
        resource: &resource,
        when_missing: &when_missing,
    };
    let described = crate::aws::describe(&call, &err);
    let transient = match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            TRANSIENT_CODES.contains(&err.code().unwrap_or(""))
                || status >= 500
                || status == 429
                || described.is_transient()
        }
        _ => described.is_transient(),
    };
    if transient {
        StoreError::Transient(described.line)
    } else {
        StoreError::Backend(described.line)
    }
}

/// A value no other claim uses: the time, the process, and a per-process
/// random key (std's hasher seeds are random per process).
pub(super) fn lease_token(now: i64) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_i64(now);
    hasher.write_u32(std::process::id());
    format!("{now:x}-{:016x}", hasher.finish())
}
