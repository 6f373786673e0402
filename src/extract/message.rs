//! One message, one error or none: which format reader a message goes to.
//!
//! Most lines are decided by their first bytes: JSON starts with `{`, the
//! Lambda platform's report lines and `[LEVEL]` prefixes are recognised in
//! place, a leading digit is a timestamp (Go's `log` prefix, Lambda's
//! Node.js tab format); everything else is read as leveled or free text.

use super::json::{self, Outcome};
use super::json_value;
use super::level::{Severity, scan_level, severity_word};
use super::occurrence::{Fields, occurrence};
use super::structured::Context;
use super::{go, java, lambda_node, lambda_python, native, platform, text};
use crate::model::Occurrence;

/// The error in one message, if it holds one.
pub(crate) fn extract(message: &str) -> Option<Occurrence> {
    let line = message.trim_end();
    if line.is_empty() {
        return None;
    }
    if line.as_bytes()[0] == b'{' {
        // A JSON-looking line that does not parse (truncated at 256 KB, or
        // not JSON at all) is read again as text below.
        match json::extract(line, Context::top()) {
            Outcome::Found(occ) => return Some(*occ),
            Outcome::NotError => return None,
            Outcome::Unparsed(level) => return extract_unparsed_json(line, level),
        }
    }
    extract_text(line)
}

/// The error in a non-JSON line (end already trimmed, not empty).
fn extract_text(line: &str) -> Option<Occurrence> {
    let first_byte = line.as_bytes()[0];
    if platform::is_report_line(line) {
        return platform::report_status(line);
    }
    if first_byte == b'['
        && let Some(decided) = lambda_python::bracketed_level(line)
    {
        return decided;
    }
    if first_byte.is_ascii_digit() {
        if let Some(rest) = go::strip_log_prefix(line) {
            return go_log_line(rest);
        }
        if let Some(decided) = lambda_node::tab_format(line) {
            return decided;
        }
    }
    leveled_or_free(line)
}

fn leveled_or_free(line: &str) -> Option<Occurrence> {
    match text::leveled(line, Fields::default()) {
        Some(decided) => decided,
        None => runtime_failure(line).or_else(|| text::unleveled(line)),
    }
}

/// Failures that runtimes, loaders and hosts write in their own words and
/// without a level. The first byte picks the one wording to try, so a line
/// that is none of them costs one comparison.
fn runtime_failure(line: &str) -> Option<Occurrence> {
    let found = match line.as_bytes()[0] {
        b'U' | b'H' => lambda_python::init_failure(line),
        b'S' => lambda_node::init_failure(line),
        b'C' | b'E' => java::init_failure(line),
        b'F' => native::coreclr_failure(line),
        b'/' | b'.' => native::loader_failure(line),
        _ => None,
    };
    found.or_else(|| {
        line.trim_end()
            .ends_with("\nnull")
            .then(|| go::go1x_report(line))
            .flatten()
    })
}

/// The fallback for a line that starts like JSON but does not parse: read
/// as text, and when that finds nothing, still an error if its level said
/// so (a truncated ERROR line is an error with an unknown type).
fn extract_unparsed_json(line: &str, level: Option<Severity>) -> Option<Occurrence> {
    if level == Some(Severity::Below) {
        return None;
    }
    if let Some(occ) = extract_text(line) {
        return Some(occ);
    }
    match level {
        Some(Severity::At(level)) => Some(occurrence(
            "",
            line,
            Vec::new(),
            level,
            "json-unparsed",
            Fields::default(),
        )),
        _ => None,
    }
}

/// What follows Go's `log` prefix: aws-lambda-go's JSON error report, or
/// text.
fn go_log_line(rest: &str) -> Option<Occurrence> {
    if rest.starts_with('{') {
        let ctx = Context {
            outer: None,
            shape: Some("go-json"),
            fields: Fields::default(),
        };
        return match json::extract(rest, ctx) {
            Outcome::Found(occ) => Some(*occ),
            Outcome::NotError => None,
            Outcome::Unparsed(level) => extract_unparsed_json(rest, level),
        };
    }
    leveled_or_free(rest)
}

/// The level word a text line states, if any, without extracting
/// anything: lets the multi-event folding tell "WARN retrying" (whose trace
/// is not an error) from a line with no level at all.
pub(crate) fn stated_level_word(line: &str) -> Option<&str> {
    let line = line.trim_end();
    let first = *line.as_bytes().first()?;
    if first == b'['
        && let Some(word) = lambda_python::bracketed_word(line)
    {
        return Some(word);
    }
    if first.is_ascii_digit()
        && let Some((_, _, level)) = lambda_node::tab_parts(line)
        && severity_word(level).is_some()
    {
        return Some(level);
    }
    scan_level(line).map(|t| t.word)
}

/// Why a message judged on its own is not an error, in words.
pub(crate) fn why_not(message: &str) -> &'static str {
    let line = message.trim_end();
    if line.is_empty() {
        return "an empty message";
    }
    if line.starts_with('{') {
        return match json_value::probe_level(line) {
            Some(Severity::Below) => "a JSON line whose level is below ERROR",
            Some(Severity::At(_)) => "a JSON line at ERROR with no error in it",
            None => "a JSON line with no level and no error object or key",
        };
    }
    if platform::is_report_line(line) {
        return "a Lambda platform line without a failure status";
    }
    match stated_level_word(line).and_then(severity_word) {
        Some(Severity::Below) => "its level is below ERROR",
        Some(Severity::At(_)) => "it states an error level but holds nothing",
        None => {
            "it states no level, and holds no stack trace, uncaught-exception header, panic or runtime failure"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_blank_messages_are_not_errors() {
        assert_eq!(extract(""), None);
        assert_eq!(extract(" \n\r\t"), None);
    }
}
