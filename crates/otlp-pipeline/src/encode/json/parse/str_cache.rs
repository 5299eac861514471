//! [`StrCache`]: the strings of one document as model strings, repeats
//! shared.

use crate::model::Str;

/// Bounds of [`StrCache`]'s slot count, which grows with the input (one slot
/// per 512 bytes): small requests set up a small table, and a 512-span batch
/// gets 1024 slots, sparse enough that its few dozen recurring strings seldom
/// collide.
const MIN_SLOTS: usize = 64;
const MAX_SLOTS: usize = 1024;

/// Strings up to this length that are not cached are packed into shared
/// chunks of [`CHUNK`] bytes instead of an allocation each.
pub(super) const ARENA_MAX_STR: usize = 256;
/// 8 KiB: a dozen log bodies or a hundred URLs per allocation, and little
/// memory held if one string outlives the rest of its chunk.
const CHUNK: usize = 8 << 10;

/// Turns the strings of one document into model strings, sharing repeats.
///
/// OTLP batches repeat most of their strings (attribute keys, span names,
/// enum-like values), so a direct-mapped cache hands out a reference-counted
/// clone of an earlier copy instead of a new allocation. A string is cached
/// only the second time its slot sees it, so that one-off strings (URLs, log
/// bodies) do not evict the recurring ones; those are copied into shared
/// chunks (reference-counted slices), not allocated one by one.
pub(in crate::encode::json) struct StrCache {
    slots: Box<[Slot]>,
    /// `64 - log2(slots)`: the shift that turns a hash into a slot.
    shift: u32,
    chunk: bytes::BytesMut,
}

/// One entry of [`StrCache`]: the cached string, and the hash of the last
/// string that missed here (cached if it comes again).
struct Slot {
    str: Str,
    seen: u64,
}

impl StrCache {
    /// A cache sized for an input of `input_len` bytes.
    pub(in crate::encode::json) fn new(input_len: usize) -> Self {
        let slots = (input_len / 512).clamp(MIN_SLOTS, MAX_SLOTS).next_power_of_two();
        StrCache {
            // Built rather than cloned from one slot: no `Bytes` clone calls.
            slots: (0..slots).map(|_| Slot { str: Str::EMPTY, seen: 0 }).collect(),
            shift: 64 - slots.trailing_zeros(),
            chunk: bytes::BytesMut::new(),
        }
    }

    /// The model string for `s`.
    #[inline]
    pub(in crate::encode::json) fn get(&mut self, s: &str) -> Str {
        let b = s.as_bytes();
        if b.is_empty() {
            return Str::EMPTY;
        }
        let h = str_hash(b);
        // The top bits of the multiplicative hash are the well-mixed ones.
        let i = (h >> self.shift) as usize;
        if let Some(slot) = self.slots.get(i)
            && same_bytes(slot.str.as_bytes(), b)
        {
            return slot.str.clone();
        }
        self.miss(s, h, i)
    }

    /// [`StrCache::get`] that first tries slot `*hint`, where the caller
    /// found the string at the same place of the previous message, which
    /// saves the hashing: batches repeat their attribute lists key for key.
    /// A miss takes the usual way and leaves the string's slot in `*hint`.
    #[inline]
    pub(in crate::encode::json) fn get_hinted(&mut self, s: &str, hint: &mut u16) -> Str {
        if let Some(slot) = self.slots.get(usize::from(*hint))
            && same_bytes(slot.str.as_bytes(), s.as_bytes())
        {
            return slot.str.clone();
        }
        self.get_and_hint(s, hint)
    }

    #[inline(never)]
    fn get_and_hint(&mut self, s: &str, hint: &mut u16) -> Str {
        let b = s.as_bytes();
        if b.is_empty() {
            return Str::EMPTY;
        }
        let h = str_hash(b);
        let i = (h >> self.shift) as usize;
        // Slots number at most `MAX_SLOTS`, which fits.
        *hint = i as u16;
        if let Some(slot) = self.slots.get(i)
            && same_bytes(slot.str.as_bytes(), b)
        {
            return slot.str.clone();
        }
        self.miss(s, h, i)
    }

    /// A string not in its slot: cached if its slot saw it last time, else
    /// handed out as a one-off.
    #[inline(never)]
    fn miss(&mut self, s: &str, h: u64, i: usize) -> Str {
        let Some(slot) = self.slots.get_mut(i) else {
            return Str::copy_from(s);
        };
        if slot.seen == h {
            let copy = self.copy(s);
            if let Some(slot) = self.slots.get_mut(i) {
                slot.str = copy.clone();
            }
            return copy;
        }
        slot.seen = h;
        self.copy(s)
    }

    /// A copy of `s`: a slice of the current chunk, unless it is long. Cached
    /// strings are slices too, which also makes their clones a little
    /// cheaper (`Bytes`' shared representation).
    #[inline]
    fn copy(&mut self, s: &str) -> Str {
        if s.len() > ARENA_MAX_STR {
            return Str::copy_from(s);
        }
        if self.chunk.capacity() - self.chunk.len() < s.len() {
            self.chunk = bytes::BytesMut::with_capacity(CHUNK);
        }
        Str::copy_into(&mut self.chunk, s)
    }
}

/// A cheap hash of the length and the first and last (up to) 8 bytes: enough
/// to tell apart the strings of one batch, which mostly differ at an end.
#[inline]
fn str_hash(b: &[u8]) -> u64 {
    let n = b.len();
    let (head, tail) = if n >= 8 {
        (le64(&b[..8]), le64(&b[n - 8..]))
    } else if n >= 4 {
        (u64::from(le32(&b[..4])), u64::from(le32(&b[n - 4..])))
    } else {
        (u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16, 0)
    };
    (head ^ tail.rotate_left(29) ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
}

/// `a == b`, without a `memcmp` call: 8-byte words, the last one
/// overlapping, or for shorter strings two 4-byte words or single bytes.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        // The ends first: they settle strings of up to 16 bytes.
        if le64(&a[..8]) != le64(&b[..8]) || le64(&a[n - 8..]) != le64(&b[n - 8..]) {
            return false;
        }
        let mut i = 8;
        while i + 8 < n {
            if le64(&a[i..i + 8]) != le64(&b[i..i + 8]) {
                return false;
            }
            i += 8;
        }
        return true;
    }
    if n >= 4 {
        return le32(&a[..4]) == le32(&b[..4]) && le32(&a[n - 4..]) == le32(&b[n - 4..]);
    }
    // 1 to 3 bytes: the first, middle and last cover them all.
    n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1])
}

#[inline]
pub(super) fn le64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().expect("8 bytes"))
}

#[inline]
fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b.try_into().expect("4 bytes"))
}
