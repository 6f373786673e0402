//! One log message through extract, fingerprint, explain and scrub.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(occurrence) = faultline::extract::extract(&text) {
        let _ = faultline::fingerprint::explain("/fuzz", &occurrence);
    }
    let _ = faultline::fingerprint::template(&text);
    let _ = faultline::scrub::scrub(&text);
});
