//! Turns an occurrence into the key of its issue.
//!
//! The key must be deterministic and stateless: concurrent Lambdas compute it
//! without talking to each other, and it must not change across deploys.

use serde::Serialize;

use crate::extract::Occurrence;

/// Bumped whenever the inputs or their normalisation change, so that keys of
/// different algorithms never collide silently.
pub const ALGORITHM: &str = "v1";

/// What went into a fingerprint, for `faultline fingerprint --explain`.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub algorithm: &'static str,
    pub log_group: String,
    pub kind: String,
    pub template: String,
    pub frames: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producer_fingerprint: Option<String>,
    pub fingerprint: String,
}

/// The issue key of an occurrence in a log group.
pub fn fingerprint(log_group: &str, occurrence: &Occurrence) -> String {
    explain(log_group, occurrence).fingerprint
}

/// The fingerprint with each of its inputs.
pub fn explain(log_group: &str, occurrence: &Occurrence) -> Explanation {
    let template = template(&occurrence.message);
    let frames: Vec<String> = occurrence
        .frames
        .iter()
        .filter(|f| f.in_app)
        .map(|f| format!("{} {}", f.file, f.function))
        .collect();
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for part in [log_group, &occurrence.kind] {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    match &occurrence.fingerprint {
        Some(given) => hasher.update(given.as_bytes()),
        None => {
            hasher.update(template.as_bytes());
            for f in &frames {
                hasher.update(&[0]);
                hasher.update(f.as_bytes());
            }
        }
    }
    Explanation {
        algorithm: ALGORITHM,
        log_group: log_group.to_string(),
        kind: occurrence.kind.clone(),
        template,
        frames,
        producer_fingerprint: occurrence.fingerprint.clone(),
        fingerprint: format!("{ALGORITHM}:{:032x}", hasher.digest128()),
    }
}

/// The message with its variable parts masked: every token holding a digit.
pub fn template(message: &str) -> String {
    message
        .split_whitespace()
        .map(|t| {
            if t.bytes().any(|b| b.is_ascii_digit()) {
                "<*>"
            } else {
                t
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
