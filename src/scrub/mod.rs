//! Removes secrets from text before it is stored, sent or shown.
//!
//! Log lines carry what programs print, and programs print credentials: a
//! connection string with its password, a request's `Authorization` header, an
//! access key in a boto error. Every string of an occurrence (kind, message,
//! frames, context fields) passes through here before anything else sees it,
//! so a secret that reached the logs goes no further.
//!
//! What counts as a secret is the table in [`rules`]: token formats with a
//! distinctive prefix, values of secret-sounding names in the shapes
//! programs print them, URL passwords, and, with no name or prefix at all,
//! AWS secret keys and long random blobs found by their entropy. A random
//! string with no such name beside it (a request id, a hash) is context,
//! and stays.
//!
//! Speed: this runs on the strings of every occurrence on the Lambda's hot
//! path. One Aho-Corasick pass over the rules' keywords picks the few rules
//! that can match at all; each rule's regex is compiled the first time it
//! is needed; the keyword-less scans are single byte-class passes. Text
//! with no keyword costs those passes and nothing else.

mod detect;
pub mod rules;

use std::borrow::Cow;
use std::ops::Range;
use std::sync::{LazyLock, OnceLock};

use aho_corasick::AhoCorasick;
use regex::{Captures, Regex};

use crate::model::Occurrence;
use detect::Name;
use rules::{Check, Find, RULES, Rule};

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Whether a field with this name holds a secret whatever its value looks
/// like (`db_password`, `headers.Authorization`, `x-api-key`, `X_TOKEN`).
/// `author`, `authority` and `token_count` do not.
pub fn is_sensitive_key(key: &str) -> bool {
    detect::name_strength(key) == Name::Strong
}

/// `text` with every secret it holds replaced by [`REDACTED`].
pub fn scrub(text: &str) -> Cow<'_, str> {
    let spans = secrets(text, candidates(text));
    redact(text, spans)
}

/// A context field as it may be kept: a secret name loses its value, a
/// name like `key` loses a random-looking value, and every other value is
/// scrubbed like free text.
pub fn scrub_field(key: &str, value: &str) -> String {
    match detect::name_strength(key) {
        Name::Strong if !value.is_empty() => REDACTED.to_string(),
        Name::Weak if detect::looks_random(value) => REDACTED.to_string(),
        _ => scrub(value).into_owned(),
    }
}

/// Scrubs every string of an occurrence in place: kind, message, the
/// producer's fingerprint, each frame's function and file, and each
/// context field (its value by its name, see [`scrub_field`], and its
/// name as text). The pipeline calls this once per occurrence, before
/// fingerprinting and before anything is kept, so no later stage can see a
/// secret and a new field of [`Occurrence`] only has to be added here.
pub fn occurrence(occ: &mut Occurrence) {
    in_place(&mut occ.kind);
    in_place(&mut occ.message);
    if let Some(fingerprint) = &mut occ.fingerprint {
        in_place(fingerprint);
    }
    for frame in &mut occ.frames {
        in_place(&mut frame.function);
        in_place(&mut frame.file);
    }
    for (key, value) in &mut occ.fields {
        let scrubbed = scrub_field(key, value);
        if scrubbed != *value {
            *value = scrubbed;
        }
        in_place(key);
    }
}

fn in_place(s: &mut String) {
    if let Cow::Owned(scrubbed) = scrub(s) {
        *s = scrubbed;
    }
}

/// The keywords of every regex rule in one automaton, and which rules each
/// keyword belongs to.
struct Prefilter {
    automaton: Option<AhoCorasick>,
    rules_of: Vec<u64>,
    /// Rules with no keyword (scans), which run on every text.
    always: u64,
}

static PREFILTER: LazyLock<Prefilter> = LazyLock::new(|| {
    let mut words: Vec<&str> = Vec::new();
    let mut rules_of: Vec<u64> = Vec::new();
    let mut always = 0u64;
    for (i, rule) in RULES.iter().enumerate() {
        if rule.keywords.is_empty() {
            always |= 1 << i;
        }
        for word in rule.keywords {
            match words.iter().position(|w| w == word) {
                Some(at) => rules_of[at] |= 1 << i,
                None => {
                    words.push(word);
                    rules_of.push(1 << i);
                }
            }
        }
    }
    // A DFA: the fastest overlapping search, and small for these literals.
    let automaton = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(&words)
        .ok();
    Prefilter {
        automaton,
        rules_of,
        always,
    }
});

/// Rules that may match `text`, as a bit set over [`RULES`].
fn candidates(text: &str) -> u64 {
    let pre = &*PREFILTER;
    let Some(automaton) = &pre.automaton else {
        // Unreachable with the table's plain literals; failing open here
        // would let secrets through, so every rule runs instead.
        return u64::MAX;
    };
    let mut set = pre.always;
    for m in automaton.find_overlapping_iter(text) {
        set |= pre.rules_of[m.pattern().as_usize()];
    }
    set
}

static COMPILED: LazyLock<Vec<OnceLock<Option<Regex>>>> =
    LazyLock::new(|| RULES.iter().map(|_| OnceLock::new()).collect());

fn regex(index: usize, pattern: &str) -> Option<&'static Regex> {
    COMPILED[index]
        .get_or_init(|| Regex::new(pattern).ok())
        .as_ref()
}

/// Byte ranges of the secrets that the rules in `set` find in `text`.
fn secrets(text: &str, set: u64) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    for (index, rule) in RULES.iter().enumerate() {
        if set & (1 << index) != 0 {
            apply(index, rule, text, &mut spans);
        }
    }
    spans
}

fn apply(index: usize, rule: &Rule, text: &str, spans: &mut Vec<Range<usize>>) {
    let pattern = match rule.find {
        Find::Scan(scan) => return scan(text, spans),
        Find::Regex(pattern) => pattern,
    };
    let Some(re) = regex(index, pattern) else {
        return;
    };
    let mut at = 0;
    while let Some(caps) = re.captures_at(text, at) {
        let Some(whole) = caps.get(0) else { break };
        let candidate = ["s", "s2", "s3"]
            .iter()
            .find_map(|g| caps.name(g))
            .unwrap_or(whole);
        let found = match rule.check {
            Check::Always => Some(candidate.range()),
            Check::If(test) => test(candidate.as_str()).then(|| candidate.range()),
            Check::Named => named(&caps, text),
        };
        at = match found {
            Some(span) => {
                let end = span.end.max(whole.end());
                if !span.is_empty() {
                    spans.push(span);
                }
                end
            }
            // A rejected value may itself start a secret: `key: password=x`.
            None if matches!(rule.check, Check::Named) => candidate.start(),
            None => whole.end(),
        };
        if at <= whole.start() {
            at = whole.start() + 1;
        }
        while !text.is_char_boundary(at) {
            at += 1;
        }
        if at >= text.len() {
            break;
        }
    }
}

/// Values that say a secret is absent, which is worth keeping.
const PLACEHOLDERS: &[&str] = &["null", "none", "nil", "undefined", "true", "false"];

/// Authentication schemes that precede the credential in a header value.
const SCHEMES: &[&str] = &[
    "bearer",
    "basic",
    "token",
    "digest",
    "negotiate",
    "ntlm",
    "apikey",
];

/// The secret of a named shape, if the name makes its value one.
fn named(caps: &Captures<'_>, text: &str) -> Option<Range<usize>> {
    let name_match = caps.name("name")?;
    let name = name_match.as_str();
    // `arn:...:execution:token-pipeline:<id>`, `/api/token/<id>`: a segment
    // of an ARN or a path, not a name being assigned.
    if text[..name_match.start()].ends_with([':', '/']) {
        return None;
    }
    let value = caps.name("s")?;
    let unescaped = value.as_str().trim_start_matches('\\');
    let quoted = unescaped.starts_with(['"', '\'', '`']);
    let inner = if quoted { &unescaped[1..] } else { unescaped };
    let inner = inner.trim_end();
    let start = value.start() + (value.as_str().len() - unescaped.len()) + usize::from(quoted);
    // `("X_TOKEN", "value")` is an assignment; `token, retrying` is prose.
    let comma = caps.name("op").is_some_and(|op| op.as_str() == ",");
    if comma && !(quoted && caps.name("q").is_some()) {
        return None;
    }
    if inner.is_empty() || PLACEHOLDERS.iter().any(|p| inner.eq_ignore_ascii_case(p)) {
        return None;
    }
    match detect::name_strength(name) {
        Name::Plain => return None,
        Name::Weak if !detect::looks_random(inner) => return None,
        _ => {}
    }
    let mut end = start + inner.len();
    if SCHEMES.iter().any(|s| inner.eq_ignore_ascii_case(s)) {
        // `Authorization: Bearer x`: the credential is the next word.
        let rest = &text[end..];
        let gap = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let word = rest[gap..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ','))
            .unwrap_or(rest.len() - gap);
        end += gap + word;
    }
    Some(start..end)
}

/// `text` with the given byte ranges, merged where they touch, replaced
/// by [`REDACTED`].
fn redact(text: &str, mut spans: Vec<Range<usize>>) -> Cow<'_, str> {
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_by_key(|s| s.start);
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    let mut pending: Option<Range<usize>> = None;
    for span in spans {
        match &mut pending {
            Some(p) if span.start <= p.end => p.end = p.end.max(span.end),
            _ => {
                if let Some(p) = pending.take() {
                    out.push_str(&text[done..p.start]);
                    out.push_str(REDACTED);
                    done = p.end;
                }
                pending = Some(span);
            }
        }
    }
    if let Some(p) = pending {
        out.push_str(&text[done..p.start]);
        out.push_str(REDACTED);
        done = p.end;
    }
    out.push_str(&text[done..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row of the table, alone, removes the secret of its example.
    #[test]
    fn every_rule_scrubs_its_example_on_its_own() {
        assert!(RULES.len() <= 64, "the candidate set is a u64");
        for (index, rule) in RULES.iter().enumerate() {
            if let Find::Regex(pattern) = rule.find {
                assert!(Regex::new(pattern).is_ok(), "{}: bad pattern", rule.name);
            }
            let (line, secret) = rule.example;
            assert!(
                line.contains(secret),
                "{}: example lacks its secret",
                rule.name
            );
            let alone = redact(line, secrets(line, 1 << index));
            assert!(
                !alone.contains(secret),
                "{} alone keeps {secret:?}: {alone:?}",
                rule.name
            );
            assert!(
                candidates(line) & (1 << index) != 0,
                "{}: its keywords miss its own example",
                rule.name
            );
            assert!(!scrub(line).contains(secret), "{}", rule.name);
        }
    }

    /// Each planted secret must disappear while the text around it stays.
    #[test]
    fn planted_secrets_are_removed() {
        let cases = [
            (
                "AccessDenied for AKIAIOSFODNN7EXAMPLE on bucket",
                "AKIAIOSFODNN7EXAMPLE",
                "bucket",
            ),
            (
                "temp creds ASIAY34FZKBOKMUTVV7A expired",
                "ASIAY34FZKBOKMUTVV7A",
                "expired",
            ),
            (
                "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "aws_secret_access_key",
            ),
            (
                "GET /v1/orders Authorization: Bearer abcDEF123456.xyz_789-token",
                "abcDEF123456",
                "Authorization",
            ),
            (
                "connect postgres://app:s3cr3t-P4ss@db.internal:5432/orders failed",
                "s3cr3t-P4ss",
                "db.internal",
            ),
            (
                "login failed password=hunter2 user=bob",
                "hunter2",
                "user=bob",
            ),
            (r#"{"user":"bob","password":"hunter2"}"#, "hunter2", "bob"),
            (
                "client_secret: 'abc123xyz' rejected",
                "abc123xyz",
                "rejected",
            ),
            (
                "api_key=sk_live_51H8xyzABCDEFGHIJKLMNOP",
                "sk_live_51H8",
                "api_key",
            ),
            (
                "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "eyJzdWIiOiIxMjM0NTY3ODkwIn0",
                "token",
            ),
            (
                "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA0Z3VS\n-----END RSA PRIVATE KEY----- loaded",
                "MIIEpAIBAAKCAQEA0Z3VS",
                "loaded",
            ),
            (
                "slack xoxb-123456789012-abcdefghijkl failed",
                "xoxb-123456789012",
                "slack",
            ),
            (
                "ghp_abcdefghijklmnopqrstuvwxyz0123456789 used",
                "ghp_abcdefghij",
                "used",
            ),
        ];
        for (text, secret, kept) in cases {
            let out = scrub(text);
            assert!(!out.contains(secret), "{text:?} kept its secret: {out:?}");
            assert!(out.contains(kept), "{text:?} lost its context: {out:?}");
            assert!(out.contains("redacted"), "{out:?}");
        }
    }

    #[test]
    fn ordinary_error_text_is_left_alone() {
        for text in [
            "KeyError: 'customer_id'",
            "division by zero",
            "Connection refused: ledger-db.internal:5432",
            "Cannot read properties of undefined (reading 'trackingId')",
            "https://example.com/orders/42 returned 503",
            "author=alice authority=root",
        ] {
            assert_eq!(scrub(text), text);
        }
    }

    #[test]
    fn sensitive_field_names_lose_their_values() {
        assert_eq!(scrub_field("db_password", "plain"), REDACTED);
        assert_eq!(scrub_field("headers.Authorization", "Basic x"), REDACTED);
        assert_eq!(scrub_field("x-api-key", "k"), REDACTED);
        assert_eq!(scrub_field("author", "alice"), "alice");
        assert_eq!(scrub_field("requestId", "r-1"), "r-1");
        assert_eq!(
            scrub_field("error", "denied for AKIAIOSFODNN7EXAMPLE"),
            "denied for [redacted]"
        );
    }
}
