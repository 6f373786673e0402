//! A faster hasher for the maps on the per-error path.
//!
//! The standard library's SipHash-1-3 costs about 190 instructions for the
//! 30-80 byte strings these maps hold (stack frames' texts, field names,
//! fingerprints): on a corpus with stack traces, hashing was 1.8 % of
//! `faultline ingest`'s instructions, most of it in the scrubber's
//! memories. One XXH3 call per string does the same in a fraction of that.
//!
//! The keys are log text, which whoever writes the logs controls, so the
//! seed is random per process, as std's is: colliding keys cannot be
//! prepared in advance.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::LazyLock;

/// A [`HashMap`] with [`Seeded`] hashing.
pub type FastMap<K, V> = HashMap<K, V, Seeded>;
/// A [`HashSet`] with [`Seeded`] hashing.
pub type FastSet<T> = HashSet<T, Seeded>;

/// This process's seed, drawn from the same source as std's.
static SEED: LazyLock<u64> = LazyLock::new(|| RandomState::new().hash_one(0u64));

/// Builds [`OneShot`] hashers seeded with this process's seed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seeded;

impl BuildHasher for Seeded {
    type Hasher = OneShot;

    fn build_hasher(&self) -> OneShot {
        OneShot(*SEED)
    }
}

/// Hashes each piece it is given with one XXH3 call, seeded with what came
/// before: a string is one piece (and the terminator `Hash for str` adds).
#[derive(Debug, Clone)]
pub struct OneShot(u64);

impl Hasher for OneShot {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    fn write_u8(&mut self, byte: u8) {
        self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_hash_equal_and_different_ones_apart() {
        let hash = |s: &str| Seeded.hash_one(s);
        assert_eq!(hash("handler.py handler"), hash("handler.py handler"));
        assert_ne!(hash("handler.py handler"), hash("handler.py handlex"));
        // The terminator keeps ("ab", "c") apart from ("a", "bc").
        assert_ne!(Seeded.hash_one(("ab", "c")), Seeded.hash_one(("a", "bc")));
    }

    #[test]
    fn a_set_finds_what_it_holds() {
        let mut set: FastSet<String> = FastSet::default();
        for i in 0..1000 {
            set.insert(format!("frame {i}"));
        }
        assert!((0..1000).all(|i| set.contains(format!("frame {i}").as_str())));
        assert!(!set.contains("frame 1000"));
    }
}
