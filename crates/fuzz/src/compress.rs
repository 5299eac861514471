//! The bounded decompressors against the codecs' own streaming decoders.
//!
//! Input: two bytes of output limit (little-endian, 0 to 65,535 bytes), then
//! the compressed data.

use std::io::{self, Read};

use otlp_pipeline::compress::{CompressError, Compression, Decompressor, ZSTD_WINDOW_LOG_MAX};

use crate::shown;

/// What `out` holds before the call: the decompressor appends after it, and
/// must leave it untouched on error.
const PREFIX: &[u8] = b"kept";

pub(crate) fn gzip(data: &[u8]) {
    check(data, Compression::GZIP_DEFAULT, |input, cap| {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(input).take(cap).read_to_end(&mut out)?;
        Ok(out)
    });
}

pub(crate) fn zstd(data: &[u8]) {
    // The one-shot decoder, not the streaming one: zstd's streaming reader
    // returns what it decoded, without an error, when the input ends inside
    // a frame (found by this target). The one-shot decoder fails instead,
    // and also when the output would exceed `cap` (so a refusal may mean
    // "too large"), which `check` allows for.
    check(data, Compression::ZSTD_DEFAULT, |input, cap| {
        let mut decoder = zstd::bulk::Decompressor::new()?;
        // The same window cap as ours: larger windows are refused by both.
        decoder.set_parameter(zstd::zstd_safe::DParameter::WindowLogMax(ZSTD_WINDOW_LOG_MAX))?;
        decoder.decompress(input, usize::try_from(cap).expect("a limit of at most 65,536 bytes"))
    });
}

/// `oracle(input, cap)` decodes at most `cap` bytes of output.
fn check(data: &[u8], codec: Compression, oracle: impl FnOnce(&[u8], u64) -> io::Result<Vec<u8>>) {
    let Some((limit, input)) = data.split_first_chunk::<2>() else { return };
    let limit = usize::from(u16::from_le_bytes(*limit));
    let name = codec.name();
    let mut out = PREFIX.to_vec();
    let ours = Decompressor::new().decompress(codec, input, &mut out, limit);
    // One byte past the limit tells the oracle's "too large" apart.
    let theirs = oracle(input, limit as u64 + 1);
    let what = || format!("{name} with a limit of {limit} bytes on {}", shown(input));
    if input.is_empty() {
        // Both oracles read an empty stream as empty output; an empty body
        // holds no gzip member and no zstd frame, which ours reports.
        assert!(matches!(ours, Err(CompressError::Truncated { .. })), "{}: {ours:?}", what());
        return;
    }
    match ours {
        Ok(()) => {
            assert!(out.starts_with(PREFIX), "{}: the bytes already in the output changed", what());
            let got = &out[PREFIX.len()..];
            assert!(got.len() <= limit, "{}: {} bytes out, over the limit", what(), got.len());
            match theirs {
                Ok(want) => assert!(got == want.as_slice(), "{}: the output differs from the oracle's", what()),
                Err(e) => panic!("{}: accepted ({} bytes) where the oracle fails: {e}", what(), got.len()),
            }
        }
        Err(e) => {
            assert!(out == PREFIX, "{}: on error ({e}) the output was not truncated back", what());
            match (&e, theirs) {
                (CompressError::TooLarge { limit: l }, Ok(want)) if *l == limit && want.len() > limit => {}
                // The one-shot zstd oracle refuses output over its capacity.
                (CompressError::TooLarge { limit: l }, Err(_)) if *l == limit && name == "zstd" => {}
                (CompressError::TooLarge { .. }, theirs) => {
                    panic!("{}: too large ({e}) where the oracle gives {:?}", what(), theirs.map(|v| v.len()))
                }
                // Ours refuses frames of the legacy v0.1-v0.7 formats, which
                // the oracle decodes.
                (CompressError::Corrupt { .. }, Ok(_)) if name == "zstd" && has_legacy_zstd_magic(input) => {}
                (CompressError::Corrupt { .. } | CompressError::Truncated { .. }, Ok(want)) if want.len() <= limit => {
                    panic!("{}: rejected ({e}) where the oracle decodes {} bytes", what(), want.len())
                }
                (CompressError::Corrupt { .. } | CompressError::Truncated { .. }, _) => {}
                (other, _) => panic!("{}: unexpected error {other:?}", what()),
            }
        }
    }
}

/// Whether `input` holds the magic number of a legacy zstd frame (formats
/// v0.1 to v0.7: 0x1EB52FFD, 0xFD2FB522 to 0xFD2FB527, little-endian).
fn has_legacy_zstd_magic(input: &[u8]) -> bool {
    input
        .windows(4)
        .any(|w| w == [0xfd, 0x2f, 0xb5, 0x1e] || (matches!(w[0], 0x22..=0x27) && w[1..] == [0xb5, 0x2f, 0xfd]))
}
