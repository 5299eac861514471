//! A circuit breaker: after a run of failures, stop sending to the receiver
//! for a while, then let a few probes decide whether it has recovered.
//!
//! A plain state machine with the clock injected (every time-dependent method
//! takes `now`), so tests drive time by hand and the caller chooses the clock
//! ([`crate::transport::Resilient`] passes tokio's, which tests can pause).
//!
//! ```text
//!            failure_threshold consecutive failures
//!   Closed ───────────────────────────────────────────► Open { until }
//!     ▲                                                   │     ▲
//!     │ a probe succeeds            now ≥ until (check)   │     │ a probe fails
//!     └─────────────── HalfOpen { probes in flight } ◄────┘     │
//!                                   └───────────────────────────┘
//! ```

use std::time::{Duration, Instant};

use super::ConfigError;

/// When the breaker opens and how it recovers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// How long it stays open before letting probes through.
    pub open_for: Duration,
    /// Requests let through at once while half-open.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    /// - 5 consecutive failures: one export that used up its default 5
    ///   attempts (or two concurrent exports failing together) opens it; a
    ///   single blip, which the retries absorb, does not.
    /// - Open for 5 s: the default `max_backoff`, so an open breaker delays an
    ///   export about as long as one capped backoff would, and a 30 s
    ///   `max_elapsed` still spans several probe cycles.
    /// - 1 probe: a recovering receiver gets one request, not a stampede;
    ///   other exports wait on their backoff meanwhile.
    fn default() -> Self {
        BreakerConfig { failure_threshold: 5, open_for: Duration::from_secs(5), half_open_probes: 1 }
    }
}

impl BreakerConfig {
    /// Checks the settings; [`crate::transport::Resilient::new`] refuses bad ones.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.failure_threshold == 0 {
            return Err(ConfigError::Zero("failure_threshold"));
        }
        // Open for zero time would be no breaker at all, silently.
        if self.open_for.is_zero() {
            return Err(ConfigError::Zero("open_for"));
        }
        // No probe could ever close it again.
        if self.half_open_probes == 0 {
            return Err(ConfigError::Zero("half_open_probes"));
        }
        Ok(())
    }
}

/// Where the breaker is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow; counting consecutive failures.
    Closed {
        /// Failures since the last success.
        consecutive_failures: u32,
    },
    /// Requests are refused until `until`.
    Open {
        /// When the first probe may go.
        until: Instant,
    },
    /// A limited number of probes may be in flight.
    HalfOpen {
        /// Probes admitted and not yet finished.
        in_flight: u32,
    },
}

/// The circuit breaker. Not synchronised: share it behind a lock.
///
/// Callers pair every admitted [`Breaker::check`] with exactly one of
/// [`Breaker::on_success`], [`Breaker::on_failure`] or
/// [`Breaker::on_abandoned`], or a half-open probe slot leaks.
#[derive(Clone, Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: BreakerState,
}

impl Breaker {
    /// A closed breaker. The config is expected to be valid
    /// ([`BreakerConfig::validate`]); an invalid one does not panic.
    pub fn new(config: BreakerConfig) -> Self {
        Breaker { config, state: BreakerState::Closed { consecutive_failures: 0 } }
    }

    /// The state as of the last call. An `Open` breaker whose time is up
    /// still reads `Open` until the next [`Breaker::check`] moves it.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// May a request go now? `Err` carries how long the breaker stays open:
    /// the time left when open, or zero when half-open with every probe slot
    /// taken (the breaker cannot know when the probes end; the caller's
    /// backoff spaces its retries).
    pub fn check(&mut self, now: Instant) -> Result<(), Duration> {
        match &mut self.state {
            BreakerState::Closed { .. } => Ok(()),
            BreakerState::Open { until } => {
                if now >= *until {
                    self.state = BreakerState::HalfOpen { in_flight: 1 };
                    Ok(())
                } else {
                    Err(*until - now)
                }
            }
            BreakerState::HalfOpen { in_flight } => {
                if *in_flight < self.config.half_open_probes {
                    *in_flight += 1;
                    Ok(())
                } else {
                    Err(Duration::ZERO)
                }
            }
        }
    }

    /// An admitted request succeeded: the failure count resets, and a
    /// half-open breaker closes (the receiver has recovered).
    ///
    /// Results arriving while open came from requests admitted before it
    /// opened; they are ignored, and the probes decide.
    pub fn on_success(&mut self) {
        match self.state {
            BreakerState::Closed { .. } | BreakerState::HalfOpen { .. } => {
                self.state = BreakerState::Closed { consecutive_failures: 0 };
            }
            BreakerState::Open { .. } => {}
        }
    }

    /// An admitted request failed at `now`: count it; at the threshold, or
    /// when a probe fails, the breaker opens for `open_for` from `now`.
    pub fn on_failure(&mut self, now: Instant) {
        match self.state {
            BreakerState::Closed { consecutive_failures } => {
                let failures = consecutive_failures.saturating_add(1);
                self.state = if failures >= self.config.failure_threshold {
                    self.open_until(now)
                } else {
                    BreakerState::Closed { consecutive_failures: failures }
                };
            }
            BreakerState::HalfOpen { .. } => self.state = self.open_until(now),
            // Already open: a late failure must not push `until` back, or
            // concurrent stragglers would keep it open indefinitely.
            BreakerState::Open { .. } => {}
        }
    }

    /// An admitted request ended without a result (its export was cancelled):
    /// frees its half-open probe slot, and changes nothing else.
    pub fn on_abandoned(&mut self) {
        if let BreakerState::HalfOpen { in_flight } = &mut self.state {
            *in_flight = in_flight.saturating_sub(1);
        }
    }

    fn open_until(&self, now: Instant) -> BreakerState {
        // `checked_add`: an absurd `open_for` must not panic; far future it is.
        let until = now.checked_add(self.config.open_for).unwrap_or(now + Duration::from_secs(365 * 24 * 3600));
        BreakerState::Open { until }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn config() -> BreakerConfig {
        BreakerConfig { failure_threshold: 3, open_for: 10 * SEC, half_open_probes: 2 }
    }

    fn closed(consecutive_failures: u32) -> BreakerState {
        BreakerState::Closed { consecutive_failures }
    }

    /// A breaker opened at `t0` (three failures).
    fn opened(t0: Instant) -> Breaker {
        let mut b = Breaker::new(config());
        for _ in 0..3 {
            b.check(t0).expect("closed");
            b.on_failure(t0);
        }
        assert_eq!(b.state(), BreakerState::Open { until: t0 + 10 * SEC });
        b
    }

    #[test]
    fn default_is_valid_and_validate_rejects_zeros() {
        assert_eq!(BreakerConfig::default().validate(), Ok(()));
        let bad = |f: fn(&mut BreakerConfig)| {
            let mut c = config();
            f(&mut c);
            c.validate()
        };
        assert_eq!(bad(|c| c.failure_threshold = 0), Err(ConfigError::Zero("failure_threshold")));
        assert_eq!(bad(|c| c.open_for = Duration::ZERO), Err(ConfigError::Zero("open_for")));
        assert_eq!(bad(|c| c.half_open_probes = 0), Err(ConfigError::Zero("half_open_probes")));
    }

    #[test]
    fn closed_counts_failures_and_opens_at_the_threshold() {
        let t0 = Instant::now();
        let mut b = Breaker::new(config());
        assert_eq!(b.state(), closed(0));
        b.on_failure(t0);
        b.on_failure(t0);
        assert_eq!(b.state(), closed(2));
        assert_eq!(b.check(t0), Ok(()), "still closed below the threshold");
        b.on_failure(t0 + SEC);
        assert_eq!(b.state(), BreakerState::Open { until: t0 + 11 * SEC });
    }

    #[test]
    fn success_resets_the_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(config());
        b.on_failure(t0);
        b.on_failure(t0);
        b.on_success();
        assert_eq!(b.state(), closed(0));
        // Two more failures are not enough: the count restarted.
        b.on_failure(t0);
        b.on_failure(t0);
        assert_eq!(b.state(), closed(2));
    }

    #[test]
    fn open_refuses_with_the_remaining_time() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        assert_eq!(b.check(t0), Err(10 * SEC));
        assert_eq!(b.check(t0 + 4 * SEC), Err(6 * SEC));
        assert_eq!(b.check(t0 + 10 * SEC - Duration::from_nanos(1)), Err(Duration::from_nanos(1)));
        assert!(matches!(b.state(), BreakerState::Open { .. }));
    }

    #[test]
    fn open_ignores_late_results() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        // Stragglers admitted before it opened neither close it nor extend it.
        b.on_failure(t0 + 5 * SEC);
        b.on_success();
        b.on_abandoned();
        assert_eq!(b.state(), BreakerState::Open { until: t0 + 10 * SEC });
    }

    #[test]
    fn open_turns_half_open_after_open_for() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        assert_eq!(b.check(t0 + 10 * SEC), Ok(()));
        assert_eq!(b.state(), BreakerState::HalfOpen { in_flight: 1 });
    }

    #[test]
    fn half_open_admits_only_the_probes() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        let later = t0 + 20 * SEC;
        assert_eq!(b.check(later), Ok(()));
        assert_eq!(b.check(later), Ok(()));
        assert_eq!(b.state(), BreakerState::HalfOpen { in_flight: 2 });
        // Both slots taken: refused, with no known end.
        assert_eq!(b.check(later), Err(Duration::ZERO));
        assert_eq!(b.check(later + 100 * SEC), Err(Duration::ZERO));
        // An abandoned probe frees its slot.
        b.on_abandoned();
        assert_eq!(b.state(), BreakerState::HalfOpen { in_flight: 1 });
        assert_eq!(b.check(later), Ok(()));
    }

    #[test]
    fn probe_success_closes() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        b.check(t0 + 10 * SEC).expect("probe");
        b.on_success();
        assert_eq!(b.state(), closed(0));
        assert_eq!(b.check(t0 + 10 * SEC), Ok(()));
    }

    #[test]
    fn probe_failure_reopens_from_now() {
        let t0 = Instant::now();
        let mut b = opened(t0);
        let probe_at = t0 + 12 * SEC;
        b.check(probe_at).expect("probe");
        b.on_failure(probe_at + SEC);
        assert_eq!(b.state(), BreakerState::Open { until: probe_at + 11 * SEC });
        assert_eq!(b.check(probe_at + SEC), Err(10 * SEC));
    }

    #[test]
    fn absurd_open_for_does_not_panic() {
        let t0 = Instant::now();
        let mut b = Breaker::new(BreakerConfig { failure_threshold: 1, open_for: Duration::MAX, half_open_probes: 1 });
        b.on_failure(t0);
        assert!(b.check(t0).is_err());
    }
}
