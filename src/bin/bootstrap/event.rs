//! What Lambda hands the function, read straight from the invocation's
//! bytes: one CloudWatch Logs batch from a subscription, the records of a
//! Kinesis stream from an event source mapping, an EventBridge event (a
//! job's state change, or the settling schedule's tick), or something
//! else.
//!
//! Read by hand rather than as an untagged enum, which would first copy the
//! whole event into a buffer to try each shape; here the first key decides,
//! and base64 data is decoded as it is read ([`Base64Data`]). An unknown
//! or damaged event becomes [`Invocation::Unrecognised`] or an invalid
//! [`Base64Data`], which the function answers with the error type
//! `UndecodablePayload`. Only a `Records` array whose records are not
//! objects with a `kinesis` object, which no event source mapping sends,
//! fails to read, and the runtime reports that under a type of its own.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use faultline::decode::kinesis::{Base64Data, KinesisEventRecord};

#[derive(Debug)]
pub enum Invocation {
    /// `{"awslogs":{"data":...}}`: a subscription's batch, or a replay of one
    /// from the failed-events queue (the record's `requestPayload`).
    Subscription(Base64Data),
    /// `{"Records":[...]}`: records of a stream CloudWatch Logs writes to.
    Stream(Vec<KinesisEventRecord>),
    /// `{"detail-type":...,"source":...,"detail":{...}}`: an EventBridge
    /// event, as JSON again for [`faultline::pipeline::prepare_job_event`].
    /// EventBridge events are small (at most 256 KB), so keeping the other
    /// keys' values until the end of the object costs little.
    EventBridge(Vec<u8>),
    /// What the event was instead.
    Unrecognised(&'static str),
}

impl<'de> Deserialize<'de> for Invocation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(InvocationVisitor)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum Key {
    #[serde(rename = "awslogs")]
    AwsLogs,
    #[serde(rename = "Records")]
    Records,
    #[serde(rename = "detail-type")]
    DetailType,
    #[serde(rename = "source")]
    Source,
    #[serde(rename = "detail")]
    Detail,
    #[serde(rename = "id")]
    Id,
    #[serde(rename = "time")]
    Time,
    #[serde(other)]
    Other,
}

impl Key {
    /// The keys of an EventBridge event that its reader uses.
    fn eventbridge_name(&self) -> Option<&'static str> {
        match self {
            Key::DetailType => Some("detail-type"),
            Key::Source => Some("source"),
            Key::Detail => Some("detail"),
            Key::Id => Some("id"),
            Key::Time => Some("time"),
            _ => None,
        }
    }
}

const NEITHER: &str = "neither a CloudWatch Logs subscription payload ({\"awslogs\":{\"data\":...}}), a Kinesis event ({\"Records\":[...]}) nor an EventBridge event ({\"detail-type\":...})";

/// The visits of a [`Visitor`] for every JSON value but an object: each
/// skips the value and answers `$value`.
macro_rules! anything_else {
    ($value:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($value)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

struct InvocationVisitor;

impl<'de> Visitor<'de> for InvocationVisitor {
    type Value = Invocation;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Lambda event")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Invocation, A::Error> {
        let mut found = None;
        // The keys an EventBridge event's reader uses, kept until the
        // object ends: they may come in any order.
        let mut event = serde_json::Map::new();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::AwsLogs if found.is_none() => {
                    found = Some(Invocation::Subscription(map.next_value::<Envelope>()?.0));
                }
                Key::Records if found.is_none() => {
                    found = Some(Invocation::Stream(map.next_value()?));
                }
                key => match key.eventbridge_name() {
                    Some(name) if found.is_none() => {
                        event.insert(name.to_string(), map.next_value()?);
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                },
            }
        }
        if found.is_none() && event.contains_key("detail-type") {
            // A map of JSON values encodes without fail.
            return Ok(Invocation::EventBridge(
                serde_json::to_vec(&event).unwrap_or_default(),
            ));
        }
        Ok(found.unwrap_or(Invocation::Unrecognised(NEITHER)))
    }

    anything_else!(Invocation::Unrecognised(NEITHER));
}

/// The `awslogs` object: its `data`, or why there is none.
struct Envelope(Base64Data);

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EnvelopeVisitor;
        impl<'de> Visitor<'de> for EnvelopeVisitor {
            type Value = Envelope;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the awslogs object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
                let mut data = None;
                while let Some(key) = map.next_key::<DataKey>()? {
                    match key {
                        DataKey::Data if data.is_none() => data = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Envelope(data.unwrap_or_default()))
            }

            anything_else!(Envelope(Base64Data::default()));
        }
        #[derive(Deserialize)]
        #[serde(field_identifier, rename_all = "lowercase")]
        enum DataKey {
            Data,
            #[serde(other)]
            Other,
        }
        deserializer.deserialize_any(EnvelopeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Invocation {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_first_key_names_the_shape_and_data_arrives_decoded() {
        let Invocation::Subscription(Base64Data::Bytes(bytes)) =
            read(r#"{"awslogs": {"data": "aGVsbG8="}}"#)
        else {
            panic!("a subscription's envelope");
        };
        assert_eq!(bytes, b"hello");
        let Invocation::Stream(records) = read(
            r#"{"Records": [{"kinesis": {"sequenceNumber": "1", "data": "aGVsbG8="}, "eventSource": "aws:kinesis"}]}"#,
        ) else {
            panic!("a stream's records");
        };
        assert_eq!(records[0].kinesis.sequence_number.as_deref(), Some("1"));
        assert_eq!(
            records[0].kinesis.data,
            Base64Data::Bytes(b"hello".to_vec())
        );
    }

    #[test]
    fn an_eventbridge_event_keeps_what_its_reader_uses_in_any_order() {
        let Invocation::EventBridge(json) = read(
            r#"{"version":"0","detail":{"status":"FAILED"},"id":"e1","detail-type":"Step Functions Execution Status Change","resources":["arn"],"source":"aws.states","time":"2025-11-23T00:00:00Z"}"#,
        ) else {
            panic!("an EventBridge event");
        };
        let kept: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            kept,
            serde_json::json!({"detail": {"status": "FAILED"}, "id": "e1", "detail-type": "Step Functions Execution Status Change", "source": "aws.states", "time": "2025-11-23T00:00:00Z"})
        );
        assert!(matches!(
            read(r#"{"source":"aws.events","detail":{}}"#),
            Invocation::Unrecognised(_)
        ));
    }

    #[test]
    fn anything_else_is_answered_not_refused() {
        for other in [
            r#"{"not": "a log batch"}"#,
            r#"{"messageType": "DATA_MESSAGE", "logEvents": []}"#,
            "[1, 2]",
            r#""text""#,
            "42",
            "null",
        ] {
            assert!(
                matches!(read(other), Invocation::Unrecognised(_)),
                "{other}"
            );
        }
        for damaged in [
            r#"{"awslogs": 5}"#,
            r#"{"awslogs": {}}"#,
            r#"{"awslogs": {"data": ["x"]}}"#,
        ] {
            assert!(
                matches!(
                    read(damaged),
                    Invocation::Subscription(Base64Data::Invalid(_))
                ),
                "{damaged}"
            );
        }
    }
}
