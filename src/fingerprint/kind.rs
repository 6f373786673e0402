//! The error type as it enters a v3 key.
//!
//! One exception reaches the logs under several spellings of its type:
//! Lambda's Python runtime writes `[ERROR] ClientError` where a logged
//! traceback ends in `botocore.exceptions.ClientError`, the JSON format says
//! `Runtime.ImportModuleError` where a python3.6 line gave no type at all.
//! So the key takes the type's last dotted component.
//!
//! Some types only wrap a code that says what went wrong: botocore's
//! `ClientError` is `AccessDenied` from one call and `ThrottlingException`
//! from the same call a minute later, two problems with two fixes. AWS
//! error codes (and Node.js error codes) therefore belong to the kind:
//! `ClientError(AccessDenied)`. The code is read from where each SDK writes
//! it, never guessed from prose.

use std::sync::LazyLock;

use memchr::memmem::Finder;

/// The kind that enters the key: the type's last component, and the error
/// code when the message or the error object names one the type does not.
pub fn identity(kind: &str, message: &str, fields: &[(String, String)]) -> String {
    let base = simple_name(kind.trim());
    match error_code(message, fields) {
        Some(code) if code != base && !base.contains(code) => format!("{base}({code})"),
        _ => base.to_string(),
    }
}

/// `botocore.exceptions.ClientError` -> `ClientError`; a type that is not a
/// dotted identifier (`Error [ERR_REQUIRE_ESM]`, `fatal error`) is kept.
pub fn simple_name(kind: &str) -> &str {
    let dotted = !kind.is_empty()
        && kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'$'));
    if dotted {
        kind.rsplit('.').next().unwrap_or(kind)
    } else {
        kind
    }
}

/// Context fields that carry an error's code: Node.js errors' `code`
/// (`ERR_REQUIRE_ESM`, `ECONNREFUSED`) as the runtime serialises them, or
/// under a logger's error object, and the AWS SDK for JavaScript's `Code`.
const CODE_FIELDS: [&str; 6] = [
    "code",
    "Code",
    "err.code",
    "error.code",
    "errorCode",
    "error.errorCode",
];

/// What [`error_code`] looks for in every error's message, each searcher
/// built once: `str::find` builds one per call (0.6 % of ingest's
/// instructions went to building these).
struct Openers {
    error_occurred: Finder<'static>,
    error_code: Finder<'static>,
    status_code: Finder<'static>,
    api_error: Finder<'static>,
    rust_code: Finder<'static>,
}

static OPENERS: LazyLock<Openers> = LazyLock::new(|| Openers {
    error_occurred: Finder::new("An error occurred ("),
    error_code: Finder::new("Error Code: "),
    status_code: Finder::new("Status Code: "),
    api_error: Finder::new("api error "),
    rust_code: Finder::new("code: Some(\""),
});

fn error_code<'a>(message: &'a str, fields: &'a [(String, String)]) -> Option<&'a str> {
    // botocore: `An error occurred (AccessDenied) when calling the ...`.
    if let Some(code) = between(message, &OPENERS.error_occurred, ")") {
        return Some(code);
    }
    // AWS SDK for Java 1.x: `(Service: Amazon S3; Status Code: 403; Error
    // Code: AccessDenied; Request ID: ...)`; 2.x names only the status.
    if let Some(code) = between(message, &OPENERS.error_code, ";") {
        return Some(code);
    }
    if message.contains("(Service: ")
        && let Some(status) = between(message, &OPENERS.status_code, ",")
            .or_else(|| between(message, &OPENERS.status_code, ";"))
    {
        return Some(status);
    }
    // AWS SDK for Go v2: `operation error S3: GetObject, https response
    // error StatusCode: 403, ..., api error AccessDenied: Access Denied`.
    if let Some(code) = between(message, &OPENERS.api_error, ":") {
        return Some(code);
    }
    // AWS SDK for Rust, Debug-printed: `code: Some("AccessDeniedException")`.
    if let Some(code) = between(message, &OPENERS.rust_code, "\")") {
        return Some(code);
    }
    fields
        .iter()
        .find(|(k, v)| CODE_FIELDS.contains(&k.as_str()) && is_code(v))
        .map(|(_, v)| v.as_str())
}

/// The text between `open` and the next `close`, when it reads as a code:
/// one word of letters, digits, `_`, `.` or `-`.
fn between<'a>(text: &'a str, open: &Finder<'static>, close: &str) -> Option<&'a str> {
    let start = open.find(text.as_bytes())? + open.needle().len();
    let len = text.get(start..)?.find(close)?;
    let code = text[start..start + len].trim();
    is_code(code).then_some(code)
}

/// An error code: a word, at most 64 bytes, that is not a bare number
/// except an HTTP status.
fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && (s.bytes().any(|b| b.is_ascii_alphabetic())
            || (s.len() == 3 && s.starts_with(['4', '5'])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_and_bare_spellings_of_one_type_agree() {
        assert_eq!(
            identity("botocore.exceptions.ClientError", "x", &[]),
            "ClientError"
        );
        assert_eq!(identity("ClientError", "x", &[]), "ClientError");
        assert_eq!(
            identity("Runtime.ImportModuleError", "", &[]),
            "ImportModuleError"
        );
        assert_eq!(
            identity("Error [ERR_REQUIRE_ESM]", "", &[]),
            "Error [ERR_REQUIRE_ESM]"
        );
    }

    /// dd-s3-accessdenied-520 and py36-throttling-ecs-listservices in the
    /// real corpus: one wrapper type, two problems.
    #[test]
    fn aws_error_codes_belong_to_the_kind() {
        let denied = identity(
            "ClientError",
            "An error occurred (AccessDenied) when calling the GetObject operation: Access Denied",
            &[],
        );
        let throttled = identity(
            "botocore.exceptions.ClientError",
            "An error occurred (ThrottlingException) when calling the ListServices operation (reached max retries: 4): Rate exceeded",
            &[],
        );
        assert_eq!(denied, "ClientError(AccessDenied)");
        assert_eq!(throttled, "ClientError(ThrottlingException)");
        assert_eq!(
            identity(
                "com.amazonaws.services.s3.model.AmazonS3Exception",
                "Access Denied (Service: Amazon S3; Status Code: 403; Error Code: AccessDenied; Request ID: X)",
                &[]
            ),
            "AmazonS3Exception(AccessDenied)"
        );
        assert_eq!(
            identity(
                "",
                "operation error S3: GetObject, https response error StatusCode: 403, RequestID: X, api error AccessDenied: Access Denied",
                &[]
            ),
            "(AccessDenied)"
        );
        // A modeled exception is its own code.
        assert_eq!(
            identity(
                "NoSuchKey",
                "An error occurred (NoSuchKey) when calling the GetObject operation",
                &[]
            ),
            "NoSuchKey"
        );
        let code = [("code".to_string(), "ERR_REQUIRE_ESM".to_string())];
        assert_eq!(
            identity("Error", "require() of ES Module", &code),
            "Error(ERR_REQUIRE_ESM)"
        );
        let http = [("code".to_string(), "200".to_string())];
        assert_eq!(identity("Error", "x", &http), "Error");
    }
}
