//! Whole Lambda inputs (or DATA_MESSAGEs) through decode, extract,
//! fingerprint and aggregate.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = faultline::pipeline::prepare(data);
});
