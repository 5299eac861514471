//! The loopback OTLP receiver: an in-process OTLP/HTTP server as strict as a
//! production collector, for the lab's scenarios and the tests.
//!
//! Owns: listening (127.0.0.1 by default, port 0 for an ephemeral one),
//! limits (compressed and decompressed body size, concurrent connections,
//! header and body read time), the spec's answers (400 malformed, 404, 405,
//! 413 too large, 415 unsupported content type or encoding, each with a
//! `google.rpc.Status` body), decoding (OTLP/HTTP protobuf with the direct
//! decoder, straight from the received bytes), counts per signal, optional
//! in-memory capture of what it decoded, and seeded fault injection, and
//! capture of request bodies to files. OTLP/gRPC serves the three official
//! services on tonic, with the same direct decoder: a codec that hands each
//! message on undecoded, and the services' routes written by hand.
//!
//! Does not own: the codecs it applies (decompression is [`crate::compress`],
//! decoding [`crate::encode::decode`]), or anything after a request is
//! counted and captured: it forwards nothing, like a collector with no
//! pipelines.

mod grpc;
mod http;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::model::{LogsData, MetricsData, TracesData};

/// Receiver settings.
#[derive(Clone, Debug)]
pub struct ReceiverConfig {
    /// Where OTLP/HTTP listens; loopback and an ephemeral port by default.
    pub http_addr: SocketAddr,
    /// Where OTLP/gRPC listens, if at all (off by default).
    pub grpc_addr: Option<SocketAddr>,
    /// Largest request body accepted as sent (compressed): the
    /// OpenTelemetry Collector's default limit is in this range.
    pub max_body_bytes: usize,
    /// Largest body accepted after decompression: bounds a decompression bomb.
    pub max_decompressed_bytes: usize,
    /// Connections served at once; further ones wait to be accepted.
    pub max_connections: usize,
    /// Time a client has to send its request headers.
    pub header_read_timeout: Duration,
    /// Time a client has to send its request body.
    pub body_read_timeout: Duration,
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
            max_connections: 256,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            capture: false,
            capture_dir: None,
            faults: Faults::default(),
            tls: None,
        }
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
    /// Requests answered 200.
    pub accepted_requests: u64,
    /// Requests refused (any 4xx).
    pub refused_requests: u64,
    /// Requests answered with an injected failure or reset.
    pub faulted_requests: u64,
    /// Body bytes received (as sent, before decompression).
    pub body_bytes: u64,
    /// Request bodies written to the capture folder.
    pub captured_files: u64,
    /// Bodies that could not be written there.
    pub capture_errors: u64,
}

#[derive(Debug, Default)]
struct Counters {
    spans: AtomicU64,
    points: AtomicU64,
    logs: AtomicU64,
    accepted_requests: AtomicU64,
    refused_requests: AtomicU64,
    faulted_requests: AtomicU64,
    body_bytes: AtomicU64,
    captured_files: AtomicU64,
    capture_errors: AtomicU64,
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
    /// Binds and starts serving on the current tokio runtime.
    pub async fn start(config: ReceiverConfig) -> std::io::Result<Receiver> {
        if let Some(dir) = &config.capture_dir {
            std::fs::create_dir_all(dir)?;
        }
        let acceptor = config.tls.as_ref().map(http::tls_acceptor).transpose()?;
        let listener = TcpListener::bind(config.http_addr).await?;
        let http_addr = listener.local_addr()?;
        let grpc_listener = match config.grpc_addr {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let grpc_addr = grpc_listener.as_ref().map(TcpListener::local_addr).transpose()?;
        let shared = Arc::new(Shared {
            config,
            counters: Counters::default(),
            captured: Mutex::new(Vec::new()),
            started: tokio::time::Instant::now(),
            sequence: AtomicU64::new(0),
        });
        let (stop, stopped) = watch::channel(false);
        let grpc_task = match grpc_listener {
            Some(l) => Some(tokio::spawn(grpc::serve(l, shared.clone(), stopped.clone())?)),
            None => None,
        };
        let task = tokio::spawn(accept_loop(listener, shared.clone(), stopped, acceptor));
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

/// Writes one accepted body to the capture folder, if there is one. A full
/// disk must not fail the request: the error is counted instead.
fn capture_to_file(shared: &Shared, signal: crate::encode::Signal, extension: &str, body: &[u8]) {
    let Some(dir) = &shared.config.capture_dir else { return };
    let n = shared.counters.captured_files.fetch_add(1, Relaxed);
    let name = format!("{n:06}-{}.{extension}", format!("{signal:?}").to_lowercase());
    if std::fs::write(dir.join(name), body).is_err() {
        shared.counters.capture_errors.fetch_add(1, Relaxed);
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
) {
    let slots = Arc::new(Semaphore::new(shared.config.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = stopped.changed() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                // Out of file descriptors or a reset during accept: skip this one.
                Err(_) => continue,
            },
            _ = stopped.changed() => break,
        };
        let (shared, stopped, acceptor) = (shared.clone(), stopped.clone(), acceptor.clone());
        connections.spawn(async move {
            match acceptor {
                None => http::serve_connection(stream, shared, stopped).await,
                Some(acceptor) => {
                    // A client that never finishes its handshake is cut off like a slow header.
                    let timeout = shared.config.header_read_timeout;
                    if let Ok(Ok(tls)) = tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                        http::serve_connection(tls, shared, stopped).await;
                    }
                }
            }
            drop(permit);
        });
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
}
