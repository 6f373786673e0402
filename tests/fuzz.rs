//! A mutation fuzzer that runs on the stable toolchain, as a test.
//!
//! cargo-fuzz needs nightly, which these machines cannot fetch; this harness
//! keeps the part that matters here: it mutates a kept corpus (the sample
//! events, tests/fuzz-corpus/, every message in them, and the 3,077 real
//! messages of tests/corpus/events.jsonl) with bit flips,
//! splices, truncations, repetitions and interesting tokens, and feeds the
//! results to the decoder, the extractors, the fingerprint and the
//! aggregator. Any panic fails the test, and the input that caused it is
//! written to target/fuzz-crashes/ to be added to the corpus once fixed.
//!
//! `FAULTLINE_FUZZ_ITERATIONS` (default 20,000) and `FAULTLINE_FUZZ_SEED` tune
//! a run; a long local run: `FAULTLINE_FUZZ_ITERATIONS=1000000 cargo test
//! --release --test fuzz`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use faultline::{decode, extract, fingerprint, pipeline};

/// xorshift64*: deterministic, so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: &[&str] = &[
    "[ERROR] ",
    "Traceback (most recent call last):",
    "  File \"/var/task/x.py\", line 1, in f",
    "\tat a.B.c(B.java:1)",
    "    at f (/var/task/x.js:1:2)",
    "Caused by: ",
    "{\"level\":\"error\",\"msg\":",
    "{\"log_level\":\"ERROR\",\"errorType\":\"E\",\"stackTrace\":[",
    "{\"type\":\"TaskFailed\",\"details\":{\"cause\":\"",
    "\"error.stack\":",
    "\\u0000",
    "\\ud800",
    "\u{a0}",
    "\r",
    "\n",
    "{",
    "[",
    "\"",
    "\\",
    "é",
    "💥",
    "Task timed out after 3.00 seconds",
    "2024/01/31 22:12:58 {\"errorMessage\":",
    "ERROR Lambda runtime invoke{requestId=\"x\"}: ",
];

fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let cut = rng.below(out.len());
                out.truncate(cut);
            }
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, token.iter().copied());
            }
            3 if !out.is_empty() => {
                let start = rng.below(out.len());
                let end = (start + rng.below(64)).min(out.len());
                let chunk = out[start..end].to_vec();
                for _ in 0..rng.below(50) {
                    out.splice(start..start, chunk.iter().copied());
                }
            }
            4 => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let at = rng.below(out.len() + 1);
                    out.splice(at..at, other[from..].iter().copied());
                }
            }
            5 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
            _ => {
                let at = rng.below(out.len() + 1);
                out.insert(at, rng.next() as u8);
            }
        }
    }
    out
}

/// Seeds: the sample events, their decoded messages, and the kept corpus.
fn corpus() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut payloads = Vec::new();
    let mut messages = Vec::new();
    for dir in ["events", "tests/fuzz-corpus"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            let Ok(bytes) = std::fs::read(&path) else {
                continue;
            };
            if let Ok(payload) = decode::payload(&bytes) {
                if let Ok(batch) = decode::parse(&payload) {
                    messages.extend(
                        batch
                            .log_events
                            .iter()
                            .map(|e| e.message.as_bytes().to_vec()),
                    );
                }
                payloads.push(payload.into_owned());
            }
            payloads.push(bytes);
        }
    }
    // The real-runtime corpus of tests/extract_corpus.rs: every message.
    if let Ok(text) = std::fs::read_to_string(root.join("tests/corpus/events.jsonl")) {
        for line in text.lines() {
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(line) {
                if let Some(message) = event["message"].as_str() {
                    messages.push(message.as_bytes().to_vec());
                }
            }
        }
    }
    (payloads, messages)
}

fn wrap_message(message: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(message);
    serde_json::to_vec(&serde_json::json!({
        "messageType": "DATA_MESSAGE", "logGroup": "/fuzz", "logStream": "s",
        "logEvents": [{"id": "1", "timestamp": 1, "message": text}],
    }))
    .unwrap_or_default()
}

fn exercise(input: &[u8]) {
    // Whole payloads through the pipeline's pure half.
    let _ = pipeline::prepare(input);
    // Every message shape through extract and fingerprint directly.
    let text = String::from_utf8_lossy(input);
    if let Some(occurrence) = extract::extract(&text) {
        let _ = fingerprint::explain("/fuzz", &occurrence);
    }
    let _ = fingerprint::template(&text);
}

#[test]
fn mutated_inputs_never_panic() {
    let iterations: usize = std::env::var("FAULTLINE_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let seed: u64 = std::env::var("FAULTLINE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED_F00D);
    let (payloads, messages) = corpus();
    assert!(
        !payloads.is_empty() && !messages.is_empty(),
        "the corpus is empty"
    );
    let mut rng = Rng(seed | 1);
    let crashes = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes");
    let mut failures = Vec::new();
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for i in 0..iterations {
        let input = if i % 2 == 0 {
            let pick = rng.below(payloads.len());
            mutate(&mut rng, &payloads[pick], &payloads)
        } else {
            let pick = rng.below(messages.len());
            let message = mutate(&mut rng, &messages[pick], &messages);
            if i % 4 == 1 {
                wrap_message(&message)
            } else {
                message
            }
        };
        if catch_unwind(AssertUnwindSafe(|| exercise(&input))).is_err() {
            let _ = std::fs::create_dir_all(&crashes);
            let path = crashes.join(format!("crash-{seed:x}-{i}"));
            let _ = std::fs::write(&path, &input);
            failures.push(path.display().to_string());
        }
    }
    std::panic::set_hook(quiet);
    assert!(failures.is_empty(), "inputs that panicked: {failures:#?}");
}
