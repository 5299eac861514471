//! Zstandard over `zstd-safe`'s streaming calls, with contexts kept across
//! calls.
//!
//! The one-shot `zstd::bulk` helpers create a C context per call (about
//! 1 MiB, invisible to Rust's allocator); here one `CCtx` per level and one
//! `DCtx` live as long as the [`super::Compressor`] or
//! [`super::Decompressor`]. Streaming decompression writes into bounded room,
//! so neither the frame's declared content size nor a bomb can make it
//! allocate past the caller's limit.

use ::zstd::zstd_safe::zstd_sys::{
    ZSTD_EndDirective, ZSTD_MAGIC_SKIPPABLE_MASK, ZSTD_MAGIC_SKIPPABLE_START, ZSTD_MAGICNUMBER,
};
use ::zstd::zstd_safe::{self, CCtx, CParameter, DCtx, DParameter, InBuffer, OutBuffer, ResetDirective};

use super::{BoundedOut, CompressError, ZSTD_WINDOW_LOG_MAX, corrupt};

const CODEC: &str = "zstd";

/// Output growth when the up-front reservation turns out too small (which
/// `compress_bound` rules out; this only keeps the loop finite).
const MIN_GROW: usize = 4096;

pub(super) fn validate_level(level: i32) -> Result<(), CompressError> {
    let (min, max) = (zstd_safe::min_c_level(), zstd_safe::max_c_level());
    if (min..=max).contains(&level) {
        Ok(())
    } else {
        Err(CompressError::InvalidLevel {
            codec: CODEC,
            level: i64::from(level),
            min: i64::from(min),
            max: i64::from(max),
        })
    }
}

pub(super) fn max_compressed_len(input_len: usize) -> usize {
    zstd_safe::compress_bound(input_len)
}

/// zstd's error names are static strings, so this does not allocate.
fn codec_error(code: zstd_safe::ErrorCode) -> CompressError {
    CompressError::Codec { codec: CODEC, message: zstd_safe::get_error_name(code) }
}

fn corrupt_error(code: zstd_safe::ErrorCode) -> CompressError {
    corrupt(CODEC, zstd_safe::get_error_name(code))
}

/// A reusable compression context for one level.
pub(super) struct Encoder {
    cctx: CCtx<'static>,
}

impl Encoder {
    pub(super) fn new(level: i32) -> Result<Self, CompressError> {
        let mut cctx = CCtx::try_create()
            .ok_or(CompressError::Codec { codec: CODEC, message: "cannot allocate a compression context" })?;
        // Set once: a session reset keeps parameters, so the level sticks.
        cctx.set_parameter(CParameter::CompressionLevel(level)).map_err(codec_error)?;
        Ok(Self { cctx })
    }

    /// Appends one zstd frame holding `input` to `out`.
    pub(super) fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressError> {
        // A failed call may have left a frame open; start this one clean.
        self.cctx.reset(ResetDirective::SessionOnly).map_err(codec_error)?;
        // With the worst case reserved, zstd compresses straight into `out`
        // in one pass (its shortcut for `e_end` with enough room), and the
        // frame header records the content size, so the window is sized to
        // the input rather than to the level's default.
        out.reserve(max_compressed_len(input.len()));
        let mut source = InBuffer::around(input);
        loop {
            if out.len() == out.capacity() {
                out.reserve(MIN_GROW);
            }
            let pos = out.len();
            let mut sink = OutBuffer::around_pos(&mut *out, pos);
            let remaining = self
                .cctx
                .compress_stream2(&mut sink, &mut source, ZSTD_EndDirective::ZSTD_e_end)
                .map_err(codec_error)?;
            if remaining == 0 {
                return Ok(());
            }
        }
    }
}

/// A reusable decompression context with a bounded window.
pub(super) struct Decoder {
    dctx: DCtx<'static>,
}

impl Decoder {
    pub(super) fn new() -> Result<Self, CompressError> {
        let mut dctx = DCtx::try_create()
            .ok_or(CompressError::Codec { codec: CODEC, message: "cannot allocate a decompression context" })?;
        // Frames asking for a larger window fail before the C side
        // allocates it (see `ZSTD_WINDOW_LOG_MAX`); kept across resets.
        dctx.set_parameter(DParameter::WindowLogMax(ZSTD_WINDOW_LOG_MAX)).map_err(codec_error)?;
        Ok(Self { dctx })
    }

    /// Decompresses one or more concatenated zstd frames into `out`.
    ///
    /// Beyond what libzstd's streaming decoder checks, each frame must start
    /// with the zstd or a skippable-frame magic number (frames of the legacy
    /// v0.1-v0.7 formats are refused: their decoders disagree with the
    /// one-shot decoder, and no OTLP client writes them), and a frame whose
    /// header declares its content size must decode to exactly that size
    /// (the streaming decoder skips that check when the last block is empty).
    pub(super) fn decompress(&mut self, input: &[u8], out: &mut BoundedOut<'_>) -> Result<(), CompressError> {
        // The previous call may have stopped mid-frame (truncated, too large
        // or corrupt input); zstd-safe also refuses a context after an error
        // until it is reset.
        self.dctx.reset(ResetDirective::SessionOnly).map_err(codec_error)?;
        if input.is_empty() {
            return Err(CompressError::Truncated { codec: CODEC });
        }
        let mut source = InBuffer::around(input);
        let mut frame = Frame::start(input)?;
        loop {
            let room = out.room()?;
            let room_len = room.len();
            let before_in = source.pos();
            let mut sink = OutBuffer::around(room);
            let hint = self.dctx.decompress_stream(&mut sink, &mut source).map_err(corrupt_error)?;
            let wrote = sink.pos();
            out.advance(wrote)?;
            frame.written += wrote as u64;
            let input_done = source.pos() == input.len();
            if hint == 0 {
                // A frame ended and is fully flushed; more input means
                // another frame.
                frame.finish()?;
                if input_done {
                    return Ok(());
                }
                frame = Frame::start(&input[source.pos()..])?;
                continue;
            }
            if input_done && wrote < room_len {
                // zstd flushed all it could (it left room unused) and wants
                // more input than there is.
                return Err(CompressError::Truncated { codec: CODEC });
            }
            if wrote == 0 && source.pos() == before_in {
                return Err(corrupt(CODEC, "decoder made no progress"));
            }
        }
    }
}

/// The frame being decoded: what its header declares, and what it gave.
struct Frame {
    declared: Option<u64>,
    written: u64,
}

impl Frame {
    /// Checks the magic number at the start of `rest` (a frame's first
    /// bytes) and reads the content size its header declares, if any.
    fn start(rest: &[u8]) -> Result<Frame, CompressError> {
        let Some(magic) = rest.first_chunk::<4>().map(|m| u32::from_le_bytes(*m)) else {
            return Err(CompressError::Truncated { codec: CODEC });
        };
        let declared = if magic == ZSTD_MAGICNUMBER {
            // A header cut short is for the decoder to report as truncated.
            zstd_safe::get_frame_content_size(rest).ok().flatten()
        } else if magic & ZSTD_MAGIC_SKIPPABLE_MASK == ZSTD_MAGIC_SKIPPABLE_START {
            None
        } else {
            return Err(corrupt(CODEC, "not a zstd frame (legacy pre-v0.8 frames are not accepted)"));
        };
        Ok(Frame { declared, written: 0 })
    }

    /// At the end of the frame: the declared size, if any, was kept.
    fn finish(&self) -> Result<(), CompressError> {
        match self.declared {
            Some(n) if n != self.written => {
                Err(corrupt(CODEC, "the frame's content differs from the size its header declares"))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::tests::{noise, sample};
    use super::super::{Compression, Compressor, Decompressor};
    use super::*;

    fn decode(input: &[u8], limit: usize) -> Result<Vec<u8>, CompressError> {
        let mut out = Vec::new();
        Decompressor::new().decompress(Compression::ZSTD_DEFAULT, input, &mut out, limit).map(|()| out)
    }

    #[test]
    fn the_zstd_crate_reads_what_we_write() {
        for level in [-5, 1, 3, 19] {
            for input in [Vec::new(), sample(50_000), noise(50_000)] {
                let mut compressed = Vec::new();
                Compressor::new().compress(Compression::Zstd { level }, &input, &mut compressed).expect("compress");
                assert_eq!(zstd_safe::get_frame_content_size(&compressed).ok(), Some(Some(input.len() as u64)));
                let restored = ::zstd::stream::decode_all(&compressed[..]).expect("zstd decodes");
                assert_eq!(restored, input, "level {level}");
            }
        }
    }

    #[test]
    fn reads_streamed_frames_without_content_size() {
        let input = sample(300_000);
        let mut encoder = ::zstd::stream::Encoder::new(Vec::new(), 3).expect("encoder");
        encoder.include_checksum(true).expect("checksum");
        for chunk in input.chunks(10_000) {
            encoder.write_all(chunk).expect("write");
        }
        let compressed = encoder.finish().expect("finish");
        assert_eq!(decode(&compressed, input.len()).expect("decode"), input);
        assert!(matches!(decode(&compressed, input.len() - 1), Err(CompressError::TooLarge { .. })));

        // With a checksum, a flipped payload byte is caught.
        let mut flipped = compressed.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x10;
        assert!(decode(&flipped, input.len()).is_err());
    }

    #[test]
    fn reads_concatenated_and_skippable_frames() {
        let mut compressed = ::zstd::bulk::compress(b"first ", 1).expect("first");
        // A skippable frame: magic 0x184D2A50, 4-byte length, payload.
        compressed.extend_from_slice(&0x184D_2A50_u32.to_le_bytes());
        compressed.extend_from_slice(&3_u32.to_le_bytes());
        compressed.extend_from_slice(b"xyz");
        compressed.extend_from_slice(&::zstd::bulk::compress(b"second", 19).expect("second"));
        assert_eq!(decode(&compressed, 12).expect("frames"), b"first second");
        assert!(matches!(decode(&compressed, 11), Err(CompressError::TooLarge { limit: 11 })));
    }

    #[test]
    fn rejects_frames_with_a_window_above_the_cap() {
        // A streamed frame (no content size) declares the window it was
        // compressed with; 2^27 is zstd's default ceiling, above ours.
        let mut encoder = ::zstd::stream::Encoder::new(Vec::new(), 1).expect("encoder");
        encoder.window_log(ZSTD_WINDOW_LOG_MAX + 3).expect("window");
        encoder.write_all(&sample(1_000)).expect("write");
        let compressed = encoder.finish().expect("finish");
        assert!(matches!(decode(&compressed, 1 << 20), Err(CompressError::Corrupt { codec: "zstd", .. })));

        let mut encoder = ::zstd::stream::Encoder::new(Vec::new(), 1).expect("encoder");
        encoder.window_log(ZSTD_WINDOW_LOG_MAX).expect("window");
        encoder.write_all(&sample(1_000)).expect("write");
        let compressed = encoder.finish().expect("finish");
        assert_eq!(decode(&compressed, 1_000).expect("window at the cap"), sample(1_000));
    }

    #[test]
    fn frame_breaking_its_declared_content_size_with_an_empty_last_block_is_corrupt() {
        // Found by fuzzing (crates/fuzz/regressions/zstd/): a single-segment
        // frame that declares 694 bytes and ends with an empty raw block.
        // libzstd's streaming decoder returns no output and no error here;
        // its one-shot decoder refuses the frame, and so do we.
        let frame = [0x28, 0xb5, 0x2f, 0xfd, 0x60, 0xb6, 0x01, 0x01, 0x00, 0x00];
        assert!(::zstd::bulk::decompress(&frame, 1 << 20).is_err(), "the one-shot decoder refuses it");
        let result = decode(&frame, 1 << 20);
        assert!(matches!(result, Err(CompressError::Corrupt { codec: "zstd", .. })), "{result:?}");
        // The same frame declaring 0 bytes is valid and empty.
        let empty = [0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00, 0x01, 0x00, 0x00];
        assert_eq!(::zstd::bulk::decompress(&empty, 16).expect("one-shot").len(), 0);
        assert_eq!(decode(&empty, 16).expect("valid"), b"");
        // Concatenated after a valid frame, the broken one still fails.
        let mut both = ::zstd::bulk::compress(b"first", 1).expect("first");
        both.extend_from_slice(&frame);
        assert!(matches!(decode(&both, 1 << 20), Err(CompressError::Corrupt { .. })));
    }

    #[test]
    fn legacy_and_unknown_frames_are_refused() {
        // Magic numbers of the v0.1 and v0.7 formats, then one of no format.
        for magic in [0x1EB5_2FFD_u32, 0xFD2F_B527, 0x1234_5678] {
            let mut frame = magic.to_le_bytes().to_vec();
            frame.extend_from_slice(&[0; 16]);
            let result = decode(&frame, 1 << 20);
            assert!(matches!(result, Err(CompressError::Corrupt { codec: "zstd", .. })), "{magic:#x}: {result:?}");
        }
        // A valid frame followed by a legacy one.
        let mut both = ::zstd::bulk::compress(b"first", 1).expect("first");
        both.extend_from_slice(&0xFD2F_B527_u32.to_le_bytes());
        both.extend_from_slice(&[0; 16]);
        assert!(matches!(decode(&both, 1 << 20), Err(CompressError::Corrupt { .. })));
        // Fewer than four bytes after a frame: a cut-off next frame.
        let mut short = ::zstd::bulk::compress(b"first", 1).expect("first");
        short.extend_from_slice(&[0x28, 0xb5]);
        assert!(matches!(decode(&short, 1 << 20), Err(CompressError::Truncated { .. })));
    }

    #[test]
    fn frame_declaring_a_huge_content_size_stays_bounded() {
        // A hand-made frame that promises 1 GiB but holds 5 bytes: only what
        // is decoded counts, the room grows in steps, and the broken promise
        // is an error.
        let mut frame = 0xFD2F_B528_u32.to_le_bytes().to_vec();
        // Descriptor: 4-byte content size, not single-segment; window 2^19.
        frame.extend_from_slice(&[0x80, 0x48]);
        frame.extend_from_slice(&(1_u32 << 30).to_le_bytes());
        // One last raw block of 5 bytes: (size << 3) | (raw << 1) | last.
        frame.extend_from_slice(&[(5 << 3) | 1, 0, 0]);
        frame.extend_from_slice(b"hello");
        let mut out = Vec::new();
        let result = Decompressor::new().decompress(Compression::ZSTD_DEFAULT, &frame, &mut out, 1 << 30);
        assert!(matches!(result, Err(CompressError::Corrupt { .. })), "{result:?}");
        assert!(out.is_empty());
        assert!(out.capacity() <= 1 << 20, "capacity {}", out.capacity());
    }
}
