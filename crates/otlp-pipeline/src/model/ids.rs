//! Trace and span identifiers.

use std::cell::Cell;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::str::FromStr;

use thiserror::Error;

/// A 16-byte W3C trace id. All zeros is the invalid id.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id. All zeros is the invalid id.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

/// Why a string is not an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("expected {expected} hex digits, got {len} characters or a non-hex digit")]
pub struct ParseIdError {
    /// Digits an id of this kind has (32 or 16).
    pub expected: usize,
    /// Length of the rejected input.
    pub len: usize,
}

thread_local! {
    /// Per-thread splitmix64 state, seeded from std's per-process random keys.
    static RNG: Cell<u64> = Cell::new(RandomState::new().hash_one(std::thread::current().id()));
}

fn next_random() -> u64 {
    RNG.with(|s| {
        let x = s.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        s.set(x);
        splitmix64_mix(x)
    })
}

/// The splitmix64 output function (also used by the fixtures' PRNG).
pub(crate) const fn splitmix64_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

macro_rules! id_impl {
    ($ty:ident, $n:literal) => {
        impl $ty {
            /// The invalid (all-zero) id.
            pub const INVALID: $ty = $ty([0; $n]);

            /// A random, valid id (thread-local splitmix64; not cryptographic).
            pub fn random() -> Self {
                loop {
                    let mut b = [0u8; $n];
                    for chunk in b.chunks_mut(8) {
                        chunk.copy_from_slice(&next_random().to_le_bytes()[..chunk.len()]);
                    }
                    if b != [0; $n] {
                        return $ty(b);
                    }
                }
            }

            /// The raw bytes.
            pub const fn to_bytes(self) -> [u8; $n] {
                self.0
            }

            /// Builds an id from a byte slice of exactly the right length.
            pub fn from_slice(b: &[u8]) -> Option<Self> {
                <[u8; $n]>::try_from(b).ok().map($ty)
            }

            /// False for the all-zero id.
            pub fn is_valid(&self) -> bool {
                self.0 != [0; $n]
            }

            /// Lowercase hex, without allocating.
            pub fn to_hex(&self) -> [u8; 2 * $n] {
                let mut out = [0u8; 2 * $n];
                crate::simd::hex_encode(&self.0, &mut out);
                out
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let hex = self.to_hex();
                f.write_str(std::str::from_utf8(&hex).expect("hex is ASCII"))
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($ty), "({})"), self)
            }
        }

        impl FromStr for $ty {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, ParseIdError> {
                crate::simd::hex_decode::<$n>(s.as_bytes())
                    .map($ty)
                    .ok_or(ParseIdError { expected: 2 * $n, len: s.len() })
            }
        }
    };
}

id_impl!(TraceId, 16);
id_impl!(SpanId, 8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        let t: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap();
        assert_eq!(t.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let s: SpanId = "00F067AA0BA902B7".parse().unwrap();
        assert_eq!(s.to_string(), "00f067aa0ba902b7");
        assert!("00f067aa0ba902b".parse::<SpanId>().is_err());
        assert!("zz".repeat(16).parse::<TraceId>().is_err());
        assert!(!TraceId::INVALID.is_valid());
        let (a, b) = (SpanId::random(), SpanId::random());
        assert!(a.is_valid() && b.is_valid() && a != b);
    }
}
