//! Compression of encoded payloads for OTLP's `Content-Encoding`: gzip and zstd.
//!
//! Owns: the codec choice ([`Compression`], parsed from what a person types and
//! mapped to the HTTP header), reusable codec contexts ([`Compressor`],
//! [`Decompressor`]) so that compressing in steady state allocates nothing, and
//! the limits that make decompressing untrusted input safe: an output cap that
//! stops a decompression bomb as soon as it is exceeded, a cap on the zstd
//! window the C library may allocate, and errors, never panics or endless
//! loops, for corrupt or truncated input.
//!
//! Does not own: buffers (callers pass `Vec<u8>`s, usually from
//! [`crate::pool`]), HTTP negotiation and status codes (the transport and the
//! receiver map [`CompressError`] to 400, 413 or 415), and threads: contexts
//! take `&mut self`, so each worker owns its own [`Compressor`] and
//! [`Decompressor`].

mod gzip;
mod zstd;

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Why compression or decompression failed.
///
/// Errors are rare and off the hot path, so variants may carry an
/// [`std::io::Error`] (which allocates); the success path never builds one.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CompressError {
    /// The decompressed data would exceed the caller's `max_output` limit.
    ///
    /// Returned as soon as one byte past the limit is produced, so the rest
    /// of a decompression bomb is never expanded (HTTP 413 at the receiver).
    #[error("decompressed data exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The `max_output` the caller passed.
        limit: usize,
    },
    /// The input is not valid data of the codec: bad magic or header, an
    /// invalid block, a checksum or length mismatch, trailing garbage, or a
    /// zstd frame that needs a larger window than [`ZSTD_WINDOW_LOG_MAX`]
    /// allows.
    #[error("corrupt {codec} data")]
    Corrupt {
        /// `"gzip"` or `"zstd"`.
        codec: &'static str,
        /// What the codec reported.
        #[source]
        source: std::io::Error,
    },
    /// The input ended before the end of the compressed stream (including an
    /// empty input, which holds no gzip member and no zstd frame).
    #[error("truncated {codec} data")]
    Truncated {
        /// `"gzip"` or `"zstd"`.
        codec: &'static str,
    },
    /// The compression level is outside what the codec supports.
    #[error("{codec} level {level} is outside {min}..={max}")]
    InvalidLevel {
        /// `"gzip"` or `"zstd"`.
        codec: &'static str,
        /// The level asked for (`i64` holds both gzip's `u32` and zstd's `i32`).
        level: i64,
        /// Lowest supported level.
        min: i64,
        /// Highest supported level.
        max: i64,
    },
    /// The text names no codec we support (from [`Compression::from_str`] or
    /// [`Compression::from_content_encoding`]; HTTP 415 at the receiver).
    #[error("unknown compression `{input}` (expected none, gzip[:0-9] or zstd[:level])")]
    UnknownCodec {
        /// The text as given.
        input: Box<str>,
    },
    /// The codec itself failed on valid arguments (for example the C library
    /// could not allocate a context).
    #[error("{codec} failed: {message}")]
    Codec {
        /// `"gzip"` or `"zstd"`.
        codec: &'static str,
        /// The codec's own description of the failure.
        message: &'static str,
    },
}

/// Largest zstd window, as a power of two, that the [`Decompressor`] accepts:
/// 2^24 = 16 MiB.
///
/// A zstd frame header declares the window the decoder must keep, and the C
/// library allocates it (outside Rust's allocator, so no Rust-side limit sees
/// it); zstd's own default ceiling is 2^27 = 128 MiB per request. 16 MiB covers
/// every frame our [`Compressor`] writes for payloads up to 16 MiB at any
/// level, and any payload size at levels up to 19, and frames from other
/// OTLP peers (which use low levels); a hostile header asking for more is
/// rejected as [`CompressError::Corrupt`] before anything is allocated.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 24;

/// A payload codec and its level.
///
/// Parses from and displays as what a person types: `none`, `gzip`, `zstd`,
/// or with a level, `gzip:1`, `zstd:3`, `zstd:-5` (case-insensitive). A codec
/// without a level means its default ([`Compression::GZIP_DEFAULT`],
/// [`Compression::ZSTD_DEFAULT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// Send the payload as it is.
    #[default]
    None,
    /// gzip (deflate, RFC 1952); levels 0 (stored) to 9 (smallest).
    Gzip {
        /// 0..=9.
        level: u32,
    },
    /// Zstandard (RFC 8878); levels from zstd's negative "fast" levels up to
    /// 22. Level 0 means zstd's own default (3).
    Zstd {
        /// zstd's `min_c_level()..=max_c_level()`.
        level: i32,
    },
}

/// gzip's default level: zlib's and every gzip tool's, so sizes compare with
/// what peers send.
const GZIP_DEFAULT_LEVEL: u32 = 6;
/// Highest deflate level; 10 (miniz's "uber" mode) is not portable.
const GZIP_MAX_LEVEL: u32 = 9;
/// zstd level 1: the fastest standard level, and still smaller than gzip -6
/// on OTLP payloads; the encode + compress target is set for it.
const ZSTD_DEFAULT_LEVEL: i32 = 1;

impl Compression {
    /// zstd at level 1, the default for exporting.
    pub const ZSTD_DEFAULT: Self = Self::Zstd { level: ZSTD_DEFAULT_LEVEL };
    /// gzip at level 6.
    pub const GZIP_DEFAULT: Self = Self::Gzip { level: GZIP_DEFAULT_LEVEL };

    /// The HTTP `Content-Encoding` (and gRPC `grpc-encoding`) value, or `None`
    /// when the payload is sent as it is and the header is omitted.
    pub const fn content_encoding(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Gzip { .. } => Some("gzip"),
            Self::Zstd { .. } => Some("zstd"),
        }
    }

    /// The codec named by an HTTP `Content-Encoding` (or `grpc-encoding`)
    /// value, at its default level (decompression ignores levels).
    ///
    /// Accepts `gzip`, `x-gzip`, `zstd` and `identity` (case-insensitive); an
    /// absent header is [`Compression::None`] and is the caller's business.
    pub fn from_content_encoding(value: &str) -> Result<Self, CompressError> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("identity") {
            Ok(Self::None)
        } else if value.eq_ignore_ascii_case("gzip") || value.eq_ignore_ascii_case("x-gzip") {
            Ok(Self::GZIP_DEFAULT)
        } else if value.eq_ignore_ascii_case("zstd") {
            Ok(Self::ZSTD_DEFAULT)
        } else {
            Err(CompressError::UnknownCodec { input: value.into() })
        }
    }

    /// The codec's name as used in errors and [`fmt::Display`].
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip { .. } => "gzip",
            Self::Zstd { .. } => "zstd",
        }
    }

    /// Checks the level, so a bad configuration fails at start-up rather than
    /// on the first batch.
    pub fn validate(self) -> Result<(), CompressError> {
        match self {
            Self::None => Ok(()),
            Self::Gzip { level } if level <= GZIP_MAX_LEVEL => Ok(()),
            Self::Gzip { level } => Err(CompressError::InvalidLevel {
                codec: "gzip",
                level: i64::from(level),
                min: 0,
                max: i64::from(GZIP_MAX_LEVEL),
            }),
            Self::Zstd { level } => zstd::validate_level(level),
        }
    }

    /// Worst-case size of [`Compressor::compress`]'s output for `input_len`
    /// bytes of input.
    ///
    /// [`Compressor::compress`] reserves this much room in `out` up front, so
    /// a buffer with this much spare capacity is what "enough capacity" means
    /// for its no-allocation guarantee; size pooled buffers with it.
    pub fn max_compressed_len(self, input_len: usize) -> usize {
        match self {
            Self::None => input_len,
            Self::Gzip { .. } => gzip::max_compressed_len(input_len),
            Self::Zstd { .. } => zstd::max_compressed_len(input_len),
        }
    }
}

impl fmt::Display for Compression {
    /// Writes the form [`Compression::from_str`] reads back, leaving out a
    /// default level so that the common case reads `gzip` or `zstd`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::None => f.write_str("none"),
            Self::Gzip { level: GZIP_DEFAULT_LEVEL } => f.write_str("gzip"),
            Self::Gzip { level } => write!(f, "gzip:{level}"),
            Self::Zstd { level: ZSTD_DEFAULT_LEVEL } => f.write_str("zstd"),
            Self::Zstd { level } => write!(f, "zstd:{level}"),
        }
    }
}

impl FromStr for Compression {
    type Err = CompressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || CompressError::UnknownCodec { input: s.into() };
        let (name, level) = match s.split_once(':') {
            Some((name, level)) => (name, Some(level)),
            None => (s, None),
        };
        let codec = if name.eq_ignore_ascii_case("none") && level.is_none() {
            Self::None
        } else if name.eq_ignore_ascii_case("gzip") {
            match level {
                None => Self::GZIP_DEFAULT,
                Some(level) => Self::Gzip { level: level.parse().map_err(|_| unknown())? },
            }
        } else if name.eq_ignore_ascii_case("zstd") {
            match level {
                None => Self::ZSTD_DEFAULT,
                Some(level) => Self::Zstd { level: level.parse().map_err(|_| unknown())? },
            }
        } else {
            return Err(unknown());
        };
        codec.validate()?;
        Ok(codec)
    }
}

/// How many levels of one codec a [`Compressor`] keeps contexts for.
///
/// An exporter uses one level; a bench sweeping levels uses a handful. Each
/// zstd context holds its C workspace (about 1 MiB at level 1, tens of MiB at
/// level 19) and each deflate context about 300 KiB, so past four levels the
/// least recently used context is dropped rather than kept forever.
const MAX_LEVELS_PER_CODEC: usize = 4;

/// Reusable compression contexts, one per codec and level in use.
///
/// After the first call with a given codec and level, [`Compressor::compress`]
/// performs no Rust heap allocation as long as `out` has
/// [`Compression::max_compressed_len`] bytes of spare capacity, and reuses
/// zstd's C context (and its workspace) instead of creating one per call.
#[derive(Default)]
pub struct Compressor {
    gzip: LevelCache<gzip::Encoder>,
    zstd: LevelCache<zstd::Encoder>,
}

impl Compressor {
    /// A compressor with no contexts yet: each is created on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compresses `input` with `codec` and appends the result to `out`.
    ///
    /// The output is one complete gzip member or zstd frame (with the content
    /// size, without a checksum: TCP and HTTP already carry the payload
    /// intact, and the decoder's length checks catch truncation).
    /// [`Compression::None`] appends `input` unchanged. On error `out` is left
    /// as it was.
    pub fn compress(&mut self, codec: Compression, input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressError> {
        let start = out.len();
        let result = match codec {
            Compression::None => {
                out.extend_from_slice(input);
                Ok(())
            }
            Compression::Gzip { level } => {
                codec.validate()?;
                let encoder = self.gzip.get_or_insert(level, || Ok(gzip::Encoder::new(level)))?;
                encoder.compress(input, out)
            }
            Compression::Zstd { level } => {
                codec.validate()?;
                // The level was validated above, so it fits the cache's key.
                let key = level_key(level);
                let encoder = self.zstd.get_or_insert(key, || zstd::Encoder::new(level))?;
                encoder.compress(input, out)
            }
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }
}

impl fmt::Debug for Compressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compressor")
            .field("gzip_levels", &self.gzip.levels())
            .field("zstd_levels", &self.zstd.levels())
            .finish()
    }
}

/// Maps a zstd level (which may be negative) onto the cache's `u32` key
/// without colliding with another level.
fn level_key(level: i32) -> u32 {
    level.cast_unsigned()
}

/// Reusable decompression contexts, one per codec, created on first use.
///
/// Decompression streams into `out` in growing steps and never lets the
/// output pass `max_output`: memory stays bounded by the caller's limit (plus
/// the zstd window, capped by [`ZSTD_WINDOW_LOG_MAX`], on the C side), and a
/// bomb is stopped after expanding only `max_output + 1` bytes. Once `out`
/// has room for the output, steady-state decompression allocates nothing.
#[derive(Default)]
pub struct Decompressor {
    gzip: Option<gzip::Decoder>,
    zstd: Option<zstd::Decoder>,
}

impl Decompressor {
    /// A decompressor with no contexts yet: each is created on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decompresses `input`, which was compressed with `codec` (its level is
    /// ignored), appending at most `max_output` bytes to `out`.
    ///
    /// Accepts concatenated gzip members and concatenated zstd frames, as the
    /// formats allow. Fails with [`CompressError::TooLarge`] as soon as the
    /// output would exceed `max_output`, [`CompressError::Truncated`] if the
    /// input ends early (an empty input included), and
    /// [`CompressError::Corrupt`] for anything else that is not valid data.
    /// On error `out` is truncated back to its length on entry (its capacity
    /// may have grown, up to the limit).
    pub fn decompress(
        &mut self,
        codec: Compression,
        input: &[u8],
        out: &mut Vec<u8>,
        max_output: usize,
    ) -> Result<(), CompressError> {
        let mut bounded = BoundedOut::new(out, max_output);
        let result = match codec {
            Compression::None => bounded.copy_from(input),
            Compression::Gzip { .. } => {
                let decoder = self.gzip.get_or_insert_with(gzip::Decoder::new);
                decoder.decompress(input, &mut bounded)
            }
            Compression::Zstd { .. } => {
                let decoder = match &mut self.zstd {
                    Some(decoder) => decoder,
                    slot => slot.insert(zstd::Decoder::new()?),
                };
                decoder.decompress(input, &mut bounded)
            }
        };
        match result {
            Ok(()) => {
                bounded.finish();
                Ok(())
            }
            Err(error) => {
                bounded.abort();
                Err(error)
            }
        }
    }
}

impl fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decompressor").field("gzip", &self.gzip.is_some()).field("zstd", &self.zstd.is_some()).finish()
    }
}

/// A small most-recently-used cache of codec contexts keyed by level.
struct LevelCache<T> {
    slots: Vec<Slot<T>>,
    /// Logical clock for least-recently-used eviction.
    tick: u64,
}

struct Slot<T> {
    level: u32,
    last_used: u64,
    context: T,
}

impl<T> Default for LevelCache<T> {
    fn default() -> Self {
        // Reserved up front so that adding a context never reallocates the
        // slot list on the compress path.
        Self { slots: Vec::with_capacity(MAX_LEVELS_PER_CODEC), tick: 0 }
    }
}

impl<T> LevelCache<T> {
    fn get_or_insert(
        &mut self,
        level: u32,
        make: impl FnOnce() -> Result<T, CompressError>,
    ) -> Result<&mut T, CompressError> {
        self.tick += 1;
        let index = match self.slots.iter().position(|slot| slot.level == level) {
            Some(index) => index,
            None => {
                let slot = Slot { level, last_used: 0, context: make()? };
                if self.slots.len() < MAX_LEVELS_PER_CODEC {
                    self.slots.push(slot);
                    self.slots.len() - 1
                } else {
                    let (oldest, _) = self
                        .slots
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, slot)| slot.last_used)
                        .expect("the cache is full, so it has a slot");
                    self.slots[oldest] = slot;
                    oldest
                }
            }
        };
        let slot = &mut self.slots[index];
        slot.last_used = self.tick;
        Ok(&mut slot.context)
    }

    fn levels(&self) -> Vec<u32> {
        self.slots.iter().map(|slot| slot.level).collect()
    }
}

/// Smallest step by which decompression grows `out`: large enough that a
/// typical OTLP payload takes a few steps, small enough that a tiny payload
/// does not zero-fill much it will not use.
const MIN_DECOMPRESS_STEP: usize = 32 * 1024;

/// The output side of one decompression call: hands the decoder zeroed room
/// at the end of `out` in growing steps, never past one byte beyond the
/// limit, so that "more than `max_output`" is observable without expanding
/// any further.
///
/// Invariant: `start <= filled <= out.len() <= end`, and `out[filled..]` is
/// zeroed scratch that [`BoundedOut::finish`] cuts off.
struct BoundedOut<'a> {
    out: &'a mut Vec<u8>,
    /// `out.len()` on entry; restored on error.
    start: usize,
    /// End of the decompressed data in `out`.
    filled: usize,
    /// `start + max_output + 1` (saturating): the room never reaches past it.
    end: usize,
    limit: usize,
}

impl<'a> BoundedOut<'a> {
    fn new(out: &'a mut Vec<u8>, limit: usize) -> Self {
        let start = out.len();
        let end = start.saturating_add(limit).saturating_add(1);
        Self { out, start, filled: start, end, limit }
    }

    /// Decompressed bytes so far.
    fn produced(&self) -> usize {
        self.filled - self.start
    }

    fn too_large(&self) -> CompressError {
        CompressError::TooLarge { limit: self.limit }
    }

    /// Zeroed room after the data, never empty: [`CompressError::TooLarge`]
    /// once the limit has been passed.
    fn room(&mut self) -> Result<&mut [u8], CompressError> {
        if self.produced() > self.limit {
            return Err(self.too_large());
        }
        if self.out.len() == self.filled {
            // Doubling what was produced keeps the number of steps
            // logarithmic and the zero-filling linear in the output.
            let step = self.produced().max(MIN_DECOMPRESS_STEP);
            let new_len = self.filled.saturating_add(step).min(self.end);
            if new_len > self.out.capacity() {
                // `resize` alone may round the capacity up to double the old
                // one, past the limit; growing exactly keeps the peak memory
                // of a bomb at the limit.
                let target = self.out.capacity().saturating_mul(2).max(new_len).min(self.end);
                self.out.reserve_exact(target - self.out.len());
            }
            self.out.resize(new_len, 0);
        }
        Ok(&mut self.out[self.filled..])
    }

    /// Marks `n` bytes of the room as data, failing once past the limit.
    fn advance(&mut self, n: usize) -> Result<(), CompressError> {
        self.filled += n;
        debug_assert!(self.filled <= self.out.len());
        if self.produced() > self.limit { Err(self.too_large()) } else { Ok(()) }
    }

    /// The data appended by this call so far (for checksums).
    fn data_since(&self, from: usize) -> &[u8] {
        &self.out[from..self.filled]
    }

    /// Appends `input` unchanged, within the limit.
    fn copy_from(&mut self, input: &[u8]) -> Result<(), CompressError> {
        if input.len() > self.limit {
            return Err(self.too_large());
        }
        self.out.extend_from_slice(input);
        self.filled += input.len();
        Ok(())
    }

    fn finish(self) {
        self.out.truncate(self.filled);
    }

    fn abort(self) {
        self.out.truncate(self.start);
    }
}

/// An [`std::io::Error`] for [`CompressError::Corrupt`]; errors are off the
/// hot path, so the allocation does not matter.
fn corrupt(codec: &'static str, message: &'static str) -> CompressError {
    CompressError::Corrupt { codec, source: std::io::Error::new(std::io::ErrorKind::InvalidData, message) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic, mildly compressible text resembling encoded telemetry.
    pub(super) fn sample(len: usize) -> Vec<u8> {
        let mut state = 0x5EED_0001_u64;
        let mut data = Vec::with_capacity(len);
        while data.len() < len {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let line = format!("GET /api/users/{} status=200 span={:016x}\n", z % 1000, z);
            data.extend_from_slice(line.as_bytes());
        }
        data.truncate(len);
        data
    }

    /// Incompressible bytes (splitmix64 output).
    pub(super) fn noise(len: usize) -> Vec<u8> {
        let mut state = 0xDEAD_BEEF_u64;
        let mut data = Vec::with_capacity(len + 8);
        while data.len() < len {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            data.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        data.truncate(len);
        data
    }

    fn round_trip(codec: Compression, input: &[u8]) -> Vec<u8> {
        let mut compressor = Compressor::new();
        let mut decompressor = Decompressor::new();
        let mut compressed = Vec::new();
        compressor.compress(codec, input, &mut compressed).expect("compress");
        let mut restored = Vec::new();
        decompressor.decompress(codec, &compressed, &mut restored, input.len()).expect("decompress");
        assert_eq!(restored, input, "{codec} round trip");
        compressed
    }

    #[test]
    fn parses_what_people_type() {
        let cases = [
            ("none", Compression::None),
            ("gzip", Compression::GZIP_DEFAULT),
            ("zstd", Compression::ZSTD_DEFAULT),
            ("ZSTD", Compression::ZSTD_DEFAULT),
            ("zstd:3", Compression::Zstd { level: 3 }),
            ("zstd:-5", Compression::Zstd { level: -5 }),
            ("gzip:1", Compression::Gzip { level: 1 }),
            ("Gzip:9", Compression::Gzip { level: 9 }),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<Compression>().expect(text), expected, "{text}");
        }
        assert_eq!(Compression::default(), Compression::None);
    }

    #[test]
    fn display_reads_back() {
        for codec in [
            Compression::None,
            Compression::GZIP_DEFAULT,
            Compression::Gzip { level: 0 },
            Compression::ZSTD_DEFAULT,
            Compression::Zstd { level: 19 },
            Compression::Zstd { level: -7 },
        ] {
            let text = codec.to_string();
            assert_eq!(text.parse::<Compression>().expect(&text), codec);
        }
        assert_eq!(Compression::ZSTD_DEFAULT.to_string(), "zstd");
        assert_eq!(Compression::Zstd { level: 3 }.to_string(), "zstd:3");
        assert_eq!(Compression::Gzip { level: 1 }.to_string(), "gzip:1");
    }

    #[test]
    fn rejects_unknown_codecs_and_levels() {
        for text in ["", "brotli", "gzip:", "zstd:x", "none:1", "gzip:-1", "zstd:1:2", " zstd"] {
            assert!(
                matches!(text.parse::<Compression>(), Err(CompressError::UnknownCodec { .. })),
                "{text:?} should be unknown"
            );
        }
        for text in ["gzip:10", "zstd:23", "zstd:-9999999"] {
            assert!(
                matches!(text.parse::<Compression>(), Err(CompressError::InvalidLevel { .. })),
                "{text:?} should be an invalid level"
            );
        }
        let mut out = vec![7];
        let error = Compressor::new().compress(Compression::Gzip { level: 12 }, b"abc", &mut out);
        assert!(matches!(error, Err(CompressError::InvalidLevel { codec: "gzip", level: 12, .. })));
        assert_eq!(out, [7], "out untouched on error");
    }

    #[test]
    fn content_encoding_maps_both_ways() {
        assert_eq!(Compression::None.content_encoding(), None);
        assert_eq!(Compression::Gzip { level: 1 }.content_encoding(), Some("gzip"));
        assert_eq!(Compression::Zstd { level: 9 }.content_encoding(), Some("zstd"));
        assert_eq!(Compression::from_content_encoding("GZIP").expect("gzip"), Compression::GZIP_DEFAULT);
        assert_eq!(Compression::from_content_encoding("x-gzip").expect("x-gzip"), Compression::GZIP_DEFAULT);
        assert_eq!(Compression::from_content_encoding("zstd").expect("zstd"), Compression::ZSTD_DEFAULT);
        assert_eq!(Compression::from_content_encoding("identity").expect("identity"), Compression::None);
        assert!(matches!(Compression::from_content_encoding("br"), Err(CompressError::UnknownCodec { .. })));
    }

    #[test]
    fn round_trips_every_codec_and_several_levels() {
        let text = sample(200_000);
        let random = noise(70_000);
        let codecs = [
            Compression::None,
            Compression::Gzip { level: 0 },
            Compression::Gzip { level: 1 },
            Compression::GZIP_DEFAULT,
            Compression::Gzip { level: 9 },
            Compression::Zstd { level: -5 },
            Compression::Zstd { level: 0 },
            Compression::ZSTD_DEFAULT,
            Compression::Zstd { level: 3 },
            Compression::Zstd { level: 9 },
            Compression::Zstd { level: 19 },
        ];
        for codec in codecs {
            for input in [&[][..], b"x", &text, &random] {
                let compressed = round_trip(codec, input);
                assert!(
                    compressed.len() <= codec.max_compressed_len(input.len()),
                    "{codec}: {} > bound {}",
                    compressed.len(),
                    codec.max_compressed_len(input.len())
                );
            }
        }
    }

    #[test]
    fn compress_appends_and_reuses_contexts() {
        let input = sample(10_000);
        let mut compressor = Compressor::new();
        let mut decompressor = Decompressor::new();
        for codec in [Compression::GZIP_DEFAULT, Compression::ZSTD_DEFAULT] {
            let mut first = Vec::new();
            compressor.compress(codec, &input, &mut first).expect("compress");
            let mut out = b"prefix".to_vec();
            compressor.compress(codec, &input, &mut out).expect("compress again");
            assert_eq!(&out[..6], b"prefix");
            assert_eq!(&out[6..], &first[..], "{codec}: a reused context gives the same bytes");
            let mut restored = b"head".to_vec();
            decompressor.decompress(codec, &out[6..], &mut restored, input.len()).expect("decompress");
            assert_eq!(&restored[..4], b"head");
            assert_eq!(&restored[4..], &input[..]);
        }
    }

    #[test]
    fn level_cache_evicts_least_recently_used() {
        let input = sample(5_000);
        let mut compressor = Compressor::new();
        let levels = [1, 2, 3, 4, 5, 6, 1, 3];
        for level in levels {
            let codec = Compression::Zstd { level };
            let mut out = Vec::new();
            compressor.compress(codec, &input, &mut out).expect("compress");
            let mut restored = Vec::new();
            Decompressor::new().decompress(codec, &out, &mut restored, input.len()).expect("decompress");
            assert_eq!(restored, input);
        }
        let kept = compressor.zstd.levels();
        assert_eq!(kept.len(), MAX_LEVELS_PER_CODEC);
        for level in [1, 3, 5, 6] {
            assert!(kept.contains(&level_key(level)), "level {level} kept: {kept:?}");
        }
    }

    #[test]
    fn empty_compressed_input_is_truncated() {
        let mut decompressor = Decompressor::new();
        let mut out = Vec::new();
        decompressor.decompress(Compression::None, &[], &mut out, 0).expect("none accepts empty input");
        for codec in [Compression::GZIP_DEFAULT, Compression::ZSTD_DEFAULT] {
            let result = decompressor.decompress(codec, &[], &mut out, 1 << 20);
            assert!(matches!(result, Err(CompressError::Truncated { .. })), "{codec}: {result:?}");
        }
    }

    #[test]
    fn limit_exactly_at_the_output_size_passes() {
        let input = sample(100_000);
        let mut compressor = Compressor::new();
        let mut decompressor = Decompressor::new();
        for codec in [Compression::None, Compression::GZIP_DEFAULT, Compression::ZSTD_DEFAULT] {
            let mut compressed = Vec::new();
            compressor.compress(codec, &input, &mut compressed).expect("compress");

            let mut out = b"kept".to_vec();
            decompressor.decompress(codec, &compressed, &mut out, input.len()).expect("limit == size passes");
            assert_eq!(&out[4..], &input[..]);

            let mut out = b"kept".to_vec();
            let result = decompressor.decompress(codec, &compressed, &mut out, input.len() - 1);
            assert!(
                matches!(result, Err(CompressError::TooLarge { limit }) if limit == input.len() - 1),
                "{codec}: {result:?}"
            );
            assert_eq!(out, b"kept", "{codec}: out restored on error");
            assert!(out.capacity() <= 4 + input.len() + 1, "{codec}: never grows past the limit");

            let mut out = Vec::new();
            let result = decompressor.decompress(codec, &compressed, &mut out, 0);
            assert!(matches!(result, Err(CompressError::TooLarge { limit: 0 })), "{codec}: {result:?}");
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        let input = sample(3_000);
        let mut compressor = Compressor::new();
        let mut decompressor = Decompressor::new();
        for codec in [Compression::GZIP_DEFAULT, Compression::ZSTD_DEFAULT, Compression::Zstd { level: 19 }] {
            let mut compressed = Vec::new();
            compressor.compress(codec, &input, &mut compressed).expect("compress");
            for cut in 0..compressed.len() {
                let mut out = Vec::new();
                let result = decompressor.decompress(codec, &compressed[..cut], &mut out, 1 << 20);
                assert!(
                    matches!(result, Err(CompressError::Truncated { .. } | CompressError::Corrupt { .. })),
                    "{codec} cut at {cut}/{}: {result:?}",
                    compressed.len()
                );
                assert!(out.is_empty());
            }
            // The context is still usable after all those failures.
            let mut out = Vec::new();
            decompressor.decompress(codec, &compressed, &mut out, input.len()).expect("whole input");
            assert_eq!(out, input);
        }
    }

    #[test]
    fn corrupt_input_is_an_error_and_never_panics() {
        let input = sample(3_000);
        let mut compressor = Compressor::new();
        let mut decompressor = Decompressor::new();
        for codec in [Compression::GZIP_DEFAULT, Compression::ZSTD_DEFAULT] {
            let mut compressed = Vec::new();
            compressor.compress(codec, &input, &mut compressed).expect("compress");

            let mut bad_magic = compressed.clone();
            bad_magic[0] ^= 0xFF;
            let result = decompressor.decompress(codec, &bad_magic, &mut Vec::new(), 1 << 20);
            assert!(matches!(result, Err(CompressError::Corrupt { .. })), "{codec}: {result:?}");

            let mut trailing = compressed.clone();
            trailing.extend_from_slice(b"garbage!");
            let result = decompressor.decompress(codec, &trailing, &mut Vec::new(), 1 << 20);
            assert!(matches!(result, Err(CompressError::Corrupt { .. })), "{codec}: {result:?}");

            // Flip each byte in turn: any outcome but a panic or a hang is
            // fine, since without a checksum some flips decode to other data.
            for index in 0..compressed.len() {
                let mut flipped = compressed.clone();
                flipped[index] ^= 0x55;
                let mut out = Vec::new();
                if decompressor.decompress(codec, &flipped, &mut out, 1 << 20).is_err() {
                    assert!(out.is_empty());
                }
            }
            let mut out = Vec::new();
            decompressor.decompress(codec, &compressed, &mut out, input.len()).expect("context still usable");
            assert_eq!(out, input);

            let garbage = noise(4_096);
            assert!(decompressor.decompress(codec, &garbage, &mut Vec::new(), 1 << 20).is_err());
        }
    }

    #[test]
    fn contexts_are_send() {
        fn is_send<T: Send>() {}
        is_send::<Compressor>();
        is_send::<Decompressor>();
        is_send::<CompressError>();
    }

    #[test]
    fn errors_read_well() {
        let error = CompressError::TooLarge { limit: 16 };
        assert_eq!(error.to_string(), "decompressed data exceeds the limit of 16 bytes");
        let error = "zstd:99".parse::<Compression>().expect_err("level 99");
        assert_eq!(error.to_string(), "zstd level 99 is outside -131072..=22");
        let crate_error: crate::Error = error.into();
        assert!(matches!(crate_error, crate::Error::Compress(_)));
    }
}
