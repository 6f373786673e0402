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

/// [`extract_events`], listing only the errors, each with the index of its
/// event: what the pipeline needs, without a slot per event that is not one.
pub fn errors_in(events: &[LogEvent<'_>]) -> Vec<(usize, Occurrence)> {
    let messages: Vec<&str> = events.iter().map(|e| e.message.as_ref()).collect();
    multiline::errors(multiline::fold(&messages, true))
}

/// Why an event is or is not an error, for `faultline fingerprint
/// --explain`.
#[derive(Debug)]
pub enum Verdict {
    Error(Occurrence),
    /// Folded into the error of the event at this index.
    Continuation(usize),
    /// Part of a trace logged below ERROR (a handled failure), headed by the
    /// event at this index.
    LoggedBelowError(usize),
    /// A failure another line of the batch reports; says which.
    Repeat(&'static str),
    /// Not an error; says why.
    NotError(&'static str),
}

/// [`extract_events`] with the reason for every event that is not an error.
pub fn explain_events(events: &[LogEvent<'_>]) -> Vec<Verdict> {
    let messages: Vec<&str> = events.iter().map(|e| e.message.as_ref()).collect();
    multiline::fold(&messages, true)
        .into_iter()
        .zip(&messages)
        .map(|(slot, message)| match slot {
            multiline::Slot::Found(o) => Verdict::Error(*o),
            multiline::Slot::Continuation(h) => Verdict::Continuation(h),
            multiline::Slot::Swallowed(h) => Verdict::LoggedBelowError(h),
            multiline::Slot::Repeat(why) => Verdict::Repeat(why),
            multiline::Slot::Alone | multiline::Slot::Pending => {
                Verdict::NotError(message::why_not(message))
            }
        })
        .collect()
}

/// The errors of one batch of a stream whose previous batch ended inside a
/// trace, and what this batch leaves unfinished in turn.
///
/// The awslogs driver writes one event per line, so a batch boundary can
/// fall inside a trace. `carried` are the messages the previous batch of the
/// same stream left pending ([`Stream::pending_events`]); they are judged together
/// with this batch's events, so a trace cut by the boundary gets the
/// identity it would have had whole. With `at_end` false, a trace this
/// batch ends inside is left pending rather than judged; with `at_end` true
/// (no batch will follow, or the wait for one is over) everything is judged.
pub fn extract_stream(carried: &[&str], events: &[LogEvent<'_>], at_end: bool) -> Stream {
    let mut messages: Vec<&str> = Vec::with_capacity(carried.len() + events.len());
    messages.extend_from_slice(carried);
    messages.extend(events.iter().map(|e| e.message.as_ref()));
    let slots = multiline::fold(&messages, at_end);
    let pending_from = slots
        .iter()
        .position(|s| matches!(s, multiline::Slot::Pending))
        .unwrap_or(slots.len());
    let mut found = multiline::errors(slots);
    let in_batch = found.partition_point(|(i, _)| *i < carried.len());
    let carried_found = found.drain(..in_batch).collect();
    for (i, _) in &mut found {
        *i -= carried.len();
    }
    Stream {
        carried: carried_found,
        found,
        pending_carried: carried.len().saturating_sub(pending_from),
        pending_events: (carried.len() + events.len()) - pending_from.max(carried.len()),
    }
}

/// Whether a stream's last event starts a traceback, a panic or an
/// exception, whose trace may be in the stream's next batch. [`extract_stream`]
/// also waits on a last line that only states a level (a trace after it is
/// logged below ERROR); a caller that pays to wait (the Lambda, through its
/// store) may wait only on these, and on errors.
pub fn opens_a_trace(message: &str) -> bool {
    multiline::opens_a_trace(message)
}

/// What [`extract_stream`] found.
#[derive(Debug)]
pub struct Stream {
    /// The errors among the carried messages, each with its index among
    /// them: the trace they head, completed now, belongs to the carried
    /// event it started at.
    pub carried: Vec<(usize, Occurrence)>,
    /// The errors among this batch's events, each with its index.
    pub found: Vec<(usize, Occurrence)>,
    /// How many of the carried messages (the last ones) are still pending.
    pub pending_carried: usize,
    /// How many of this batch's events (the last ones) are pending: carry
    /// them, after any still-pending carried messages, to the next batch.
    pub pending_events: usize,
}
