//! Finds the errors in log messages.
//!
//! Each log event's message becomes an [`Occurrence`] or nothing. The shapes
//! known here are the ones AWS runtimes and common loggers really write (see
//! the shared AWS-FACTS.md, section 3).
//!
//! This runs on every log line of whole accounts and nearly all of them are
//! INFO, so the order of work is: a few byte comparisons decide most lines
//! (a level field read in place, a platform line prefix); JSON is parsed only
//! when its level, or for level-less JSON an error key, says it may be an
//! error; stack traces are parsed only in lines already judged errors or in
//! multi-line messages that carry no level at all.
//!
//! Level policy, shared by every shape:
//! - a stated level decides: ERROR and above is an error, with or without a
//!   stack trace; anything below (INFO, DEBUG, WARN...) is not, *even when it
//!   carries a full stack trace*. A WARN with a traceback is how programs log
//!   a failure they handled (a retry, a fallback); error trackers ignore them
//!   too (Sentry's logging integration and Datadog Error Tracking both start at
//!   ERROR), and counting them would alert on every transient failure;
//! - a message without any level is an error only when it shows one: a stack
//!   trace, an uncaught-exception header, a panic, a Lambda platform failure,
//!   or a structured error object.

mod frames;
mod go;
mod java;
mod json;
mod multiline;
mod platform;
mod python;
mod stepfunctions;
mod text;
mod trace;

use crate::decode::LogEvent;

pub(crate) use crate::limits::cut;
pub(crate) use crate::limits::{MAX_FIELD_READ_LEN, MAX_FIELDS, MAX_FRAMES, MAX_MESSAGE_LEN};
pub(crate) use crate::model::{Frame, Level, Occurrence};

/// The error in one message, if it holds one.
pub fn extract(message: &str) -> Option<Occurrence> {
    let line = message.trim_end();
    if line.is_empty() {
        return None;
    }
    if line.as_bytes()[0] == b'{' {
        // A JSON-looking line that does not parse (truncated at 256 KB, or
        // not JSON at all) is read again as text below.
        match json::extract(line, json::Context::top()) {
            json::Outcome::Found(occ) => return Some(*occ),
            json::Outcome::NotError => return None,
            json::Outcome::Unparsed(level) => return text::extract_unparsed_json(line, level),
        }
    }
    text::extract(line)
}

/// The errors in the events of one log stream, one slot per event.
///
/// Runs over the whole batch rather than event by event because the awslogs
/// driver (AWS Batch, ECS) writes each line of a stack trace as its own event:
/// continuation events are folded into the occurrence of the head event before
/// them and get `None` themselves.
pub fn extract_events(events: &[LogEvent<'_>]) -> Vec<Option<Occurrence>> {
    multiline::extract_events(events)
}

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
    if word.is_empty() || word.len() > 13 {
        return None;
    }
    const ERROR: [&str; 5] = ["error", "err", "severe", "dpanic", "eror"];
    const FATAL: [&str; 7] = [
        "fatal",
        "critical",
        "crit",
        "panic",
        "alert",
        "emerg",
        "emergency",
    ];
    const BELOW: [&str; 14] = [
        "info",
        "information",
        "informational",
        "debug",
        "trace",
        "warn",
        "warning",
        "notice",
        "verbose",
        "fine",
        "finer",
        "finest",
        "config",
        "dbg",
    ];
    let is = |list: &[&str]| list.iter().any(|w| w.eq_ignore_ascii_case(word));
    if is(&ERROR) {
        Some(Severity::At(Level::Error))
    } else if is(&FATAL) {
        Some(Severity::At(Level::Fatal))
    } else if is(&BELOW) {
        Some(Severity::Below)
    } else {
        None
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

/// A message ready to store: trimmed and capped.
pub(crate) fn message_string(s: &str) -> String {
    cut(s.trim(), MAX_MESSAGE_LEN).to_string()
}

/// Context fields, capped in count and size as they are added.
#[derive(Debug, Default)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(crate) fn is_full(&self) -> bool {
        self.0.len() >= MAX_FIELDS
    }

    pub(crate) fn push(&mut self, key: &str, value: &str) {
        if self.is_full() || value.is_empty() {
            return;
        }
        self.0.push((
            cut(key, crate::limits::MAX_FIELD_NAME_LEN).to_string(),
            cut(value, MAX_FIELD_READ_LEN).to_string(),
        ));
    }

    pub(crate) fn into_vec(self) -> Vec<(String, String)> {
        self.0
    }
}

/// An occurrence from its parts; kind, message and frames come from
/// whichever source the shape has, the rest is bookkeeping.
pub(crate) fn occurrence(
    kind: &str,
    message: &str,
    frames: Vec<Frame>,
    level: Level,
    shape: &'static str,
    fields: Fields,
) -> Occurrence {
    Occurrence {
        kind: cut(kind.trim(), crate::limits::MAX_KIND_LEN).to_string(),
        message: message_string(message),
        frames,
        level,
        shape,
        fingerprint: None,
        fields: fields.into_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_words_in_any_case() {
        assert_eq!(severity_word("ERROR"), Some(Severity::At(Level::Error)));
        assert_eq!(severity_word("Critical"), Some(Severity::At(Level::Fatal)));
        assert_eq!(severity_word("emerg"), Some(Severity::At(Level::Fatal)));
        assert_eq!(severity_word("warning"), Some(Severity::Below));
        assert_eq!(severity_word("errors"), None);
        assert_eq!(severity_number(50.0), Severity::At(Level::Error));
        assert_eq!(severity_number(60.0), Severity::At(Level::Fatal));
        assert_eq!(severity_number(40.0), Severity::Below);
    }

    #[test]
    fn fields_are_capped_in_number_and_length() {
        let mut f = Fields::default();
        let long = "x".repeat(5000);
        for i in 0..100 {
            f.push(&format!("k{i}"), &long);
        }
        let v = f.into_vec();
        assert_eq!(v.len(), MAX_FIELDS);
        assert!(v.iter().all(|(_, val)| val.len() == MAX_FIELD_READ_LEN));
    }

    #[test]
    fn empty_and_blank_messages_are_not_errors() {
        assert_eq!(extract(""), None);
        assert_eq!(extract(" \n\r\t"), None);
    }
}
