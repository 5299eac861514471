//! The SIMD paths of the pipeline, each beside the plain scalar routine that
//! tests compare it with and benches measure it against.
//!
//! - hex encoding and decoding of trace and span ids: `faster-hex` (AVX2/SSE4.1
//!   picked at run time) vs [`hex_encode_scalar`] / [`hex_decode_scalar`];
//! - UTF-8 validation of decoded strings: `simdutf8` vs `std::str::from_utf8`.
//!
//! JSON parsing (simd-json vs serde_json) lives in [`crate::encode::json`].
//!
//! Nothing here is compiled with `target-cpu=native`: valgrind cannot run
//! AVX-512, and run-time detection picks AVX2 under it.

/// Hex digit table for the scalar encoder.
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// Writes the lowercase hex of `src` into `dst` (exactly `2 * src.len()` bytes)
/// with the SIMD routine.
///
/// # Panics
/// If `dst.len() != 2 * src.len()`: a caller bug, never a data error.
pub fn hex_encode(src: &[u8], dst: &mut [u8]) {
    assert_eq!(dst.len(), src.len() * 2, "hex_encode: dst must be twice src");
    faster_hex::hex_encode(src, dst).expect("dst length checked above");
}

/// The scalar reference for [`hex_encode`].
pub fn hex_encode_scalar(src: &[u8], dst: &mut [u8]) {
    assert_eq!(dst.len(), src.len() * 2, "hex_encode: dst must be twice src");
    for (pair, b) in dst.chunks_exact_mut(2).zip(src) {
        pair[0] = HEX_LOWER[usize::from(b >> 4)];
        pair[1] = HEX_LOWER[usize::from(b & 0x0f)];
    }
}

/// Decodes exactly `2 * N` hex digits (either case) into `N` bytes with the
/// SIMD routine. `None` on a wrong length or a non-hex digit.
pub fn hex_decode<const N: usize>(src: &[u8]) -> Option<[u8; N]> {
    if src.len() != 2 * N {
        return None;
    }
    faster_hex::hex_decode_array::<N>(src).ok()
}

/// The scalar reference for [`hex_decode`].
pub fn hex_decode_scalar<const N: usize>(src: &[u8]) -> Option<[u8; N]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if src.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(src.chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// True when `bytes` is valid UTF-8 (SIMD validator).
///
/// Below 64 bytes simdutf8 hands the input to std's byte-at-a-time
/// validator, which costs about 150 instructions for a 20-byte key; most
/// OTLP strings (keys, names, short values) are that short and ASCII, which
/// [`is_ascii_short`] settles eight bytes at a time first.
#[inline]
pub fn validate_utf8(bytes: &[u8]) -> bool {
    if bytes.len() < 64 && is_ascii_short(bytes) {
        return true;
    }
    simdutf8::basic::from_utf8(bytes).is_ok()
}

/// True when every byte of `bytes` is ASCII: eight bytes per step, the
/// tail as one last word that overlaps the words before it (or, under 8
/// bytes, as two overlapping halves), and no early exit (meant for short
/// inputs, where a branch per word costs more than the few words left).
#[inline]
pub(crate) fn is_ascii_short(bytes: &[u8]) -> bool {
    let high = if let Some(last) = bytes.last_chunk::<8>() {
        let mut high = u64::from_ne_bytes(*last);
        for w in bytes.as_chunks::<8>().0 {
            high |= u64::from_ne_bytes(*w);
        }
        high
    } else if let (Some(first), Some(last)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        u64::from(u32::from_ne_bytes(*first) | u32::from_ne_bytes(*last))
    } else {
        bytes.iter().fold(0, |high, &b| high | u64::from(b))
    };
    high & 0x8080_8080_8080_8080 == 0
}

/// The scalar reference for [`validate_utf8`].
pub fn validate_utf8_scalar(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_paths_agree() {
        let src: Vec<u8> = (0..=255u8).collect();
        let mut a = vec![0; 512];
        let mut b = vec![0; 512];
        hex_encode(&src, &mut a);
        hex_encode_scalar(&src, &mut b);
        assert_eq!(a, b);
        let id: [u8; 16] = core::array::from_fn(|i| (i * 17) as u8);
        let mut hex = [0u8; 32];
        hex_encode(&id, &mut hex);
        assert_eq!(hex_decode::<16>(&hex), Some(id));
        assert_eq!(hex_decode_scalar::<16>(&hex), Some(id));
        let upper = hex.to_ascii_uppercase();
        assert_eq!(hex_decode::<16>(&upper), Some(id));
        assert_eq!(hex_decode_scalar::<16>(&upper), Some(id));
        assert_eq!(hex_decode::<16>(&hex[..31]), None);
        let mut bad = hex;
        bad[7] = b'g';
        assert_eq!(hex_decode::<16>(&bad), None);
        assert_eq!(hex_decode_scalar::<16>(&bad), None);
    }

    #[test]
    fn utf8_paths_agree() {
        let cases: [&[u8]; 6] = [b"", b"plain", "héllo wörld ✓ 🚀".as_bytes(), b"\xff", b"ab\xc3", b"\xed\xa0\x80"];
        for c in cases {
            assert_eq!(validate_utf8(c), validate_utf8_scalar(c), "{c:?}");
        }
        // The short ASCII path: a non-ASCII byte at every position of every
        // length up to and past the 64-byte limit, in the words and the tail.
        for len in 0..=72 {
            let ascii = vec![b'a'; len];
            assert!(validate_utf8(&ascii), "{len} ASCII bytes");
            for at in 0..len {
                for bad in [0x80u8, 0xff, 0xc3] {
                    let mut b = ascii.clone();
                    b[at] = bad;
                    assert_eq!(validate_utf8(&b), validate_utf8_scalar(&b), "{b:?}");
                }
                let mut two = ascii.clone();
                if at + 1 < len {
                    two[at..at + 2].copy_from_slice("é".as_bytes());
                    assert!(validate_utf8(&two), "{two:?}");
                }
            }
        }
    }
}
