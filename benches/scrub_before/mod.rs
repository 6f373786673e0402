//! The scrubber as it was before issue 15 (src/scrub.rs at 97c8dfa), kept
//! only as the baseline of benches/scrub.rs. Removes secrets from text
//! before it is stored, sent or shown.
//!
//! Log lines carry what programs print, and programs print credentials: a
//! connection string with its password, a request's `Authorization` header, an
//! access key in a boto error. Everything faultline keeps or sends about an
//! occurrence (its title, sample message and context fields) passes through
//! here first, so a secret that reached the logs goes no further.
//!
//! The rules favour recall over precision: a scrubbed non-secret costs a
//! little context, a leaked secret costs a rotation. Scrubbing runs only on
//! the few samples kept per issue and batch, never on every log line, so
//! regular expressions are affordable here.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Field names whose values are secrets whatever they look like.
const SENSITIVE_KEY_PARTS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "authorization",
    "auth",
    "cookie",
    "credential",
    "private_key",
    "privatekey",
    "session",
    "signature",
];

/// Whether a field with this name holds a secret (`db_password`,
/// `headers.Authorization`, `x-api-key`...). `author` and `authority` are not
/// `auth`: only whole `_`/`.`/`-` separated parts count for short names.
#[allow(dead_code)]
pub fn is_sensitive_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    SENSITIVE_KEY_PARTS.iter().any(|part| {
        if part.len() <= 4 {
            lower
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|p| p == *part)
        } else {
            lower.contains(part)
        }
    })
}

struct Rule {
    pattern: Regex,
    /// Replacement, with `$name` groups kept so the context stays readable.
    replacement: &'static str,
}

fn rule(pattern: &str, replacement: &'static str) -> Rule {
    Rule {
        // The patterns are constants tested below; a typo fails every test.
        pattern: Regex::new(pattern).unwrap_or_else(|e| panic!("bad scrub pattern {pattern}: {e}")),
        replacement,
    }
}

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        // PEM private keys, whole blocks (possibly cut by truncation).
        rule(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z ]*PRIVATE KEY-----|\z)",
            "[redacted private key]",
        ),
        // Authorization headers and bearer/basic credentials.
        rule(
            r"(?i)(?P<k>\b(?:bearer|basic|token|digest)\s+)[A-Za-z0-9\-._~+/]{8,}=*",
            "${k}[redacted]",
        ),
        // JSON Web Tokens.
        rule(
            r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
            "[redacted]",
        ),
        // user:password@ in URLs and connection strings.
        rule(
            r"(?P<k>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@",
            "${k}[redacted]@",
        ),
        // key=value, key: value and "key": "value" for sensitive keys.
        rule(
            r#"(?i)(?P<k>["']?[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credentials?|authorization|cookie|session[_-]?id)["']?\s*[:=]\s*)(?:"[^"]*"|'[^']*'|[^\s,;&}\]]+)"#,
            "${k}[redacted]",
        ),
        // AWS access key ids (long-term and temporary).
        rule(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b", "[redacted]"),
        // Well-known token formats: GitHub, Slack, Stripe, Google API keys.
        rule(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abposr]-[A-Za-z0-9-]{10,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{35})",
            "[redacted]",
        ),
        // A bare 40-character base64 string next to an AWS key id or alone
        // is most likely an AWS secret access key.
        rule(
            r"(?P<k>(?i:aws_?secret_?access_?key|secretaccesskey)\W{0,3})[A-Za-z0-9/+=]{40}",
            "${k}[redacted]",
        ),
    ]
});

/// All rules in one automaton: one pass tells which rules can match at all,
/// so clean text (nearly all of it) costs one scan instead of one per rule.
static ANY: LazyLock<Option<RegexSet>> =
    LazyLock::new(|| RegexSet::new(RULES.iter().map(|r| r.pattern.as_str())).ok());

/// `text` with every secret it holds replaced by [`REDACTED`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    let candidates: Vec<usize> = match ANY.as_ref() {
        Some(set) => set.matches(text).into_iter().collect(),
        None => (0..RULES.len()).collect(),
    };
    let mut current: Cow<'_, str> = Cow::Borrowed(text);
    for rule in candidates.iter().map(|&i| &RULES[i]) {
        if let Cow::Owned(changed) = rule.pattern.replace_all(&current, rule.replacement) {
            current = Cow::Owned(changed);
        }
    }
    current
}

/// A context field as it may be kept: sensitive names lose their value,
/// every other value is scrubbed like free text.
#[allow(dead_code)]
pub fn scrub_field(key: &str, value: &str) -> String {
    if is_sensitive_key(key) {
        REDACTED.to_string()
    } else {
        scrub(value).into_owned()
    }
}
