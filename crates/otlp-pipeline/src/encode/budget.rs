//! The decode budget: how much heap memory one decode may allocate for what
//! it builds, and the meter the decoders charge before each allocation.

use super::EncodeError;

/// The most heap memory one decode may allocate for what it builds (the
/// model's vectors), counted before each allocation is made.
///
/// A request body is small on the wire but can describe a much larger model:
/// an empty repeated message is 2 bytes of protobuf (3 of JSON, `{},`) and
/// becomes a model element of 60 to 300 bytes, and a 1-byte varint in a
/// packed field becomes a `u64`. Decompression limits bound the body, not
/// what it decodes to; the budget bounds that. A decode that would go over
/// fails with [`EncodeError::OverBudget`] before it allocates the memory that
/// would take it over, so the memory a refused decode holds at its peak stays
/// below the budget.
///
/// What is counted is what is allocated, never given back: memory a decode
/// frees along the way (a value replaced by a later one) stays charged. For
/// protobuf the count is exact: strings and bytes are slices of the body and
/// cost nothing. The OTLP/JSON parser (`json::parse_traces_within` and its
/// twins) charges its buffers, tape and string copies up front from a bound
/// computed over the input, then the model's vectors as they grow.
///
/// A receiver should decode with a budget; 64 MiB per request is the
/// suggested default (the receiver's default): it holds any well-formed
/// protobuf request within a 16 MiB decompressed limit whose model is up to
/// four times its wire size, while keeping one hostile request far below
/// the hundreds of MiB it could otherwise take. [`DecodeBudget::UNLIMITED`] is what the decoders without
/// `_within` in their name use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeBudget {
    max: usize,
}

impl DecodeBudget {
    /// No limit (`usize::MAX` bytes).
    pub const UNLIMITED: DecodeBudget = DecodeBudget { max: usize::MAX };

    /// At most `max` bytes.
    pub const fn bytes(max: usize) -> DecodeBudget {
        DecodeBudget { max }
    }

    /// The limit in bytes.
    pub const fn max_bytes(self) -> usize {
        self.max
    }
}

impl Default for DecodeBudget {
    /// [`DecodeBudget::UNLIMITED`], what the decoders without a budget use.
    fn default() -> Self {
        DecodeBudget::UNLIMITED
    }
}

/// A decode went over its budget of `limit` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OverBudget {
    pub(crate) limit: usize,
}

impl From<OverBudget> for EncodeError {
    #[cold]
    fn from(e: OverBudget) -> Self {
        EncodeError::OverBudget { limit: e.limit }
    }
}

/// What is left of a [`DecodeBudget`] during one decode. Every allocation a
/// decoder makes for its output goes through it, so that the charge is the
/// real allocation: vectors grow only through [`Meter::room`] and
/// [`Meter::reserve`], which compute the new capacity, charge it, and then
/// reserve exactly that.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meter {
    left: usize,
    limit: usize,
}

impl Meter {
    pub(crate) const fn new(budget: DecodeBudget) -> Self {
        Meter { left: budget.max, limit: budget.max }
    }

    /// Takes `bytes` from what is left, or fails (and then fails every later
    /// charge of a byte or more too).
    #[inline]
    pub(crate) fn charge(&mut self, bytes: usize) -> Result<(), OverBudget> {
        if bytes > self.left {
            return Err(self.refuse());
        }
        self.left -= bytes;
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn refuse(&mut self) -> OverBudget {
        self.left = 0;
        OverBudget { limit: self.limit }
    }

    /// Bytes charged so far.
    #[cfg(test)]
    pub(crate) fn charged(&self) -> usize {
        self.limit - self.left
    }

    /// Makes room in `v` for one more element: a no-op while it has spare
    /// capacity, else grows it as [`Meter::grow`] says.
    #[inline(always)]
    pub(crate) fn room<T>(&mut self, v: &mut Vec<T>) -> Result<(), OverBudget> {
        if v.len() == v.capacity() { self.grow(v) } else { Ok(()) }
    }

    /// A vector with room for `n` elements, charged first.
    #[inline]
    pub(crate) fn with_capacity<T>(&mut self, n: usize) -> Result<Vec<T>, OverBudget> {
        self.charge(n.saturating_mul(size_of::<T>()))?;
        Ok(Vec::with_capacity(n))
    }

    /// Appends `x` to `v`, growing it through [`Meter::room`].
    #[inline(always)]
    pub(crate) fn push<T>(&mut self, v: &mut Vec<T>, x: T) -> Result<(), OverBudget> {
        self.room(v)?;
        v.push(x);
        Ok(())
    }

    /// Doubles a full vector's capacity, at least to [`min_capacity`], as
    /// `Vec` itself would; charges the new part, then reserves exactly it.
    #[cold]
    #[inline(never)]
    pub(crate) fn grow<T>(&mut self, v: &mut Vec<T>) -> Result<(), OverBudget> {
        let cap = v.capacity();
        let new_cap = cap.saturating_mul(2).max(min_capacity::<T>());
        self.charge((new_cap - cap).saturating_mul(size_of::<T>()))?;
        v.reserve_exact(new_cap - v.len());
        Ok(())
    }

    /// Makes room in `v` for `additional` more elements, reserving exactly
    /// that (a capacity hint from a count of the elements to come).
    #[inline]
    pub(crate) fn reserve<T>(&mut self, v: &mut Vec<T>, additional: usize) -> Result<(), OverBudget> {
        let cap = v.capacity();
        let needed = v.len().saturating_add(additional);
        if needed <= cap {
            return Ok(());
        }
        self.charge((needed - cap).saturating_mul(size_of::<T>()))?;
        v.reserve_exact(additional);
        Ok(())
    }
}

/// The first capacity of a vector that grows one element at a time: `Vec`'s
/// own choice (8 for bytes, 4 for elements up to 1 KiB, else 1).
const fn min_capacity<T>() -> usize {
    match size_of::<T>() {
        1 => 8,
        n if n <= 1024 => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_the_capacity_reserved() {
        let mut m = Meter::new(DecodeBudget::bytes(1000));
        let mut v: Vec<u64> = Vec::new();
        for i in 0..9 {
            m.push(&mut v, i).expect("within the budget");
        }
        // 4, 8, then 16 elements of 8 bytes.
        assert_eq!((v.capacity(), m.charged()), (16, 16 * 8));
        m.reserve(&mut v, 100).expect("within the budget");
        assert_eq!((v.capacity(), m.charged()), (109, 109 * 8));
        assert_eq!(m.reserve(&mut v, 200), Err(OverBudget { limit: 1000 }));
        assert_eq!(v.capacity(), 109, "nothing reserved over the budget");
        assert_eq!(m.charge(1), Err(OverBudget { limit: 1000 }), "later charges fail too");
    }

    #[test]
    fn a_budget_is_exact() {
        let mut m = Meter::new(DecodeBudget::bytes(32));
        assert_eq!(m.charge(32), Ok(()));
        let mut m = Meter::new(DecodeBudget::bytes(31));
        assert_eq!(m.charge(32), Err(OverBudget { limit: 31 }));
        let mut m = Meter::new(DecodeBudget::UNLIMITED);
        assert_eq!(m.charge(usize::MAX / 2), Ok(()));
        assert_eq!(DecodeBudget::default(), DecodeBudget::UNLIMITED);
        assert_eq!(DecodeBudget::bytes(7).max_bytes(), 7);
    }
}
