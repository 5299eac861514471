//! How producers pace their offers: the closed loop and the open loop.

use super::*;

/// Interval of the open loop's paced offers.
pub const TICK: Duration = Duration::from_millis(10);

/// How a producer paces its blocks.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Pace {
    /// As fast as the queue takes them, until the deadline.
    Closed { deadline: Instant },
    /// `blocks_per_tick` blocks (fractional: carried over) every [`TICK`] until the deadline.
    Open { deadline: Instant, blocks_per_tick: f64 },
}

impl Pace {
    pub(crate) fn new(spec: &StepSpec, start: Instant) -> Pace {
        let deadline = start + spec.duration;
        match spec.rate {
            None => Pace::Closed { deadline },
            Some(rate) => Pace::Open {
                deadline,
                blocks_per_tick: rate * TICK.as_secs_f64() / (spec.workers as f64 * BLOCK_ITEMS as f64),
            },
        }
    }
}

/// A ticker for an open-loop producer: skips late ticks instead of bursting.
fn ticker() -> tokio::time::Interval {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    interval
}

/// The open loop's pacing, for ours and the SDK's producers alike: every
/// [`TICK`], as many blocks as the credit allows, yielding between them as a
/// service does between requests. Without the yield, 50 producers on one
/// thread offered a whole tick's burst (5,000 items at 500k/s) before the
/// batcher on that thread could take any, and a 2,048-item queue dropped
/// most of it at rates the closed loop sustains.
pub(crate) struct OpenLoop {
    interval: tokio::time::Interval,
    deadline: Instant,
    blocks_per_tick: f64,
    credit: f64,
}

impl OpenLoop {
    pub(crate) fn new(deadline: Instant, blocks_per_tick: f64) -> Self {
        OpenLoop { interval: ticker(), deadline, blocks_per_tick, credit: 0.0 }
    }

    /// Waits for the next block's turn; false once the deadline has passed.
    pub(crate) async fn next_block(&mut self) -> bool {
        if self.credit >= 1.0 {
            self.credit -= 1.0;
            tokio::task::yield_now().await;
            return true;
        }
        loop {
            self.interval.tick().await;
            if Instant::now() >= self.deadline {
                return false;
            }
            self.credit += self.blocks_per_tick;
            if self.credit >= 1.0 {
                self.credit -= 1.0;
                return true;
            }
        }
    }
}
