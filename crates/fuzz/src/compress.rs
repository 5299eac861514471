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
                Err(_) if name == "zstd" && zstd_modes_differ(input) => {}
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
                (CompressError::Corrupt { .. }, Ok(_))
                    if name == "zstd" && (has_legacy_zstd_magic(input) || zstd_modes_differ(input)) => {}
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

/// Whether `input` holds a zstd frame on which libzstd's streaming decoder
/// (the library's) and its one-shot decoder (the oracle) are known to
/// differ, found by this target: a window over [`ZSTD_WINDOW_LOG_MAX`] (the
/// streaming decoder refuses it; a one-shot decode needs no window), a
/// block larger than the frame's maximum block size, min(window, 128 KiB)
/// (the streaming decoder refuses it, the one-shot one decodes an RLE block
/// of any size), and a compressed block of size 0 (the streaming decoder
/// reads it as empty, the one-shot one refuses it). Walks the frame and
/// block headers as RFC 8878 lays them out, skipping skippable frames;
/// anything it cannot parse ends the walk with `false`.
fn zstd_modes_differ(input: &[u8]) -> bool {
    let le = |b: &[u8]| b.iter().rev().fold(0u64, |v, &x| (v << 8) | u64::from(x));
    let mut pos = 0;
    loop {
        let Some(magic) = input.get(pos..pos + 4).map(le) else { return false };
        if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
            let Some(len) = input.get(pos + 4..pos + 8).map(le) else { return false };
            pos += 8 + len as usize;
            continue;
        }
        if magic != 0xFD2F_B528 {
            return false;
        }
        let Some(&descriptor) = input.get(pos + 4) else { return false };
        pos += 5;
        let single_segment = descriptor & 0x20 != 0;
        let mut window = 0;
        if !single_segment {
            let Some(&w) = input.get(pos) else { return false };
            let base = 1u64 << (10 + (w >> 3));
            window = base + base / 8 * u64::from(w & 7);
            pos += 1;
        }
        pos += [0, 1, 2, 4][usize::from(descriptor & 3)];
        let content_size_len = match descriptor >> 6 {
            0 => usize::from(single_segment),
            1 => 2,
            2 => 4,
            _ => 8,
        };
        let Some(content_size) = input.get(pos..pos + content_size_len).map(le) else { return false };
        pos += content_size_len;
        if single_segment {
            window = content_size + if content_size_len == 2 { 256 } else { 0 };
        }
        if window > 1 << ZSTD_WINDOW_LOG_MAX {
            return true;
        }
        let block_max = window.min(128 << 10);
        loop {
            let Some(header) = input.get(pos..pos + 3).map(le) else { return false };
            let (last, kind, size) = (header & 1 == 1, (header >> 1) & 3, header >> 3);
            if kind == 3 {
                return false;
            }
            if size > block_max || (kind == 2 && size == 0) {
                return true;
            }
            pos += 3 + if kind == 1 { 1 } else { size as usize };
            if last {
                break;
            }
        }
        if descriptor & 4 != 0 {
            pos += 4;
        }
    }
}
