//! The standard fixtures: deterministic trace, metrics and logs batches of
//! any size, shared by benches, heap runs, flamegraphs and tests. This file
//! is their specification.
//!
//! Keep them exactly as they are: the README's figures and the saved
//! baselines (`profiles/baselines/`) were measured on these shapes.

use crate::model::ids::splitmix64_mix;
use crate::model::{
    Event, FLAG_HAS_IS_REMOTE, FLAG_IS_REMOTE, FLAG_SAMPLED, HistogramDataPoint, InstrumentationScope, KeyValue,
    LogRecord, LogsData, Metric, MetricData, MetricsData, NumberDataPoint, NumberValue, Resource, Severity, Span,
    SpanId, SpanKind, Status, Str, Temporality, TraceId, TracesData,
};

/// Seed of every fixture's PRNG.
pub const SEED: u64 = 0x5EED_0001;
/// Base timestamp: 2023-11-14T22:13:20Z in ns.
pub const BASE_TIME_NS: u64 = 1_700_000_000_000_000_000;
/// Default trace batch size: 512 spans ≈ 234 KB encoded, a typical exporter batch.
pub const DEFAULT_SPANS: usize = 512;
/// Default metrics batch size in points (10 metrics × 10 points).
pub const DEFAULT_POINTS: usize = 100;
/// Default logs batch size in records.
pub const DEFAULT_LOGS: usize = 512;
/// The 15 default explicit histogram bounds of the OpenTelemetry SDKs.
pub const DEFAULT_BOUNDS: [f64; 15] =
    [0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0, 10000.0];

const MS: u64 = 1_000_000;

/// splitmix64: tiny, fast, and identical on every platform.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub const fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64_mix(self.0)
    }
    /// A value in `0..n` (n > 0); the modulo bias is irrelevant for fixtures.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// A double in `[0, 1)`.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn trace_id(&mut self) -> TraceId {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        TraceId(b)
    }
    fn span_id(&mut self) -> SpanId {
        SpanId(self.next_u64().to_le_bytes())
    }
}

/// The standard resource: a checkout service in production.
pub fn resource() -> Resource {
    Resource::new([
        KeyValue::new("service.name", "checkout"),
        KeyValue::new("service.version", "1.4.2"),
        KeyValue::new("host.name", "node-17"),
        KeyValue::new("deployment.environment", "prod"),
        KeyValue::new("telemetry.sdk.language", "rust"),
    ])
}

/// The standard scope.
pub fn scope() -> InstrumentationScope {
    InstrumentationScope::new("otlp-lab", "0.1.0")
}

/// The ids of span `idx` of the standard trace batch, drawn from the seeded
/// fixture PRNG in the same order as [`spans`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixtureIds {
    /// Index of the span.
    pub idx: u64,
    /// Its trace id.
    pub trace_id: [u8; 16],
    /// Its span id.
    pub span_id: [u8; 8],
    /// Its parent's span id.
    pub parent: [u8; 8],
    /// Whether the parent is remote (every 8th span starts a trace with a remote parent).
    pub parent_remote: bool,
}

impl FixtureIds {
    /// Start of the span, ns since the epoch.
    pub fn start(&self) -> u64 {
        BASE_TIME_NS + self.idx * MS
    }
    /// End of the span (start + 1.25 ms).
    pub fn end(&self) -> u64 {
        self.start() + MS + MS / 4
    }
}

/// The fixture's span ids one at a time, so that a run creates each span just
/// before it hands it over, as an instrumented service would.
#[derive(Clone, Debug)]
pub struct FixtureIdStream {
    rng: SplitMix64,
    idx: u64,
    trace_id: [u8; 16],
    parent: [u8; 8],
}

impl Default for FixtureIdStream {
    fn default() -> Self {
        FixtureIdStream { rng: SplitMix64::new(SEED), idx: 0, trace_id: [0; 16], parent: [0; 8] }
    }
}

impl Iterator for FixtureIdStream {
    type Item = FixtureIds;
    fn next(&mut self) -> Option<FixtureIds> {
        let remote = self.idx.is_multiple_of(8);
        if remote {
            self.trace_id[..8].copy_from_slice(&self.rng.next_u64().to_le_bytes());
            self.trace_id[8..].copy_from_slice(&self.rng.next_u64().to_le_bytes());
            self.parent = self.rng.next_u64().to_le_bytes();
        }
        let span_id = self.rng.next_u64().to_le_bytes();
        let ids =
            FixtureIds { idx: self.idx, trace_id: self.trace_id, span_id, parent: self.parent, parent_remote: remote };
        self.parent = span_id;
        self.idx += 1;
        Some(ids)
    }
}

/// Span `ids.idx` of the standard trace batch, built with our span builder
/// as an instrumented service would: ids and times it knows, the two
/// per-request strings formatted with [`Str::format`].
pub fn span(ids: &FixtureIds) -> Span {
    let idx = ids.idx;
    let mut flags = FLAG_SAMPLED | FLAG_HAS_IS_REMOTE;
    if ids.parent_remote {
        flags |= FLAG_IS_REMOTE;
    }
    let start = ids.start();
    Span::builder("GET /api/users/{id}")
        .parent(TraceId(ids.trace_id), SpanId(ids.parent))
        .span_id(SpanId(ids.span_id))
        .flags(flags)
        .kind(SpanKind::Server)
        .times(start, ids.end())
        .status(Status::OK)
        .attributes([
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("url.full", Str::format(format_args!("https://shop.example.com/api/users/{idx}"))),
            KeyValue::new("http.response.status_code", 200),
            KeyValue::new("server.address", "shop.example.com"),
            KeyValue::new("server.port", 443),
            KeyValue::new("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
            KeyValue::new("db.system", "postgresql"),
            KeyValue::new("cache.hit", true),
            KeyValue::new("duration_ms", 1.25),
            KeyValue::new("thread.id", (idx % 16) as i64),
        ])
        .event(Event::new("cache.lookup", start + MS / 2).attr("cache.key", Str::format(format_args!("user:{idx}"))))
        .build()
}

/// The spans of the standard trace batch, ids drawn by [`FixtureIdStream`].
pub fn spans(n: usize) -> Vec<Span> {
    FixtureIdStream::default().take(n).map(|ids| span(&ids)).collect()
}

/// The standard trace batch of `n` spans.
pub fn traces(n: usize) -> TracesData {
    TracesData::single(resource(), scope(), spans(n))
}

fn point_attrs(j: usize) -> Vec<KeyValue> {
    let status: i64 = if j % 5 == 4 { 500 } else { 200 };
    vec![
        KeyValue::new("http.route", format!("/api/v1/items/{j}")),
        KeyValue::new("http.response.status_code", status),
        KeyValue::new("cloud.region", "eu-west-1"),
    ]
}

/// The standard metrics batch of `n` points: 10 metrics of `n / 10` points each.
pub fn metrics(n: usize) -> MetricsData {
    const GAUGES: [(&str, &str); 4] = [
        ("system.cpu.utilization", "1"),
        ("system.memory.utilization", "1"),
        ("process.runtime.heap.utilization", "1"),
        ("queue.fill_ratio", "1"),
    ];
    const SUMS: [(&str, &str); 3] = [
        ("http.server.request.count", "{request}"),
        ("db.client.operation.count", "{operation}"),
        ("cache.hit.count", "{hit}"),
    ];
    const HISTOGRAMS: [(&str, &str); 3] = [
        ("http.server.request.duration", "ms"),
        ("db.client.operation.duration", "ms"),
        ("http.server.request.body.size", "By"),
    ];
    let mut rng = SplitMix64::new(SEED);
    let per = n / 10;
    let start = BASE_TIME_NS;
    let time = BASE_TIME_NS + 10_000 * MS;
    let mut metrics = Vec::with_capacity(10);
    for (name, unit) in GAUGES {
        let points = (0..per)
            .map(|j| NumberDataPoint {
                attributes: point_attrs(j),
                start_time_unix_nano: 0,
                time_unix_nano: time,
                value: Some(NumberValue::Double(rng.unit_f64())),
                flags: 0,
            })
            .collect();
        metrics.push(Metric::new(name, "", unit, MetricData::Gauge(points)));
    }
    for (name, unit) in SUMS {
        let points = (0..per)
            .map(|j| NumberDataPoint {
                attributes: point_attrs(j),
                start_time_unix_nano: start,
                time_unix_nano: time,
                value: Some(NumberValue::Int(rng.below(1_000_000) as i64)),
                flags: 0,
            })
            .collect();
        let data = MetricData::Sum { points, temporality: Temporality::Cumulative, is_monotonic: true };
        metrics.push(Metric::new(name, "", unit, data));
    }
    for (name, unit) in HISTOGRAMS {
        let points = (0..per)
            .map(|j| {
                let bucket_counts: Vec<u64> = (0..=DEFAULT_BOUNDS.len()).map(|_| rng.below(100)).collect();
                let count = bucket_counts.iter().sum();
                let min = rng.unit_f64() * 5.0;
                let max = 100.0 + rng.unit_f64() * 9_000.0;
                HistogramDataPoint {
                    attributes: point_attrs(j),
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    count,
                    sum: Some(count as f64 * (min + max) / 2.0),
                    bucket_counts,
                    explicit_bounds: DEFAULT_BOUNDS.to_vec(),
                    flags: 0,
                    min: Some(min),
                    max: Some(max),
                }
            })
            .collect();
        let data = MetricData::Histogram { points, temporality: Temporality::Cumulative };
        metrics.push(Metric::new(name, "", unit, data));
    }
    MetricsData::single(resource(), scope(), metrics)
}

/// The log records of the standard logs batch: INFO, a body of about 84 bytes,
/// 3 attributes, trace and span ids.
pub fn log_records(n: usize) -> Vec<LogRecord> {
    let mut rng = SplitMix64::new(SEED);
    (0..n)
        .map(|idx| {
            let t = BASE_TIME_NS + idx as u64 * MS;
            let order = rng.next_u64() % 1_000_000;
            let body =
                format!("Order {order:06} placed by user {idx:05} with 3 items, total 129.97 EUR, payment accepted");
            let trace_id = rng.trace_id();
            let span_id = rng.span_id();
            LogRecord::builder()
                .times(t, t + MS / 10)
                .severity(Severity::INFO, "INFO")
                .body(body)
                .attr("code.function", "checkout::place_order")
                .attr("enduser.id", format!("user-{idx}"))
                .attr("order.items", 3)
                .span_context(trace_id, span_id, FLAG_SAMPLED)
                .build()
        })
        .collect()
}

/// The standard logs batch of `n` records.
pub fn logs(n: usize) -> LogsData {
    LogsData::single(resource(), scope(), log_records(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AnyValue;

    #[test]
    fn the_id_stream_draws_as_specified() {
        // The stream's draw order, written out independently of it:
        // every 8th span starts a trace (trace id, then its remote parent),
        // then each span draws its own id and parents the next.
        let mut rng = SplitMix64::new(SEED);
        let (mut trace, mut parent) = (TraceId::INVALID, SpanId::INVALID);
        for (idx, s) in spans(64).iter().enumerate() {
            if idx % 8 == 0 {
                trace = rng.trace_id();
                parent = rng.span_id();
            }
            let id = rng.span_id();
            assert_eq!((s.trace_id, s.parent_span_id, s.span_id), (trace, Some(parent), id), "span {idx}");
            assert_eq!(s.flags & FLAG_IS_REMOTE != 0, idx % 8 == 0, "span {idx}");
            assert_eq!(s.start_time_unix_nano, BASE_TIME_NS + idx as u64 * MS);
            assert_eq!(s.attributes[1].value, AnyValue::from(format!("https://shop.example.com/api/users/{idx}")));
            parent = id;
        }
    }

    #[test]
    fn deterministic_and_shaped_as_designed() {
        assert_eq!(traces(64), traces(64));
        let spans = spans(16);
        assert_eq!(spans[0].trace_id, spans[7].trace_id);
        assert_ne!(spans[7].trace_id, spans[8].trace_id);
        assert_eq!(spans[1].parent_span_id, Some(spans[0].span_id));
        assert_eq!(spans[0].attributes.len(), 10);
        assert_eq!(spans[3].end_time_unix_nano - spans[3].start_time_unix_nano, 1_250_000);
        assert_eq!(metrics(100).point_count(), 100);
        assert_eq!(metrics(100).resource_metrics[0].scope_metrics[0].metrics.len(), 10);
        let len = match &log_records(1)[0].body {
            Some(AnyValue::String(s)) => s.len(),
            other => panic!("body is {other:?}"),
        };
        assert!((80..=90).contains(&len), "log body is {len} bytes");
    }
}
