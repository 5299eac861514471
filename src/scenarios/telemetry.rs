//! Telemetry of the simulated services. Ids come from the seeded fixture PRNG
//! and timestamps from the fixtures' base time, so every run sends the same bytes.

use otlp_pipeline::fixtures::{self, SplitMix64};
use otlp_pipeline::model::{
    FLAG_SAMPLED, HistogramDataPoint, KeyValue, LogRecord, Metric, MetricData, NumberDataPoint, NumberValue, Severity,
    Span, SpanId, SpanKind, Status, Str, Temporality, TraceId,
};
use otlp_pipeline::pipeline::Item;

use super::sizes::{
    API_ITEM_IDS, BLOCK_ITEMS, BLOCK_SPANS, HISTOGRAM_MAX_MS, HISTOGRAM_MEAN_MS, HISTOGRAM_MIN_MS, NS_PER_MS,
};

pub(super) fn trace_id(rng: &mut SplitMix64) -> TraceId {
    let mut b = [0u8; 16];
    // `max(1)`: an all-zero id is invalid and would be refused by traceparent parsing.
    b[..8].copy_from_slice(&rng.next_u64().max(1).to_le_bytes());
    b[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    TraceId(b)
}

pub(super) fn span_id(rng: &mut SplitMix64) -> SpanId {
    SpanId(rng.next_u64().max(1).to_le_bytes())
}

/// A typical API server span, as the concurrency and production workers make.
pub(crate) fn api_span(rng: &mut SplitMix64, worker: u64, seq: u64) -> Span {
    let start = fixtures::BASE_TIME_NS + seq * NS_PER_MS;
    Span::builder("GET /api/items/{id}")
        .with_capacity(5)
        .trace_id(trace_id(rng))
        .span_id(span_id(rng))
        .kind(SpanKind::Server)
        .times(start, start + NS_PER_MS)
        .attr("http.request.method", "GET")
        .attr("http.route", "/api/items/{id}")
        .attr("url.path", Str::format(format_args!("/api/items/{}", rng.below(API_ITEM_IDS))))
        .attr("http.response.status_code", 200)
        .attr("worker.id", worker as i64)
        .status(Status::OK)
        .build()
}

/// An INFO record tied to a span, about the size of the fixture's.
pub(crate) fn app_log(rng: &mut SplitMix64, seq: u64) -> LogRecord {
    let t = fixtures::BASE_TIME_NS + seq * NS_PER_MS;
    let order = rng.below(1_000_000);
    LogRecord::builder()
        .times(t, t)
        .severity(Severity::INFO, "INFO")
        .body(Str::format(format_args!("order {order:06} placed by user {seq:05}, payment accepted")))
        .attr("code.function", "checkout::place_order")
        .span_context(trace_id(rng), span_id(rng), FLAG_SAMPLED)
        .build()
}

fn number_point(attributes: Vec<KeyValue>, time: u64, value: NumberValue) -> NumberDataPoint {
    NumberDataPoint {
        attributes,
        start_time_unix_nano: fixtures::BASE_TIME_NS,
        time_unix_nano: time,
        value: Some(value),
        flags: 0,
    }
}

/// The request counter of e2e_web_application: one cumulative point per status.
pub(super) fn request_counter(ok: u64, errors: u64, time: u64) -> Metric {
    let point = |status: i64, count: u64| {
        let attributes =
            vec![KeyValue::new("http.route", "/api/users/{id}"), KeyValue::new("http.response.status_code", status)];
        number_point(attributes, time, NumberValue::Int(count as i64))
    };
    let points = vec![point(200, ok), point(500, errors)];
    let data = MetricData::Sum { points, temporality: Temporality::Cumulative, is_monotonic: true };
    Metric::new("http.server.request.count", "Requests served", "{request}", data)
}

/// A 2-point gauge, sum or histogram (by `n % 3`), so every metric encoder runs.
pub(crate) fn two_point_metric(rng: &mut SplitMix64, n: u64, time: u64) -> Metric {
    let attrs = |cpu: i64| vec![KeyValue::new("host.name", "node-17"), KeyValue::new("cpu", cpu)];
    match n % 3 {
        0 => {
            let points = (0..2).map(|c| number_point(attrs(c), time, NumberValue::Double(rng.unit_f64()))).collect();
            Metric::new("system.cpu.utilization", "", "1", MetricData::Gauge(points))
        }
        1 => {
            let points =
                (0..2).map(|c| number_point(attrs(c), time, NumberValue::Int(rng.below(1_000_000) as i64))).collect();
            let data = MetricData::Sum { points, temporality: Temporality::Cumulative, is_monotonic: true };
            Metric::new("system.cpu.time", "", "ms", data)
        }
        _ => {
            let points = (0..2)
                .map(|c| {
                    let bucket_counts: Vec<u64> =
                        (0..=fixtures::DEFAULT_BOUNDS.len()).map(|_| rng.below(100)).collect();
                    let count = bucket_counts.iter().sum();
                    HistogramDataPoint {
                        attributes: attrs(c),
                        start_time_unix_nano: fixtures::BASE_TIME_NS,
                        time_unix_nano: time,
                        count,
                        sum: Some(count as f64 * HISTOGRAM_MEAN_MS),
                        bucket_counts,
                        explicit_bounds: fixtures::DEFAULT_BOUNDS.to_vec(),
                        min: Some(HISTOGRAM_MIN_MS),
                        max: Some(HISTOGRAM_MAX_MS),
                        ..HistogramDataPoint::default()
                    }
                })
                .collect();
            let data = MetricData::Histogram { points, temporality: Temporality::Cumulative };
            Metric::new("http.server.request.duration", "", "ms", data)
        }
    }
}

/// One block of the production mix (70% spans, 20% metric points, 10% log
/// records): what a worker of production_workload, and of every `otlp-lab
/// load` scenario, hands over as one unit. Iterating it yields the items in
/// the order they are handed over.
#[derive(Debug)]
pub(crate) struct ProductionBlock {
    spans: [Span; BLOCK_SPANS as usize],
    metric: Metric,
    log: LogRecord,
}

/// The items of a [`ProductionBlock`], spans first.
pub(crate) type ProductionItems = std::iter::Chain<
    std::iter::Map<std::array::IntoIter<Span, { BLOCK_SPANS as usize }>, fn(Span) -> Item>,
    std::array::IntoIter<Item, 2>,
>;

impl ProductionBlock {
    /// Spans in the block.
    pub(crate) fn spans(&self) -> u64 {
        BLOCK_SPANS
    }

    /// Metric data points in the block (the pipeline counts points, not metrics).
    pub(crate) fn points(&self) -> u64 {
        self.metric.data.as_ref().map_or(0, |d| d.point_count() as u64)
    }

    /// Log records in the block.
    pub(crate) fn logs(&self) -> u64 {
        1
    }
}

impl IntoIterator for ProductionBlock {
    type Item = Item;
    type IntoIter = ProductionItems;

    fn into_iter(self) -> ProductionItems {
        let span: fn(Span) -> Item = Item::Span;
        self.spans.into_iter().map(span).chain([Item::Metric(self.metric), Item::Log(self.log)])
    }
}

/// Block `block` of `worker`: [`BLOCK_SPANS`] API spans, a 2-point metric and
/// a log record, drawn from `rng` in that order, so that one seed gives the
/// same items, and the same bytes, in every runner.
pub(crate) fn production_block(rng: &mut SplitMix64, worker: u64, block: u64) -> ProductionBlock {
    let seq = block * BLOCK_ITEMS;
    // `from_fn` fills in index order, so the spans draw from `rng` one after another.
    let spans = std::array::from_fn(|j| api_span(rng, worker, seq + j as u64));
    let time = fixtures::BASE_TIME_NS + seq * NS_PER_MS;
    let metric = two_point_metric(rng, block, time);
    let log = app_log(rng, seq);
    ProductionBlock { spans, metric, log }
}

/// The spans and the log record of block `block` of `worker` as a service
/// instrumented with `tracing` emits them (`crate::stacks`: the spans of
/// [`api_span`], the record of [`app_log`] as an event outside any span),
/// for the `tracing` stacks of the load runs, which give the block's metric
/// to their own metrics API. Returns the spans and records emitted.
pub(crate) fn tracing_block(rng: &mut SplitMix64, worker: u64, block: u64) -> (u64, u64) {
    let seq = block * BLOCK_ITEMS;
    for _ in 0..BLOCK_SPANS {
        crate::stacks::tracing_api_span(rng.below(API_ITEM_IDS), worker);
    }
    crate::stacks::tracing_app_log(rng.below(1_000_000), seq);
    (BLOCK_SPANS, 1)
}

/// The standard fixture spans, as a producer would hand them over.
pub(super) fn spans(n: u64) -> Vec<Span> {
    fixtures::spans(usize::try_from(n).expect("scenario sizes fit in memory, hence in usize"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compares what the pipeline would be handed: the same variant with equal contents.
    fn same(a: &Item, b: &Item) -> bool {
        match (a, b) {
            (Item::Span(a), Item::Span(b)) => a == b,
            (Item::Metric(a), Item::Metric(b)) => a == b,
            (Item::Log(a), Item::Log(b)) => a == b,
            _ => false,
        }
    }

    /// Decodes what the pipeline exports (with the direct decoder; the
    /// decoder is held against prost by the library's own tests).
    #[derive(Default)]
    struct Capture {
        spans: std::sync::Mutex<Vec<Span>>,
        logs: std::sync::Mutex<Vec<LogRecord>>,
    }

    impl otlp_pipeline::pipeline::ExportSink for Capture {
        async fn export(
            &self,
            request: &otlp_pipeline::pipeline::ExportRequest,
        ) -> otlp_pipeline::pipeline::ExportResult {
            use otlp_pipeline::encode::{Signal, decode};
            let raw = request.body.clone();
            match request.signal {
                Signal::Traces => {
                    let data = decode::decode_traces(&raw).expect("decodes");
                    self.spans.lock().expect("lock").extend(data.spans().cloned());
                }
                Signal::Logs => {
                    let data = decode::decode_logs(&raw).expect("decodes");
                    let records = data.resource_logs.into_iter().flat_map(|r| r.scope_logs).flat_map(|s| s.log_records);
                    self.logs.lock().expect("lock").extend(records);
                }
                Signal::Metrics => panic!("the tracing block sends no metric"),
            }
            otlp_pipeline::pipeline::ExportResult::Delivered { rejected: 0 }
        }
    }

    #[test]
    fn the_tracing_block_delivers_the_spans_and_record_of_the_block() {
        use std::sync::Arc;
        use tracing_subscriber::layer::SubscriberExt as _;
        let (worker, block) = (3, 5);
        let capture = Arc::new(Capture::default());
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
        let pipeline = {
            let _entered = rt.enter();
            otlp_pipeline::pipeline::Pipeline::start(
                otlp_pipeline::pipeline::PipelineConfig::default(),
                fixtures::resource(),
                fixtures::scope(),
                capture.clone(),
            )
            .expect("valid config")
        };
        let layer = otlp_pipeline::layer::OtlpLayer::new(pipeline.handle());
        let mut rng = SplitMix64::new(fixtures::SEED);
        let emitted = tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing_block(&mut rng, worker, block)
        });
        let stats = rt.block_on(pipeline.shutdown(std::time::Duration::from_secs(10))).expect("shut down");
        assert_eq!(emitted, (BLOCK_SPANS, 1));
        assert_eq!((stats.exported, stats.dropped_total()), (BLOCK_SPANS + 1, 0));
        // The block draws one path id per span, then the order number.
        let mut draws = SplitMix64::new(fixtures::SEED);
        let ids: Vec<u64> = (0..BLOCK_SPANS).map(|_| draws.below(API_ITEM_IDS)).collect();
        let order = draws.below(1_000_000);
        let spans = capture.spans.lock().expect("lock");
        assert_eq!(spans.len(), BLOCK_SPANS as usize);
        let seq = block * BLOCK_ITEMS;
        for (got, id) in spans.iter().zip(&ids) {
            // The model's span of the same block: everything but ids, times and the path's id.
            let mut want = api_span(&mut SplitMix64::new(fixtures::SEED), worker, seq);
            for kv in &mut want.attributes {
                if kv.key == "url.path" {
                    kv.value = Str::format(format_args!("/api/items/{id}")).into();
                }
            }
            assert_eq!((&got.name, got.kind, &got.status), (&want.name, want.kind, &want.status));
            let mut attrs = got.attributes.clone();
            attrs.sort_by(|a, b| a.key.cmp(&b.key));
            want.attributes.sort_by(|a, b| a.key.cmp(&b.key));
            assert_eq!(attrs, want.attributes);
        }
        let logs = capture.logs.lock().expect("lock");
        let want = app_log(&mut SplitMix64::new(fixtures::SEED), seq);
        assert_eq!(logs.len(), 1);
        let got = &logs[0];
        assert_eq!((got.severity_number, &got.severity_text), (want.severity_number, &want.severity_text));
        let body = format!("order {order:06} placed by user {seq:05}, payment accepted");
        assert_eq!(got.body, Some(Str::copy_from(&body).into()));
        let code: Vec<_> = got.attributes.iter().filter(|kv| kv.key == "code.function").collect();
        assert_eq!(code, want.attributes.iter().collect::<Vec<_>>());
    }

    #[test]
    fn production_block_is_the_block_as_written_out_and_counts_it() {
        let worker = 3;
        let (mut rng, mut by_hand) = (SplitMix64::new(fixtures::SEED), SplitMix64::new(fixtures::SEED));
        for block in 0..4 {
            let items = production_block(&mut rng, worker, block);
            assert_eq!(items.spans() + items.points() + items.logs(), BLOCK_ITEMS);
            assert_eq!((items.spans(), items.logs()), (BLOCK_SPANS, 1));
            let got: Vec<Item> = items.into_iter().collect();
            let seq = block * BLOCK_ITEMS;
            let mut expected: Vec<Item> =
                (0..BLOCK_SPANS).map(|j| Item::Span(api_span(&mut by_hand, worker, seq + j))).collect();
            let time = fixtures::BASE_TIME_NS + seq * NS_PER_MS;
            expected.push(Item::Metric(two_point_metric(&mut by_hand, block, time)));
            expected.push(Item::Log(app_log(&mut by_hand, seq)));
            assert_eq!(got.len(), expected.len());
            assert!(got.iter().zip(&expected).all(|(a, b)| same(a, b)), "block {block} differs");
        }
    }
}
