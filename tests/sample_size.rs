//! What a long real stack trace costs as a DynamoDB sample item.
//!
//! Each trace in `tests/data/long_traces/` (real traces other people's
//! programs printed; provenance in its `SOURCES.md`) goes through the whole
//! pipeline as one log event, twice, into a fresh table behind the metering
//! proxy (tests/support/capacity.rs): the first batch creates the issue,
//! the second is a hot batch on it that writes its next sample. The sample
//! items are then read back and priced by DynamoDB's item size rules.
//!
//! Issue 11's bound is that a batch touching one issue costs at most 8 WCU:
//! 6 for the hot batch and 2 for a sample item, which holds only while the
//! item is at most 1 KB (a transactional write costs 2 WCU per started KB).
//!
//! Run it with its table (BENCHMARKS.md records one):
//! `CI=true cargo test --test sample_size -- --nocapture`

mod support;

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use faultline::model::Sample;
use faultline::notify::Discard;
use faultline::pipeline::Pipeline;
use faultline::store::dynamodb::DynamoDbStore;
use serde_json::{Map, Value};
use support::capacity::{Meter, item_size};
use support::proxy::Proxy;

/// The most a sample item may take for its transactional write to cost
/// 2 WCU, and so for a hot batch with a sample to stay within 8.
const ONE_KB: usize = 1024;

/// The traces, by file name, in name order.
fn traces() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/long_traces");
    let mut traces: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("tests/data/long_traces")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    traces.sort();
    traces
}

/// Where each trace is logged: a Lambda function per runtime, as Issue
/// 11's bound was measured (an ECS service's log group would also record a
/// run for each task, which is not what this measures). Stream names carry
/// 32 random hex digits as Lambda's do (no compression shortens them).
fn log_place(name: &str, hex: &str) -> (String, String) {
    let function = name.split('-').next().unwrap_or("app");
    (
        format!("/aws/lambda/orders-{function}"),
        format!("2025/11/23/[$LATEST]{hex}"),
    )
}

/// The trace as its runtime's log would carry it: a Node.js Lambda's
/// `console.error` line starts with the time, the request id and the level
/// (the Prisma error's first line names no exception a reader of bare text
/// could trust); Java and Python traces are logged as printed.
fn as_logged(name: &str, trace: &str) -> String {
    if name.starts_with("node") {
        format!("2025-11-23T10:00:00.000Z\t3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f\tERROR\t{trace}")
    } else {
        trace.to_string()
    }
}

/// An item as DynamoDB JSON, for the meter's [`item_size`].
fn json_item(item: &HashMap<String, AttributeValue>) -> Map<String, Value> {
    item.iter()
        .map(|(k, v)| {
            let value = match v {
                AttributeValue::S(s) => serde_json::json!({ "S": s }),
                AttributeValue::N(n) => serde_json::json!({ "N": n }),
                AttributeValue::B(b) => serde_json::json!({
                    "B": base64::engine::general_purpose::STANDARD.encode(b.as_ref())
                }),
                other => panic!("a sample item holds no {other:?}"),
            };
            (k.clone(), value)
        })
        .collect()
}

/// What a sample item holds: its deflated JSON, inflated.
fn sample_of(item: &HashMap<String, AttributeValue>) -> Sample {
    let Some(AttributeValue::B(packed)) = item.get("z") else {
        panic!("a sample item without its sample");
    };
    let mut json = String::new();
    flate2::read::DeflateDecoder::new(packed.as_ref())
        .read_to_string(&mut json)
        .expect("a deflated sample");
    serde_json::from_str(&json).expect("a sample's JSON")
}

struct Measured {
    name: String,
    raw_bytes: usize,
    /// The largest of the trace's sample items.
    item_bytes: usize,
    /// What the meter charged for writing the hot batch's sample item.
    sample_wcu: f64,
    /// What the meter charged for the hot batch on the table's items.
    hot_batch_wcu: f64,
    json_bytes: usize,
    sample: Sample,
}

/// One trace through the pipeline twice, priced.
async fn measure(name: &str, trace: &str) -> Option<Measured> {
    let moto = support::moto()?;
    let table = moto
        .fresh_store("sample-size", None)
        .await
        .table()
        .to_string();
    let meter = Arc::new(Meter::new());
    let proxy = Proxy::metered(&moto.endpoint, Arc::clone(&meter));
    let sdk = moto.sdk_config_at(&proxy.endpoint).await;
    let store = DynamoDbStore::new(support::patient(&sdk), &table).unwrap();
    let pipeline = Pipeline::new(Box::new(store), Box::new(Discard));
    let (group, stream) = log_place(name, "5f3c9a1e07b24d6c8e91a4b2d7f06c3e");
    let start = 1_763_900_000_000i64;
    let trace = as_logged(name, trace);
    let first = support::data_message_at(&group, &stream, 1, start, &[trace.to_string()]);
    pipeline.ingest(&first).await.expect("ingest");
    // A minute later, from another container, the same error again.
    let (_, other) = log_place(name, "a7d2e4f6081b3c5d9e0f1a2b3c4d5e6f");
    let hot = support::data_message_at(&group, &other, 2, start + 60_000, &[trace.to_string()]);
    meter.take();
    pipeline.ingest(&hot).await.expect("ingest");
    let bill = meter.take();
    drop(proxy);
    eprintln!("{name}: hot batch {}", bill.describe());

    let client = moto.dynamodb(None).await;
    let samples: Vec<HashMap<String, AttributeValue>> = support::scan(&client, &table)
        .await
        .into_iter()
        .filter(|item| {
            matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk.starts_with("SAMPLE#"))
        })
        .collect();
    assert_eq!(
        samples.len(),
        2,
        "{name}: one issue, a sample from each batch"
    );
    let largest = samples
        .iter()
        .max_by_key(|item| item_size(&json_item(item)))
        .unwrap();
    let sample_wcu = bill
        .per_item
        .iter()
        .filter(|(key, _)| key.contains("SAMPLE#"))
        .map(|(_, units)| *units)
        .sum();
    let sample = sample_of(largest);
    Some(Measured {
        name: name.to_string(),
        raw_bytes: trace.len(),
        item_bytes: item_size(&json_item(largest)),
        sample_wcu,
        hot_batch_wcu: bill.writes,
        json_bytes: serde_json::to_string(&sample).unwrap().len(),
        sample,
    })
}

fn field<'a>(sample: &'a Sample, name: &str) -> Option<&'a str> {
    sample
        .fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_real_trace_keeps_a_hot_batch_within_8_wcu() {
    let mut rows = Vec::new();
    for (name, trace) in traces() {
        let Some(measured) = measure(&name, &trace).await else {
            return;
        };
        rows.push(measured);
    }
    assert!(rows.len() >= 10, "the corpus holds {} traces", rows.len());
    eprintln!(
        "| trace | raw trace bytes | sample JSON bytes | sample item bytes | sample WCU (transaction) | hot batch WCU | message bytes | stack lines kept | cause kept |"
    );
    eprintln!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for m in &rows {
        eprintln!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            m.name,
            m.raw_bytes,
            m.json_bytes,
            m.item_bytes,
            m.sample_wcu,
            m.hot_batch_wcu,
            m.sample.message.len(),
            field(&m.sample, "stack").map_or(0, |s| s.lines().count()),
            field(&m.sample, "cause.kind").unwrap_or("-"),
        );
    }
    for m in &rows {
        assert!(
            m.item_bytes <= ONE_KB,
            "{}: a {} byte sample item",
            m.name,
            m.item_bytes
        );
        assert!(
            m.sample_wcu <= 2.0,
            "{}: {} WCU for its sample",
            m.name,
            m.sample_wcu
        );
        assert!(
            m.hot_batch_wcu <= 8.0,
            "{}: {} WCU for a hot batch",
            m.name,
            m.hot_batch_wcu
        );
    }
}
