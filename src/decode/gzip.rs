//! Gzip, as CloudWatch Logs compresses subscription payloads and as people
//! keep log files: always bounded, so a gzip bomb is an error, not an OOM.

use std::io::Read;

use super::DecodeError;

/// The two bytes every gzip member starts with.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Decompresses `compressed` whole, refusing more than `limit` bytes.
pub fn gunzip(compressed: &[u8], limit: u64) -> Result<Vec<u8>, DecodeError> {
    // gzip's trailer states the uncompressed size (mod 2^32). When it is
    // within the limit, libdeflate decompresses the whole member in one call
    // into a buffer of exactly that size, about 1.4x faster than streaming
    // (BENCHMARKS.md). The trailer is only a claim: a payload that does not
    // decompress to exactly that size takes the streaming path below, which
    // enforces the limit and names the problem.
    let stated = compressed
        .len()
        .checked_sub(4)
        .and_then(|at| compressed.get(at..))
        .and_then(|tail| <[u8; 4]>::try_from(tail).ok())
        .map_or(0, |tail| u32::from_le_bytes(tail) as usize);
    if stated > 0 && stated as u64 <= limit {
        let mut out = vec![0; stated];
        let mut decompressor = libdeflater::Decompressor::new();
        if let Ok(n) = decompressor.gzip_decompress(compressed, &mut out) {
            if n == stated {
                return Ok(out);
            }
        }
    }
    // A MultiGzDecoder, because gzip allows concatenated members, and
    // `Read::take` bounds the output whatever the compression ratio.
    let decoder = flate2::read::MultiGzDecoder::new(compressed);
    let mut out = Vec::with_capacity(stated.min(limit as usize) + 1);
    decoder
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(DecodeError::Gzip)?;
    if out.len() as u64 > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
}
