//! error_handling: refused configurations, receiver faults, timeouts and
//! malformed requests.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::workloads::Outcome;
use otlp_pipeline::compress::Compression;
use otlp_pipeline::encode::Signal;
use otlp_pipeline::exporter::{Exporter, ExporterBuilder, ExporterError, Protocol};
use otlp_pipeline::model::Span;
use otlp_pipeline::pipeline::{DropReason, PipelineConfig};
use otlp_pipeline::receiver::{Receiver, ReceiverConfig};
use otlp_pipeline::transport::http::HttpConfigError;
use otlp_pipeline::transport::{BreakerConfig, RetryConfig};

use super::harness::{
    Tally, check_accounted, check_balanced, deliver_spans, delta, dropped_text, export_spans, exporter_row,
    http_exporter,
};
use super::sizes::{
    AFTER_PROBE_SPANS, ERROR_BATCH, FAST_RETRY, FEW_BATCH, PROBE_TIMEOUT, QUICK_BREAKER, SHORT_RETRY, SHORT_TIMEOUT,
};
use super::{ScenarioError, ScenarioRow, unexpected};

/// The receivers and fixtures of error_handling.
#[derive(Debug)]
pub(super) struct Errors {
    /// Healthy: target of the malformed requests.
    pub(super) ok: Receiver,
    /// Fails 30% of requests with 503; started fresh in each run (see
    /// [`unavailable_receiver`]).
    pub(super) unavailable: ReceiverConfig,
    /// Fails every request with 400.
    pub(super) bad_request: Receiver,
    /// Answers after `SLOW_RECEIVER_DELAY`.
    pub(super) slow: Receiver,
    pub(super) retry_spans: Vec<Span>,
    pub(super) few_spans: Vec<Span>,
}

/// The kinds of configuration error the builder reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConfigKind {
    Endpoint,
    Header,
    Batch,
    Compression,
    Transport,
    Unsupported,
    Setting,
}

impl ConfigKind {
    const ALL: [ConfigKind; 7] = [
        ConfigKind::Endpoint,
        ConfigKind::Header,
        ConfigKind::Batch,
        ConfigKind::Compression,
        ConfigKind::Transport,
        ConfigKind::Unsupported,
        ConfigKind::Setting,
    ];

    fn of(e: &ExporterError) -> Self {
        use otlp_pipeline::pipeline::ConfigError as PipelineError;
        match e {
            ExporterError::Invalid { .. } => ConfigKind::Setting,
            ExporterError::Http(HttpConfigError::Header(_)) => ConfigKind::Header,
            ExporterError::Http(_) => ConfigKind::Endpoint,
            ExporterError::Compression(_) | ExporterError::Pipeline(PipelineError::Compression(_)) => {
                ConfigKind::Compression
            }
            ExporterError::Pipeline(_) => ConfigKind::Batch,
            ExporterError::Transport(_) => ConfigKind::Transport,
            ExporterError::Unsupported(_) => ConfigKind::Unsupported,
            // The pipeline's error is non-exhaustive: a kind added there is a setting until named here.
            _ => ConfigKind::Setting,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ConfigKind::Endpoint => "endpoint",
            ConfigKind::Header => "header",
            ConfigKind::Batch => "batch",
            ConfigKind::Compression => "compression",
            ConfigKind::Transport => "transport",
            ConfigKind::Unsupported => "unsupported",
            ConfigKind::Setting => "setting",
        }
    }
}

/// A configuration the builder must refuse: its name, the kind of error
/// expected, a word the message must contain (so it says what is wrong),
/// and the builder (or the error already raised while configuring it).
type ConfigCase = (&'static str, ConfigKind, &'static str, Result<ExporterBuilder, ExporterError>);

fn invalid_configs(endpoint: &str) -> Vec<ConfigCase> {
    let base = || Exporter::builder().endpoint(endpoint);
    let env =
        |key: &'static str, value: &'static str| base().from_env_with(move |k| (k == key).then(|| value.to_owned()));
    let batch = |f: fn(&mut PipelineConfig)| {
        let mut config = PipelineConfig::default();
        f(&mut config);
        Ok(base().batch(config))
    };
    let retry = |f: fn(&mut RetryConfig)| {
        let mut config = RetryConfig::default();
        f(&mut config);
        Ok(base().retry(config))
    };
    use ConfigKind as K;
    vec![
        ("endpoint_not_a_url", K::Endpoint, "not a url", Ok(Exporter::builder().endpoint("not a url"))),
        ("endpoint_scheme", K::Endpoint, "ftp://", Ok(Exporter::builder().endpoint("ftp://127.0.0.1:4318"))),
        ("header_name", K::Header, "bad header", Ok(base().headers([("bad header".to_owned(), "x".to_owned())]))),
        ("zero_batch_size", K::Batch, "max_batch_items", batch(|c| c.max_batch_items = 0)),
        ("zero_queue", K::Batch, "queue_capacity", batch(|c| c.queue_capacity = 0)),
        ("zero_concurrency", K::Batch, "max_concurrent_exports", batch(|c| c.max_concurrent_exports = 0)),
        ("zstd_level", K::Compression, "zstd level 99", Ok(base().compression(Compression::Zstd { level: 99 }))),
        ("gzip_level", K::Compression, "gzip level 12", Ok(base().compression(Compression::Gzip { level: 12 }))),
        ("env_compression", K::Compression, "lz4", env("OTEL_EXPORTER_OTLP_COMPRESSION", "lz4")),
        ("zero_timeout", K::Transport, "timeout", Ok(base().timeout(Duration::ZERO))),
        ("zero_attempts", K::Transport, "max_attempts", retry(|c| c.max_attempts = 0)),
        ("backoff_below_initial", K::Transport, "max_backoff", retry(|c| c.max_backoff = c.initial_backoff / 2)),
        (
            "zero_breaker_threshold",
            K::Transport,
            "failure_threshold",
            Ok(base().breaker(BreakerConfig { failure_threshold: 0, ..BreakerConfig::default() })),
        ),
        (
            "grpc_signal_endpoint",
            K::Unsupported,
            "per-signal",
            Ok(base().protocol(Protocol::Grpc).signal_endpoint(Signal::Traces, format!("{endpoint}/v1/traces"))),
        ),
        ("env_timeout", K::Setting, "OTEL_EXPORTER_OTLP_TIMEOUT", env("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")),
        ("unknown_protocol", K::Setting, "thrift", "thrift".parse::<Protocol>().map(|p| base().protocol(p))),
    ]
}

/// A malformed request and the status the OTLP spec calls for.
pub(super) struct Probe {
    case: &'static str,
    /// GET instead of POST.
    get: bool,
    path: &'static str,
    content_type: &'static str,
    content_encoding: Option<&'static str>,
    body: &'static [u8],
    status: u16,
}

const fn probe(
    case: &'static str,
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    status: u16,
) -> Probe {
    Probe { case, get: false, path, content_type, content_encoding: None, body, status }
}

const PROBES: [Probe; 6] = [
    probe("garbage_protobuf", "/v1/traces", "application/x-protobuf", b"this is not protobuf", 400),
    probe("garbage_json", "/v1/logs", "application/json", b"{\"resourceLogs\": [", 400),
    Probe {
        content_encoding: Some("gzip"),
        ..probe("corrupt_gzip", "/v1/metrics", "application/x-protobuf", b"not gzip", 400)
    },
    probe("bad_content_type", "/v1/traces", "text/plain", b"hello", 415),
    probe("unknown_path", "/v1/profiles", "application/x-protobuf", b"", 404),
    Probe { get: true, ..probe("wrong_method", "/v1/traces", "application/x-protobuf", b"", 405) },
];

/// Starts the 503 receiver of one run. Its seeded fault decisions follow
/// the requests in arrival order from the receiver's start, so a receiver
/// of its own makes each run see the same faults, whatever earlier runs did.
async fn unavailable_receiver(config: &ReceiverConfig) -> Result<Receiver, ScenarioError> {
    Receiver::start(config.clone()).await.map_err(ScenarioError::Receiver)
}

/// Sends one malformed request and reads the whole answer (so that the
/// connection is reused for the next probe); returns the status.
async fn send_probe(
    step: &str,
    client: &Client<HttpConnector, Full<Bytes>>,
    endpoint: &str,
    p: &Probe,
) -> Result<u16, ScenarioError> {
    let mut request = http::Request::builder()
        .method(if p.get { http::Method::GET } else { http::Method::POST })
        .uri(format!("{endpoint}{}", p.path))
        .header(http::header::CONTENT_TYPE, p.content_type);
    if let Some(encoding) = p.content_encoding {
        request = request.header(http::header::CONTENT_ENCODING, encoding);
    }
    let request = request.body(Full::new(Bytes::from_static(p.body))).expect("static request parts are valid");
    let exchange = async {
        let response = client.request(request).await?;
        let status = response.status().as_u16();
        // The body is only drained: a broken one does not change the status.
        let _body = response.into_body().collect().await;
        Ok::<_, hyper_util::client::legacy::Error>(status)
    };
    match tokio::time::timeout(PROBE_TIMEOUT, exchange).await {
        Ok(answer) => answer.map_err(|source| ScenarioError::Probe { step: step.into(), source }),
        Err(_elapsed) => Err(ScenarioError::ProbeTimeout { step: step.into(), case: p.case, timeout: PROBE_TIMEOUT }),
    }
}

/// Runs the four error classes in order; the outcome folds only their
/// deterministic results (error kinds seen, items per drop reason, status
/// codes), never retry counts or timings. Its items are the spans delivered:
/// neither the rejected nor the given-up ones.
pub(super) async fn error_handling(s: &Errors, rows: &mut Vec<ScenarioRow>) -> Result<Outcome, ScenarioError> {
    let mut tally = Tally::new(rows);

    // (1) Invalid configurations are refused by the builder, each with a clear error.
    let step = "invalid_config";
    let started = Instant::now();
    let mut seen = [0u64; ConfigKind::ALL.len()];
    for (case, kind, word, builder) in invalid_configs(&s.ok.http_endpoint()) {
        match builder.and_then(ExporterBuilder::build) {
            Ok(exporter) => {
                let _stats = exporter.shutdown(Duration::ZERO).await;
                return Err(unexpected(step, format!("{case} refused"), "accepted"));
            }
            Err(source) => {
                if ConfigKind::of(&source) != kind || !source.to_string().contains(word) {
                    let (expected, source) = (kind.name(), Box::new(source));
                    return Err(ScenarioError::WrongRefusal { step: step.into(), case, expected, word, source });
                }
                seen[kind as usize] += 1;
            }
        }
    }
    let mut row = ScenarioRow::untimed(step, 0, 0);
    row.wall = Some(started.elapsed());
    row.extra.extend(ConfigKind::ALL.iter().map(|k| (k.name(), seen[*k as usize].to_string())));
    tally.rows.push(row);
    tally.parts.extend(seen);

    // (2a) A receiver failing 30% of requests with 503: retries deliver everything.
    let step = "retry_503";
    let unavailable = unavailable_receiver(&s.unavailable).await?;
    let builder = http_exporter(&unavailable, ERROR_BATCH).retry(FAST_RETRY).breaker(QUICK_BREAKER);
    let (stats, got) = deliver_spans(step, &unavailable, builder, &s.retry_spans, &mut tally).await?;
    drop(unavailable);
    if got.faulted_requests == 0 || stats.transport.retries == 0 {
        let got = format!("{} faulted requests, {} retries", got.faulted_requests, stats.transport.retries);
        return Err(unexpected(step, "injected 503s, retried", got));
    }
    tally.last_row().extra.push(("faulted_requests", got.faulted_requests.to_string()));

    // (2b) A permanent 400: the items are counted as rejected, never retried, never lost.
    let step = "rejected_400";
    let builder = http_exporter(&s.bad_request, FEW_BATCH).retry(FAST_RETRY);
    let (stats, got, wall) = export_spans(step, &s.bad_request, builder, &s.few_spans).await?;
    check_accounted(step, &stats.pipeline, &got)?;
    let rejected = stats.pipeline.dropped(DropReason::Rejected);
    if rejected != s.few_spans.len() as u64 || stats.transport.retries != 0 {
        let got = format!("{} ({} retries)", dropped_text(&stats.pipeline), stats.transport.retries);
        return Err(unexpected(step, format!("rejected:{} without retries", s.few_spans.len()), got));
    }
    tally.record(&stats.pipeline, rejected, exporter_row(step, &stats, wall));

    // (3) Attempts time out against a receiver slower than the exporter's timeout; a
    // small retry budget ends in counted drops, and shutdown returns.
    let step = "timeout";
    let builder = http_exporter(&s.slow, FEW_BATCH).timeout(SHORT_TIMEOUT).retry(SHORT_RETRY);
    // The receiver's count is not compared here: a request the exporter gave
    // up on may still be served (at-least-once), and whether it is depends on timing.
    let (stats, _served_anyway, wall) = export_spans(step, &s.slow, builder, &s.few_spans).await?;
    let p = &stats.pipeline;
    check_balanced(step, p)?;
    let exhausted = p.dropped(DropReason::RetriesExhausted);
    if exhausted != s.few_spans.len() as u64 || p.exported != 0 || stats.transport.timeouts == 0 {
        let got = format!("{} ({} timeouts)", dropped_text(p), stats.transport.timeouts);
        return Err(unexpected(step, format!("retries_exhausted:{} after timeouts", s.few_spans.len()), got));
    }
    let mut row = exporter_row(step, &stats, wall);
    row.extra.push(("timeouts", stats.transport.timeouts.to_string()));
    tally.record(p, exhausted, row);

    // (4) Malformed requests are answered 4xx, and the receiver keeps serving.
    let step = "bad_input";
    let started = Instant::now();
    let before = s.ok.counts();
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let endpoint = s.ok.http_endpoint();
    let mut row = ScenarioRow::untimed(step, 0, 0);
    for p in &PROBES {
        let status = send_probe(step, &client, &endpoint, p).await?;
        if status != p.status {
            return Err(unexpected(step, format!("{}: HTTP {}", p.case, p.status), format!("HTTP {status}")));
        }
        row.extra.push((p.case, status.to_string()));
        row.bytes += p.body.len() as u64;
        tally.parts.push(u64::from(status));
    }
    let refused = delta(s.ok.counts(), before).refused_requests;
    if refused != PROBES.len() as u64 {
        return Err(unexpected(step, format!("{} refused requests", PROBES.len()), refused.to_string()));
    }
    row.wall = Some(started.elapsed());
    tally.rows.push(row);
    let step = "serving_after_bad_input";
    let after = &s.few_spans[..AFTER_PROBE_SPANS as usize];
    deliver_spans(step, &s.ok, http_exporter(&s.ok, FEW_BATCH), after, &mut tally).await?;

    Ok(tally.outcome())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::Scenario;
    use crate::scenarios::harness::fold;
    use crate::scenarios::sizes::{RETRY_FAIL_FRACTION, SLOW_RECEIVER_DELAY, scaled};

    #[test]
    fn every_invalid_config_names_a_kind_and_fold_spreads() {
        let cases = invalid_configs("http://127.0.0.1:1");
        for kind in ConfigKind::ALL {
            assert!(cases.iter().any(|c| c.1 == kind), "{kind:?} has no case");
        }
        assert_ne!(fold([1, 2]), fold([2, 1]));
        assert_eq!(scaled(10, 0), 10);
        assert_eq!(scaled(5, 10), 1);
    }

    #[test]
    fn error_handling_description_matches_its_cases() {
        let d = Scenario::ErrorHandling.description();
        let configs = invalid_configs("http://127.0.0.1:1").len();
        for phrase in [
            format!("{configs} refused configurations"),
            format!("{} malformed requests", PROBES.len()),
            format!("{}% injected 503s", (RETRY_FAIL_FRACTION * 100.0).round()),
            format!("{} ms attempt timeouts", SHORT_TIMEOUT.as_millis()),
            format!("{} ms receiver", SLOW_RECEIVER_DELAY.as_millis()),
        ] {
            assert!(d.contains(&phrase), "{phrase:?} is not in {d:?}");
        }
    }
}
