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
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Str(ByteString);

impl Str {
    /// An empty string.
    pub const EMPTY: Str = Str(ByteString::new());

    /// Wraps a static string without allocating.
    pub const fn from_static(s: &'static str) -> Self {
        Str(ByteString::from_static(s))
    }

    /// Copies a borrowed string.
    pub fn copy_from(s: &str) -> Self {
        Str(ByteString::from(s))
    }

    /// Takes shared bytes, validating UTF-8 with the SIMD validator.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        if crate::simd::validate_utf8(&bytes) {
            // SAFETY: `validate_utf8` just checked that `bytes` is valid UTF-8.
            #[allow(unsafe_code)]
            let s = unsafe { ByteString::from_bytes_unchecked(bytes) };
            Ok(Str(s))
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
        Str(s)
    }

    /// The string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The underlying shared bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        &self.0
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
        Str(ByteString::from(s.into_boxed_str()))
    }
}

impl From<Box<str>> for Str {
    fn from(s: Box<str>) -> Self {
        Str(ByteString::from(s))
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
