//! The receiver under amplification attack: for every kind of
//! `fixtures::hostile` body, over OTLP/HTTP with protobuf and JSON bodies
//! (each compression) and OTLP/gRPC (none and zstd), eight requests at once
//! must be refused (HTTP 413 with a `google.rpc.Status` naming the limit,
//! gRPC RESOURCE_EXHAUSTED) while the live heap stays under a bound derived
//! from the receiver's limits, and valid requests (protobuf and JSON) must
//! be accepted afterwards.
//!
//! A binary of its own because it installs a counting global allocator; one
//! `#[test]` because the counts are process-wide. The client runs in the same
//! process: its bodies are built before a round and the round's peak is
//! measured from the live heap at its start.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use otlp_pipeline::compress::{Compression, Compressor};
use otlp_pipeline::encode::Signal;
use otlp_pipeline::fixtures::{self, hostile};
use otlp_pipeline::pipeline::{BodyFormat, ExportRequest};
use otlp_pipeline::receiver::{Receiver, ReceiverConfig};
use otlp_pipeline::transport::TransportError;
use otlp_pipeline::transport::grpc::GrpcClient;
use otlp_pipeline::transport::http::HttpClient;

/// `System` with a count of live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; the counters are
// only updated beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on to `System`.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Starts a new peak at the live bytes now; returns them.
fn reset_peak() -> usize {
    let live = LIVE.load(Relaxed);
    PEAK.store(live, Relaxed);
    live
}

/// Requests sent at once, as the bar asks.
const REQUESTS: usize = 8;
/// Decodes the receiver runs at once. The receiver's decode concurrency
/// (`max_concurrent_decodes`) is set to this in [`config`]; the receiver here
/// runs on one thread, so it is an upper bound.
const CONCURRENT_DECODES: usize = 2;
/// Connections, runtime, hyper's, h2's and tonic's buffers, the counters.
const SLACK: usize = 32 << 20;
/// A hang guard per round, not a timing check.
const HANG_GUARD: Duration = Duration::from_secs(120);

fn config() -> ReceiverConfig {
    ReceiverConfig {
        grpc_addr: Some(([127, 0, 0, 1], 0).into()),
        max_concurrent_decodes: CONCURRENT_DECODES,
        ..ReceiverConfig::default()
    }
}

/// What the live heap may grow by during a round: each decode holds its
/// decompressed body and at most its budget of model; every request's body is
/// held as received and once more as one contiguous buffer; a gRPC client
/// (here, in this process) holds the uncompressed message and its framed,
/// compressed copy.
fn heap_bound(config: &ReceiverConfig, sent: usize, grpc_message: Option<usize>) -> usize {
    CONCURRENT_DECODES * (config.max_decompressed_bytes + config.max_decode_bytes)
        + REQUESTS * 2 * sent
        + grpc_message.map_or(0, |m| REQUESTS * 2 * m)
        + SLACK
}

/// How a request was answered.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    Accepted,
    Http { status: u16, message: Option<String> },
    Grpc { code: i32, message: Option<String> },
    Failed(String),
}

impl Answer {
    fn of(result: Result<otlp_pipeline::transport::Accepted, TransportError>) -> Answer {
        match result {
            Ok(_) => Answer::Accepted,
            Err(TransportError::Status { status, message, .. }) => {
                Answer::Http { status, message: message.map(String::from) }
            }
            Err(TransportError::Grpc { code, message, .. }) => {
                Answer::Grpc { code, message: message.map(String::from) }
            }
            Err(e) => Answer::Failed(e.to_string()),
        }
    }

    /// Refused for its size, the limit named: 413 or RESOURCE_EXHAUSTED (8).
    fn refused_for_size(&self) -> bool {
        let names_limit = |m: &Option<String>| {
            m.as_deref().is_some_and(|m| m.contains("limit") || m.contains("budget") || m.contains("large"))
        };
        match self {
            Answer::Http { status: 413, message } => names_limit(message),
            Answer::Grpc { code: 8, .. } => true,
            _ => false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Http(BodyFormat, Compression),
    Grpc(Compression),
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Http(BodyFormat::Protobuf, c) => write!(f, "http/protobuf+{c}"),
            Transport::Http(BodyFormat::Json, c) => write!(f, "http/json+{c}"),
            Transport::Grpc(c) => write!(f, "grpc+{c}"),
        }
    }
}

const TRANSPORTS: [Transport; 8] = [
    Transport::Http(BodyFormat::Protobuf, Compression::None),
    Transport::Http(BodyFormat::Protobuf, Compression::GZIP_DEFAULT),
    Transport::Http(BodyFormat::Protobuf, Compression::ZSTD_DEFAULT),
    Transport::Http(BodyFormat::Json, Compression::None),
    Transport::Http(BodyFormat::Json, Compression::GZIP_DEFAULT),
    Transport::Http(BodyFormat::Json, Compression::ZSTD_DEFAULT),
    Transport::Grpc(Compression::None),
    Transport::Grpc(Compression::ZSTD_DEFAULT),
];

/// One kind's bodies, built once: uncompressed under the body limit,
/// compressed ones filling the decompressed limit.
struct Bodies {
    small: [Bytes; 2],
    full: [Bytes; 2],
    compressed: [[Bytes; 2]; 2],
    /// The least model memory of `small` and `full`, per format.
    small_model: [u64; 2],
    full_model: [u64; 2],
    /// Their elements, per format.
    small_elements: [u64; 2],
    full_elements: [u64; 2],
}

fn bodies(kind: hostile::Kind) -> Bodies {
    let build = |format, target| kind.body(format, target).expect("the target holds the kind");
    let mut compressor = Compressor::new();
    let mut squeeze = |codec, body: &[u8]| {
        let mut out = Vec::new();
        compressor.compress(codec, body, &mut out).expect("compresses");
        Bytes::from(out)
    };
    let formats = [BodyFormat::Protobuf, BodyFormat::Json];
    let small_a = formats.map(|f| build(f, hostile::target_for(false)));
    let full_a = formats.map(|f| build(f, hostile::target_for(true)));
    let small_model = [0, 1].map(|i| small_a[i].model_bytes());
    let full_model = [0, 1].map(|i| full_a[i].model_bytes());
    let small_elements = [0, 1].map(|i| small_a[i].elements);
    let full_elements = [0, 1].map(|i| full_a[i].elements);
    let small = small_a.map(|a| Bytes::from(a.body));
    let full = full_a.map(|a| Bytes::from(a.body));
    let compressed =
        [0, 1].map(|i| [Compression::GZIP_DEFAULT, Compression::ZSTD_DEFAULT].map(|c| squeeze(c, &full[i])));
    Bodies { small, full, compressed, small_model, full_model, small_elements, full_elements }
}

fn request(signal: Signal, format: BodyFormat, compression: Compression, body: Bytes) -> ExportRequest {
    let raw_len = body.len();
    ExportRequest { signal, body, compression, format, items: 0, raw_len }
}

/// A valid request (the standard fixture of the signal), over both
/// transports, and as OTLP/JSON over HTTP.
async fn valid_requests(http: &HttpClient, grpc: &GrpcClient, signal: Signal) -> Vec<Answer> {
    use otlp_pipeline::encode::{direct, json};
    let (mut body, mut text) = (Vec::new(), Vec::new());
    match signal {
        Signal::Traces => {
            direct::encode_traces(&fixtures::traces(16), &mut body);
            json::write_traces(&fixtures::traces(16), &mut text);
        }
        Signal::Metrics => {
            direct::encode_metrics(&fixtures::metrics(20), &mut body);
            json::write_metrics(&fixtures::metrics(20), &mut text);
        }
        Signal::Logs => {
            direct::encode_logs(&fixtures::logs(16), &mut body);
            json::write_logs(&fixtures::logs(16), &mut text);
        }
    };
    let r = request(signal, BodyFormat::Protobuf, Compression::None, Bytes::from(body));
    let j = request(signal, BodyFormat::Json, Compression::None, Bytes::from(text));
    vec![Answer::of(http.send(&r).await), Answer::of(grpc.send(&r).await), Answer::of(http.send(&j).await)]
}

#[tokio::test]
async fn amplification_is_refused_with_bounded_memory() {
    let config = config();
    assert_eq!(config.max_decompressed_bytes, hostile::DEFAULT_DECOMPRESSED_LIMIT, "the generator's default");
    assert_eq!(config.max_body_bytes, hostile::DEFAULT_BODY_LIMIT, "the generator's default");
    let receiver = Receiver::start(config.clone()).await.expect("receiver starts");
    let http = HttpClient::new(&receiver.http_endpoint(), &[]).expect("HTTP client");
    let grpc_endpoint = receiver.grpc_endpoint().expect("gRPC is on");
    let grpc = [Compression::None, Compression::ZSTD_DEFAULT]
        .map(|c| GrpcClient::new(&grpc_endpoint, c, &[], None).expect("gRPC client"));
    for &kind in hostile::Kind::ALL {
        let b = bodies(kind);
        for transport in TRANSPORTS {
            let i = usize::from(matches!(transport, Transport::Http(BodyFormat::Json, _)));
            let (model_bytes, elements) = match transport {
                Transport::Http(_, Compression::None) | Transport::Grpc(Compression::None) => {
                    (b.small_model[i], b.small_elements[i])
                }
                _ => (b.full_model[i], b.full_elements[i]),
            };
            // A decode over the budget must be refused; one under it (exemplars,
            // which the model drops; fixed64 bucket counts, as large as their
            // wire bytes; links, 28 bytes of ids each) may be taken whole. A
            // JSON parse takes at least one 24-byte simd-json tape node per
            // element besides the model.
            let parse_bytes = if i == 1 { 24 * elements } else { 0 };
            let must_refuse = model_bytes + parse_bytes > config.max_decode_bytes as u64;
            let (r, grpc_message, client) = match transport {
                Transport::Http(format, codec) => {
                    let body = match codec {
                        Compression::None => b.small[i].clone(),
                        Compression::Gzip { .. } => b.compressed[i][0].clone(),
                        Compression::Zstd { .. } => b.compressed[i][1].clone(),
                    };
                    (request(kind.signal(), format, codec, body), None, None)
                }
                Transport::Grpc(codec) => {
                    // tonic compresses the message itself.
                    let (body, i) =
                        if codec == Compression::None { (b.small[0].clone(), 0) } else { (b.full[0].clone(), 1) };
                    let len = body.len();
                    (request(kind.signal(), BodyFormat::Protobuf, Compression::None, body), Some(len), Some(&grpc[i]))
                }
            };
            let sent = if client.is_some() { 0 } else { r.body.len() };
            let bound = heap_bound(&config, sent, grpc_message);
            let send = |r: &ExportRequest| {
                let r =
                    ExportRequest { body: r.body.clone(), ..request(r.signal, r.format, r.compression, Bytes::new()) };
                let http = http.clone();
                let client = client.cloned();
                async move {
                    match client {
                        Some(g) => Answer::of(g.send(&r).await),
                        None => Answer::of(http.send(&r).await),
                    }
                }
            };
            let case = format!("{kind} over {transport}");
            let before = receiver.counts();
            // One request first: without a budget it is taken whole, and
            // eight at once would take gigabytes.
            let start = reset_peak();
            let probe = tokio::time::timeout(HANG_GUARD, send(&r)).await.expect("probe hung");
            let grew = PEAK.load(Relaxed) - start;
            assert!(
                !must_refuse || probe.refused_for_size(),
                "{case}: a request of {} bytes ({} model bytes) was answered {probe:?}, expected a refusal for its \
                 size (HTTP 413 naming the limit, gRPC RESOURCE_EXHAUSTED); the heap grew by {} MiB during it \
                 (bound for the whole round: {} MiB)",
                r.body.len(),
                model_bytes,
                grew >> 20,
                bound >> 20,
            );
            let start = reset_peak();
            let answers = tokio::time::timeout(HANG_GUARD, futures_join_all((0..REQUESTS).map(|_| send(&r))))
                .await
                .expect("round hung");
            let grew = PEAK.load(Relaxed).saturating_sub(start);
            let after = receiver.counts();
            let refused = after.refused_requests - before.refused_requests;
            let accepted = after.accepted_requests - before.accepted_requests;
            for a in &answers {
                if must_refuse {
                    assert!(a.refused_for_size(), "{case}: answered {a:?}, expected a refusal for its size");
                } else {
                    assert!(a.refused_for_size() || *a == Answer::Accepted, "{case}: answered {a:?}");
                }
            }
            assert_eq!(refused + accepted, REQUESTS as u64 + 1, "{case}: the receiver counted {after:?}");
            if must_refuse {
                assert_eq!(refused, REQUESTS as u64 + 1, "{case}: refusals counted");
            }
            assert!(
                grew <= bound,
                "{case}: the heap grew by {} MiB during {REQUESTS} requests at once, bound {} MiB",
                grew >> 20,
                bound >> 20
            );
            eprintln!("{case}: {answers:?}, heap +{} MiB (bound {} MiB)", grew >> 20, bound >> 20);
        }
        let valid = valid_requests(&http, &grpc[0], kind.signal()).await;
        assert_eq!(valid, vec![Answer::Accepted; 3], "{kind}: valid requests after the attack");
    }
    receiver.shutdown().await;
}

/// Runs the futures at once on this task and collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in set.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|o| o.expect("every future finished")).collect()
}
