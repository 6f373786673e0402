//! Turns input bytes into log events of one log group and stream: one file
//! per input shape.
//!
//! - [`envelope`]: what a Lambda subscribed to a log group receives,
//!   `{"awslogs":{"data":"..."}}` where `data` is base64 of a gzip of the JSON
//!   DATA_MESSAGE, or the DATA_MESSAGE itself (saved events, tests);
//!   [`parse`] reads the DATA_MESSAGE into a [`LogBatch`] whose strings point
//!   into that buffer wherever the JSON holds them without escapes;
//! - [`aws_cli`]: the JSON that `aws logs filter-log-events` and
//!   `aws logs get-log-events` print;
//! - [`text`]: plain text log files, one event per line or multi-line events
//!   that start with a timestamp;
//! - [`gzip`]: any of these gzipped;
//! - [`kinesis`]: a Kinesis event from a stream CloudWatch Logs writes to,
//!   each record one gzip DATA_MESSAGE.
//!
//! The CLI's input reader (`sniff` in src/cli/input.rs) tells the shapes of
//! a whole input apart; a new one is a new file here and a new arm there. The Lambda
//! reads a Kinesis event as it deserialises the invocation ([`kinesis`]);
//! [`each_batch`] reads one saved to a file, record by record.

use std::borrow::Cow;

use serde::Deserialize;

pub use crate::limits::MAX_DECOMPRESSED;

pub mod aws_cli;
pub mod cloudwatch;
pub mod envelope;
pub mod eventbridge;
pub mod gzip;
pub mod kinesis;
pub mod text;

pub use envelope::{payload, payload_with_limit};

/// Why an input could not be decoded. Each message says what was expected,
/// so the user can tell a wrong file from a damaged one.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("input is empty")]
    Empty,
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("{0} do not name their log group: give it with --log-group NAME")]
    NeedsLogGroup(&'static str),
    #[error("cannot read: {0}")]
    Io(String),
    #[error(
        "neither a Lambda input ({{\"awslogs\":{{\"data\":...}}}}) nor a CloudWatch Logs DATA_MESSAGE nor `aws logs` output (no \"awslogs\", \"logEvents\" or \"events\" key)"
    )]
    UnknownShape,
    #[error("awslogs.data is missing or not a string")]
    MissingData,
    #[error("awslogs.data is not valid base64: {0}")]
    Base64(base64::DecodeError),
    #[error("awslogs.data is not gzip: {0}")]
    Gzip(std::io::Error),
    #[error("kinesis.data is {0}")]
    KinesisData(String),
    #[error("kinesis.data is not gzip: {0}")]
    KinesisGzip(std::io::Error),
    #[error(
        "payload decompresses to more than {limit} bytes (a gzip bomb, or not a CloudWatch Logs batch)"
    )]
    TooLarge { limit: u64 },
    #[error("not a valid CloudWatch Logs message: {0}")]
    Message(String),
    #[error("{0}")]
    Event(String),
}

/// One decoded subscription message: the events of one log stream.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogBatch<'a> {
    #[serde(default, borrow)]
    pub message_type: Cow<'a, str>,
    #[serde(default, borrow)]
    pub owner: Cow<'a, str>,
    #[serde(default, borrow)]
    pub log_group: Cow<'a, str>,
    #[serde(default, borrow)]
    pub log_stream: Cow<'a, str>,
    #[serde(borrow)]
    pub log_events: Vec<LogEvent<'a>>,
}

/// One log event as CloudWatch Logs delivers it.
#[derive(Debug, Clone, Deserialize)]
pub struct LogEvent<'a> {
    /// A ~56-digit decimal string; never parsed as a number.
    #[serde(default, borrow)]
    pub id: Cow<'a, str>,
    /// Epoch milliseconds of the event.
    #[serde(default)]
    pub timestamp: i64,
    #[serde(borrow)]
    pub message: Cow<'a, str>,
}

impl LogBatch<'_> {
    /// CloudWatch Logs checks a destination with a CONTROL_MESSAGE; it carries
    /// no application events and is acknowledged without processing.
    pub fn is_control(&self) -> bool {
        self.message_type == "CONTROL_MESSAGE"
    }
}

/// What names the events of an input that does not name them itself (plain
/// text, `aws logs` output), and when they happened if the lines do not say.
#[derive(Debug, Clone, Default)]
pub struct Naming {
    /// `--log-group`: the log group of inputs that carry none.
    pub log_group: Option<String>,
    /// The stream of events that carry none (the file's name).
    pub log_stream: String,
    /// Epoch ms for lines without a timestamp of their own (the file's
    /// modification time).
    pub default_time: i64,
}

/// Bounds of one batch made from a file, as CloudWatch Logs bounds a
/// subscription batch: at most this many events ...
pub const BATCH_EVENTS: usize = 10_000;
/// ... and about this many bytes of messages.
pub const BATCH_BYTES: usize = 1024 * 1024;

/// An id for an event that came without one: its position in the input and
/// a hash of its text, so a replayed file is recognised as the same batches
/// and two files whose lines differ never share a batch id.
pub fn content_id(position: u64, message: &str) -> String {
    format!(
        "{position:012}-{:016x}",
        xxhash_rust::xxh3::xxh3_64(message.as_bytes())
    )
}

/// Whether JSON-looking bytes are JSON lines (a structured logger's file:
/// one object per line) rather than one document: the whole does not parse,
/// and its first two lines each do.
///
/// The lines are looked at first and the whole only when they both parse:
/// a document on one line (every Lambda input) has no second line, and a
/// pretty-printed one's first line (`{`) does not parse, so neither is
/// parsed an extra time just to be told apart.
pub fn is_json_lines(bytes: &[u8]) -> bool {
    // memchr, not `split`: a Lambda input is one line of a few hundred KB.
    let mut rest = bytes;
    let mut next_line = || {
        while !rest.is_empty() {
            let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
            let line = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or_default();
            if !line.trim_ascii().is_empty() {
                return Some(line);
            }
        }
        None
    };
    let parses = |line: &[u8]| serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok();
    let (Some(first), Some(second)) = (next_line(), next_line()) else {
        return false;
    };
    parses(first) && parses(second) && !parses(bytes)
}

/// Hands `each` the log batches of one whole JSON document, in order, for
/// every shape that carries log events: a Lambda input or a DATA_MESSAGE
/// (one batch, which may be a CONTROL_MESSAGE), or `aws logs` output (one
/// batch per stream, named by `naming`). The one place these shapes are told
/// apart, so `ingest`, its checking pass and `fingerprint` read the same
/// inputs alike. EventBridge job events carry no log events: callers that
/// take them look for them first.
pub fn each_batch<E: From<DecodeError>>(
    document: &[u8],
    naming: &Naming,
    mut each: impl FnMut(&LogBatch<'_>) -> Result<(), E>,
) -> Result<(), E> {
    match payload(document) {
        Ok(payload) => {
            each(&parse(&payload)?)?;
            if let Cow::Owned(buffer) = payload {
                gzip::recycle(buffer);
            }
            Ok(())
        }
        Err(DecodeError::UnknownShape) if is_kinesis_event(document) => {
            // A saved Kinesis invocation: each record is one payload.
            let event: kinesis::KinesisEvent = serde_json::from_slice(document)
                .map_err(|e| DecodeError::Message(e.to_string()))?;
            for record in &event.records {
                each(&parse(&record.kinesis.payload()?)?)?;
            }
            Ok(())
        }
        Err(DecodeError::UnknownShape) => {
            for batch in aws_cli::batches(document.trim_ascii(), naming)? {
                each(&batch)?;
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether a document looks like a Kinesis event (`{"Records": [{"kinesis":
/// ...`): checked on its first bytes, so other documents are not parsed
/// twice.
fn is_kinesis_event(document: &[u8]) -> bool {
    let head = &document[..document.len().min(4096)];
    memchr::memmem::find(head, b"\"Records\"").is_some()
        && memchr::memmem::find(head, b"\"kinesis\"").is_some()
}

/// Parses DATA_MESSAGE bytes, as returned by [`payload`].
///
/// serde_json, not a SIMD parser: sonic-rs 0.5 measured faster but still
/// overflows the stack on deeply nested input (tests/bad_input.rs), and
/// nothing an input holds may crash the process. serde_json stops at a
/// depth of 128 with an error.
///
/// The payload's UTF-8 is checked once, whole, and the JSON parsed as text:
/// parsed as bytes, serde_json checks every string on its own, which cost
/// 5 % of `faultline ingest`'s instructions on messages of a few hundred
/// bytes. A payload that is not UTF-8 is parsed as bytes, so its error
/// still says where the JSON breaks.
pub fn parse(payload: &[u8]) -> Result<LogBatch<'_>, DecodeError> {
    match std::str::from_utf8(payload) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(payload),
    }
    .map_err(|e| DecodeError::Message(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn envelope(json: &[u8]) -> Vec<u8> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(json).unwrap();
        let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        format!(r#"{{"awslogs":{{"data":"{data}"}}}}"#).into_bytes()
    }

    const MESSAGE: &str = r#"{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/lambda/f","logStream":"2024/01/01/[$LATEST]abc","subscriptionFilters":["all"],"policyLevel":"ACCOUNT_LEVEL_POLICY","logEvents":[{"id":"3","timestamp":1700000000000,"message":"[ERROR] boom\n"}]}"#;

    #[test]
    fn lambda_input_and_decoded_message_give_the_same_batch() {
        let wrapped = envelope(MESSAGE.as_bytes());
        for input in [wrapped.as_slice(), MESSAGE.as_bytes()] {
            let bytes = payload(input).unwrap();
            let batch = parse(&bytes).unwrap();
            assert_eq!(batch.log_group, "/aws/lambda/f");
            assert_eq!(batch.log_events.len(), 1);
            assert_eq!(batch.log_events[0].message, "[ERROR] boom\n");
            assert!(!batch.is_control());
        }
    }

    #[test]
    fn control_message_is_recognised() {
        let control = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination"}]}"#;
        let bytes = payload(control.as_bytes()).unwrap();
        assert!(parse(&bytes).unwrap().is_control());
    }

    #[test]
    fn gzip_bomb_is_refused_at_the_limit() {
        let zeros = vec![b' '; 4096];
        let wrapped = envelope(&zeros);
        assert!(matches!(
            payload_with_limit(&wrapped, 1024),
            Err(DecodeError::TooLarge { limit: 1024 })
        ));
        assert!(payload_with_limit(&wrapped, 4096).is_ok());
    }

    #[test]
    fn broken_inputs_name_what_is_wrong() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty"),
            (b"   \n", "empty"),
            (b"hello", "not JSON"),
            (b"{\"foo\":1}", "neither a Lambda input"),
            (b"[1,2]", "neither a Lambda input"),
            (b"{\"awslogs\":{}}", "missing"),
            (b"{\"awslogs\":{\"data\":\"!!!\"}}", "base64"),
            (b"{\"awslogs\":{\"data\":\"aGVsbG8=\"}}", "not gzip"),
        ];
        for (input, expected) in cases {
            let err = payload(input).unwrap_err().to_string();
            assert!(err.contains(expected), "{input:?}: {err}");
        }
    }

    #[test]
    fn concatenated_gzip_members_are_read_whole() {
        let half = MESSAGE.len() / 2;
        let mut data = Vec::new();
        for part in [&MESSAGE[..half], &MESSAGE[half..]] {
            let mut gz = GzEncoder::new(Vec::new(), Compression::default());
            gz.write_all(part.as_bytes()).unwrap();
            data.extend(gz.finish().unwrap());
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        let input = format!(r#"{{"awslogs":{{"data":"{b64}"}}}}"#);
        assert_eq!(&*payload(input.as_bytes()).unwrap(), MESSAGE.as_bytes());
    }

    #[test]
    fn a_lying_size_trailer_changes_nothing() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&vec![b' '; 4096]).unwrap();
        let mut data = gz.finish().unwrap();
        let at = data.len() - 4;
        data[at..].copy_from_slice(&100u32.to_le_bytes());
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        let input = format!(r#"{{"awslogs":{{"data":"{b64}"}}}}"#);
        // The stream's own checks (flate2) still run: the size mismatch is an error.
        assert!(payload(input.as_bytes()).is_err());
        assert!(matches!(
            payload_with_limit(&envelope(&vec![b' '; 4096]), 1024),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(MESSAGE.as_bytes()).unwrap();
        let full = gz.finish().unwrap();
        let cut = &full[..full.len() / 2];
        let data = base64::engine::general_purpose::STANDARD.encode(cut);
        let input = format!(r#"{{"awslogs":{{"data":"{data}"}}}}"#);
        assert!(matches!(
            payload(input.as_bytes()),
            Err(DecodeError::Gzip(_))
        ));
    }

    #[test]
    fn message_that_is_not_a_string_is_an_error() {
        let bad =
            r#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1,"message":42}]}"#;
        let bytes = payload(bad.as_bytes()).unwrap();
        assert!(matches!(parse(&bytes), Err(DecodeError::Message(_))));
        let bad = r#"{"messageType":"DATA_MESSAGE","logEvents":{"id":"1"}}"#;
        let bytes = payload(bad.as_bytes()).unwrap();
        assert!(matches!(parse(&bytes), Err(DecodeError::Message(_))));
    }
}
