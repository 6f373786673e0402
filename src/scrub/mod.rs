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
mod escapes;
pub mod rules;

use std::borrow::Cow;
use std::cell::RefCell;
use std::ops::Range;
use std::sync::{LazyLock, OnceLock};

use aho_corasick::AhoCorasick;
use regex::{Captures, Regex};

use crate::hashing::{FastMap, FastSet};
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
    let mut spans = secrets(text, candidates(text));
    // The text as a reader sees it once `%3D` and `\u0022` are undone, two
    // levels deep (a percent-encoded URL inside a query value); what the
    // rules find there is redacted where it was written.
    let mut maps: Vec<Vec<Range<usize>>> = Vec::new();
    let mut layer = escapes::unescaped(text);
    while let Some((view, from)) = layer.take() {
        maps.push(from);
        for span in secrets(&view, candidates(&view)) {
            let mut back = Some(span);
            for map in maps.iter().rev() {
                back = back.and_then(|s| escapes::original(map, &s));
            }
            spans.extend(back);
        }
        if maps.len() < 2 {
            layer = escapes::unescaped(&view);
        }
    }
    redact(text, spans)
}

/// A context field as it may be kept: a secret name loses its value, a
/// name like `key` loses a random-looking value, and every other value is
/// scrubbed like free text.
pub fn scrub_field(key: &str, value: &str) -> String {
    field_value(detect::name_strength(key), value).unwrap_or_else(|| value.to_string())
}

/// [`scrub_field`]'s value given what its name says, or `None` when the
/// value stays as it is (most do: no copy for them).
fn field_value(strength: Name, value: &str) -> Option<String> {
    match strength {
        Name::Strong if !value.is_empty() => Some(REDACTED.to_string()),
        Name::Weak if detect::looks_random(value) => Some(REDACTED.to_string()),
        _ => match scrub(value) {
            Cow::Owned(scrubbed) => Some(scrubbed),
            Cow::Borrowed(_) => None,
        },
    }
}

/// Scrubs every string of an occurrence in place: kind, message, the
/// producer's fingerprint, each frame's function and file, and each
/// context field (its value by its name, see [`scrub_field`], and its
/// name as text). The pipeline calls this once per occurrence, before
/// fingerprinting and before anything is kept, so no later stage can see a
/// secret and a new field of [`Occurrence`] only has to be added here.
pub fn occurrence(occ: &mut Occurrence) {
    in_place_recurring(&mut occ.kind);
    in_place(&mut occ.message);
    if let Some(fingerprint) = &mut occ.fingerprint {
        in_place(fingerprint);
    }
    for frame in &mut occ.frames {
        in_place_recurring(&mut frame.function);
        in_place_recurring(&mut frame.file);
    }
    for (key, value) in &mut occ.fields {
        if let Some(scrubbed) = field_value(field_name(key), value) {
            *value = scrubbed;
        }
    }
}

fn in_place(s: &mut String) {
    if let Cow::Owned(scrubbed) = scrub(s) {
        *s = scrubbed;
    }
}

/// How many clean texts [`in_place_recurring`] remembers before it starts
/// over: a few hundred KB, whatever a process reads.
const REMEMBERED_CLEAN: usize = 4096;

thread_local! {
    /// Texts that [`scrub`] found nothing in. Scrubbing is a pure function
    /// of the text, so one found clean is clean again; only clean texts are
    /// kept, so nothing that held a secret stays in memory.
    static CLEAN: RefCell<FastSet<String>> = RefCell::new(FastSet::default());
}

/// [`in_place`] for texts that recur from one error to the next: error
/// types and stack frames' functions and files (the same code paths fail
/// again and again). However short a text, scrubbing it costs an automaton
/// pass, the keyword-less scans and an unescaping pass; on a corpus whose
/// errors carry stack traces, frames were most of the scrubber's work.
fn in_place_recurring(s: &mut String) {
    if CLEAN.with_borrow(|clean| clean.contains(s.as_str())) {
        return;
    }
    match scrub(s) {
        Cow::Owned(scrubbed) => *s = scrubbed,
        Cow::Borrowed(_) => CLEAN.with_borrow_mut(|clean| {
            if clean.len() >= REMEMBERED_CLEAN {
                clean.clear();
            }
            clean.insert(s.clone());
        }),
    }
}

thread_local! {
    /// Field names that [`scrub`] found nothing in, with what each says
    /// about its value. The same few names (`user_id`, `job`, `region`)
    /// come with error after error, and judging one splits it into words
    /// and scrubs it like any text; as with [`CLEAN`], a name that held a
    /// secret is never kept.
    static FIELD_NAMES: RefCell<FastMap<String, Name>> = RefCell::new(FastMap::default());
}

/// What field name `key` says about its value; `key` itself is scrubbed
/// in place (after judging it, as it was written).
fn field_name(key: &mut String) -> Name {
    if let Some(strength) = FIELD_NAMES.with_borrow(|names| names.get(key.as_str()).copied()) {
        return strength;
    }
    let strength = detect::name_strength(key);
    match scrub(key) {
        Cow::Owned(scrubbed) => *key = scrubbed,
        Cow::Borrowed(_) => FIELD_NAMES.with_borrow_mut(|names| {
            if names.len() >= REMEMBERED_CLEAN {
                names.clear();
            }
            names.insert(key.clone(), strength);
        }),
    }
    strength
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
            Check::Prose(test) => test(&text[whole.start()..candidate.start()], candidate.as_str())
                .then(|| candidate.range()),
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
            // A rejected value may itself start a secret: `key: password=x`,
            // `jdbc:postgresql://db:5432/x?u=a&url=https://user:pw@host`.
            None => candidate.start(),
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
/// `yes` and `no` are MySQL's `(using password: YES)`.
const PLACEHOLDERS: &[&str] = &[
    "null",
    "none",
    "nil",
    "undefined",
    "true",
    "false",
    "yes",
    "no",
];

/// Authentication schemes that precede the credential in a header value.
const SCHEMES: &[&str] = &[
    "bearer",
    "basic",
    "token",
    "digest",
    "negotiate",
    "ntlm",
    "apikey",
    "api-key",
    "ssws",
    "oauth",
];

/// The secret of a named shape, if the name makes its value one.
fn named(caps: &Captures<'_>, text: &str) -> Option<Range<usize>> {
    let name_match = caps.name("name")?;
    let before = &text[..name_match.start()];
    let name = name_match.as_str();
    let op = caps.name("op").map_or("", |m| m.as_str());
    // `arn:...:execution:token-pipeline:<id>`, `/api/token:<id>`: a segment
    // of an ARN or a path, not a name being assigned; `/:_authToken=` (an
    // .npmrc line) assigns.
    if before.ends_with([':', '/']) && !op.contains('=') {
        return None;
    }
    let value = caps.name("s")?;
    let unescaped = value.as_str().trim_start_matches('\\');
    let quoted = unescaped.starts_with(['"', '\'', '`']);
    let inner = if quoted { &unescaped[1..] } else { unescaped };
    let inner = inner.trim_end();
    let start = value.start() + (value.as_str().len() - unescaped.len()) + usize::from(quoted);
    // A YAML block scalar (`password: |`) holds its value on the next line.
    let (start, inner) = match detect::block_scalar(text, start, inner) {
        Some(line) => line,
        None => (start, inner),
    };
    // `("X_TOKEN", "value")` is an assignment; `token, retrying` is prose.
    let comma = op.starts_with(',');
    if comma && !(quoted && caps.name("q").is_some()) {
        return None;
    }
    if inner.is_empty() || PLACEHOLDERS.iter().any(|p| inner.eq_ignore_ascii_case(p)) {
        return None;
    }
    let strength = detect::name_strength(name);
    match strength {
        Name::Plain => return None,
        // `key=...:1:20345` (a frame's line and column after a query value).
        Name::Weak if !detect::looks_random(inner.split(':').next().unwrap_or(inner)) => {
            return None;
        }
        _ => {}
    }
    let mut end = start + inner.len();
    if !quoted {
        let next = text[end..].chars().next();
        // `token=Token{a64f992 ...}`, `signature = summary[path]`,
        // `sig = hmac.new(...)`: code or an object's dump, not a value.
        if next.is_some_and(|c| matches!(c, '{' | '(' | '[')) && detect::is_wordy(inner) {
            return None;
        }
        // `pcookie.cnzz.com:80`: a host and its port.
        if op == ":" && name.contains('.') && inner.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    let auth_header = detect::name_parts(name)
        .last()
        .is_some_and(|p| p == "authorization");
    // A scheme word stands before the credential in an `Authorization`
    // header, or anywhere a token follows it (`token: Bearer x`), not in
    // `Token: Token { kind: ... }`.
    let next_word = text[start + inner.len()..]
        .trim_start_matches([' ', '\t'])
        .split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ','))
        .next()
        .unwrap_or("");
    let scheme = (auth_header && detect::is_scheme_word(inner))
        || (SCHEMES.iter().any(|s| inner.eq_ignore_ascii_case(s))
            && detect::looks_tokenish(next_word));
    // Names that hold passwords take any value; other secret names (`auth`,
    // `token`, `sessionid`) also name modes and ids: `auth:SIMPLE`,
    // `sessionid: 0x14ede63a5a70002`.
    if !scheme && !detect::is_password_name(name) && detect::is_word_or_number(inner) {
        return None;
    }
    if scheme {
        // `Authorization: Bearer x`, `Authorization: SSWS x`: the
        // credential is the next word.
        let rest = &text[end..];
        let gap = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        let word = rest[gap..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ','))
            .unwrap_or(rest.len() - gap);
        end += gap + word;
    } else if strength == Name::Strong && !quoted && !text[end..].starts_with("</") {
        // An unquoted password ends at white space, not at the first `,`,
        // `;`, `&` or bracket it holds: `Password=Ab,c;d(e;Encrypt=True`.
        end = detect::bare_value_end(text, end);
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

    /// Clean frames are remembered between occurrences; a frame that holds
    /// a secret is scrubbed however often it comes, before and after the
    /// clean ones.
    #[test]
    fn recurring_frames_are_scrubbed_every_time() {
        let frame = |file: &str| crate::model::Frame {
            function: "handler".into(),
            file: file.into(),
            line: Some(3),
            in_app: true,
        };
        let secret = "/var/task/AKIAIOSFODNN7EXAMPLE/app.py";
        for _ in 0..3 {
            let mut occ = Occurrence {
                kind: "KeyError".into(),
                message: "'id'".into(),
                frames: vec![frame("/var/task/app.py"), frame(secret)],
                level: crate::model::Level::Error,
                shape: "test",
                fingerprint: None,
                fields: Vec::new(),
            };
            occurrence(&mut occ);
            assert_eq!(occ.frames[0].file, "/var/task/app.py");
            assert!(
                !occ.frames[1].file.contains("AKIAIOSFODNN7EXAMPLE"),
                "{:?}",
                occ.frames[1]
            );
        }
    }

    /// Field names are judged once and remembered: a secret name's value
    /// is redacted every time it comes, a plain name's value kept, and a
    /// name that itself holds a secret loses it every time.
    #[test]
    fn recurring_field_names_are_judged_every_time() {
        let secret_name = "x-AKIAIOSFODNN7EXAMPLE";
        for _ in 0..3 {
            let mut occ = Occurrence {
                kind: "KeyError".into(),
                message: "'id'".into(),
                frames: Vec::new(),
                level: crate::model::Level::Error,
                shape: "test",
                fingerprint: None,
                fields: vec![
                    ("db_password".into(), "hunter2".into()),
                    ("requestId".into(), "r-17".into()),
                    ("api_key".into(), String::new()),
                    (secret_name.into(), "1".into()),
                ],
            };
            occurrence(&mut occ);
            let fields: Vec<(&str, &str)> = occ
                .fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(
                fields[..3],
                [
                    ("db_password", REDACTED),
                    ("requestId", "r-17"),
                    ("api_key", ""),
                ]
            );
            assert!(!fields[3].0.contains("AKIAIOSFODNN7EXAMPLE"), "{fields:?}");
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

    /// Shapes the held-out evaluation found leaking (tests/scrub_holdout.rs).
    #[test]
    fn secrets_in_held_out_shapes_are_removed() {
        let cases = [
            // Percent-encoded inside a query value: found in the unescaped view.
            (
                "redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%3Fapi_key%3DQm9v7Xr2Lp8Tz4Kw1Nc6%26state%3Dxyz",
                "Qm9v7Xr2Lp8Tz4Kw1Nc6",
                "state",
            ),
            // .NET's JSON escapes quotes as \u0022.
            (
                r#"{"Message":"Request {\u0022apiKey\u0022:\u0022Zr8Kq2Wm5Xv9Lp3T\u0022} rejected"}"#,
                "Zr8Kq2Wm5Xv9Lp3T",
                "rejected",
            ),
            // A scheme other than Bearer or Basic.
            (
                "GET /api/v1/users 401; Authorization: SSWS 00JIBRGk12UbkjQaaw4L7VYy9EE8zAEEkIeqGN",
                "00JIBRGk12UbkjQaaw4L7VYy9EE8zAEEkIeqGN",
                "401",
            ),
            // A password holding the delimiters of the text around it.
            (
                "ConnectionString: Server=tcp:db,1433;User ID=sa;Password=Ab,c;d(e)f[g]hXyZ12;Encrypt=True",
                "d(e)f[g]hXyZ12",
                "Encrypt=True",
            ),
            // The name in one field, the secret in the next.
            (
                r#"{"environment":[{"name":"DB_PASSWORD","value":"nU7#kd93Lq"}]}"#,
                "nU7#kd93Lq",
                "DB_PASSWORD",
            ),
            (
                "Parameters: [ParameterKey=DbPassword,ParameterValue=Tr0ub4dor&3x]",
                "Tr0ub4dor&3x",
                "DbPassword",
            ),
            // An .npmrc line: a name after `:` that is assigned.
            (
                "//registry.npmjs.org/:_authToken=3aAcac6c-9847-23d9-ce65-917590b81cf0",
                "917590b81cf0",
                "registry.npmjs.org",
            ),
            // A URL with a password after a URL whose `:port/path` is not one.
            (
                "url: jdbc:postgresql://db.internal:5432/x?user=a&cb=amqps://svc:Pq8Wz3Lm2Rt7@mq.internal:5671",
                "Pq8Wz3Lm2Rt7",
                "mq.internal",
            ),
            (
                "url=jdbc:oracle:thin:billing/Xq7vLp2RmK9sWd4T@//db.internal:1521/ORCLPDB1",
                "Xq7vLp2RmK9sWd4T",
                "db.internal",
            ),
            (
                "POST https://fn.azurewebsites.net/api/Hook?code=pX9v2Lq7Tz4mK8rW1cYb6NfHs3Jd0QeA== 500",
                "pX9v2Lq7Tz4mK8rW1cYb",
                "500",
            ),
            (
                "AZURE_DEVOPS_PAT=uie5tff7m5h5lqnqjhaltetqli90a08p6dhv9rn59uo30jgzw8un",
                "uie5tff7m5h5lqnq",
                "AZURE_DEVOPS_PAT",
            ),
            (
                "X-Amz-Security-Token=FQoDYXdzEFwaDGofJ9VVSGQYuP/UVSLBA91q87E4TLozAZSbSsu2ymVvzvt39uCp6J0BqN6jAOm7j",
                "FQoDYXdzEFwaDGofJ9VVSGQYuP",
                "X-Amz",
            ),
            // The value a field or a line after its name (the second
            // held-out set).
            (
                "array(1) {\n  [\"fb_secret_key\"]=>\n  string(16) \"Zx9mQ2pLw7Tr4Kv8\"\n}",
                "Zx9mQ2pLw7Tr4Kv8",
                "fb_secret_key",
            ),
            (
                "    Property: billing.slack-signing-secret\n    Value: \"8e562dc49c0cec3b\"\n    Origin: env",
                "8e562dc49c0cec3b",
                "Origin",
            ),
            (
                r#"[{"name": "OKTA_CLIENT_SECRET", "slotSetting": false, "value": "2uRDn9mNjtxfe8TE"}]"#,
                "2uRDn9mNjtxfe8TE",
                "slotSetting",
            ),
            (
                "  rawHeaders: [\n    'X-Api-Key',\n    'Qm9v7Xr2Lp8Tz4Kw',\n    'Accept',",
                "Qm9v7Xr2Lp8Tz4Kw",
                "Accept",
            ),
            (
                "stringData:\n  smtp_password: |\n    Bv2I88F1ybA0mBVP\n  region: us-east-1",
                "Bv2I88F1ybA0mBVP",
                "region",
            ),
        ];
        for (text, secret, kept) in cases {
            let out = scrub(text);
            assert!(!out.contains(secret), "{text:?} kept its secret: {out:?}");
            assert!(out.contains(kept), "{text:?} lost its context: {out:?}");
        }
    }

    /// Real log lines (Loghub, pasted error text) that name a secret word
    /// but hold none.
    #[test]
    fn modes_ids_ports_and_objects_beside_secret_words_stay() {
        for text in [
            "Auth successful for job_1445144423722_0020 (auth:SIMPLE)",
            "reason = AuthFail:sts:5_rsn:0",
            "Processed session termination for sessionid: 0x14ede63a5a70002",
            "chrome.exe *64 - pcookie.cnzz.com:80 open through proxy",
            "Skipping AppWindowToken{df0798e token=Token{78af589 ActivityRecord{3b04890}}}",
            "Priority: 20, Token: Token { kind: ContainerToken, service: 172.22.149.145:28345 }",
            "Adding job token for job_1445144423722_0020 to jobTokenSecretManager",
            r#"Topics: ( "com.apple.private.alloy.phone.auth", "com.apple.private.alloy.x" )"#,
            "Bad activity token: android.os.BinderProxy@2bd79ce",
            "Access denied for user 'etl'@'10.0.3.7' (using password: YES)",
            "scan_result, scan_signature = clamav.scan_file(file_path)",
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
