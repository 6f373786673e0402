//! Gzip, as CloudWatch Logs compresses subscription payloads and as people
//! keep log files: always bounded, so a gzip bomb is an error, not an OOM.

use std::cell::Cell;
use std::io::Read;

use super::DecodeError;

/// The largest buffer kept for the next payload: a typical subscription
/// payload decompresses to about 1 MB, the largest legal one to 32 MB, which
/// is not worth holding between invocations.
const KEPT_BUFFER_BYTES: usize = 8 * 1024 * 1024;

thread_local! {
    /// The buffer the previous payload was decompressed into, handed back
    /// by [`recycle`] once its batch was read. libdeflate writes only into
    /// initialised memory, so a fresh buffer is zeroed first: over 100
    /// payloads that memset was 3 % of `faultline ingest`'s instructions,
    /// on memory that was itself freshly faulted in.
    static SPARE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Hands a buffer [`gunzip`] returned back for the next payload, once
/// nothing borrows from it.
pub fn recycle(buffer: Vec<u8>) {
    if buffer.capacity() <= KEPT_BUFFER_BYTES {
        SPARE.set(buffer);
    }
}

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
        let mut out = SPARE.take();
        // Only bytes the buffer never held are zeroed; the rest are
        // overwritten by the payload.
        if out.len() < stated {
            out.resize(stated, 0);
        }
        let mut decompressor = libdeflater::Decompressor::new();
        if let Ok(n) = decompressor.gzip_decompress(compressed, &mut out[..stated]) {
            if n == stated {
                out.truncate(stated);
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

    /// A recycled buffer holds the previous payload's bytes: each payload
    /// still comes out exactly, smaller or larger than the one before.
    #[test]
    fn payloads_decompressed_into_a_recycled_buffer_are_exact() {
        let payloads: Vec<Vec<u8>> = [(b'a', 5000), (b'b', 100), (b'c', 9000), (b'd', 0)]
            .iter()
            .map(|&(byte, n)| vec![byte; n])
            .collect();
        for payload in &payloads {
            let out = gunzip(&gzip(payload), 1 << 20).unwrap();
            assert_eq!(&out, payload);
            recycle(out);
        }
    }
}
