//! Trace-id ratio sampling, the decision a root span makes for its trace.

use crate::model::TraceId;

/// Samples a fraction of traces, decided by the trace id alone, so that every
/// service of a trace that samples at the same ratio keeps the same traces.
/// Same rule as the OpenTelemetry SDKs' `TraceIdRatioBased`: the last 8 bytes
/// of the id, big-endian, shifted right by one, below `ratio × 2^63`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Sampler {
    /// `ratio × 2^63`: ids whose 63 random bits fall below it are sampled.
    bound: u64,
}

/// 2^63: the upper end of the 63 bits a trace id is compared on.
const SCALE: f64 = (1u64 << 63) as f64;

impl Sampler {
    /// A sampler for `ratio`, already checked to be within `0.0..=1.0`.
    pub(super) fn new(ratio: f64) -> Self {
        // `as` saturates: 1.0 gives exactly 2^63, above every 63-bit value.
        Sampler { bound: (ratio.clamp(0.0, 1.0) * SCALE) as u64 }
    }

    /// Whether a trace that starts here with `trace_id` is sampled.
    #[inline]
    pub(super) fn sample(&self, trace_id: TraceId) -> bool {
        let b = trace_id.0;
        let low = u64::from_be_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]);
        (low >> 1) < self.bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(low: u64) -> TraceId {
        let mut b = [0xab; 16];
        b[8..].copy_from_slice(&low.to_be_bytes());
        TraceId(b)
    }

    #[test]
    fn the_ends_of_the_range_decide_every_trace() {
        let (never, always) = (Sampler::new(0.0), Sampler::new(1.0));
        for low in [0, 1, u64::MAX / 2, u64::MAX - 1, u64::MAX] {
            assert!(!never.sample(id(low)), "{low:#x}");
            assert!(always.sample(id(low)), "{low:#x}");
        }
    }

    #[test]
    fn half_keeps_the_lower_half_of_the_low_bytes() {
        let half = Sampler::new(0.5);
        // (low >> 1) < 2^62: low < 2^63.
        assert!(half.sample(id((1 << 63) - 1)));
        assert!(!half.sample(id(1 << 63)));
        // The high bytes do not take part.
        let mut high = id(0).0;
        high[..8].copy_from_slice(&[0xff; 8]);
        assert!(half.sample(TraceId(high)));
    }

    #[test]
    fn a_ratio_keeps_about_that_fraction_of_random_traces() {
        let s = Sampler::new(0.25);
        let n = 20_000;
        let kept = (0..n).filter(|_| s.sample(TraceId::random())).count();
        // Binomial(20000, 0.25): sd ≈ 61; 6 sd either side.
        assert!((4_634..=5_366).contains(&kept), "{kept} of {n}");
    }
}
