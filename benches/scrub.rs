//! Scrubbing cost against the scrubber it replaced, on the same strings.
//!
//!     cargo bench --bench scrub
//!
//! The input is every string faultline scrubs for the error occurrences of
//! the real-runtime corpus (tests/corpus/events.jsonl: kinds, messages,
//! frames' functions and files, context field values), nearly all of them
//! secret-free, as on the Lambda's hot path. The baseline is src/scrub.rs as
//! it was before issue 15 (benches/scrub_before), which knew eight shapes.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod scrub_before;

fn strings() -> Vec<String> {
    let corpus = include_str!("../tests/corpus/events.jsonl");
    let mut out = Vec::new();
    for line in corpus.lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(message) = event["message"].as_str() else {
            continue;
        };
        if let Some(occ) = faultline::extract::extract(message) {
            out.push(occ.kind);
            out.push(occ.message);
            for frame in occ.frames {
                out.push(frame.function);
                out.push(frame.file);
            }
            out.extend(occ.fields.into_iter().map(|(_, v)| v));
        }
    }
    out
}

fn scrub(c: &mut Criterion) {
    let strings = strings();
    let bytes: u64 = strings.iter().map(|s| s.len() as u64).sum();
    let mut group = c.benchmark_group("scrub every occurrence string");
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("before: eight regexes, RegexSet prefilter", |b| {
        b.iter(|| {
            strings
                .iter()
                .map(|s| scrub_before::scrub(black_box(s)).len())
                .sum::<usize>()
        })
    });
    group.bench_function("after: rule table, keyword prefilter", |b| {
        b.iter(|| {
            strings
                .iter()
                .map(|s| faultline::scrub::scrub(black_box(s)).len())
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, scrub);
criterion_main!(benches);
