//! The network commands of the CLI: a standalone receiver and a fixture
//! sender, used by the interop script and for quick loopback measurements.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use otlp_pipeline::compress::Compression;
use otlp_pipeline::exporter::{Exporter, ExporterError, Protocol};
use otlp_pipeline::fixtures;
use otlp_pipeline::pipeline::{Item, Refused};
use otlp_pipeline::receiver::{Receiver, ReceiverConfig, ReceiverCounts};

/// Why `receive` or `send` failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The receiver could not listen.
    #[error("cannot listen on {http} (gRPC: {grpc:?}): {source}")]
    Listen {
        /// The OTLP/HTTP address asked for.
        http: SocketAddr,
        /// The OTLP/gRPC address asked for, if any.
        grpc: Option<SocketAddr>,
        /// The OS error.
        source: std::io::Error,
    },
    /// `receive` ended (timeout or Ctrl-C) before every expected item arrived.
    #[error("expected spans/points/logs {expected:?}, received {received}")]
    Unmet {
        /// Spans, points and logs expected.
        expected: [Option<u64>; 3],
        /// The receiver's counts, as the JSON line printed.
        received: String,
    },
    /// The exporter could not be built.
    #[error(transparent)]
    Exporter(#[from] ExporterError),
    /// A count asked for does not fit in memory on this platform.
    #[error("{what}: {n} is more than this platform can hold")]
    TooMany {
        /// Which count.
        what: &'static str,
        /// The count asked for.
        n: u64,
    },
    /// The pipeline refused an item (it is counted as dropped).
    #[error(transparent)]
    Refused(Box<Refused>),
    /// Items were dropped on the way.
    #[error("{dropped} items dropped: {stats}")]
    Dropped {
        /// Items dropped in all.
        dropped: u64,
        /// The pipeline's counters.
        stats: String,
    },
}

/// `n` as a `usize`, or [`NetError::TooMany`].
fn count(what: &'static str, n: u64) -> Result<usize, NetError> {
    usize::try_from(n).map_err(|_| NetError::TooMany { what, n })
}

/// Starts a receiver, or says which addresses it could not take.
async fn start(config: ReceiverConfig) -> Result<Receiver, NetError> {
    let (http, grpc) = (config.http_addr, config.grpc_addr);
    Receiver::start(config).await.map_err(|source| NetError::Listen { http, grpc, source })
}

/// How often `receive` checks its expectations.
const POLL: Duration = Duration::from_millis(50);

fn counts_json(c: &ReceiverCounts) -> String {
    serde_json::json!({
        "spans": c.spans,
        "points": c.points,
        "logs": c.logs,
        "accepted_requests": c.accepted_requests,
        "refused_requests": c.refused_requests,
        "refused_too_large": c.refused_too_large,
        "refused_over_budget": c.refused_over_budget,
        "refused_malformed": c.refused_malformed,
        "refused_unsupported": c.refused_unsupported,
        "refused_timeout": c.refused_timeout,
    })
    .to_string()
}

/// Serves OTLP/HTTP on `config.http_addr` (and OTLP/gRPC on
/// `config.grpc_addr`) with `config`'s limits until every expectation
/// (spans, points, logs) is met, `timeout` passes, or Ctrl-C. Prints the
/// counts, refusals by reason included, as one JSON line. Fails when an
/// expectation is unmet.
pub async fn receive(config: ReceiverConfig, expect: [Option<u64>; 3], timeout: Duration) -> Result<(), NetError> {
    let receiver = start(config).await?;
    eprintln!("otlp-lab: receiving OTLP/HTTP on {}", receiver.http_endpoint());
    if let Some(g) = receiver.grpc_endpoint() {
        eprintln!("otlp-lab: receiving OTLP/gRPC on {g}");
    }
    let met = |c: &ReceiverCounts| {
        let got = [c.spans, c.points, c.logs];
        expect.iter().zip(got).all(|(e, g)| e.is_none_or(|e| g >= e))
    };
    let waiting_for_something = expect.iter().any(Option::is_some);
    let deadline = Instant::now() + timeout;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        if waiting_for_something && met(&receiver.counts()) {
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = &mut ctrl_c => break,
        }
    }
    let counts = receiver.shutdown().await;
    println!("{}", counts_json(&counts));
    if waiting_for_something && !met(&counts) {
        return Err(NetError::Unmet { expected: expect, received: counts_json(&counts) });
    }
    Ok(())
}

/// What `send` sends.
#[derive(Clone, Copy, Debug)]
pub struct SendPlan {
    /// The protocol.
    pub protocol: Protocol,
    /// The body codec.
    pub compression: Compression,
    /// Spans.
    pub spans: u64,
    /// Metric points (a multiple of 10 is sent).
    pub points: u64,
    /// Log records.
    pub logs: u64,
    /// Shutdown deadline.
    pub deadline: Duration,
}

/// Exports the standard fixtures to `endpoint` (or to a receiver started
/// here when `None`), then prints the exporter's counts and the delivered
/// rate as one JSON line. Fails when anything was dropped.
pub async fn send(endpoint: Option<String>, plan: SendPlan) -> Result<(), NetError> {
    let local = match endpoint {
        Some(_) => None,
        None => Some(
            start(ReceiverConfig {
                grpc_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
                ..ReceiverConfig::default()
            })
            .await?,
        ),
    };
    let endpoint = endpoint.unwrap_or_else(|| match (&local, plan.protocol) {
        (Some(r), Protocol::Grpc) => r.grpc_endpoint().unwrap_or_default(),
        (Some(r), _) => r.http_endpoint(),
        (None, _) => String::new(),
    });
    let exporter = Exporter::builder()
        .endpoint(endpoint.as_str())
        .protocol(plan.protocol)
        .compression(plan.compression)
        .resource(fixtures::resource())
        .scope(fixtures::scope())
        .build()?;
    let spans = fixtures::spans(count("spans", plan.spans)?);
    // The fixture makes 10 metrics; with no points asked for, send none.
    let metrics = if plan.points >= 10 {
        fixtures::metrics(count("points", plan.points / 10 * 10)?).resource_metrics
    } else {
        Vec::new()
    };
    let logs = fixtures::log_records(count("logs", plan.logs)?);
    let started = Instant::now();
    let h = exporter.handle();
    // Closed loop: wait for queue room rather than drop (a dropped item would
    // still be counted, but this command measures delivery).
    let items = spans
        .into_iter()
        .map(Item::Span)
        .chain(metrics.into_iter().flat_map(|r| r.scope_metrics).flat_map(|s| s.metrics).map(Item::Metric))
        .chain(logs.into_iter().map(Item::Log));
    for item in items {
        h.send(item).await.map_err(|r| NetError::Refused(Box::new(r)))?;
    }
    let stats = exporter.shutdown(plan.deadline).await.unwrap_or_else(otlp_pipeline::ShutdownError::into_stats);
    let elapsed = started.elapsed();
    let p = stats.pipeline;
    let secs = elapsed.as_secs_f64();
    let line = serde_json::json!({
        "endpoint": endpoint,
        "protocol": plan.protocol.to_string(),
        "compression": plan.compression.to_string(),
        "accepted": p.accepted,
        "exported": p.exported,
        "dropped": p.dropped_total(),
        "requests": p.requests,
        "retries": stats.transport.retries,
        "bytes_raw": p.bytes_raw,
        "bytes_sent": p.bytes_sent,
        "seconds": secs,
        "items_per_second": (p.exported as f64 / secs).round(),
        "last_error": stats.transport.last_error.as_deref(),
    });
    println!("{line}");
    if let Some(r) = local {
        let c = r.shutdown().await;
        eprintln!("otlp-lab: loopback receiver counted {}", counts_json(&c));
    }
    if p.dropped_total() > 0 {
        return Err(NetError::Dropped { dropped: p.dropped_total(), stats: p.to_string() });
    }
    Ok(())
}
