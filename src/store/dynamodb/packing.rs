//! How items keep text that grows (a day's facets, samples): deflated, since
//! DynamoDB bills the bytes stored. A leaf both the item builders
//! ([`super::parts`]) and the size bounds ([`super::bounds`]) use, so that a
//! bound measures exactly what is stored.

/// `text` deflated: stack traces and stream names shrink to a third or
/// less, and DynamoDB bills the bytes stored.
pub(super) fn deflate(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut deflate =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = deflate.write_all(text.as_bytes());
    deflate.finish().unwrap_or_default()
}

/// What [`deflate`] packed, read up to `limit` bytes: a damaged or hostile
/// item cannot inflate into more than its kind ever holds.
pub(super) fn inflate(packed: &[u8], limit: usize) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::DeflateDecoder::new(packed)
        .take(limit as u64)
        .read_to_string(&mut text)?;
    Ok(text)
}
