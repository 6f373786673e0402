//! Lines of a message and the few facts about a line that every format
//! reader needs: where it starts after indentation, whether it is indented,
//! whether a field looks like a timestamp.

/// The lines of a message: runtimes join them with `\n`, or with `\r` when
/// Lambda's stdout sink rewrites newlines.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split(['\n', '\r']).filter(|l| !l.trim().is_empty())
}

/// The first non-empty line of a message (end trimmed).
pub(crate) fn first_line(s: &str) -> &str {
    let s = s.trim_start_matches(['\n', '\r']);
    // Two single-byte searches (memchr) rather than one search for a set of
    // characters, which decodes every character: this runs on most lines.
    let s = s.split_once('\n').map_or(s, |(first, _)| first);
    let s = s.split_once('\r').map_or(s, |(first, _)| first);
    s.trim_end()
}

/// Leading whitespace as runtimes write it: spaces, tabs, and the NO-BREAK
/// SPACE the Lambda Python runtime substitutes for indentation.
pub(crate) fn trim_indent(line: &str) -> &str {
    // Asked of nearly every event (is the next one a continuation?), and
    // most start with none of these: answered from the first byte (0xC2
    // leads U+00A0's encoding) before the char-by-char trim.
    match line.as_bytes().first() {
        Some(b' ' | b'\t' | 0xC2) => line.trim_start_matches([' ', '\t', '\u{a0}']),
        _ => line,
    }
}

/// Whether a line continues the indentation of a stack trace.
pub(crate) fn is_indented(line: &str) -> bool {
    trim_indent(line).len() != line.len()
}

/// `2024-01-31T22:12:58.534Z` and the like: starts with a 4-digit year.
pub(crate) fn looks_like_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10 && b.len() <= 40 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}
