//! The loopback OTLP receiver: an in-process OTLP/HTTP and OTLP/gRPC server
//! as strict as a production collector, for the lab's scenarios and the tests.
//!
//! Owns: listening (127.0.0.1 by default, port 0 for an ephemeral one), the
//! same limits on both transports (compressed and decompressed message
//! size, connections per listener, handshake, header, body and idle time,
//! and a receiver-wide bound on requests being decompressed and decoded at
//! once), the spec's answers (HTTP: 400 malformed, 404, 405, 408, 413 too
//! large, 415 unsupported content type or encoding, each with a
//! `google.rpc.Status` body; gRPC: INVALID_ARGUMENT, RESOURCE_EXHAUSTED,
//! DEADLINE_EXCEEDED, UNIMPLEMENTED), validation (protobuf on the zero-copy
//! views, straight from the received bytes, with the model built only for
//! the in-memory capture; OTLP/JSON on HTTP, parsed into the model), counts
//! per signal and refusals per reason, optional in-memory capture of what it
//! decoded, seeded fault injection, and capture of request bodies to files.
//! OTLP/gRPC serves the three official services on tonic's request
//! handling, with a codec that hands each message on undecoded and the
//! services' routes written by hand; the connections are hyper's HTTP/2,
//! accepted by the same loop as OTLP/HTTP's (`accept_loop` here).
//!
//! Does not own: the codecs it applies (decompression is [`crate::compress`],
//! validation [`crate::encode::view`], decoding [`crate::encode::decode`]), or anything after a request is
//! counted and captured: it forwards nothing, like a collector with no
//! pipelines.

mod conn;
mod grpc;
mod http;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, SemaphorePermit, watch};
use tokio::task::JoinHandle;

use crate::compress::{CompressError, Compression, Decompressor};
use crate::encode::view::{LogsView, MetricsView, TracesView};
use crate::encode::{DecodeBudget, EncodeError, Signal, decode, json};
use crate::model::{LogsData, MetricsData, TracesData};

/// Receiver settings. Every limit applies to OTLP/HTTP and OTLP/gRPC alike
/// unless its doc says otherwise.
#[derive(Clone, Debug)]
pub struct ReceiverConfig {
    /// Where OTLP/HTTP listens; loopback and an ephemeral port by default.
    pub http_addr: SocketAddr,
    /// Where OTLP/gRPC listens, if at all (off by default).
    pub grpc_addr: Option<SocketAddr>,
    /// Largest request accepted as sent (compressed): the OTLP/HTTP body,
    /// or the gRPC message without its 5-byte frame header. Default 4 MiB:
    /// the OpenTelemetry Collector's default limit is in this range, and an
    /// exporter's batch of a few thousand items is well under it.
    pub max_body_bytes: usize,
    /// Largest request accepted after decompression: bounds a decompression
    /// bomb. Default 16 MiB, four times `max_body_bytes`, room for what
    /// telemetry usually compresses from.
    pub max_decompressed_bytes: usize,
    /// The most memory one request's model may take ([`DecodeBudget`]),
    /// checked before anything is allocated: for OTLP/protobuf the model's
    /// vectors (resources, scopes, spans, attributes, events, links,
    /// records, points; strings are slices of the body), counted by the
    /// zero-copy view that validates the body whether or not the model is
    /// then built (for `capture`, whose decoder also counts its vectors'
    /// spare room and may refuse a body just under the limit); for
    /// OTLP/JSON also the parser's buffers and tape and the copied strings,
    /// charged up front from a bound on the body (about 15 times a typical
    /// OTLP/JSON body, see [`json::parse_traces_within`]). Small messages
    /// that decode to many elements (an amplification) are refused as over
    /// budget (HTTP 413, gRPC RESOURCE_EXHAUSTED). Default 64 MiB, four
    /// times `max_decompressed_bytes`: an honest protobuf request's model is
    /// a small multiple of its encoded size; OTLP/JSON bodies up to about
    /// 4 MiB fit (a 512-span batch is about 0.5 MiB). Not charged: the
    /// decompressed body itself (bounded by `max_decompressed_bytes`), and
    /// with `capture_dir` set, the copy of a JSON body that simd-json's
    /// in-place parse needs.
    pub max_decode_bytes: usize,
    /// Requests decompressed and decoded at once, across all connections
    /// and both transports; others wait for a turn once their body is read.
    /// With the size limits this bounds the receiver's decode memory to
    /// `max_concurrent_decodes × (max_decompressed_bytes + max_decode_bytes)`,
    /// plus the bodies being read (each at most `max_body_bytes`, one per
    /// HTTP connection and up to `max_concurrent_streams` per gRPC one).
    /// Default: the available parallelism, clamped to 1..=4, since decoding
    /// is CPU work and more at once than cores only adds memory.
    pub max_concurrent_decodes: usize,
    /// Connections served at once on each listener (OTLP/HTTP and OTLP/gRPC
    /// count apart); one over the cap waits to be accepted until another
    /// closes. Default 256.
    pub max_connections: usize,
    /// Requests (HTTP/2 streams) one gRPC connection may have open at once.
    /// Default 100, the least HTTP/2 (RFC 9113) recommends, so that a
    /// client's concurrent exports are not held back.
    pub max_concurrent_streams: u32,
    /// Time a client has, from connecting, to finish the TLS handshake and
    /// send its first request's headers (gRPC: the HTTP/2 preface and the
    /// first request); on HTTP/1.1, also the time for each later request's
    /// headers, so there a keep-alive connection that sends nothing more is
    /// closed after this too. Default 10 s.
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's body (gRPC: the request
    /// message) once its headers are in. Default 30 s: a 4 MiB body at a
    /// slow 1 Mbit/s link arrives in time.
    pub body_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed
    /// (gRPC: with a GOAWAY), so that abandoned connections give their slot
    /// back. Default 2 minutes: an exporter's connection between batches
    /// (seconds apart) stays open and is reused.
    pub idle_timeout: Duration,
    /// Keep every decoded batch in memory (tests and small scenarios only).
    pub capture: bool,
    /// Write every accepted request body (decompressed) to this folder as
    /// `<n>-<signal>.pb` or `.json`, for inspection with other tools.
    pub capture_dir: Option<std::path::PathBuf>,
    /// Failures to inject, for fault tests and scenarios (none by default).
    pub faults: Faults,
    /// Serve TLS (https and gRPC over TLS) with this certificate and key.
    pub tls: Option<TlsIdentity>,
}

/// The default of [`ReceiverConfig::max_concurrent_decodes`]: the
/// available parallelism clamped to 1..=4.
pub fn default_concurrent_decodes() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get).clamp(1, 4)
}

/// PEM files of the receiver's certificate chain and private key.
#[derive(Clone, Debug)]
pub struct TlsIdentity {
    /// The certificate chain, leaf first.
    pub cert_chain: std::path::PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: std::path::PathBuf,
}

/// Failures the receiver injects before it reads a request body. Decisions
/// come from a seeded sequence over the requests in arrival order, so a run
/// is repeatable.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Seed of the decision sequence.
    pub seed: u64,
    /// Fraction of requests (0.0-1.0) answered with `fail_status`.
    pub fail_fraction: f64,
    /// The status of an injected failure: 503 or 429 are the retryable ones.
    pub fail_status: u16,
    /// `Retry-After` sent with an injected failure.
    pub retry_after: Option<Duration>,
    /// Fraction of requests whose connection is closed without an answer.
    pub reset_fraction: f64,
    /// Added before answering every request.
    pub delay: Option<Duration>,
    /// A window, measured from the receiver's start, in which every request
    /// is answered 503 (a receiver that is down).
    pub down: Option<(Duration, Duration)>,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            grpc_addr: None,
            max_body_bytes: 4 << 20,
            max_decompressed_bytes: 16 << 20,
            max_decode_bytes: 64 << 20,
            max_concurrent_decodes: default_concurrent_decodes(),
            max_connections: 256,
            max_concurrent_streams: 100,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(120),
            capture: false,
            capture_dir: None,
            faults: Faults::default(),
            tls: None,
        }
    }
}

impl ReceiverConfig {
    /// Refuses settings the receiver cannot serve with: a zero count would
    /// never admit a connection, stream or decode.
    fn validate(&self) -> std::io::Result<()> {
        let counts = [
            ("max_connections", self.max_connections),
            ("max_concurrent_decodes", self.max_concurrent_decodes),
            ("max_concurrent_streams", self.max_concurrent_streams as usize),
        ];
        for (name, n) in counts {
            if n == 0 || n > Semaphore::MAX_PERMITS {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("{name} must be between 1 and {}, got {n}", Semaphore::MAX_PERMITS),
                ));
            }
        }
        Ok(())
    }
}

/// A decoded request the receiver kept (with [`ReceiverConfig::capture`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Received {
    /// A trace export.
    Traces(TracesData),
    /// A metrics export.
    Metrics(MetricsData),
    /// A logs export.
    Logs(LogsData),
}

/// What the receiver has seen so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceiverCounts {
    /// Spans in accepted requests.
    pub spans: u64,
    /// Metric data points in accepted requests.
    pub points: u64,
    /// Log records in accepted requests.
    pub logs: u64,
    /// Requests answered 200 (gRPC: OK).
    pub accepted_requests: u64,
    /// Requests refused (any 4xx, or the gRPC codes for the same), the sum
    /// of the `refused_*` counts by reason.
    pub refused_requests: u64,
    /// Refused as too large: over `max_body_bytes` as sent or
    /// `max_decompressed_bytes` once decompressed (HTTP 413, gRPC
    /// RESOURCE_EXHAUSTED).
    pub refused_too_large: u64,
    /// Refused because the body's model would take more than
    /// `max_decode_bytes` (HTTP 413, gRPC RESOURCE_EXHAUSTED).
    pub refused_over_budget: u64,
    /// Refused as malformed: a bad compressed stream, protobuf, JSON or
    /// gRPC frame, or a body that could not be read (HTTP 400, gRPC
    /// INVALID_ARGUMENT).
    pub refused_malformed: u64,
    /// Refused as unsupported: no such path, method, content type,
    /// encoding or gRPC method (HTTP 404, 405, 415, gRPC UNIMPLEMENTED).
    pub refused_unsupported: u64,
    /// Refused because the body did not arrive within `body_read_timeout`
    /// (HTTP 408, gRPC DEADLINE_EXCEEDED).
    pub refused_timeout: u64,
    /// Requests answered with an injected failure or reset.
    pub faulted_requests: u64,
    /// Body bytes received (as sent, before decompression; gRPC: the
    /// message with its frame header).
    pub body_bytes: u64,
    /// Request bodies written to the capture folder.
    pub captured_files: u64,
    /// Bodies that could not be written there.
    pub capture_errors: u64,
}

impl ReceiverCounts {
    /// What was counted since `before`, an earlier reading of the same
    /// receiver (each count, saturating at zero).
    pub fn since(self, before: ReceiverCounts) -> ReceiverCounts {
        ReceiverCounts {
            spans: self.spans.saturating_sub(before.spans),
            points: self.points.saturating_sub(before.points),
            logs: self.logs.saturating_sub(before.logs),
            accepted_requests: self.accepted_requests.saturating_sub(before.accepted_requests),
            refused_requests: self.refused_requests.saturating_sub(before.refused_requests),
            refused_too_large: self.refused_too_large.saturating_sub(before.refused_too_large),
            refused_over_budget: self.refused_over_budget.saturating_sub(before.refused_over_budget),
            refused_malformed: self.refused_malformed.saturating_sub(before.refused_malformed),
            refused_unsupported: self.refused_unsupported.saturating_sub(before.refused_unsupported),
            refused_timeout: self.refused_timeout.saturating_sub(before.refused_timeout),
            faulted_requests: self.faulted_requests.saturating_sub(before.faulted_requests),
            body_bytes: self.body_bytes.saturating_sub(before.body_bytes),
            captured_files: self.captured_files.saturating_sub(before.captured_files),
            capture_errors: self.capture_errors.saturating_sub(before.capture_errors),
        }
    }
}

/// Why a request was refused, the count it goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    TooLarge,
    OverBudget,
    Malformed,
    Unsupported,
    Timeout,
}

#[derive(Debug, Default)]
struct Counters {
    spans: AtomicU64,
    points: AtomicU64,
    logs: AtomicU64,
    accepted_requests: AtomicU64,
    refused_requests: AtomicU64,
    refused_too_large: AtomicU64,
    refused_over_budget: AtomicU64,
    refused_malformed: AtomicU64,
    refused_unsupported: AtomicU64,
    refused_timeout: AtomicU64,
    faulted_requests: AtomicU64,
    body_bytes: AtomicU64,
    captured_files: AtomicU64,
    capture_errors: AtomicU64,
}

impl Counters {
    /// Counts a refusal, in the total and under its reason.
    fn refuse(&self, reason: Reason) {
        self.refused_requests.fetch_add(1, Relaxed);
        let by_reason = match reason {
            Reason::TooLarge => &self.refused_too_large,
            Reason::OverBudget => &self.refused_over_budget,
            Reason::Malformed => &self.refused_malformed,
            Reason::Unsupported => &self.refused_unsupported,
            Reason::Timeout => &self.refused_timeout,
        };
        by_reason.fetch_add(1, Relaxed);
    }
}

/// State shared by the connections.
#[derive(Debug)]
struct Shared {
    config: ReceiverConfig,
    counters: Counters,
    captured: Mutex<Vec<Received>>,
    started: tokio::time::Instant,
    /// Requests seen, the index into the fault decision sequence.
    sequence: AtomicU64,
    /// Turns to decompress and decode, `max_concurrent_decodes` of them.
    decode_slots: Semaphore,
}

impl Shared {
    /// Waits for a turn to decompress and decode; the turn ends when the
    /// permit is dropped.
    async fn decode_permit(&self) -> SemaphorePermit<'_> {
        self.decode_slots.acquire().await.expect("the semaphore is never closed")
    }
}

/// A running receiver. Stop it with [`Receiver::shutdown`]; dropping it stops
/// accepting connections too.
#[derive(Debug)]
pub struct Receiver {
    http_addr: SocketAddr,
    grpc_addr: Option<SocketAddr>,
    grpc_task: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Receiver {
    /// Binds and starts serving on the current tokio runtime. Fails on a
    /// listen error, an unreadable certificate or key, or a zero count in
    /// the limits.
    pub async fn start(config: ReceiverConfig) -> std::io::Result<Receiver> {
        config.validate()?;
        if let Some(dir) = &config.capture_dir {
            std::fs::create_dir_all(dir)?;
        }
        let http_tls = config.tls.as_ref().map(|id| conn::tls_acceptor(id, &[])).transpose()?;
        let grpc_tls = config.tls.as_ref().map(|id| conn::tls_acceptor(id, &[b"h2"])).transpose()?;
        let listener = TcpListener::bind(config.http_addr).await?;
        let http_addr = listener.local_addr()?;
        let grpc_listener = match config.grpc_addr {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let grpc_addr = grpc_listener.as_ref().map(TcpListener::local_addr).transpose()?;
        let shared = Arc::new(Shared {
            decode_slots: Semaphore::new(config.max_concurrent_decodes),
            config,
            counters: Counters::default(),
            captured: Mutex::new(Vec::new()),
            started: tokio::time::Instant::now(),
            sequence: AtomicU64::new(0),
        });
        let (stop, stopped) = watch::channel(false);
        let grpc_task = grpc_listener.map(|l| {
            tokio::spawn(conn::accept_loop(l, shared.clone(), stopped.clone(), grpc_tls, grpc::serve_connection))
        });
        let task = tokio::spawn(conn::accept_loop(listener, shared.clone(), stopped, http_tls, http::serve_connection));
        Ok(Receiver { http_addr, grpc_addr, grpc_task, shared, stop, task })
    }

    /// Where OTLP/HTTP listens (with the real port when 0 was asked for).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The base URL of the OTLP/HTTP endpoint, e.g. `http://127.0.0.1:4318`
    /// (`https://` when serving TLS).
    pub fn http_endpoint(&self) -> String {
        format!("{}://{}", self.scheme(), self.http_addr)
    }

    fn scheme(&self) -> &'static str {
        if self.shared.config.tls.is_some() { "https" } else { "http" }
    }

    /// Where OTLP/gRPC listens, when it does.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// The OTLP/gRPC endpoint, e.g. `http://127.0.0.1:4317`, when it listens.
    pub fn grpc_endpoint(&self) -> Option<String> {
        self.grpc_addr.map(|a| format!("{}://{a}", self.scheme()))
    }

    /// The counts now.
    pub fn counts(&self) -> ReceiverCounts {
        Receiver::counts_of(&self.shared)
    }

    fn counts_of(shared: &Shared) -> ReceiverCounts {
        let c = &shared.counters;
        ReceiverCounts {
            spans: c.spans.load(Relaxed),
            points: c.points.load(Relaxed),
            logs: c.logs.load(Relaxed),
            accepted_requests: c.accepted_requests.load(Relaxed),
            refused_requests: c.refused_requests.load(Relaxed),
            refused_too_large: c.refused_too_large.load(Relaxed),
            refused_over_budget: c.refused_over_budget.load(Relaxed),
            refused_malformed: c.refused_malformed.load(Relaxed),
            refused_unsupported: c.refused_unsupported.load(Relaxed),
            refused_timeout: c.refused_timeout.load(Relaxed),
            faulted_requests: c.faulted_requests.load(Relaxed),
            body_bytes: c.body_bytes.load(Relaxed),
            captured_files: c.captured_files.load(Relaxed),
            capture_errors: c.capture_errors.load(Relaxed),
        }
    }

    /// Takes what was captured so far (empty unless `capture` is set).
    pub fn take_captured(&self) -> Vec<Received> {
        std::mem::take(&mut *self.shared.captured.lock().expect("capture lock poisoned"))
    }

    /// Stops accepting, lets requests in progress finish, and returns the
    /// final counts.
    pub async fn shutdown(self) -> ReceiverCounts {
        let _receivers_may_be_gone = self.stop.send(true);
        let counts_after = self.shared.clone();
        if let Some(grpc) = self.grpc_task {
            let _joined = grpc.await;
        }
        let _joined = self.task.await;
        Receiver::counts_of(&counts_after)
    }
}

/// The two OTLP body formats (gRPC carries protobuf only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

/// Why a request's body was refused while it was read, decompressed or
/// decoded: the part of a refusal both transports share, each answering it
/// in its own terms.
#[derive(Debug)]
enum DecodeRefusal {
    /// Over `max_body_bytes` as sent, or `max_decompressed_bytes` once
    /// decompressed: the limit it went over.
    TooLarge { limit: usize },
    /// Decoding would build more than `max_decode_bytes`.
    OverBudget { limit: usize },
    /// Bad compressed data, protobuf or JSON, or an unreadable body: why.
    Malformed(String),
    /// The body did not arrive within `body_read_timeout`.
    Timeout,
}

impl DecodeRefusal {
    fn reason(&self) -> Reason {
        match self {
            DecodeRefusal::TooLarge { .. } => Reason::TooLarge,
            DecodeRefusal::OverBudget { .. } => Reason::OverBudget,
            DecodeRefusal::Malformed(_) => Reason::Malformed,
            DecodeRefusal::Timeout => Reason::Timeout,
        }
    }

    /// The message for the client (the `google.rpc.Status` message, or the
    /// gRPC status message).
    fn message(&self) -> String {
        match self {
            DecodeRefusal::TooLarge { limit } => format!("request exceeds the limit of {limit} bytes"),
            DecodeRefusal::OverBudget { limit } => {
                format!("decoding the request would take more than the decode budget of {limit} bytes")
            }
            DecodeRefusal::Malformed(why) => why.clone(),
            DecodeRefusal::Timeout => "request body not received in time".to_owned(),
        }
    }
}

impl From<EncodeError> for DecodeRefusal {
    fn from(e: EncodeError) -> Self {
        match e {
            EncodeError::OverBudget { limit } => DecodeRefusal::OverBudget { limit },
            e => DecodeRefusal::Malformed(format!("cannot decode the request: {e}")),
        }
    }
}

/// Reads a whole request body, at most `limit` bytes, within
/// `body_read_timeout`.
async fn read_body(body: hyper::body::Incoming, limit: usize, timeout: Duration) -> Result<Bytes, DecodeRefusal> {
    match tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await {
        Err(_) => Err(DecodeRefusal::Timeout),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(DecodeRefusal::TooLarge { limit }),
        Ok(Err(e)) => Err(DecodeRefusal::Malformed(format!("reading the body failed: {e}"))),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// Decompresses (unless `codec` is none), validates, counts and captures
/// one request body: the step both transports share. The caller holds a
/// turn from [`Shared::decode_permit`] (gRPC: since before tonic
/// decompressed the message, which is then passed here with no codec).
///
/// OTLP/protobuf is validated and counted on a zero-copy view
/// ([`crate::encode::view`]), which accepts exactly what the decoder accepts
/// and builds nothing; the budget refuses a body whose model would take more
/// than `max_decode_bytes` ([`TracesView::model_bytes`]), whether or not it
/// is built. The model is built only to keep it (`capture`). OTLP/JSON is
/// parsed into the model.
fn decode_and_count(
    shared: &Shared,
    signal: Signal,
    format: Format,
    codec: Compression,
    body: Bytes,
) -> Result<(), DecodeRefusal> {
    let config = &shared.config;
    // Protobuf decodes from shared bytes: its strings are slices of `body`.
    let body = match codec {
        Compression::None => body,
        codec => {
            let mut out = Vec::new();
            Decompressor::new().decompress(codec, &body, &mut out, config.max_decompressed_bytes).map_err(
                |e| match e {
                    CompressError::TooLarge { limit } => DecodeRefusal::TooLarge { limit },
                    e => DecodeRefusal::Malformed(format!("cannot decompress the body: {e}")),
                },
            )?;
            Bytes::from(out)
        }
    };
    let budget = DecodeBudget::bytes(config.max_decode_bytes);
    let capture = config.capture_dir.is_some();
    let (items, received, captured) = match format {
        Format::Protobuf => {
            let items = match signal {
                Signal::Traces => TracesView::new_within(&body, budget)?.span_count(),
                Signal::Metrics => MetricsView::new_within(&body, budget)?.data_point_count(),
                Signal::Logs => LogsView::new_within(&body, budget)?.log_record_count(),
            };
            let received = if config.capture {
                Some(match signal {
                    Signal::Traces => Received::Traces(decode::decode_traces_within(&body, budget)?),
                    Signal::Metrics => Received::Metrics(decode::decode_metrics_within(&body, budget)?),
                    Signal::Logs => Received::Logs(decode::decode_logs_within(&body, budget)?),
                })
            } else {
                None
            };
            (items, received, body)
        }
        Format::Json => {
            // simd-json parses in place: keep the body as sent for the
            // capture. Without one, a body this task owns alone becomes the
            // Vec without a copy.
            let pristine = if capture { body.clone() } else { Bytes::new() };
            let mut raw = Vec::from(body);
            let received = match signal {
                Signal::Traces => {
                    Received::Traces(json::parse_traces_within(&mut raw, budget).map_err(EncodeError::from)?)
                }
                Signal::Metrics => {
                    Received::Metrics(json::parse_metrics_within(&mut raw, budget).map_err(EncodeError::from)?)
                }
                Signal::Logs => Received::Logs(json::parse_logs_within(&mut raw, budget).map_err(EncodeError::from)?),
            };
            let items = match &received {
                Received::Traces(d) => d.span_count(),
                Received::Metrics(d) => d.point_count(),
                Received::Logs(d) => d.record_count(),
            };
            (items, Some(received), pristine)
        }
    };
    if capture {
        capture_to_file(shared, signal, if format == Format::Json { "json" } else { "pb" }, &captured);
    }
    let c = &shared.counters;
    match signal {
        Signal::Traces => c.spans.fetch_add(items as u64, Relaxed),
        Signal::Metrics => c.points.fetch_add(items as u64, Relaxed),
        Signal::Logs => c.logs.fetch_add(items as u64, Relaxed),
    };
    if let Some(received) = received.filter(|_| config.capture) {
        shared.captured.lock().expect("capture lock poisoned").push(received);
    }
    Ok(())
}

/// Writes one accepted body to the capture folder, if there is one. A full
/// disk must not fail the request: the error is counted instead.
fn capture_to_file(shared: &Shared, signal: Signal, extension: &str, body: &[u8]) {
    let Some(dir) = &shared.config.capture_dir else { return };
    let n = shared.counters.captured_files.fetch_add(1, Relaxed);
    let name = format!("{n:06}-{}.{extension}", format!("{signal:?}").to_lowercase());
    if std::fs::write(dir.join(name), body).is_err() {
        shared.counters.capture_errors.fetch_add(1, Relaxed);
    }
}
