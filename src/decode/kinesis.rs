//! A Kinesis event, as Lambda's event source mapping hands over a Kinesis
//! data stream that CloudWatch Logs writes to (directly, or through a
//! CloudWatch Logs destination from other accounts):
//! `{"Records": [{"kinesis": {"sequenceNumber": ..., "data": BASE64}, ...}]}`.
//! Each record's data is one gzip subscription payload, a DATA_MESSAGE or a
//! CONTROL_MESSAGE: the same bytes as `awslogs.data` of a subscribed
//! function (../shared/AWS-FACTS.md, section 8).
//!
//! Data is decoded from base64 while the event is read, straight from the
//! invocation's bytes ([`Base64Data`]), so the event's text is never copied.
//! A record that cannot be read keeps its error instead of failing the
//! event, so that it can be reported alone, by its sequence number.

use std::fmt;

use base64::Engine;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::gzip::gunzip;
use super::{DecodeError, MAX_DECOMPRESSED};

/// The records of one invocation, oldest first.
#[derive(Debug, Deserialize)]
pub struct KinesisEvent {
    #[serde(rename = "Records")]
    pub records: Vec<KinesisEventRecord>,
}

#[derive(Debug, Deserialize)]
pub struct KinesisEventRecord {
    pub kinesis: KinesisRecord,
}

#[derive(Debug, Deserialize)]
pub struct KinesisRecord {
    /// What a partial batch response names a failed record by.
    #[serde(rename = "sequenceNumber", default)]
    pub sequence_number: Option<String>,
    #[serde(default)]
    pub data: Base64Data,
}

impl KinesisRecord {
    /// The DATA_MESSAGE (or CONTROL_MESSAGE) bytes the record carries.
    pub fn payload(&self) -> Result<Vec<u8>, DecodeError> {
        match &self.data {
            Base64Data::Bytes(compressed) => {
                gunzip(compressed, MAX_DECOMPRESSED).map_err(|e| match e {
                    DecodeError::Gzip(e) => DecodeError::KinesisGzip(e),
                    other => other,
                })
            }
            Base64Data::Invalid(why) => Err(DecodeError::KinesisData(why.to_string())),
        }
    }
}

/// Bytes sent as base64 text, decoded as the event is read; or why they
/// could not be. The Lambda reads a subscription envelope's `awslogs.data`
/// the same way ([`Base64Data::awslogs_payload`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Base64Data {
    Bytes(Vec<u8>),
    Invalid(InvalidData),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidData {
    #[error("missing")]
    Missing,
    #[error("{0}, not base64 text")]
    NotText(&'static str),
    #[error("not valid base64: {0}")]
    Base64(base64::DecodeError),
}

impl Default for Base64Data {
    fn default() -> Self {
        Base64Data::Invalid(InvalidData::Missing)
    }
}

impl Base64Data {
    /// The DATA_MESSAGE bytes of a subscription envelope whose
    /// `awslogs.data` this is, with the errors [`super::payload`] gives.
    pub fn awslogs_payload(&self) -> Result<Vec<u8>, DecodeError> {
        match self {
            Base64Data::Bytes(compressed) => gunzip(compressed, MAX_DECOMPRESSED),
            Base64Data::Invalid(InvalidData::Base64(e)) => Err(DecodeError::Base64(e.clone())),
            Base64Data::Invalid(_) => Err(DecodeError::MissingData),
        }
    }
}

impl<'de> Deserialize<'de> for Base64Data {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Base64Visitor)
    }
}

struct Base64Visitor;

impl<'de> Visitor<'de> for Base64Visitor {
    type Value = Base64Data;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("base64 text")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Base64Data, E> {
        Ok(
            match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
                Ok(bytes) => Base64Data::Bytes(bytes),
                Err(e) => Base64Data::Invalid(InvalidData::Base64(e)),
            },
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Base64Data, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Base64Data::Invalid(InvalidData::NotText("an object")))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Base64Data, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Base64Data::Invalid(InvalidData::NotText("an array")))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Base64Data, E> {
        Ok(Base64Data::Invalid(InvalidData::NotText("a boolean")))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Base64Data, E> {
        Ok(Base64Data::Invalid(InvalidData::NotText("a number")))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Base64Data, E> {
        Ok(Base64Data::Invalid(InvalidData::NotText("a number")))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Base64Data, E> {
        Ok(Base64Data::Invalid(InvalidData::NotText("a number")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Base64Data, E> {
        Ok(Base64Data::Invalid(InvalidData::NotText("null")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    fn base64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    const MESSAGE: &str = r#"{"messageType":"DATA_MESSAGE","owner":"111111111111","logGroup":"/aws/lambda/orders","logStream":"s","subscriptionFilters":["faultline"],"logEvents":[{"id":"1","timestamp":1700000000000,"message":"[ERROR] boom"}]}"#;

    /// An event as Lambda's event source mapping writes it (the Lambda
    /// developer guide's example, with CloudWatch Logs data).
    fn event(data: &[serde_json::Value]) -> String {
        let records: Vec<serde_json::Value> = data
            .iter()
            .enumerate()
            .map(|(i, data)| {
                serde_json::json!({
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": "3f1a",
                        "sequenceNumber": format!("4959033096263624508656850716327584366079787312744693{i:04}"),
                        "data": data,
                        "approximateArrivalTimestamp": 1_700_000_000.123
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": format!("shardId-000000000000:4959033096263624508656850716327584366079787312744693{i:04}"),
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "arn:aws:iam::123456789012:role/faultline",
                    "awsRegion": "us-east-1",
                    "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/logs"
                })
            })
            .collect();
        serde_json::json!({ "Records": records }).to_string()
    }

    #[test]
    fn each_record_carries_one_subscription_payload() {
        let json = event(&[base64(&gzip(MESSAGE.as_bytes())).into()]);
        let parsed: KinesisEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed.records.len(), 1);
        let record = &parsed.records[0].kinesis;
        assert_eq!(
            record.sequence_number.as_deref(),
            Some("49590330962636245086568507163275843660797873127446930000")
        );
        assert_eq!(record.payload().unwrap(), MESSAGE.as_bytes());
    }

    #[test]
    fn a_bad_record_fails_alone_and_says_why() {
        let good = base64(&gzip(MESSAGE.as_bytes()));
        let json = event(&[
            "not base64!".into(),
            base64(b"plain text, not gzip").into(),
            42.into(),
            good.into(),
        ]);
        let parsed: KinesisEvent = serde_json::from_str(&json).unwrap();
        let results: Vec<_> = parsed.records.iter().map(|r| r.kinesis.payload()).collect();
        let errors: Vec<String> = results[..3]
            .iter()
            .map(|r| r.as_ref().unwrap_err().to_string())
            .collect();
        assert!(
            errors[0].contains("kinesis.data is not valid base64"),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].contains("kinesis.data is not gzip"),
            "{}",
            errors[1]
        );
        assert!(errors[2].contains("a number, not base64"), "{}", errors[2]);
        assert_eq!(results[3].as_ref().unwrap(), MESSAGE.as_bytes());
    }

    #[test]
    fn an_envelopes_data_is_read_the_same_way() {
        #[derive(Deserialize)]
        struct Envelope {
            data: Base64Data,
        }
        let good: Envelope = serde_json::from_str(&format!(
            r#"{{"data":"{}"}}"#,
            base64(&gzip(MESSAGE.as_bytes()))
        ))
        .unwrap();
        assert_eq!(good.data.awslogs_payload().unwrap(), MESSAGE.as_bytes());
        let bad: Envelope = serde_json::from_str(r#"{"data":"!!!"}"#).unwrap();
        assert!(matches!(
            bad.data.awslogs_payload(),
            Err(DecodeError::Base64(_))
        ));
        let missing: Envelope = serde_json::from_str(r#"{"data":null}"#).unwrap();
        assert!(matches!(
            missing.data.awslogs_payload(),
            Err(DecodeError::MissingData)
        ));
    }
}
