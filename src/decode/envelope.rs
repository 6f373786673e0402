//! The Lambda subscription envelope, `{"awslogs":{"data":base64(gzip(DATA_MESSAGE))}}`,
//! or the DATA_MESSAGE itself.

use std::borrow::Cow;

use base64::Engine;
use serde::Deserialize;

use super::gzip::gunzip;
use super::{DecodeError, MAX_DECOMPRESSED};

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
