//! Retry policy: how many attempts, how long to wait between them (exponential
//! backoff with full jitter), and when to give up.
//!
//! Pure and clock-free: the caller passes the time elapsed since the export
//! began, so the policy is unit-tested without sleeping.

use std::time::Duration;

use super::Retry;

/// How an export is retried.
///
/// The budget is whichever runs out first: `max_attempts` tries, or
/// `max_elapsed` of waiting. `max_elapsed` bounds when the last attempt may
/// *start*; an export can therefore last up to `max_elapsed` plus one
/// per-attempt timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryConfig {
    /// Tries per export, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// Upper bound of the first delay; each later bound doubles.
    pub initial_backoff: Duration,
    /// Cap of the delay bound (a server's `Retry-After` may exceed it).
    pub max_backoff: Duration,
    /// No retry starts later than this after the export began.
    pub max_elapsed: Duration,
}

impl Default for RetryConfig {
    /// Between the OpenTelemetry exporters' usual settings, scaled for a
    /// small lab machine:
    ///
    /// - 5 attempts, as the Java OTLP exporter: with a breaker in front, more
    ///   tries mostly add load on a receiver that is already struggling.
    /// - 100 ms initial bound, as the Rust `opentelemetry-otlp` retry policy: a
    ///   blip (a collector restart, one dropped connection) is retried at once.
    ///   The collector's 5 s would hold a batch for seconds on a 2-core box
    ///   where the receiver is in-process.
    /// - 5 s cap, as the Java exporter: with 5 attempts the bounds are 0.1,
    ///   0.2, 0.4 and 0.8 s, so the cap only binds when a caller raises
    ///   `max_attempts` (from the 7th wait on); it then keeps probing a long
    ///   outage every few seconds rather than every few minutes.
    /// - 30 s elapsed, a tenth of the collector's 300 s: long enough for a few
    ///   breaker cycles (see `BreakerConfig`), short enough that a dead
    ///   receiver does not pin batches (and their pooled buffers) for minutes.
    fn default() -> Self {
        RetryConfig {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(30),
        }
    }
}

impl RetryConfig {
    /// Checks the settings; [`crate::transport::Resilient::new`] refuses bad ones.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError::Zero("max_attempts"));
        }
        // A zero bound would make every delay zero: a hot retry loop.
        if self.initial_backoff.is_zero() {
            return Err(ConfigError::Zero("initial_backoff"));
        }
        if self.max_elapsed.is_zero() {
            return Err(ConfigError::Zero("max_elapsed"));
        }
        if self.max_backoff < self.initial_backoff {
            return Err(ConfigError::BackoffBelowInitial { initial: self.initial_backoff, max: self.max_backoff });
        }
        Ok(())
    }
}

/// A transport setting the exporter cannot run with (retry, breaker or
/// timeout).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A count or duration that must be positive is zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    /// `max_backoff` is below `initial_backoff`.
    #[error("max_backoff {max:?} is below initial_backoff {initial:?}")]
    BackoffBelowInitial {
        /// The configured `initial_backoff`.
        initial: Duration,
        /// The configured `max_backoff`.
        max: Duration,
    },
}

/// The backoff state of one export: create one per export, call
/// [`Backoff::next_delay`] after each failed attempt.
///
/// Delays use *full jitter*: the n-th delay is uniform in
/// `[0, min(max_backoff, initial_backoff · 2ⁿ⁻¹)]`. Full jitter spreads
/// exporters that failed together (a receiver restart) over the whole window,
/// instead of bunching them at the bound as plain exponential backoff does.
#[derive(Clone, Debug)]
pub struct Backoff {
    config: RetryConfig,
    /// Failed attempts so far.
    failures: u32,
    rng: SplitMix64,
}

impl Backoff {
    /// Starts the backoff of one export. `seed` picks the jitter sequence:
    /// pass a different one per export (e.g. from a counter) so concurrent
    /// exports do not wait in lockstep, and a fixed one in tests.
    ///
    /// The config is expected to be valid ([`RetryConfig::validate`]); an
    /// invalid one does not panic (`max_attempts` 0 behaves as 1).
    pub fn new(config: RetryConfig, seed: u64) -> Self {
        Backoff { config, failures: 0, rng: SplitMix64(seed) }
    }

    /// Failed attempts recorded so far (calls to [`Backoff::next_delay`]).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Records a failed attempt and says how long to wait before the next
    /// one, or `None` to give up: the failure is permanent
    /// ([`Retry::Never`]), the attempts are used up, or the wait would end
    /// after `max_elapsed` (`elapsed` is the time since the export began).
    ///
    /// [`Retry::After`] (the server's `Retry-After` or gRPC `RetryInfo`, or
    /// an open circuit's remaining time) is honoured: the wait is at least
    /// that long, even above `max_backoff`.
    pub fn next_delay(&mut self, decision: Retry, elapsed: Duration) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        if decision == Retry::Never || self.failures >= self.config.max_attempts {
            return None;
        }
        // Drawn for `After` too, so the sequence depends only on the seed and
        // the number of failures; and `max` with the server's delay still
        // spreads exporters told the same `Retry-After`.
        let jittered = self.jittered(self.failures);
        let delay = match decision {
            Retry::After(at_least) => jittered.max(at_least),
            Retry::Backoff | Retry::Never => jittered,
        };
        // `checked_add`: an absurd `Retry-After` must not overflow, only give up.
        match elapsed.checked_add(delay) {
            Some(end) if end <= self.config.max_elapsed => Some(delay),
            _ => None,
        }
    }

    /// The bound of the delay after the `failures`-th failure:
    /// `min(max_backoff, initial_backoff · 2^(failures-1))`, without overflow.
    fn bound(&self, failures: u32) -> Duration {
        // 2^31 · initial already saturates any sane cap; the shift stays in u32.
        let factor = 1u32 << failures.saturating_sub(1).min(31);
        self.config.initial_backoff.saturating_mul(factor).min(self.config.max_backoff)
    }

    /// A delay uniform in `[0, bound(failures)]`.
    fn jittered(&mut self, failures: u32) -> Duration {
        // Nanoseconds in a u64 cover 584 years: a larger bound is clamped.
        let bound = u64::try_from(self.bound(failures).as_nanos()).unwrap_or(u64::MAX);
        // Multiply-shift maps 64 random bits onto [0, bound] (Lemire); its
        // bias, below 2⁻³⁰ for bounds under a second, is irrelevant here.
        let nanos = (u128::from(self.rng.next_u64()) * (u128::from(bound) + 1)) >> 64;
        Duration::from_nanos(u64::try_from(nanos).expect("(r·(b+1))>>64 ≤ b, which fits in u64"))
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014; Vigna's reference constants): a
/// tiny, fast, well-mixed generator. Jitter needs no cryptographic strength,
/// only decorrelation, and a seed makes tests deterministic without a
/// dependency.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        // The golden-ratio increment and the two multipliers are the
        // published constants; changing them breaks the reference vector test.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn config() -> RetryConfig {
        RetryConfig {
            max_attempts: 6,
            initial_backoff: 100 * MS,
            max_backoff: 500 * MS,
            max_elapsed: Duration::from_secs(60),
        }
    }

    #[test]
    fn splitmix_matches_the_reference_vector() {
        // Outputs of Vigna's splitmix64.c for seed 1234567.
        let mut rng = SplitMix64(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
        assert_eq!(rng.next_u64(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn default_is_valid() {
        assert_eq!(RetryConfig::default().validate(), Ok(()));
    }

    #[test]
    fn validate_rejects_each_bad_setting() {
        let bad = |f: fn(&mut RetryConfig)| {
            let mut c = config();
            f(&mut c);
            c.validate()
        };
        assert_eq!(bad(|c| c.max_attempts = 0), Err(ConfigError::Zero("max_attempts")));
        assert_eq!(bad(|c| c.initial_backoff = Duration::ZERO), Err(ConfigError::Zero("initial_backoff")));
        assert_eq!(bad(|c| c.max_elapsed = Duration::ZERO), Err(ConfigError::Zero("max_elapsed")));
        assert_eq!(
            bad(|c| c.max_backoff = 50 * MS),
            Err(ConfigError::BackoffBelowInitial { initial: 100 * MS, max: 50 * MS })
        );
        // Equal bounds are a constant window, which is fine.
        assert_eq!(bad(|c| c.max_backoff = 100 * MS), Ok(()));
    }

    #[test]
    fn bound_doubles_then_caps_without_overflow() {
        let b = Backoff::new(config(), 0);
        let bounds: Vec<_> = (1..=5).map(|n| b.bound(n)).collect();
        assert_eq!(bounds, [100 * MS, 200 * MS, 400 * MS, 500 * MS, 500 * MS]);
        let huge = Backoff::new(RetryConfig { max_backoff: Duration::MAX, ..config() }, 0);
        assert_eq!(huge.bound(u32::MAX), (100 * MS).saturating_mul(1 << 31));
    }

    #[test]
    fn delays_are_full_jitter_within_the_bound() {
        // Over many seeds, the n-th delay stays in [0, bound] and covers the
        // window: some near 0, some near the bound (full, not equal, jitter).
        for n in 1..=4u32 {
            let bound = Backoff::new(config(), 0).bound(n);
            let (mut lo, mut hi, mut sum) = (Duration::MAX, Duration::ZERO, Duration::ZERO);
            let seeds = 2_000u32;
            for seed in 0..u64::from(seeds) {
                let mut b = Backoff::new(config(), seed);
                let mut d = Duration::ZERO;
                for _ in 0..n {
                    d = b.next_delay(Retry::Backoff, Duration::ZERO).expect("within the budget");
                }
                assert!(d <= bound, "attempt {n}: {d:?} > {bound:?}");
                lo = lo.min(d);
                hi = hi.max(d);
                sum += d;
            }
            assert!(lo < bound / 20, "attempt {n}: smallest {lo:?}");
            assert!(hi > bound * 19 / 20, "attempt {n}: largest {hi:?}");
            let mean = sum / seeds;
            assert!(mean > bound * 2 / 5 && mean < bound * 3 / 5, "attempt {n}: mean {mean:?} of {bound:?}");
        }
    }

    #[test]
    fn same_seed_same_delays_other_seed_other_delays() {
        let run = |seed| {
            let mut b = Backoff::new(config(), seed);
            (0..5).map(|_| b.next_delay(Retry::Backoff, Duration::ZERO)).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn never_gives_up_at_once() {
        let mut b = Backoff::new(config(), 1);
        assert_eq!(b.next_delay(Retry::Never, Duration::ZERO), None);
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let mut b = Backoff::new(config(), 1);
        // Attempts 1..=5 failed: five waits; attempt 6 was the last.
        for n in 1..=5 {
            assert!(b.next_delay(Retry::Backoff, Duration::ZERO).is_some(), "after failure {n}");
        }
        assert_eq!(b.next_delay(Retry::Backoff, Duration::ZERO), None);
        assert_eq!(b.failures(), 6);

        let mut once = Backoff::new(RetryConfig { max_attempts: 1, ..config() }, 1);
        assert_eq!(once.next_delay(Retry::Backoff, Duration::ZERO), None);
    }

    #[test]
    fn gives_up_when_the_wait_would_pass_max_elapsed() {
        let c = RetryConfig { max_elapsed: Duration::from_secs(1), ..config() };
        // The first delay is at most 100 ms: fits from 900 ms, not from 901 ms.
        for seed in 0..100 {
            let mut b = Backoff::new(c, seed);
            let d = b.next_delay(Retry::Backoff, 900 * MS).expect("fits");
            assert!(900 * MS + d <= c.max_elapsed);
        }
        let mut late = Backoff::new(c, 3);
        assert_eq!(late.next_delay(Retry::Backoff, c.max_elapsed + MS), None);
    }

    #[test]
    fn retry_after_is_honoured_even_above_max_backoff() {
        for seed in 0..100 {
            let mut b = Backoff::new(config(), seed);
            let d = b.next_delay(Retry::After(Duration::from_secs(2)), Duration::ZERO).expect("fits");
            // Above the 500 ms cap: the server said so.
            assert_eq!(d, Duration::from_secs(2));
            // A short Retry-After still gets at least that much.
            let d = b.next_delay(Retry::After(MS), Duration::ZERO).expect("fits");
            assert!(d >= MS && d <= 200 * MS, "{d:?}");
        }
    }

    #[test]
    fn retry_after_beyond_max_elapsed_gives_up() {
        let mut b = Backoff::new(config(), 1);
        assert_eq!(b.next_delay(Retry::After(Duration::from_secs(61)), Duration::ZERO), None);
        let mut b = Backoff::new(config(), 1);
        assert_eq!(b.next_delay(Retry::After(Duration::from_secs(10)), Duration::from_secs(55)), None);
        let mut b = Backoff::new(config(), 1);
        assert_eq!(b.next_delay(Retry::After(Duration::MAX), Duration::from_secs(1)), None);
    }
}
