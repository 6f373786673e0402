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

// Leaves: shared by the readers below, importing none of them.
mod json_value;
mod level;
mod lines;
mod occurrence;
mod trace;

// Stack traces of each runtime, and which of them a text holds.
mod at_trace;
mod frames;
mod go;
mod python;
mod rust;
mod stack;

// Formats: each producer's framing and where it keeps the error.
mod datadog;
mod java;
mod json;
mod lambda_node;
mod lambda_python;
mod logback;
mod logfmt;
mod native;
mod pino;
mod platform;
mod powertools;
mod stepfunctions;
mod structured;
mod text;

// One message, then a stream of them.
mod message;
mod multiline;
mod repeats;

use crate::decode::LogEvent;
use crate::model::Occurrence;
/// Which frames are the user's code, for readers that show a stored stack
/// (samples keep frames as text) and mark them the way extraction did.
pub(crate) use frames::{in_app as frame_in_app, java_in_app as jvm_frame_in_app};

/// The error in one message, if it holds one.
pub fn extract(message: &str) -> Option<Occurrence> {
    message::extract(message)
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
