//! [`Resilient`]: the retry loop, circuit breaker and per-attempt timeout
//! around one export attempt, as an [`ExportSink`] the pipeline can use.
//!
//! The protocol client (OTLP/HTTP, OTLP/gRPC, or a script in tests) only
//! implements [`Attempt`]: send once, classify the answer as a
//! [`TransportError`]. Everything about *whether and when to try again* lives
//! here.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::{Backoff, Breaker, BreakerConfig, BreakerState, ConfigError, Retry, RetryConfig, TransportError};
use crate::pipeline::{DropReason, ExportRequest, ExportResult, ExportSink};

/// A receiver's acceptance of a batch, possibly partial (OTLP
/// `ExportPartialSuccess`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Items the receiver refused (`rejected_spans`, `rejected_data_points`
    /// or `rejected_log_records`); zero for a full success.
    pub rejected: u64,
    /// The receiver's `error_message`: why items were refused, or a warning
    /// when none were.
    pub message: Option<Box<str>>,
    /// Set when the success answer's body could not be read (too large, or
    /// the read failed) or is not an `Export*ServiceResponse`: what was
    /// wrong, and from where. The receiver took the data all the same, so
    /// the batch counts as delivered in full (`rejected` is 0); [`Resilient`]
    /// counts it apart ([`ResilientStats::unreadable_response_bodies`]).
    pub unreadable_body: Option<Box<str>>,
}

/// One try at delivering a request: the protocol client under [`Resilient`].
///
/// Implementations send once and classify the outcome; they neither retry
/// nor sleep, and need no timeout of their own (`Resilient` drops the future
/// when the per-attempt timeout passes, so it must be cancel-safe).
pub trait Attempt: Send + Sync + 'static {
    /// Sends `request` once.
    fn attempt(&self, request: &ExportRequest) -> impl Future<Output = Result<Accepted, TransportError>> + Send;
}

/// The latest partial-success message and how often it came in a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartialMessage {
    /// What the receiver said.
    pub message: Box<str>,
    /// Consecutive partial successes with this same message (a different
    /// message restarts the count at 1).
    pub seen: u64,
}

/// What a [`Resilient`] sink has done so far (see [`Resilient::stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResilientStats {
    /// Calls to [`Attempt::attempt`].
    pub attempts: u64,
    /// Times an export waited and tried again (after a failure or a refusal).
    pub retries: u64,
    /// Attempts cut off by the per-attempt timeout.
    pub timeouts: u64,
    /// Tries refused by the open (or saturated half-open) breaker, without
    /// calling the attempt.
    pub circuit_open: u64,
    /// Deliveries with rejected items or a message.
    pub partial_successes: u64,
    /// The latest partial-success message, if any came.
    pub last_partial: Option<PartialMessage>,
    /// The latest failed attempt, as text (status and the server's message),
    /// so that a caller can say why items were dropped.
    pub last_error: Option<Box<str>>,
    /// Success answers (HTTP 2xx, gRPC OK) whose body could not be read or
    /// parsed as an `Export*ServiceResponse`. Their batches count as
    /// exported: the receiver took them; only a partial success they might
    /// have reported is unknown.
    pub unreadable_response_bodies: u64,
    /// What was wrong with the latest unreadable success answer, and from
    /// where (see [`Accepted::unreadable_body`]).
    pub last_unreadable_response: Option<Box<str>>,
}

/// An [`ExportSink`] that wraps an [`Attempt`] in a retry loop with
/// exponential backoff and full jitter, a circuit breaker, and a timeout per
/// attempt.
///
/// Each export loops: ask the breaker (an open one counts as a failure that
/// says "retry after the time left", without calling the attempt); run the
/// attempt under the timeout; on success report
/// [`ExportResult::Delivered`]; on a permanent error drop the batch as
/// [`DropReason::Rejected`]; otherwise wait the backoff's delay (at least the
/// server's `Retry-After`) and go round, until [`RetryConfig`]'s budget is
/// spent ([`DropReason::RetriesExhausted`]). A breaker refusal uses up one
/// try of the budget like a failed attempt, so an export is never held
/// longer than the budget allows.
///
/// Time comes from tokio's clock (for the breaker too), so a paused runtime
/// drives everything in tests.
///
/// A library must not print: what a receiver says about partial successes,
/// success answers whose body could not be read, and the counters, are
/// exposed by [`Resilient::stats`] for the caller to log or report.
#[derive(Debug)]
pub struct Resilient<A: Attempt> {
    attempt: A,
    retry: RetryConfig,
    timeout: Duration,
    breaker: Mutex<Breaker>,
    /// Seed of the next export's jitter.
    next_seed: AtomicU64,
    attempts: AtomicU64,
    retries: AtomicU64,
    timeouts: AtomicU64,
    circuit_open: AtomicU64,
    partial_successes: AtomicU64,
    last_partial: Mutex<Option<PartialMessage>>,
    last_error: Mutex<Option<Box<str>>>,
    unreadable_response_bodies: AtomicU64,
    last_unreadable_response: Mutex<Option<Box<str>>>,
}

impl<A: Attempt> Resilient<A> {
    /// The OTLP exporters' default per-request timeout
    /// (`OTEL_EXPORTER_OTLP_TIMEOUT`, 10 s).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// Wraps `attempt`, after validating the settings. `timeout` bounds each
    /// attempt, not the export (that is `retry.max_elapsed`).
    ///
    /// The jitter is seeded per process at random, so that exporters in
    /// different processes do not retry in lockstep; use
    /// [`Resilient::with_seed`] for reproducible delays.
    pub fn new(attempt: A, retry: RetryConfig, breaker: BreakerConfig, timeout: Duration) -> Result<Self, ConfigError> {
        retry.validate()?;
        breaker.validate()?;
        if timeout.is_zero() {
            return Err(ConfigError::Zero("timeout"));
        }
        Ok(Resilient {
            attempt,
            retry,
            timeout,
            breaker: Mutex::new(Breaker::new(breaker)),
            // std's per-process random hasher keys: randomness without a dependency.
            next_seed: AtomicU64::new(RandomState::new().hash_one(0u8)),
            attempts: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            circuit_open: AtomicU64::new(0),
            partial_successes: AtomicU64::new(0),
            last_partial: Mutex::new(None),
            last_error: Mutex::new(None),
            unreadable_response_bodies: AtomicU64::new(0),
            last_unreadable_response: Mutex::new(None),
        })
    }

    /// Seeds the jitter: export `k` (counting from 0) uses seed `seed + k`.
    pub fn with_seed(self, seed: u64) -> Self {
        self.next_seed.store(seed, Relaxed);
        self
    }

    /// The wrapped attempt.
    pub fn inner(&self) -> &A {
        &self.attempt
    }

    /// The breaker's state as of its last use.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker().state()
    }

    /// The counters and the latest partial-success message now.
    pub fn stats(&self) -> ResilientStats {
        ResilientStats {
            attempts: self.attempts.load(Relaxed),
            retries: self.retries.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            circuit_open: self.circuit_open.load(Relaxed),
            partial_successes: self.partial_successes.load(Relaxed),
            last_partial: lock(&self.last_partial).clone(),
            last_error: lock(&self.last_error).clone(),
            unreadable_response_bodies: self.unreadable_response_bodies.load(Relaxed),
            last_unreadable_response: lock(&self.last_unreadable_response).clone(),
        }
    }

    fn breaker(&self) -> MutexGuard<'_, Breaker> {
        lock(&self.breaker)
    }

    /// One try: the breaker's permission, then the attempt under the timeout.
    async fn try_once(&self, request: &ExportRequest) -> Result<Accepted, TransportError> {
        let admitted = self.breaker().check(Instant::now().into_std());
        if let Err(remaining) = admitted {
            self.circuit_open.fetch_add(1, Relaxed);
            return Err(TransportError::CircuitOpen { remaining });
        }
        // From here the breaker expects one result; the guard reports
        // "abandoned" if this future is dropped before there is one.
        let permit = Permit { breaker: &self.breaker, settled: false };
        self.attempts.fetch_add(1, Relaxed);
        let outcome = match tokio::time::timeout(self.timeout, self.attempt.attempt(request)).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => {
                self.timeouts.fetch_add(1, Relaxed);
                // Only classified (as retryable), never shown: the endpoint is
                // the attempt's business, and an empty one costs no allocation.
                Err(TransportError::Timeout { endpoint: Box::default(), after: self.timeout })
            }
        };
        // A permanent refusal (400, 413, ...) is a healthy receiver saying no to
        // this batch: it must not open the circuit for the batches after it.
        let healthy = match &outcome {
            Ok(_) => true,
            Err(e) => e.retry() == Retry::Never,
        };
        permit.settle(healthy);
        outcome
    }

    fn record_partial(&self, accepted: Accepted) {
        if let Some(what) = accepted.unreadable_body {
            // Recorded once per answer (a success is never retried), as the
            // rest of this sink's news: a counter and the latest text, for
            // the caller to log or report.
            self.unreadable_response_bodies.fetch_add(1, Relaxed);
            *lock(&self.last_unreadable_response) = Some(what);
        }
        // An empty `error_message` means "no message" in OTLP.
        let message = accepted.message.filter(|m| !m.is_empty());
        if accepted.rejected == 0 && message.is_none() {
            return;
        }
        self.partial_successes.fetch_add(1, Relaxed);
        let Some(message) = message else { return };
        let mut last = lock(&self.last_partial);
        match last.as_mut() {
            Some(seen) if seen.message == message => seen.seen = seen.seen.saturating_add(1),
            _ => *last = Some(PartialMessage { message, seen: 1 }),
        }
    }
}

impl<A: Attempt> ExportSink for Resilient<A> {
    async fn export(&self, request: &ExportRequest) -> ExportResult {
        let start = Instant::now();
        let mut backoff = Backoff::new(self.retry, self.next_seed.fetch_add(1, Relaxed));
        loop {
            let error = match self.try_once(request).await {
                Ok(accepted) => {
                    let rejected = accepted.rejected;
                    self.record_partial(accepted);
                    return ExportResult::Delivered { rejected };
                }
                Err(error) => error,
            };
            let decision = error.retry();
            // Failures are the slow path: formatting the error costs nothing that matters.
            *lock(&self.last_error) = Some(error_chain(&error).into_boxed_str());
            if decision == Retry::Never {
                return ExportResult::Dropped(DropReason::Rejected);
            }
            match backoff.next_delay(decision, start.elapsed()) {
                None => return ExportResult::Dropped(DropReason::RetriesExhausted),
                Some(delay) => {
                    self.retries.fetch_add(1, Relaxed);
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

/// An error and its sources on one line ("connection failed: refused").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// One admitted try, owed to the breaker: settled with the result, or
/// reported abandoned when dropped unsettled (the export was cancelled, e.g.
/// by the pipeline's shutdown deadline), so a half-open probe slot never
/// leaks and wedges the breaker.
struct Permit<'a> {
    breaker: &'a Mutex<Breaker>,
    settled: bool,
}

impl Permit<'_> {
    fn settle(mut self, success: bool) {
        self.settled = true;
        let mut breaker = lock(self.breaker);
        if success {
            breaker.on_success();
        } else {
            breaker.on_failure(Instant::now().into_std());
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.settled {
            lock(self.breaker).on_abandoned();
        }
    }
}

/// Locks, ignoring poisoning: the guarded values are plain data whose every
/// update is a single assignment, so a panic elsewhere cannot leave them
/// half-written, and the breaker must keep working (its `Drop` path runs
/// during unwinding too).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::compress::Compression;
    use crate::encode::Signal;
    use crate::pipeline::BodyFormat;

    const MS: Duration = Duration::from_millis(1);
    const SEC: Duration = Duration::from_secs(1);

    /// What the scripted receiver does on one call.
    #[derive(Clone, Debug)]
    enum Step {
        Accept {
            rejected: u64,
            message: Option<&'static str>,
        },
        Status {
            status: u16,
            retry_after: Option<Duration>,
        },
        /// Never answers.
        Hang,
    }

    const OK: Step = Step::Accept { rejected: 0, message: None };
    const UNAVAILABLE: Step = Step::Status { status: 503, retry_after: None };

    /// Plays `steps` in order, then `then` forever; records when each call came.
    #[derive(Debug)]
    struct Script {
        steps: Mutex<VecDeque<Step>>,
        then: Step,
        calls: Mutex<Vec<Instant>>,
    }

    impl Script {
        fn new(steps: impl IntoIterator<Item = Step>, then: Step) -> Self {
            Script { steps: Mutex::new(steps.into_iter().collect()), then, calls: Mutex::new(Vec::new()) }
        }

        fn calls(&self) -> Vec<Instant> {
            lock(&self.calls).clone()
        }
    }

    impl Attempt for Script {
        async fn attempt(&self, _request: &ExportRequest) -> Result<Accepted, TransportError> {
            let step = {
                lock(&self.calls).push(Instant::now());
                lock(&self.steps).pop_front().unwrap_or_else(|| self.then.clone())
            };
            match step {
                Step::Accept { rejected, message } => {
                    Ok(Accepted { rejected, message: message.map(Into::into), unreadable_body: None })
                }
                Step::Status { status, retry_after } => {
                    Err(TransportError::Status { status, endpoint: "script".into(), retry_after, message: None })
                }
                Step::Hang => std::future::pending().await,
            }
        }
    }

    fn request() -> ExportRequest {
        ExportRequest {
            signal: Signal::Traces,
            body: bytes::Bytes::new(),
            compression: Compression::None,
            format: BodyFormat::Protobuf,
            items: 10,
            raw_len: 0,
        }
    }

    fn retry() -> RetryConfig {
        RetryConfig { max_attempts: 4, initial_backoff: 100 * MS, max_backoff: SEC, max_elapsed: 10 * SEC }
    }

    /// A breaker that stays out of the way.
    fn lenient() -> BreakerConfig {
        BreakerConfig { failure_threshold: 1000, ..BreakerConfig::default() }
    }

    fn sink(script: Script, retry: RetryConfig, breaker: BreakerConfig) -> Resilient<Script> {
        Resilient::new(script, retry, breaker, 2 * SEC).expect("valid settings").with_seed(7)
    }

    #[test]
    fn new_validates_every_setting() {
        let script = || Script::new([], OK);
        let bad_retry = RetryConfig { max_attempts: 0, ..retry() };
        assert_eq!(Resilient::new(script(), bad_retry, lenient(), SEC).err(), Some(ConfigError::Zero("max_attempts")));
        let bad_breaker = BreakerConfig { half_open_probes: 0, ..lenient() };
        assert_eq!(
            Resilient::new(script(), retry(), bad_breaker, SEC).err(),
            Some(ConfigError::Zero("half_open_probes"))
        );
        assert_eq!(
            Resilient::new(script(), retry(), lenient(), Duration::ZERO).err(),
            Some(ConfigError::Zero("timeout"))
        );
        assert!(Resilient::new(script(), retry(), lenient(), Resilient::<Script>::DEFAULT_TIMEOUT).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn succeeds_after_two_503s() {
        let sink = sink(Script::new([UNAVAILABLE, UNAVAILABLE], OK), retry(), lenient());
        assert_eq!(sink.export(&request()).await, ExportResult::Delivered { rejected: 0 });
        let stats = sink.stats();
        assert_eq!((stats.attempts, stats.retries, stats.timeouts, stats.circuit_open), (3, 2, 0, 0));
        assert_eq!(sink.breaker_state(), BreakerState::Closed { consecutive_failures: 0 });
        // Waits stay within the backoff bounds (100 ms, then 200 ms), give or
        // take the timer's 1 ms granularity.
        let calls = sink.inner().calls();
        assert!(calls[1] - calls[0] <= 101 * MS && calls[2] - calls[1] <= 201 * MS, "{calls:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_waited_out_before_the_next_attempt() {
        let throttled = Step::Status { status: 429, retry_after: Some(2 * SEC) };
        let sink = sink(Script::new([throttled], OK), retry(), lenient());
        assert_eq!(sink.export(&request()).await, ExportResult::Delivered { rejected: 0 });
        let calls = sink.inner().calls();
        assert_eq!(calls.len(), 2);
        assert!(calls[1] - calls[0] >= 2 * SEC, "waited only {:?}", calls[1] - calls[0]);
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_error_is_dropped_as_rejected_after_one_attempt() {
        let bad_request = Step::Status { status: 400, retry_after: None };
        let sink = sink(Script::new([bad_request], OK), retry(), lenient());
        assert_eq!(sink.export(&request()).await, ExportResult::Dropped(DropReason::Rejected));
        assert_eq!(sink.inner().calls().len(), 1);
        assert_eq!((sink.stats().attempts, sink.stats().retries), (1, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn always_503_exhausts_max_attempts_within_max_elapsed() {
        let config = retry();
        let sink = sink(Script::new([], UNAVAILABLE), config, lenient());
        let start = Instant::now();
        assert_eq!(sink.export(&request()).await, ExportResult::Dropped(DropReason::RetriesExhausted));
        assert!(start.elapsed() <= config.max_elapsed, "{:?}", start.elapsed());
        assert_eq!(sink.inner().calls().len(), config.max_attempts as usize);
        assert_eq!(sink.stats().retries, u64::from(config.max_attempts - 1));
    }

    #[tokio::test(start_paused = true)]
    async fn max_elapsed_cuts_retries_short() {
        // Retry-After 4 s each time with 10 s to spend: attempts at 0, 4 and
        // 8 s; a wait to 12 s would pass the budget.
        let throttled = Step::Status { status: 503, retry_after: Some(4 * SEC) };
        let sink = sink(Script::new([], throttled), RetryConfig { max_attempts: 100, ..retry() }, lenient());
        let start = Instant::now();
        assert_eq!(sink.export(&request()).await, ExportResult::Dropped(DropReason::RetriesExhausted));
        assert_eq!(sink.inner().calls().len(), 3);
        assert!(start.elapsed() <= 10 * SEC);
    }

    #[tokio::test(start_paused = true)]
    async fn hung_attempt_times_out_per_attempt() {
        let sink = sink(Script::new([Step::Hang], OK), retry(), lenient());
        assert_eq!(sink.export(&request()).await, ExportResult::Delivered { rejected: 0 });
        let calls = sink.inner().calls();
        // The second attempt started once the 2 s timeout cut the first off.
        assert!(calls[1] - calls[0] >= 2 * SEC, "{calls:?}");
        assert_eq!((sink.stats().attempts, sink.stats().timeouts), (2, 1));

        let always_hangs = self::sink(Script::new([], Step::Hang), retry(), lenient());
        let start = Instant::now();
        let result = always_hangs.export(&request()).await;
        assert_eq!(result, ExportResult::Dropped(DropReason::RetriesExhausted));
        assert_eq!(always_hangs.stats().timeouts, 4);
        // Four 2 s timeouts plus waits, not forever.
        assert!(start.elapsed() >= 8 * SEC && start.elapsed() <= 10 * SEC, "{:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn breaker_opens_refuses_without_calling_then_lets_a_probe_through() {
        let breaker = BreakerConfig { failure_threshold: 2, open_for: 5 * SEC, half_open_probes: 1 };
        // Two tries and at most 1 s per export: an open breaker (5 s) is not
        // waited out within one export.
        let retry = RetryConfig { max_attempts: 2, max_elapsed: SEC, ..retry() };
        let sink = sink(Script::new([UNAVAILABLE, UNAVAILABLE], OK), retry, breaker);

        // Two failures: the breaker opens.
        assert_eq!(sink.export(&request()).await, ExportResult::Dropped(DropReason::RetriesExhausted));
        assert!(matches!(sink.breaker_state(), BreakerState::Open { .. }));
        assert_eq!(sink.inner().calls().len(), 2);

        // Refused without calling the receiver; waiting out 5 s passes the budget.
        assert_eq!(sink.export(&request()).await, ExportResult::Dropped(DropReason::RetriesExhausted));
        assert_eq!(sink.inner().calls().len(), 2);
        assert_eq!(sink.stats().circuit_open, 1);

        // After open_for, one probe goes through, succeeds and closes it.
        tokio::time::advance(5 * SEC).await;
        assert_eq!(sink.export(&request()).await, ExportResult::Delivered { rejected: 0 });
        assert_eq!(sink.inner().calls().len(), 3);
        assert_eq!(sink.breaker_state(), BreakerState::Closed { consecutive_failures: 0 });
    }

    #[tokio::test(start_paused = true)]
    async fn open_breaker_is_waited_out_within_the_budget() {
        // With room in the budget, a refused export sleeps the remaining open
        // time, then probes.
        let breaker = BreakerConfig { failure_threshold: 2, open_for: 3 * SEC, half_open_probes: 1 };
        let sink = sink(Script::new([UNAVAILABLE, UNAVAILABLE], OK), retry(), breaker);
        let start = Instant::now();
        assert_eq!(sink.export(&request()).await, ExportResult::Delivered { rejected: 0 });
        let calls = sink.inner().calls();
        assert_eq!(calls.len(), 3);
        assert!(calls[2] - calls[1] >= 3 * SEC, "{calls:?}");
        assert_eq!(sink.stats().circuit_open, 1);
        assert!(start.elapsed() <= retry().max_elapsed);
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_probe_frees_its_slot() {
        let breaker = BreakerConfig { failure_threshold: 1, open_for: SEC, half_open_probes: 1 };
        let retry = RetryConfig { max_attempts: 1, ..retry() };
        let sink = sink(Script::new([UNAVAILABLE, Step::Hang], OK), retry, breaker);
        assert_eq!(sink.export(&request()).await, ExportResult::Dropped(DropReason::RetriesExhausted));
        tokio::time::advance(SEC).await;

        // The probe hangs; the export is abandoned before its timeout.
        let probe = tokio::time::timeout(SEC / 2, sink.export(&request())).await;
        assert!(probe.is_err());
        assert_eq!(sink.breaker_state(), BreakerState::HalfOpen { in_flight: 0 });
        assert_eq!(sink.export(&request()).await, ExportResult::Delivered { rejected: 0 });
    }

    #[tokio::test(start_paused = true)]
    async fn partial_success_is_delivered_with_rejected_and_exposed() {
        let partial = |rejected, message| Step::Accept { rejected, message };
        let steps = [
            partial(3, Some("bad span id")),
            partial(1, Some("bad span id")),
            partial(2, None),
            partial(0, Some("deprecated field")),
            partial(0, Some("")),
        ];
        let sink = sink(Script::new(steps, OK), retry(), lenient());
        for rejected in [3, 1] {
            assert_eq!(sink.export(&request()).await, ExportResult::Delivered { rejected });
        }
        let stats = sink.stats();
        assert_eq!(stats.last_partial, Some(PartialMessage { message: "bad span id".into(), seen: 2 }));
        // Without a message the count grows, the message stays.
        assert_eq!(sink.export(&request()).await, ExportResult::Delivered { rejected: 2 });
        assert_eq!(sink.stats().last_partial.map(|p| p.seen), Some(2));
        // A warning (nothing rejected) is a new message; an empty one is none.
        assert_eq!(sink.export(&request()).await, ExportResult::Delivered { rejected: 0 });
        assert_eq!(sink.export(&request()).await, ExportResult::Delivered { rejected: 0 });
        assert_eq!(sink.export(&request()).await, ExportResult::Delivered { rejected: 0 });
        let stats = sink.stats();
        assert_eq!(stats.partial_successes, 4);
        assert_eq!(stats.last_partial, Some(PartialMessage { message: "deprecated field".into(), seen: 1 }));
        assert_eq!((stats.attempts, stats.retries), (6, 0));
    }
}
