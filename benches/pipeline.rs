//! Pipeline cost against the decode-only floor, per input, in one run.
//!
//! Inputs come from `python3 scripts/make-bench-inputs.py` (target/bench-inputs);
//! without them the bench says how to make them and measures nothing.
//!
//!     python3 scripts/make-bench-inputs.py --count 20
//!     cargo bench --bench pipeline

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod floor;

fn inputs() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-inputs");
    let mut paths: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    paths.sort();
    paths.truncate(20);
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn pipeline(c: &mut Criterion) {
    let inputs = inputs();
    if inputs.is_empty() {
        eprintln!(
            "no inputs in target/bench-inputs: run python3 scripts/make-bench-inputs.py first"
        );
        return;
    }
    let bytes: u64 = inputs.iter().map(|i| i.len() as u64).sum();
    let mut group = c.benchmark_group("per-input-set");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    group.bench_function("floor: base64+gunzip+serde_json", |b| {
        b.iter(|| {
            inputs
                .iter()
                .map(|i| floor::decode_floor(black_box(i)))
                .sum::<usize>()
        })
    });
    group.bench_function("prepare: decode+extract+fingerprint+aggregate", |b| {
        b.iter(|| {
            inputs
                .iter()
                .filter_map(|i| faultline::pipeline::prepare(black_box(i)).ok())
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
