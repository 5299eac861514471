//! `Str`: the model's string type.

use std::fmt;
use std::ops::Deref;

use bytes::Bytes;
use bytestring::ByteString;

/// An immutable UTF-8 string that is cheap to clone and can borrow static data.
///
/// Static literals (attribute keys, span names in code) cost no allocation,
/// owned `String`s are taken over without copying, and decoders can hand out
/// slices of a shared request body. Cloning bumps a reference count.
#[derive(Clone)]
pub struct Str(Repr);

/// Static strings apart from shared ones: dropping or cloning a literal is
/// then a branch, where `Bytes` makes an indirect call through its vtable
/// even for static data, and most of the many strings a span drops are
/// literals. Same size: the static variant sits in the niche of `Bytes`'
/// vtable pointer.
#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(ByteString),
}

impl Str {
    /// An empty string.
    pub const EMPTY: Str = Str(Repr::Static(""));

    /// Wraps a static string without allocating.
    pub const fn from_static(s: &'static str) -> Self {
        Str(Repr::Static(s))
    }

    /// Copies a borrowed string.
    pub fn copy_from(s: &str) -> Self {
        Str(Repr::Shared(ByteString::from(s)))
    }

    /// Takes shared bytes, validating UTF-8 with the SIMD validator.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        if crate::simd::validate_utf8(&bytes) {
            // SAFETY: `validate_utf8` just checked that `bytes` is valid UTF-8.
            #[allow(unsafe_code)]
            let s = unsafe { ByteString::from_bytes_unchecked(bytes) };
            Ok(Str(Repr::Shared(s)))
        } else {
            // Only on the error path: std gives the position of the bad byte.
            Err(std::str::from_utf8(&bytes).expect_err("simdutf8 and std disagree"))
        }
    }

    /// Appends `s` to `chunk` and splits it off as a string: a copy into a
    /// shared buffer, with no allocation while `chunk` has room and no UTF-8
    /// check, since the bytes are those of a `&str`. Whatever `chunk` held
    /// before is dropped from it first.
    #[inline]
    pub(crate) fn copy_into(chunk: &mut bytes::BytesMut, s: &str) -> Self {
        chunk.clear();
        chunk.extend_from_slice(s.as_bytes());
        let bytes = chunk.split().freeze();
        // SAFETY: `chunk` was emptied, then given exactly the bytes of `s`,
        // and all of it was split off: `bytes` is a copy of a `&str`, hence
        // valid UTF-8.
        #[allow(unsafe_code)]
        let s = unsafe { ByteString::from_bytes_unchecked(bytes) };
        Str(Repr::Shared(s))
    }

    /// Formats into a string that shares a thread-local chunk with the
    /// strings formatted before it: `Str::format(format_args!("user:{id}"))`.
    ///
    /// `format!` allocates a `String` per call (and `Str::from(String)`
    /// shrinks it to size, a second trip to the allocator); here a chunk of
    /// 4 KiB serves some dozens of attribute values, each
    /// holding a reference to it, and is freed when the last of them is
    /// dropped. So a string kept for long keeps its whole chunk: meant for
    /// telemetry values that live until their batch is exported. Without
    /// arguments the literal itself is used, and a `Display` impl that
    /// formats with this itself falls back to a `String`.
    pub fn format(args: fmt::Arguments<'_>) -> Self {
        if let Some(s) = args.as_str() {
            return Str::from_static(s);
        }
        FORMAT_CHUNK
            .with(|chunks| {
                let mut chunks = chunks.try_borrow_mut().ok()?;
                let chunk = chunks.with_room();
                // Left over by a `Display` impl that panicked half-way.
                chunk.clear();
                // Only errors if a `Display` impl does: then, as `format!`
                // would panic, this keeps what was written so far.
                let _partial = fmt::Write::write_fmt(&mut ChunkWriter(chunk), args);
                let bytes = chunk.split().freeze();
                // SAFETY: the chunk was emptied, then given only whole
                // `&str`s by `ChunkWriter::write_str`, and all of it was split
                // off: `bytes` is valid UTF-8.
                #[allow(unsafe_code)]
                let s = unsafe { ByteString::from_bytes_unchecked(bytes) };
                Some(Str(Repr::Shared(s)))
            })
            .unwrap_or_else(|| Str::from(fmt::format(args)))
    }

    /// Copies `s` into the chunk [`Str::format`] formats into: the same
    /// string as `Str::format(format_args!("{s}"))`, without the formatting
    /// machinery (a plain copy; for the string values a `tracing` field
    /// hands over by reference, which cannot be kept as they are).
    pub fn copy_shared(s: &str) -> Self {
        FORMAT_CHUNK
            .try_with(|chunks| {
                let mut chunks = chunks.try_borrow_mut().ok()?;
                Some(Str::copy_into(chunks.with_room(), s))
            })
            .ok()
            .flatten()
            .unwrap_or_else(|| Str::copy_from(s))
    }

    /// Frees this thread's [`Str::format`] chunks now rather than at thread
    /// exit (strings formatted from them keep their part alive). A leak
    /// audit calls it after a job, so that this per-thread cache (at most
    /// 65 chunks of 4 KiB) is not counted as memory
    /// the job left behind.
    pub fn release_format_chunk() {
        // A `Display` impl calling this while `format` runs: leave it be.
        FORMAT_CHUNK.with(|chunks| {
            if let Ok(mut chunks) = chunks.try_borrow_mut() {
                *chunks = FormatChunks::new();
            }
        });
    }

    /// The string slice.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
        }
    }

    /// The string's bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

/// Size of the chunks [`Str::format`] formats into.
const FORMAT_CHUNK_BYTES: usize = 4096;

/// A chunk with less room than this is replaced before formatting, so that a
/// string rarely has to move to a new chunk half-way.
const FORMAT_CHUNK_MIN_ROOM: usize = 256;

/// Full chunks a thread keeps for reuse: once every string formatted into
/// the oldest of them has been dropped (its batch exported), it is taken
/// back instead of allocating a new one. 64 chunks hold the strings of a few
/// thousand spans in flight; past that, the oldest is let go (it is freed
/// when its last string is).
const FORMAT_CHUNKS_KEPT: usize = 64;

/// A thread's chunks: the one being filled and the full ones, oldest first.
struct FormatChunks {
    current: bytes::BytesMut,
    full: std::collections::VecDeque<bytes::BytesMut>,
}

impl FormatChunks {
    fn new() -> Self {
        FormatChunks { current: bytes::BytesMut::new(), full: std::collections::VecDeque::new() }
    }

    /// The chunk to write into, with at least [`FORMAT_CHUNK_MIN_ROOM`]
    /// bytes of room: the current one, or the oldest full one if none of
    /// its strings is left (a check of its reference count, no allocation),
    /// or a new one.
    #[inline]
    fn with_room(&mut self) -> &mut bytes::BytesMut {
        if self.current.capacity() - self.current.len() < FORMAT_CHUNK_MIN_ROOM {
            self.next_chunk();
        }
        &mut self.current
    }

    #[cold]
    fn next_chunk(&mut self) {
        // Unique (no string of it alive) and as large as a new chunk:
        // `try_reclaim` moves its view back to the start of its buffer.
        let reclaimed = self.full.front_mut().is_some_and(|oldest| oldest.try_reclaim(FORMAT_CHUNK_BYTES));
        let next = match self.full.pop_front() {
            Some(oldest) if reclaimed => oldest,
            // Still in use: it goes to the back, so that one string kept
            // for long does not stop the chunks behind it from coming back.
            Some(oldest) => {
                self.full.push_back(oldest);
                bytes::BytesMut::with_capacity(FORMAT_CHUNK_BYTES)
            }
            None => bytes::BytesMut::with_capacity(FORMAT_CHUNK_BYTES),
        };
        let full = std::mem::replace(&mut self.current, next);
        // A chunk that never served a string (the first, empty one) is not kept.
        if full.capacity() > 0 || !full.is_empty() {
            if self.full.len() == FORMAT_CHUNKS_KEPT {
                self.full.pop_front();
            }
            if self.full.capacity() == 0 {
                self.full.reserve_exact(FORMAT_CHUNKS_KEPT);
            }
            self.full.push_back(full);
        }
    }
}

thread_local! {
    static FORMAT_CHUNK: std::cell::RefCell<FormatChunks> = std::cell::RefCell::new(FormatChunks::new());
}

struct ChunkWriter<'a>(&'a mut bytes::BytesMut);

impl fmt::Write for ChunkWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

impl Default for Str {
    fn default() -> Self {
        Str::EMPTY
    }
}

// By content: a literal equals the same text decoded from a request.
impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Str {}

impl PartialOrd for Str {
    fn partial_cmp(&self, other: &Str) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Str {
    fn cmp(&self, other: &Str) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for Str {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Deref for Str {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for Str {
    fn from(s: &'static str) -> Self {
        Str::from_static(s)
    }
}

impl From<String> for Str {
    fn from(s: String) -> Self {
        // `Bytes::from(Vec)` only avoids a header allocation when len == capacity.
        Str(Repr::Shared(ByteString::from(s.into_boxed_str())))
    }
}

impl From<Box<str>> for Str {
    fn from(s: Box<str>) -> Self {
        Str(Repr::Shared(ByteString::from(s)))
    }
}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_shares_a_chunk_and_survives_its_replacement() {
        let a = Str::format(format_args!("user:{}", 7));
        let b = Str::format(format_args!("https://shop.example.com/api/users/{}", 12345));
        assert_eq!((a.as_str(), b.as_str()), ("user:7", "https://shop.example.com/api/users/12345"));
        // Enough strings to need several chunks: the early ones stay intact.
        let many: Vec<Str> = (0..1000).map(|i| Str::format(format_args!("value-{i:04}"))).collect();
        for (i, s) in many.iter().enumerate() {
            assert_eq!(s.as_str(), format!("value-{i:04}"));
        }
        assert_eq!(a, "user:7");
        // A literal is not copied; a long string moves to a fresh chunk.
        assert_eq!(Str::format(format_args!("static")), "static");
        let long = "x".repeat(3 * FORMAT_CHUNK_BYTES);
        assert_eq!(Str::format(format_args!("{long}!")).len(), long.len() + 1);
    }

    #[test]
    fn a_full_chunk_is_reused_once_its_strings_are_gone_and_never_while_one_lives() {
        // This thread's chunks only (each test runs on a thread of its own).
        Str::release_format_chunk();
        let fill = |tag: &str, chunks: usize| -> Vec<Str> {
            (0..chunks * FORMAT_CHUNK_BYTES / 16).map(|i| Str::format(format_args!("{tag}-{i:010}"))).collect()
        };
        let base = |s: &Str| s.as_ptr() as usize;
        let first = fill("a", 2);
        let first_chunk = base(&first[0]);
        // Strings of a live chunk are never overwritten.
        let kept = first[0].clone();
        drop(first);
        let second = fill("b", 2);
        assert_eq!(kept.as_str(), format!("a-{:010}", 0));
        assert!(second.iter().all(|s| base(s) != first_chunk), "a chunk with a live string was reused");
        drop(kept);
        // Its last string gone, the first chunk comes back: one more chunk's
        // worth of strings lands in it instead of a new allocation.
        let third = fill("c", 8);
        assert!(third.iter().any(|s| base(s) == first_chunk), "the freed chunk was not reused");
        for (i, s) in third.iter().enumerate() {
            assert_eq!(s.as_str(), format!("c-{i:010}"));
        }
        for (i, s) in second.iter().enumerate() {
            assert_eq!(s.as_str(), format!("b-{i:010}"));
        }
        Str::release_format_chunk();
    }

    #[test]
    fn copy_shared_copies_into_the_format_chunk() {
        let a = Str::copy_shared("GET");
        let b = Str::copy_shared("");
        let long = "y".repeat(2 * FORMAT_CHUNK_BYTES);
        let c = Str::copy_shared(&long);
        let d = Str::format(format_args!("after-{}", 1));
        assert_eq!((a.as_str(), b.as_str(), c.as_str(), d.as_str()), ("GET", "", long.as_str(), "after-1"));
    }

    #[test]
    fn a_literal_and_a_shared_string_of_the_same_text_are_equal() {
        use std::collections::hash_map::DefaultHasher;
        use std::hash::{Hash, Hasher};
        let hash = |s: &Str| {
            let mut h = DefaultHasher::new();
            s.hash(&mut h);
            h.finish()
        };
        let (lit, shared) = (Str::from_static("db.system"), Str::copy_from("db.system"));
        assert_eq!(lit, shared);
        assert_eq!(hash(&lit), hash(&shared));
        assert_eq!(lit.cmp(&Str::copy_from("db.systen")), std::cmp::Ordering::Less);
        assert_eq!(Str::default(), Str::copy_from(""));
        assert_eq!(size_of::<Str>(), size_of::<Bytes>());
    }

    #[test]
    fn format_inside_a_display_impl_falls_back() {
        struct Nested;
        impl fmt::Display for Nested {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&Str::format(format_args!("inner-{}", 1)))
            }
        }
        assert_eq!(Str::format(format_args!("outer-{}", Nested)), "outer-inner-1");
    }
}
