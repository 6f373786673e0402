//! Level words and numbers, and finding the level a text line states.
//!
//! The level policy itself (a stated level decides; a line without one is an
//! error only when it shows one) is described in the module doc of
//! `extract`; this file only reads levels.

use crate::model::Level;

/// How severe a stated level is; `Below` is a level that is stated and is
/// not an error (INFO, WARN...), which is different from no level at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Severity {
    Below,
    At(Level),
}

/// The severity of a level name in any case, or `None` when the word is not
/// a level name (so callers can keep looking elsewhere).
pub(crate) fn severity_word(word: &str) -> Option<Severity> {
    // Asked of nearly every text line: one match on the word lowercased
    // into a stack buffer, rather than a case-blind comparison with each
    // name in turn. Non-ASCII bytes stay as they are, so only ASCII letters
    // fold, as with `eq_ignore_ascii_case`.
    let bytes = word.as_bytes();
    let mut buffer = [0u8; 13];
    let lower = buffer.get_mut(..bytes.len())?;
    if lower.is_empty() {
        return None;
    }
    for (to, from) in lower.iter_mut().zip(bytes) {
        *to = from.to_ascii_lowercase();
    }
    match &*lower {
        b"error" | b"err" | b"severe" | b"dpanic" | b"eror" => Some(Severity::At(Level::Error)),
        b"fatal" | b"critical" | b"crit" | b"panic" | b"alert" | b"emerg" | b"emergency" => {
            Some(Severity::At(Level::Fatal))
        }
        b"info" | b"information" | b"informational" | b"debug" | b"trace" | b"warn"
        | b"warning" | b"notice" | b"verbose" | b"fine" | b"finer" | b"finest" | b"config"
        | b"dbg" => Some(Severity::Below),
        _ => None,
    }
}

/// pino and bunyan levels: 50 error, 60 fatal.
pub(crate) fn severity_number(n: f64) -> Severity {
    if n >= 60.0 {
        Severity::At(Level::Fatal)
    } else if n >= 50.0 {
        Severity::At(Level::Error)
    } else {
        Severity::Below
    }
}

/// How far into the first line a level word is looked for: timestamps,
/// request ids, thread names and pids come before it, the message after.
const LEVEL_SCAN_BYTES: usize = 160;
const LEVEL_SCAN_TOKENS: usize = 6;

/// A level word found among the first tokens of a line.
pub(crate) struct LevelToken<'a> {
    pub word: &'a str,
    pub severity: Severity,
    /// Where the message starts, after the level word.
    pub message_start: usize,
    /// `level=error`: the line is logfmt and is read as key/value pairs.
    pub logfmt: bool,
}

/// The first level word among the first tokens of the first line of `line`.
pub(crate) fn scan_level(line: &str) -> Option<LevelToken<'_>> {
    let bytes = line.as_bytes();
    let limit = bytes.len().min(LEVEL_SCAN_BYTES);
    let mut i = 0;
    for _ in 0..LEVEL_SCAN_TOKENS {
        while i < limit && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        if i >= limit {
            return None;
        }
        let start = i;
        while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        // Separators are ASCII, so both ends are character boundaries.
        if let Some(found) = token_level(&line[start..i], start, i) {
            return Some(found);
        }
        if matches!(bytes.get(i), Some(b'\n' | b'\r')) {
            return None;
        }
    }
    None
}

fn token_level(token: &str, start: usize, end: usize) -> Option<LevelToken<'_>> {
    for key in ["level=", "lvl=", "severity="] {
        // Compared as bytes: the token may hold a multi-byte character
        // where the key would end.
        if token.len() > key.len()
            && token.as_bytes()[..key.len()].eq_ignore_ascii_case(key.as_bytes())
        {
            let value = token[key.len()..].trim_matches('"');
            return severity_word(value).map(|severity| LevelToken {
                word: value,
                severity,
                message_start: end,
                logfmt: true,
            });
        }
    }
    let lead = token.len() - token.trim_start_matches(['[', '(', '<']).len();
    let inner = &token[lead..];
    let word_len = inner.bytes().take_while(u8::is_ascii_uppercase).count();
    if !(3..=9).contains(&word_len) {
        return None;
    }
    let after = &inner[word_len..];
    // `ERROR`, `[ERROR]`, `<ERROR>`, `ERROR:`, and Python's default
    // `ERROR:root:message` (the message starts inside the token).
    let message_start = match after.as_bytes().first() {
        None => end,
        Some(b':') if after.len() > 1 => start + lead + word_len + 1,
        Some(_)
            if after
                .bytes()
                .all(|b| matches!(b, b']' | b')' | b'>' | b':' | b'|')) =>
        {
            end
        }
        Some(_) => return None,
    };
    let word = &inner[..word_len];
    let severity = severity_word(word)?;
    Some(LevelToken {
        word,
        severity,
        message_start,
        logfmt: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_name_is_known_in_upper_and_lower_case() {
        let error = Some(Severity::At(Level::Error));
        let fatal = Some(Severity::At(Level::Fatal));
        let below = Some(Severity::Below);
        let names = [
            ("error", error),
            ("err", error),
            ("severe", error),
            ("dpanic", error),
            ("eror", error),
            ("fatal", fatal),
            ("critical", fatal),
            ("crit", fatal),
            ("panic", fatal),
            ("alert", fatal),
            ("emerg", fatal),
            ("emergency", fatal),
            ("info", below),
            ("information", below),
            ("informational", below),
            ("debug", below),
            ("trace", below),
            ("warn", below),
            ("warning", below),
            ("notice", below),
            ("verbose", below),
            ("fine", below),
            ("finer", below),
            ("finest", below),
            ("config", below),
            ("dbg", below),
        ];
        for (name, severity) in names {
            assert_eq!(severity_word(name), severity, "{name}");
            assert_eq!(severity_word(&name.to_uppercase()), severity, "{name}");
        }
    }

    #[test]
    fn level_words_in_any_case() {
        assert_eq!(severity_word("ERROR"), Some(Severity::At(Level::Error)));
        assert_eq!(severity_word("Critical"), Some(Severity::At(Level::Fatal)));
        assert_eq!(severity_word("emerg"), Some(Severity::At(Level::Fatal)));
        assert_eq!(severity_word("warning"), Some(Severity::Below));
        assert_eq!(severity_word("errors"), None);
        // Only ASCII letters fold: a Cyrillic О is not an O.
        assert_eq!(severity_word("ERR\u{41e}R"), None);
        assert_eq!(severity_word(""), None);
        assert_eq!(severity_word("informationalx"), None);
        assert_eq!(severity_number(50.0), Severity::At(Level::Error));
        assert_eq!(severity_number(60.0), Severity::At(Level::Fatal));
        assert_eq!(severity_number(40.0), Severity::Below);
    }
}
