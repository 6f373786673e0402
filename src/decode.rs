//! Turns what CloudWatch Logs hands a subscription into log events.
//!
//! A Lambda subscribed to a log group receives `{"awslogs":{"data":"..."}}`
//! where `data` is base64 of a gzip of the JSON DATA_MESSAGE. Saved events and
//! tests often hold the DATA_MESSAGE itself, so both are accepted.
//!
//! Decoding is split in two so the events can borrow from one buffer:
//! [`payload`] produces the DATA_MESSAGE bytes (decompressing when needed) and
//! [`parse`] reads them into a [`LogBatch`] whose strings point into that
//! buffer wherever the JSON holds them without escapes.

use std::borrow::Cow;
use std::io::Read;

use base64::Engine;
use serde::Deserialize;

pub use crate::limits::MAX_DECOMPRESSED;

/// Why an input could not be decoded. Each message says what was expected,
/// so the user can tell a wrong file from a damaged one.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("input is empty")]
    Empty,
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error(
        "neither a Lambda input ({{\"awslogs\":{{\"data\":...}}}}) nor a CloudWatch Logs DATA_MESSAGE (no \"awslogs\" or \"logEvents\" key)"
    )]
    UnknownShape,
    #[error("awslogs.data is missing or not a string")]
    MissingData,
    #[error("awslogs.data is not valid base64: {0}")]
    Base64(base64::DecodeError),
    #[error("awslogs.data is not gzip: {0}")]
    Gzip(std::io::Error),
    #[error(
        "payload decompresses to more than {limit} bytes (a gzip bomb, or not a CloudWatch Logs batch)"
    )]
    TooLarge { limit: u64 },
    #[error("not a valid CloudWatch Logs message: {0}")]
    Message(String),
}

/// The DATA_MESSAGE bytes of an input, borrowed when the input already is one.
pub fn payload(input: &[u8]) -> Result<Cow<'_, [u8]>, DecodeError> {
    payload_with_limit(input, MAX_DECOMPRESSED)
}

/// [`payload`] with an explicit cap on the decompressed size.
pub fn payload_with_limit(input: &[u8], limit: u64) -> Result<Cow<'_, [u8]>, DecodeError> {
    let trimmed = input.trim_ascii();
    if trimmed.is_empty() {
        return Err(DecodeError::Empty);
    }
    // A decoded DATA_MESSAGE is handed on as it is, without a first pass over
    // its events (half the cost of reading a big file). `parse` still checks
    // it in full; the probe below is kept for envelopes and for the error
    // message of inputs that are neither.
    if memchr::memmem::find(trimmed, b"\"awslogs\"").is_none()
        && memchr::memmem::find(trimmed, b"\"logEvents\"").is_some()
        && trimmed.starts_with(b"{")
    {
        return Ok(Cow::Borrowed(trimmed));
    }
    // Only the envelope's keys are read here: `data` borrows from the input, and
    // a DATA_MESSAGE's `logEvents` is skipped without being built.
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(borrow)]
        awslogs: Option<Envelope<'a>>,
        #[serde(rename = "logEvents")]
        log_events: Option<serde::de::IgnoredAny>,
    }
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        data: Option<Cow<'a, str>>,
    }
    let probe: Probe<'_> = serde_json::from_slice(trimmed).map_err(|e| {
        if e.is_data() {
            // Valid JSON of the wrong shape, such as `awslogs` being a number.
            DecodeError::UnknownShape
        } else {
            DecodeError::NotJson(e)
        }
    })?;
    match (probe.awslogs, probe.log_events) {
        (Some(envelope), _) => {
            let data = envelope.data.ok_or(DecodeError::MissingData)?;
            let compressed = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(DecodeError::Base64)?;
            gunzip(&compressed, limit).map(Cow::Owned)
        }
        (None, Some(_)) => Ok(Cow::Borrowed(trimmed)),
        (None, None) => Err(DecodeError::UnknownShape),
    }
}

fn gunzip(compressed: &[u8], limit: u64) -> Result<Vec<u8>, DecodeError> {
    // gzip's trailer states the uncompressed size (mod 2^32). When it is
    // within the limit, libdeflate decompresses the whole member in one call
    // into a buffer of exactly that size, about 1.4x faster than streaming
    // (BENCHMARKS.md). The trailer is only a claim: a payload that does not
    // decompress to exactly that size takes the streaming path below, which
    // enforces the limit and names the problem.
    let stated = compressed
        .len()
        .checked_sub(4)
        .and_then(|at| compressed.get(at..))
        .and_then(|tail| <[u8; 4]>::try_from(tail).ok())
        .map_or(0, |tail| u32::from_le_bytes(tail) as usize);
    if stated > 0 && stated as u64 <= limit {
        let mut out = vec![0; stated];
        let mut decompressor = libdeflater::Decompressor::new();
        if let Ok(n) = decompressor.gzip_decompress(compressed, &mut out) {
            if n == stated {
                return Ok(out);
            }
        }
    }
    // A MultiGzDecoder, because gzip allows concatenated members, and
    // `Read::take` bounds the output whatever the compression ratio.
    let decoder = flate2::read::MultiGzDecoder::new(compressed);
    let mut out = Vec::with_capacity(stated.min(limit as usize) + 1);
    decoder
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(DecodeError::Gzip)?;
    if out.len() as u64 > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
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

/// Parses DATA_MESSAGE bytes, as returned by [`payload`].
///
/// serde_json, not a SIMD parser: sonic-rs 0.5 measured faster but still
/// overflows the stack on deeply nested input (tests/bad_input.rs), and
/// nothing an input holds may crash the process. serde_json stops at a
/// depth of 128 with an error.
pub fn parse(payload: &[u8]) -> Result<LogBatch<'_>, DecodeError> {
    serde_json::from_slice(payload).map_err(|e| DecodeError::Message(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
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
