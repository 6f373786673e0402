//! Turns an occurrence into the key of its issue.
//!
//! The key must be deterministic and stateless: concurrent Lambdas compute it
//! without talking to each other, and it must not change across deploys or
//! with the values a message carries. It is built from the log group, the
//! error kind, the masked message ([`template`]) and the innermost in-app
//! frames without line numbers or deploy paths ([`frames`]); a fingerprint the
//! producer chose replaces all but the log group.
//!
//! The hash is xxh3-128 over the length-prefixed inputs, written as 32
//! lowercase hex digits after [`ALGORITHM`]. xxh3 is specified byte for byte
//! and the lengths are written in decimal, so a key computed on a laptop
//! equals the one a Graviton Lambda computes, today and after an upgrade of
//! the crate (a test pins known keys).

pub mod frames;
pub mod mask;

use std::fmt;

use serde::Serialize;
use xxhash_rust::xxh3::xxh3_128;

use crate::model::Occurrence;
pub use frames::FrameSource;
pub use mask::{MASK, template, template_into};

/// Bumped whenever the inputs or their normalisation change, so that keys of
/// different algorithms never collide silently (an issue store keyed by
/// `v1:` keys simply sees `v2:` ones as new issues).
pub const ALGORITHM: &str = "v2";

/// Separates what the hash covers from any other use of xxh3 and from the
/// producer-key variant, so a computed key can never equal a producer key.
const DOMAIN_COMPUTED: &str = "faultline/v2/computed";
const DOMAIN_PRODUCER: &str = "faultline/v2/producer";

/// Which inputs decided the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The producer's own fingerprint (scoped by log group).
    Producer,
    /// Kind, template and frames.
    Computed,
}

/// What went into a fingerprint, for `faultline fingerprint --explain`.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub algorithm: &'static str,
    pub basis: Basis,
    pub log_group: String,
    pub kind: String,
    /// The masked message (for a `KeyError`, the key is kept; see
    /// [`message_template`]).
    pub template: String,
    /// The normalised `path function` of each frame used, innermost last.
    pub frames: Vec<String>,
    pub frame_source: FrameSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producer_fingerprint: Option<String>,
    pub fingerprint: String,
}

/// A fingerprint as a value: formats as `ALGORITHM:hex` without allocating,
/// for callers that print millions of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(pub u128);

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // By hand: the `{:032x}` machinery showed up in CLI profiles.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 32];
        for (i, h) in hex.iter_mut().enumerate() {
            *h = HEX[((self.0 >> (124 - 4 * i)) & 0xf) as usize];
        }
        f.write_str(ALGORITHM)?;
        f.write_str(":")?;
        // Only ASCII hex digits were written.
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

/// The issue key of an occurrence in a log group.
pub fn fingerprint(log_group: &str, occurrence: &Occurrence) -> String {
    explain(log_group, occurrence).fingerprint
}

/// The fingerprint with each of its inputs.
pub fn explain(log_group: &str, occurrence: &Occurrence) -> Explanation {
    let template = message_template(&occurrence.kind, &occurrence.message);
    let (frames, frame_source) = frames::key_frames(&occurrence.frames);
    let (basis, key) = match &occurrence.fingerprint {
        Some(given) => (Basis::Producer, producer_key(log_group, given)),
        None => (
            Basis::Computed,
            computed_key(log_group, &occurrence.kind, &template, &frames),
        ),
    };
    Explanation {
        algorithm: ALGORITHM,
        basis,
        log_group: log_group.to_string(),
        kind: occurrence.kind.clone(),
        template,
        frames,
        frame_source,
        producer_fingerprint: occurrence.fingerprint.clone(),
        fingerprint: key.to_string(),
    }
}

/// The key of a bare message treated as an error with no kind and no frames,
/// as `faultline fingerprint --every-line` needs it: equal to [`fingerprint`]
/// of such an occurrence, but with the template written into `scratch` so a
/// caller looping over lines allocates nothing per line.
///
/// `scratch` is left holding the hashed bytes, not just the template.
pub fn line_key(log_group: &str, message: &str, scratch: &mut String) -> Key {
    scratch.clear();
    computed_prefix(scratch, log_group, "", &[]);
    mask::template_append(message, scratch);
    Key(xxh3_128(scratch.as_bytes()))
}

/// The template that enters the key for an error of `kind`.
///
/// Usually [`template`] of the message. A Python `KeyError` is the
/// exception: its message is nothing but the missing key (`'action'`), and
/// that key is almost always a literal in the code (`event['action']`), so
/// it names the bug, not the data. Masking it would fold every missing key
/// of a log group into one issue, and since frames carry no line numbers,
/// `event['action']` and `event['user']` read in the same function would
/// stay merged even with a stack trace. The key is kept with the usual
/// masking applied inside it, so keys built from data (`'user_1234'`,
/// `'2024-01-31'`) still group.
pub fn message_template(kind: &str, message: &str) -> String {
    let is_key_error = kind == "KeyError" || kind.ends_with(".KeyError");
    if is_key_error {
        let m = message.trim();
        for q in ['\'', '"'] {
            if let Some(inner) = m.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
                if !inner.is_empty() && !inner.contains(q) {
                    let mut out = String::with_capacity(m.len());
                    out.push(q);
                    out.push_str(&template(inner));
                    out.push(q);
                    return out;
                }
            }
        }
    }
    template(message)
}

/// Writes the inputs that precede the template in a computed key's hashed
/// bytes. Each is length-prefixed (in decimal, so the bytes are the same on
/// every platform) and the template comes last, so no two different sets of
/// inputs produce the same bytes.
fn computed_prefix(out: &mut String, log_group: &str, kind: &str, frames: &[String]) {
    out.push_str(DOMAIN_COMPUTED);
    out.push('\n');
    for part in [log_group, kind] {
        push_decimal(out, part.len());
        out.push(':');
        out.push_str(part);
        out.push('\n');
    }
    push_decimal(out, frames.len());
    out.push('\n');
    for f in frames {
        push_decimal(out, f.len());
        out.push(':');
        out.push_str(f);
        out.push('\n');
    }
}

/// `n` in decimal, without the formatting machinery (this runs per line).
fn push_decimal(out: &mut String, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(d as char);
    }
}

fn computed_key(log_group: &str, kind: &str, template: &str, frames: &[String]) -> Key {
    let mut buf = String::with_capacity(64 + log_group.len() + kind.len() + template.len());
    computed_prefix(&mut buf, log_group, kind, frames);
    buf.push_str(template);
    Key(xxh3_128(buf.as_bytes()))
}

fn producer_key(log_group: &str, given: &str) -> Key {
    let buf = format!(
        "{DOMAIN_PRODUCER}\n{}:{log_group}\n{given}",
        log_group.len()
    );
    Key(xxh3_128(buf.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Level;

    fn occ(kind: &str, message: &str) -> Occurrence {
        Occurrence {
            kind: kind.into(),
            message: message.into(),
            frames: Vec::new(),
            level: Level::Error,
            shape: "every-line",
            fingerprint: None,
            fields: Vec::new(),
        }
    }

    #[test]
    fn key_is_versioned_hex() {
        let k = Key(0xab).to_string();
        assert_eq!(k, format!("{ALGORITHM}:{}ab", "0".repeat(30)));
        let x = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210_u128;
        assert_eq!(Key(x).to_string(), format!("{ALGORITHM}:{x:032x}"));
    }

    #[test]
    fn line_key_is_the_fingerprint_of_a_bare_message() {
        let mut scratch = String::new();
        for m in ["", "x", "Order 12 failed", "a=1 b='c' (d)"] {
            assert_eq!(
                line_key("g", m, &mut scratch).to_string(),
                fingerprint("g", &occ("", m))
            );
        }
    }

    #[test]
    fn key_error_keeps_its_key() {
        assert_eq!(message_template("KeyError", "'action'"), "'action'");
        assert_eq!(
            message_template("builtins.KeyError", "\"user_42\""),
            "\"<*>\""
        );
        assert_eq!(message_template("KeyError", "('a', 'b')"), "('<*>', '<*>')");
        assert_eq!(message_template("ValueError", "'action'"), "'<*>'");
    }

    #[test]
    fn inputs_are_unambiguous() {
        // Moving text between the log group, the kind and the message must
        // change the key.
        assert_ne!(
            fingerprint("a", &occ("b", "c")),
            fingerprint("ab", &occ("", "c"))
        );
        assert_ne!(
            fingerprint("a", &occ("b c", "")),
            fingerprint("a", &occ("b", "c"))
        );
    }
}
