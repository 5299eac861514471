//! Counters of the pipeline. Every item handed to the pipeline is counted as
//! accepted, and ends up counted once more: as exported, or as dropped with a
//! reason. At every quiescent point (nothing queued, batched or in flight)
//! `accepted == exported + dropped`.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};

/// Why an item was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The bounded queue was full when the item was offered.
    QueueFull,
    /// The exporter gave up after its retries (or its circuit was open).
    RetriesExhausted,
    /// The receiver refused the items for good (a permanent error, or the
    /// rejected part of a partial success).
    Rejected,
    /// Still queued, batched or in flight when the shutdown deadline passed
    /// (or when the runtime shut down under a running pipeline).
    ShutdownDeadline,
    /// Offered after shutdown began.
    AfterShutdown,
    /// The sink panicked while exporting the batch (a bug in the transport).
    ExportPanicked,
    /// The batcher task itself panicked (a bug in the pipeline): what it
    /// held (queued, batched, being encoded or in flight) is lost, and items
    /// offered after it died are refused with this reason.
    BatcherPanicked,
}

impl DropReason {
    /// Every reason, in reporting order.
    pub const ALL: [DropReason; 7] = [
        DropReason::QueueFull,
        DropReason::RetriesExhausted,
        DropReason::Rejected,
        DropReason::ShutdownDeadline,
        DropReason::AfterShutdown,
        DropReason::ExportPanicked,
        DropReason::BatcherPanicked,
    ];

    /// The name used in reports and JSON results.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::RetriesExhausted => "retries_exhausted",
            DropReason::Rejected => "rejected",
            DropReason::ShutdownDeadline => "shutdown_deadline",
            DropReason::AfterShutdown => "after_shutdown",
            DropReason::ExportPanicked => "export_panicked",
            DropReason::BatcherPanicked => "batcher_panicked",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Live counters, shared by the handles, the batcher and the export tasks.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    accepted: AtomicU64,
    exported: AtomicU64,
    dropped: [AtomicU64; DropReason::ALL.len()],
    bytes_raw: AtomicU64,
    bytes_sent: AtomicU64,
    requests: AtomicU64,
    failed_requests: AtomicU64,
    /// Set once, when the batcher task panics; read only on slow paths (a
    /// refused offer, a failed flush or shutdown, an aborted export).
    batcher_panicked: AtomicBool,
}

impl Stats {
    pub(crate) fn accept(&self, items: u64) {
        self.accepted.fetch_add(items, Relaxed);
    }
    pub(crate) fn export(&self, items: u64) {
        self.exported.fetch_add(items, Relaxed);
    }
    pub(crate) fn drop_items(&self, reason: DropReason, items: u64) {
        self.dropped[reason as usize].fetch_add(items, Relaxed);
    }
    pub(crate) fn request(&self, raw: usize, sent: usize) {
        self.requests.fetch_add(1, Relaxed);
        self.bytes_raw.fetch_add(raw as u64, Relaxed);
        self.bytes_sent.fetch_add(sent as u64, Relaxed);
    }
    pub(crate) fn failed_request(&self) {
        self.failed_requests.fetch_add(1, Relaxed);
    }

    /// Marks the batcher as dead. SeqCst, like the queue's close that
    /// follows it: a producer that finds the queue closed sees the flag.
    pub(crate) fn set_batcher_panicked(&self) {
        self.batcher_panicked.store(true, SeqCst);
    }
    pub(crate) fn batcher_panicked(&self) -> bool {
        self.batcher_panicked.load(SeqCst)
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            accepted: self.accepted.load(Relaxed),
            exported: self.exported.load(Relaxed),
            dropped: std::array::from_fn(|i| self.dropped[i].load(Relaxed)),
            bytes_raw: self.bytes_raw.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
            requests: self.requests.load(Relaxed),
            failed_requests: self.failed_requests.load(Relaxed),
        }
    }
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Items handed to the pipeline (spans, metric points, log records).
    pub accepted: u64,
    /// Items the receiver accepted.
    pub exported: u64,
    /// Items dropped, indexed by `DropReason as usize`.
    pub dropped: [u64; DropReason::ALL.len()],
    /// Encoded bytes before compression.
    pub bytes_raw: u64,
    /// Bytes handed to the transport, after the pipeline's compression. Over
    /// gRPC the transport compresses (`grpc-encoding`), so there this equals
    /// `bytes_raw` and the wire carries less.
    pub bytes_sent: u64,
    /// Export requests made (one per batch, whatever the retries).
    pub requests: u64,
    /// Export requests that ended without delivery.
    pub failed_requests: u64,
}

impl StatsSnapshot {
    /// Items dropped for one reason.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize]
    }

    /// Items dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// True when every accepted item is accounted for: exported or dropped.
    /// Holds at every quiescent point (after `flush` or `shutdown`).
    pub fn is_balanced(&self) -> bool {
        self.accepted == self.exported + self.dropped_total()
    }
}

impl std::ops::AddAssign for StatsSnapshot {
    /// Adds another snapshot's counters, e.g. to total several exporters.
    fn add_assign(&mut self, other: StatsSnapshot) {
        // Destructured, so that a new field cannot be left out of the sum.
        let StatsSnapshot { accepted, exported, dropped, bytes_raw, bytes_sent, requests, failed_requests } = other;
        self.accepted += accepted;
        self.exported += exported;
        for (total, d) in self.dropped.iter_mut().zip(dropped) {
            *total += d;
        }
        self.bytes_raw += bytes_raw;
        self.bytes_sent += bytes_sent;
        self.requests += requests;
        self.failed_requests += failed_requests;
    }
}

impl fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "accepted={} exported={} dropped={}", self.accepted, self.exported, self.dropped_total())?;
        for r in DropReason::ALL {
            if self.dropped(r) > 0 {
                write!(f, " {}={}", r, self.dropped(r))?;
            }
        }
        write!(f, " requests={} bytes_raw={} bytes_sent={}", self.requests, self.bytes_raw, self.bytes_sent)
    }
}
