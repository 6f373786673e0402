//! The floor the pipeline is measured against: decoding alone.
//!
//! base64, gunzip and parsing the DATA_MESSAGE with serde_json into borrowed
//! structs, touching every message. Nothing faultline does can be cheaper
//! than this, so "pipeline time / floor time" says what extraction,
//! fingerprinting and storing cost on top of merely reading the input.

use std::borrow::Cow;
use std::io::Read;

use base64::Engine;
use serde::Deserialize;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    awslogs: Data<'a>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    #[serde(borrow)]
    log_group: Cow<'a, str>,
    #[serde(borrow)]
    log_events: Vec<Event<'a>>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    timestamp: i64,
    #[serde(borrow)]
    message: Cow<'a, str>,
}

/// Decodes one Lambda input and returns a value that depends on every
/// message byte count, so the compiler cannot skip the work.
pub fn decode_floor(input: &[u8]) -> usize {
    let Ok(envelope) = serde_json::from_slice::<Envelope<'_>>(input) else {
        return 0;
    };
    let Ok(compressed) =
        base64::engine::general_purpose::STANDARD.decode(envelope.awslogs.data.as_bytes())
    else {
        return 0;
    };
    let mut json = Vec::with_capacity(compressed.len() * 8);
    if flate2::read::MultiGzDecoder::new(compressed.as_slice())
        .read_to_end(&mut json)
        .is_err()
    {
        return 0;
    }
    let Ok(message) = serde_json::from_slice::<Message<'_>>(&json) else {
        return 0;
    };
    let mut touched = message.log_group.len();
    for event in &message.log_events {
        touched += event.id.len() + event.message.len() + (event.timestamp & 1) as usize;
        touched += event.message.as_bytes().first().copied().unwrap_or(0) as usize;
    }
    touched
}
