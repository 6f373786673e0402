//! Turns an occurrence into the key of its issue.
//!
//! The key must be deterministic and stateless: concurrent Lambdas compute it
//! without talking to each other, and it must not change across deploys or
//! with the values a message carries.
//!
//! An issue is a throw site (algorithm v3). Which inputs decide, in order:
//!
//! 1. a fingerprint the producer chose (`error.fingerprint`), scoped by the
//!    log group ([`Rule::Producer`]);
//! 2. when the stack has a frame of the app's own code: the error's type
//!    ([`kind::identity`], with the AWS or Node.js error code a wrapper type
//!    carries) and the innermost app frame ([`frames::throw_site`]). The
//!    message does not split it: messages embed record ids, resource names
//!    that differ per environment, parser details that depend on the input,
//!    and the text a logging call put before the error. This is Sentry's
//!    rule, and it makes the same exception logged (`logger.exception`,
//!    `console.error(msg, err)`) and uncaught one issue
//!    ([`Rule::ThrowSite`]);
//! 3. a runtime failure whose message names what to fix (a missing module,
//!    a handler, a class, a binary, a glibc version; [`rules`]): the type
//!    and those names ([`Rule::Runtime`]);
//! 4. otherwise the type and the masked message ([`template`], keeping a
//!    `KeyError`'s key; [`Rule::Message`]). Without a stack, two different
//!    logging calls stay two issues.
//!
//! The hash is xxh3-128 over the length-prefixed inputs, written as 32
//! lowercase hex digits after [`ALGORITHM`]. xxh3 is specified byte for byte
//! and the lengths are written in decimal, so a key computed on a laptop
//! equals the one a Graviton Lambda computes, today and after an upgrade of
//! the crate (a test pins known keys).
//!
//! The previous algorithm stays computable ([`v2`]): a store that holds v2
//! issues lands an occurrence whose v3 issue does not exist yet in the v2
//! issue it would have had ([`crate::model::IssueDelta::previous`]).

pub mod frames;
pub mod kind;
pub mod mask;
pub mod rules;
pub mod v2;

use std::fmt;

use serde::Serialize;
use xxhash_rust::xxh3::xxh3_128;

use crate::model::{Occurrence, issue_id};
pub use frames::FrameSource;
pub use mask::{MASK, template, template_into};

/// Bumped whenever the inputs or their normalisation change, so that keys of
/// different algorithms never collide silently. A store migrates from one to
/// the next through the previous algorithm's keys, which stay computable.
pub const ALGORITHM: &str = "v3";

/// Separates what the hash covers from any other use of xxh3 and from the
/// producer-key variant, so a computed key can never equal a producer key.
const DOMAIN_COMPUTED: &str = "faultline/v3/computed";
const DOMAIN_PRODUCER: &str = "faultline/v3/producer";

/// Which rule decided a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The producer's own fingerprint (scoped by log group).
    Producer,
    /// The type and the innermost frame of the app's code.
    ThrowSite,
    /// The type and what a runtime failure's message names.
    Runtime,
    /// The type and the masked message.
    Message,
}

impl Rule {
    fn tag(self) -> &'static str {
        match self {
            Rule::Producer => "producer",
            Rule::ThrowSite => "throw_site",
            Rule::Runtime => "runtime",
            Rule::Message => "message",
        }
    }
}

/// What went into a fingerprint, for `faultline fingerprint --explain`.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub algorithm: &'static str,
    pub rule: Rule,
    /// Which runtime rule read the message, for [`Rule::Runtime`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_rule: Option<rules::RuleName>,
    pub log_group: String,
    /// The type as extracted, and as it entered the key.
    pub kind: String,
    pub kind_identity: String,
    /// What decided besides the type: the masked message
    /// ([`Rule::Message`]) or what the runtime failure names
    /// ([`Rule::Runtime`]); empty for the other rules.
    pub identity: String,
    /// The masked message, whichever rule decided.
    pub template: String,
    /// The normalised `path function` of the throw site ([`Rule::ThrowSite`]).
    pub frames: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producer_fingerprint: Option<String>,
    pub fingerprint: String,
    /// The id users see in `faultline issues` ([`issue_id`] of the key).
    pub issue_id: String,
    /// The key the previous algorithm gave the occurrence.
    pub previous: String,
}

/// A fingerprint as a value: formats as `ALGORITHM:hex` without allocating,
/// for callers that print millions of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub algorithm: &'static str,
    pub hash: u128,
}

impl Key {
    pub fn v3(hash: u128) -> Key {
        Key {
            algorithm: ALGORITHM,
            hash,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // By hand: the `{:032x}` machinery showed up in CLI profiles.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 32];
        for (i, h) in hex.iter_mut().enumerate() {
            *h = HEX[((self.hash >> (124 - 4 * i)) & 0xf) as usize];
        }
        f.write_str(self.algorithm)?;
        f.write_str(":")?;
        // Only ASCII hex digits were written.
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

/// The issue key of an occurrence in a log group.
pub fn fingerprint(log_group: &str, occurrence: &Occurrence) -> String {
    decide(log_group, occurrence).key.to_string()
}

/// The fingerprint with each of its inputs.
pub fn explain(log_group: &str, occurrence: &Occurrence) -> Explanation {
    let d = decide(log_group, occurrence);
    let fingerprint = d.key.to_string();
    Explanation {
        algorithm: ALGORITHM,
        rule: d.rule,
        runtime_rule: d.runtime_rule,
        log_group: log_group.to_string(),
        kind: occurrence.kind.clone(),
        kind_identity: d.kind_identity,
        identity: d.identity,
        template: message_template(&occurrence.kind, &occurrence.message),
        frames: d.frames,
        producer_fingerprint: occurrence.fingerprint.clone(),
        issue_id: issue_id(&fingerprint),
        fingerprint,
        previous: v2::fingerprint(log_group, occurrence),
    }
}

/// What [`decide`] chose.
struct Decision {
    rule: Rule,
    runtime_rule: Option<rules::RuleName>,
    kind_identity: String,
    identity: String,
    frames: Vec<String>,
    key: Key,
}

fn decide(log_group: &str, occurrence: &Occurrence) -> Decision {
    if let Some(given) = &occurrence.fingerprint {
        return Decision {
            rule: Rule::Producer,
            runtime_rule: None,
            kind_identity: String::new(),
            identity: String::new(),
            frames: Vec::new(),
            key: producer_key(log_group, given),
        };
    }
    let kind_identity = kind::identity(&occurrence.kind, &occurrence.message, &occurrence.fields);
    let site = frames::throw_site(&occurrence.frames);
    let (rule, runtime_rule, kind_identity, identity, site) = if !site.is_empty() {
        (Rule::ThrowSite, None, kind_identity, String::new(), site)
    } else if let Some((name, kind, identity)) =
        rules::identity(kind::simple_name(&occurrence.kind), &occurrence.message)
    {
        (Rule::Runtime, Some(name), kind.to_string(), identity, site)
    } else {
        let template = message_template(&occurrence.kind, &occurrence.message);
        (Rule::Message, None, kind_identity, template, site)
    };
    let key = computed_key(log_group, rule, &kind_identity, &site, &identity);
    Decision {
        rule,
        runtime_rule,
        kind_identity,
        identity,
        frames: site,
        key,
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
    computed_prefix(scratch, log_group, Rule::Message, "", &[]);
    mask::template_append(message, scratch);
    Key::v3(xxh3_128(scratch.as_bytes()))
}

/// The template that enters the key for an error of `kind`.
///
/// Usually [`template`] of the message. A Python `KeyError` is the
/// exception: its message is nothing but the missing key (`'action'`), and
/// that key is almost always a literal in the code (`event['action']`), so
/// it names the bug, not the data. Masking it would fold every missing key
/// of a log group into one issue. The key is kept with the usual masking
/// applied inside it, so keys built from data (`'user_1234'`, `'2024-01-31'`)
/// still group. (With a stack, the throw site decides and the key is not
/// used.)
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

/// Writes the inputs that precede the identity in a computed key's hashed
/// bytes. Each is length-prefixed (in decimal, so the bytes are the same on
/// every platform) and the identity comes last, so no two different sets of
/// inputs produce the same bytes.
fn computed_prefix(out: &mut String, log_group: &str, rule: Rule, kind: &str, frames: &[String]) {
    out.push_str(DOMAIN_COMPUTED);
    out.push('\n');
    for part in [log_group, rule.tag(), kind] {
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
pub(crate) fn push_decimal(out: &mut String, mut n: usize) {
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

fn computed_key(log_group: &str, rule: Rule, kind: &str, frames: &[String], identity: &str) -> Key {
    let mut buf = String::with_capacity(96 + log_group.len() + kind.len() + identity.len());
    computed_prefix(&mut buf, log_group, rule, kind, frames);
    buf.push_str(identity);
    Key::v3(xxh3_128(buf.as_bytes()))
}

fn producer_key(log_group: &str, given: &str) -> Key {
    let buf = format!(
        "{DOMAIN_PRODUCER}\n{}:{log_group}\n{given}",
        log_group.len()
    );
    Key::v3(xxh3_128(buf.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Frame, Level};

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

    fn app_frame(file: &str, function: &str, line: u32) -> Frame {
        Frame {
            function: function.into(),
            file: file.into(),
            line: Some(line),
            in_app: true,
        }
    }

    #[test]
    fn key_is_versioned_hex() {
        let k = Key::v3(0xab).to_string();
        assert_eq!(k, format!("{ALGORITHM}:{}ab", "0".repeat(30)));
        let x = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210_u128;
        assert_eq!(Key::v3(x).to_string(), format!("{ALGORITHM}:{x:032x}"));
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

    /// The throw-site rule: with an app frame, the message does not split
    /// the issue, the type and the frame do.
    #[test]
    fn a_throw_site_ignores_the_message() {
        let mut a = occ(
            "JSONDecodeError",
            "Expecting value: line 1 column 1 (char 0)",
        );
        a.frames = vec![app_frame("/var/task/parse.py", "load_body", 3)];
        let mut b = occ(
            "json.decoder.JSONDecodeError",
            "Unterminated string starting at: line 4 column 18 (char 90)",
        );
        b.frames = vec![app_frame("/app/parse.py", "load_body", 9)];
        assert_eq!(fingerprint("g", &a), fingerprint("g", &b));
        let mut c = b.clone();
        c.kind = "ValueError".into();
        assert_ne!(fingerprint("g", &a), fingerprint("g", &c));
        let mut d = b.clone();
        d.frames = vec![app_frame("/app/parse.py", "load_query", 9)];
        assert_ne!(fingerprint("g", &a), fingerprint("g", &d));
        assert_eq!(explain("g", &a).rule, Rule::ThrowSite);
    }

    #[test]
    fn explanations_name_the_rule_and_the_issue_id() {
        let e = explain(
            "g",
            &occ(
                "Runtime.ImportModuleError",
                "Unable to import module 'app': No module named 'yaml'",
            ),
        );
        assert_eq!(e.rule, Rule::Runtime);
        assert_eq!(e.runtime_rule, Some("python-import"));
        assert_eq!(e.identity, "No module named yaml");
        assert_eq!(e.issue_id, issue_id(&e.fingerprint));
        assert!(e.previous.starts_with("v2:"));
        assert_eq!(explain("g", &occ("", "disk full")).rule, Rule::Message);
    }
}
