//! Judgements about single strings: does this value look random, is this
//! field name one that holds secrets, and the scans for secrets that have
//! no keyword and no prefix to find them by.
//!
//! Scanners find random-looking values by their entropy and character
//! classes; the same measure is used here, but a log line is mostly
//! identifiers, paths and ids that are random-looking too, so every test
//! below also asks whether the string reads like words or like a path.

use std::ops::Range;

/// Shannon entropy of the bytes of `s`, in bits per byte.
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for &b in s.as_bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether runs of readable letters (`orders`, `Summary`, `Impl`) make up
/// at least 40% of `s`. Random tokens rarely hold a pronounceable run of
/// four letters of one case; identifiers and paths are mostly such runs.
pub fn is_wordy(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut covered = 0;
    let mut i = 0;
    while i < bytes.len() {
        // A run: an optional capital, then lower-case letters.
        let start = i;
        if bytes[i].is_ascii_uppercase() {
            i += 1;
        }
        while i < bytes.len() && bytes[i].is_ascii_lowercase() {
            i += 1;
        }
        if i == start {
            i += 1;
            continue;
        }
        let run = &bytes[start..i];
        if run.len() >= 4 && pronounceable(run) {
            covered += run.len();
        }
    }
    covered * 10 >= bytes.len() * 4
}

/// A vowel, and never four consonants in a row: `Summary`, `orders`,
/// `Impl` are; `kscxfz`, `dnokmknh` (random lower-case) are not.
fn pronounceable(run: &[u8]) -> bool {
    let vowel = |b: &u8| b"aeiouyAEIOUY".contains(b);
    run.iter().any(vowel) && !run.windows(4).any(|w| !w.iter().any(vowel))
}

/// Whether `s` reads as a path (`orders/2024/11/x.csv`, `/app/x`): an AWS
/// secret key may hold a `/` or two, but never a file extension, a segment
/// of two or more digits only, or one of lower-case letters only.
pub fn is_pathlike(s: &str) -> bool {
    if !s.contains('/') {
        return false;
    }
    s.split('/').any(|seg| {
        (seg.len() >= 2 && seg.bytes().all(|b| b.is_ascii_digit()))
            || (seg.len() >= 3 && seg.bytes().all(|b| b.is_ascii_lowercase()))
            || seg
                .rsplit_once('.')
                .is_some_and(|(stem, ext)| !stem.is_empty() && (1..=5).contains(&ext.len()))
    })
}

/// Whether a value assigned to a name like `key` or `access` looks like
/// a credential rather than a name, a path, an ARN or a sentence.
pub fn looks_random(v: &str) -> bool {
    let len = v.len();
    if !(10..=400).contains(&len) || v.contains(|c: char| c.is_whitespace() || c == ':') {
        return false;
    }
    let digit = v.bytes().any(|b| b.is_ascii_digit());
    let lower = v.bytes().any(|b| b.is_ascii_lowercase());
    let upper = v.bytes().any(|b| b.is_ascii_uppercase());
    let classes = usize::from(digit) + usize::from(lower) + usize::from(upper);
    if classes < 2 || is_wordy(v) || is_pathlike(v) {
        return false;
    }
    // Random strings of n symbols approach log2(n) bits; leave a margin so
    // hex (4 bits at most) still passes at 32 characters.
    let floor = ((len as f64).log2() - 1.3).min(3.0);
    entropy(v) >= floor
}

/// Whether a bearer credential is a token rather than an English word
/// (`Bearer realm`, `bearer token missing`).
pub fn looks_tokenish(v: &str) -> bool {
    v.len() >= 8
        && (v.len() >= 24
            || v.bytes()
                .any(|b| b.is_ascii_digit() || b"._-+/=~".contains(&b))
            || (v.bytes().any(|b| b.is_ascii_uppercase())
                && v.bytes().any(|b| b.is_ascii_lowercase())))
        && !is_wordy(v)
}

/// Whether `v` is Basic credentials: base64 of `user:password`. Checked
/// by decoding, so `basic authentication failed` keeps its words.
pub fn is_basic_credential(v: &str) -> bool {
    use base64::Engine;
    let trimmed = v.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .is_ok_and(|bytes| bytes.contains(&b':') && bytes.iter().all(|b| (0x20..0x7f).contains(b)))
}

/// Whether a URL's `user:password@` part holds a password rather than a
/// port and path (`https://host:8080/a@b`).
pub fn is_url_password(v: &str) -> bool {
    let port_and_path = v
        .split_once('/')
        .is_some_and(|(port, _)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
    !v.is_empty() && !port_and_path
}

/// Whether a name holds a password (`DB_PASSWORD`, `pwd`, `passphrase`),
/// whose value is secret even when it is a plain word or a number.
pub fn is_password_name(name: &str) -> bool {
    name_parts(name)
        .iter()
        .any(|p| p.contains("pass") || p == "pwd" || p == "pw" || p.ends_with("pwd"))
}

/// A plain word, a dotted name, a number or a Java object's identity
/// (`SIMPLE`, `Reordering`, `com.apple.private.alloy.continuity`,
/// `0x14ede63a5a70002`, `android.os.BinderProxy@2bd79ce`): what a mode, a
/// state, an identifier or an id is written as, not a credential.
pub fn is_word_or_number(v: &str) -> bool {
    let letters = v.len() <= 12 && v.bytes().all(|b| b.is_ascii_alphabetic());
    let dotted = v.matches('.').count() >= 2
        && v.split('.')
            .all(|seg| !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_lowercase()));
    let hex_number = v
        .strip_prefix("0x")
        .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()));
    // `android.os.BinderProxy@2bd79ce`: Java's default toString, a class
    // and its identity hash.
    let object = v.split_once('@').is_some_and(|(class, hash)| {
        class.contains('.')
            && class
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._$".contains(&b))
            && (1..=8).contains(&hash.len())
            && hash.bytes().all(|b| b.is_ascii_hexdigit())
    });
    letters || dotted || hex_number || object
}

/// The next line's content, and where it starts, when `value` (at `start`
/// in `text`) opens a YAML block scalar (`|`, `>-`, ...) at the end of its
/// line.
pub fn block_scalar<'t>(text: &'t str, start: usize, value: &str) -> Option<(usize, &'t str)> {
    let indicator = matches!(value, "|" | "|-" | "|+" | ">" | ">-" | ">+");
    let rest = text.get(start + value.len()..)?;
    let rest = rest.strip_prefix('\r').unwrap_or(rest).strip_prefix('\n')?;
    let indent = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    let line = rest[indent..].split(['\r', '\n']).next()?.trim_end();
    (indicator && indent > 0 && !line.is_empty()).then(|| (text.len() - rest.len() + indent, line))
}

/// Where an unquoted secret that starts at `text[..end]` ends: at white
/// space, a quote or a backslash, or at a `,` `;` `&` that starts the next
/// pair (`;Encrypt=True`, `&sslmode=`, `, user=`) or the end of the text;
/// closing brackets and punctuation at its end belong to the text around
/// it (`(password=x)`).
pub fn bare_value_end(text: &str, end: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = end;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() || b"\"'`\\".contains(&b) {
            break;
        }
        if b",;&".contains(&b) {
            let rest = &text[i + 1..];
            if rest.is_empty() || rest.starts_with(char::is_whitespace) || starts_pair(rest) {
                break;
            }
        }
        i += 1;
    }
    while i > end && b")]}>.,;:".contains(&bytes[i - 1]) {
        i -= 1;
    }
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// Whether `s` starts with `name=` or `name:` (the next pair of a list).
fn starts_pair(s: &str) -> bool {
    let name = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || b"_.-".contains(b))
        .count();
    name > 0
        && s.as_bytes()[0].is_ascii_alphabetic()
        && matches!(s.as_bytes().get(name), Some(b'=' | b':'))
}

/// Whether `v` is an authentication scheme (`SSWS`, `Api-Key`,
/// `AWS4-HMAC-SHA256`) that an `Authorization` value puts before the
/// credential.
pub fn is_scheme_word(v: &str) -> bool {
    (2..=24).contains(&v.len())
        && v.as_bytes()[0].is_ascii_alphabetic()
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Prepositions that make the value after a secret word something else:
/// `job token for job_1445144423722_0020`, `password for user admin`.
const NOT_THE_SECRET: &[&str] = &[
    "for", "of", "to", "from", "in", "on", "at", "by", "with", "into", "via", "about", "user",
];

/// Whether a value after a secret word in prose (`invalid API key
/// provided: 5f2b...`) is the secret: random, and not the object of a
/// preposition between them (`prefix` runs from the word to the value).
pub fn prose_secret(prefix: &str, value: &str) -> bool {
    let about_something_else = prefix
        .split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| NOT_THE_SECRET.iter().any(|p| w.eq_ignore_ascii_case(p)));
    !about_something_else && looks_random(value)
}

/// How much a field or variable name says about its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    /// Nothing: `customer_id`, `token_count`, `secret_arn`.
    Plain,
    /// A secret if the value looks random: `key`, `cache_key`, `access`.
    Weak,
    /// A secret whatever it looks like: `password`, `api_key`, `X_TOKEN`.
    Strong,
}

/// The lower-case words of a name: `dbPassword` -> `db`, `password`;
/// `X-Amz-Signature` -> `x`, `amz`, `signature`; `APIKey` -> `api`, `key`.
pub fn name_parts(name: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1);
        // A capital starts a word after a lower-case letter or digit, and
        // ends an acronym when a lower-case letter follows it (`APIKey`).
        let boundary = c.is_ascii_uppercase()
            && prev.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
            });
        if boundary && !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// What a name says about its value, from the word lists in `rules`.
pub fn name_strength(name: &str) -> Name {
    use super::rules::{
        NOT_SECRET_LAST, NOT_SECRET_PARTS, STRONG_PAIRS, STRONG_PARTS, STRONG_WORDS, WEAK_PARTS,
    };
    let parts = name_parts(name);
    let Some(last) = parts.last() else {
        return Name::Plain;
    };
    // A random string is no name, though camel-case splitting may find
    // `pw` or `sig` in it (`QoPwLo8`): names have few parts and digits
    // only at the ends of them (`s3`, `v2`, `x509`).
    let digit_then_letter = name
        .as_bytes()
        .windows(2)
        .filter(|w| w[0].is_ascii_digit() && w[1].is_ascii_alphabetic())
        .count();
    if parts.len() > 8 || digit_then_letter >= 2 {
        return Name::Plain;
    }
    let pair_at = |i: usize| {
        (
            parts[i].as_str(),
            parts.get(i + 1).map_or("", String::as_str),
        )
    };
    let strong_pair = |i: usize| STRONG_PAIRS.contains(&pair_at(i));
    let ends_in_strong_pair = parts.len() >= 2 && strong_pair(parts.len() - 2);
    if NOT_SECRET_LAST.contains(&last.as_str()) && !ends_in_strong_pair {
        return Name::Plain;
    }
    let strong = (0..parts.len()).any(|i| {
        let p = parts[i].as_str();
        strong_pair(i)
            || STRONG_PARTS.contains(&p)
            || (!NOT_SECRET_PARTS.contains(&p) && STRONG_WORDS.iter().any(|w| p.contains(w)))
    });
    if strong {
        Name::Strong
    } else if parts.iter().any(|p| {
        WEAK_PARTS.contains(&p.as_str())
            || (p.ends_with("key") && !NOT_SECRET_PARTS.contains(&p.as_str()))
    }) {
        Name::Weak
    } else {
        Name::Plain
    }
}

const BASE64: u8 = 1;
const BASE64URL: u8 = 2;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() {
            t[c] = BASE64 | BASE64URL;
        } else if b == b'+' || b == b'/' {
            t[c] = BASE64;
        } else if b == b'-' || b == b'_' {
            t[c] = BASE64URL;
        }
        c += 1;
    }
    t
};

/// Maximal runs of bytes of one class within `range` of `text`, as byte
/// ranges, with `=` padding attached to the run before it.
fn runs(text: &str, range: Range<usize>, class: u8) -> impl Iterator<Item = Range<usize>> + '_ {
    let bytes = &text.as_bytes()[..range.end];
    let mut i = range.start;
    std::iter::from_fn(move || {
        while i < bytes.len() && CLASS[bytes[i] as usize] & class == 0 {
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let start = i;
        while i < bytes.len() && CLASS[bytes[i] as usize] & class != 0 {
            i += 1;
        }
        let end = i;
        while i < bytes.len() && bytes[i] == b'=' {
            i += 1;
        }
        Some(start..end)
    })
}

/// Runs of `min` or more base64 or base64url bytes: one tight pass, so the
/// scans cost little on text made of short words.
fn long_runs(text: &str, min: usize) -> impl Iterator<Item = Range<usize>> + '_ {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        loop {
            while i < bytes.len() && CLASS[bytes[i] as usize] == 0 {
                i += 1;
            }
            if i >= bytes.len() {
                return None;
            }
            let start = i;
            while i < bytes.len() && CLASS[bytes[i] as usize] != 0 {
                i += 1;
            }
            if i - start >= min {
                // Padding belongs to the run.
                while i < bytes.len() && bytes[i] == b'=' {
                    i += 1;
                }
                return Some(start..i);
            }
        }
    })
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An AWS secret access key with no name beside it: exactly 40 characters
/// of base64 (AWS IAM documentation: 40 characters, `[A-Za-z0-9/+]`), with
/// all three letter-and-digit classes, near the entropy of random base64,
/// and neither words nor a path. Git SHAs are 40 characters too, but hex.
pub fn bare_aws_secret_keys(text: &str, out: &mut Vec<Range<usize>>) {
    for run in long_runs(text, 40).flat_map(|long| runs(text, long, BASE64)) {
        let s = &text[run.clone()];
        // `_` and `-` next to the run mean it is part of a longer word.
        let glued = |i: Option<&u8>| i.is_some_and(|b| *b == b'_' || *b == b'-' || *b == b'=');
        let bytes = text.as_bytes();
        if s.len() != 40
            || glued(run.start.checked_sub(1).and_then(|i| bytes.get(i)))
            || glued(bytes.get(run.end))
        {
            continue;
        }
        let has = |f: fn(&u8) -> bool| s.as_bytes().iter().any(f);
        if has(u8::is_ascii_uppercase)
            && has(u8::is_ascii_lowercase)
            && has(u8::is_ascii_digit)
            && !is_hex(s)
            && !is_wordy(s)
            && !is_pathlike(s)
            && entropy(s) >= 4.0
        {
            out.push(run);
        }
    }
}

/// A long opaque blob (a session token, a key, a signed blob with no
/// prefix we know, one line of a PEM body): 64 or more characters of
/// base64 or base64url, close to random. Hashes in hex and identifiers
/// made of words stay.
pub fn long_blobs(text: &str, out: &mut Vec<Range<usize>>) {
    for long in long_runs(text, 64) {
        for run in [BASE64, BASE64URL]
            .into_iter()
            .flat_map(|class| runs(text, long.clone(), class))
        {
            let s = &text[run.clone()];
            if s.len() >= 64
                && !is_hex(s)
                && s.bytes().any(|b| b.is_ascii_digit())
                && s.bytes().any(|b| b.is_ascii_uppercase())
                && s.bytes().any(|b| b.is_ascii_lowercase())
                && !is_wordy(s)
                && !is_pathlike(s)
                && entropy(s) >= 4.5
            {
                out.push(run);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_values_are_told_from_names_paths_and_arns() {
        for random in [
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "5f2b7c9e1a2b4c3d9e8f0a1b2c3d4e5f",
            "x7Gq2LmP9vRt4KcW",
        ] {
            assert!(looks_random(random), "{random}");
        }
        for name in [
            "orders/2024/11/30/part-0001.parquet",
            "OrderServiceImplementation",
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd",
            "my-keypair",
            "customer_id",
            "XXXXXXXXXXXXXXXX",
        ] {
            assert!(!looks_random(name), "{name}");
        }
    }

    #[test]
    fn names_are_read_word_by_word() {
        assert_eq!(name_parts("dbPassword"), ["db", "password"]);
        assert_eq!(name_parts("X-Amz-Signature"), ["x", "amz", "signature"]);
        assert_eq!(name_parts("APIKey"), ["api", "key"]);
        assert_eq!(
            name_parts("AWS_SECRET_ACCESS_KEY"),
            ["aws", "secret", "access", "key"]
        );
        for strong in [
            "password",
            "DB_PASSWORD",
            "dbpassword",
            "api_key",
            "x-api-key",
            "apiKey",
            "X_TOKEN",
            "githubToken",
            "client_secret",
            "AccountKey",
            "sig",
            "X-Amz-Signature",
            "headers.Authorization",
            "session_id",
            "pwd",
            "auth",
            "SharedAccessKey",
            "X-Amz-Security-Token",
            "private_key",
            "Cookie",
        ] {
            assert_eq!(name_strength(strong), Name::Strong, "{strong}");
        }
        for weak in [
            "key",
            "cache_key",
            "DATADOG_KEY",
            "idempotencyKey",
            "access",
        ] {
            assert_eq!(name_strength(weak), Name::Weak, "{weak}");
        }
        for plain in [
            "author",
            "authority",
            "customer_id",
            "token_count",
            "max_tokens",
            "secret_arn",
            "SecretId",
            "tokenizer",
            "KeyError",
            "key_id",
            "password_reset_url",
            "KeyName",
            "requestId",
            "design",
            "signal",
        ] {
            assert_eq!(name_strength(plain), Name::Plain, "{plain}");
        }
    }

    #[test]
    fn basic_credentials_are_decoded_not_guessed() {
        assert!(is_basic_credential("dXNlcjpwYXNzd29yZA=="));
        assert!(!is_basic_credential("authentication"));
    }

    #[test]
    fn a_bare_aws_secret_key_is_found_but_not_a_sha_or_a_path() {
        let find = |t: &str| {
            let mut out = Vec::new();
            bare_aws_secret_keys(t, &mut out);
            out.iter()
                .map(|r| t[r.clone()].to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            find("creds wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY expired"),
            ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]
        );
        assert!(find("commit 3f9a1c2b4d5e6f708192a3b4c5d6e7f809a1b2c3").is_empty());
        assert!(find("s3://b/Reports/2024/Q1/SalesSummary2024Final01").is_empty());
    }
}
