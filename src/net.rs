//! The network commands of the CLI: a standalone receiver and a fixture
//! sender, used by the interop script and for quick loopback measurements.

use std::error::Error;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use otlp_pipeline::compress::Compression;
use otlp_pipeline::exporter::{Exporter, Protocol};
use otlp_pipeline::fixtures;
use otlp_pipeline::pipeline::Item;
use otlp_pipeline::receiver::{Receiver, ReceiverConfig, ReceiverCounts};

/// How often `receive` checks its expectations.
const POLL: Duration = Duration::from_millis(50);

fn counts_json(c: &ReceiverCounts) -> String {
    serde_json::json!({
        "spans": c.spans,
        "points": c.points,
        "logs": c.logs,
        "accepted_requests": c.accepted_requests,
        "refused_requests": c.refused_requests,
    })
    .to_string()
}

/// Serves OTLP/HTTP on `addr` (and OTLP/gRPC on `grpc`) until every expectation (spans, points, logs)
/// is met, `timeout` passes, or Ctrl-C. Prints the counts as one JSON line.
/// Fails when an expectation is unmet.
pub async fn receive(
    addr: SocketAddr,
    grpc: Option<SocketAddr>,
    expect: [Option<u64>; 3],
    timeout: Duration,
) -> Result<(), Box<dyn Error>> {
    let receiver = Receiver::start(ReceiverConfig { http_addr: addr, grpc_addr: grpc, ..ReceiverConfig::default() })
        .await
        .map_err(|e| format!("cannot listen on {addr} (gRPC: {grpc:?}): {e}"))?;
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
        return Err(format!("expected spans/points/logs {expect:?}, received {}", counts_json(&counts)).into());
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
pub async fn send(endpoint: Option<String>, plan: SendPlan) -> Result<(), Box<dyn Error>> {
    let local = match endpoint {
        Some(_) => None,
        None => Some(
            Receiver::start(ReceiverConfig {
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
    let spans = fixtures::spans(usize::try_from(plan.spans)?);
    // The fixture makes 10 metrics; with no points asked for, send none.
    let metrics = if plan.points >= 10 {
        fixtures::metrics(usize::try_from(plan.points / 10 * 10)?).resource_metrics
    } else {
        Vec::new()
    };
    let logs = fixtures::log_records(usize::try_from(plan.logs)?);
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
        h.send(item).await?;
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
        return Err(format!("{} items dropped: {p}", p.dropped_total()).into());
    }
    Ok(())
}
