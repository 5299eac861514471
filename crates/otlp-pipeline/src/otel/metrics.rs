//! `OtlpMetricExporter`: the SDK's collected metrics into the pipeline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality as OtelTemporality;
use opentelemetry_sdk::metrics::data::{
    AggregatedMetrics, ExponentialBucket, Gauge, Histogram, MetricData as OtelData, ResourceMetrics, Sum,
};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;

use super::{attributes, push_scope};
use crate::model::{
    ExpBuckets, ExponentialHistogramDataPoint, HistogramDataPoint, KeyValue, Metric, MetricData, NumberDataPoint,
    NumberValue, Str, Temporality, unix_nanos,
};
use crate::pipeline::Handle;

/// A `PushMetricExporter` that hands each collected metric to a pipeline's
/// [`Handle`]; see the [module docs](super). Give it to the SDK's
/// `PeriodicReader`.
#[derive(Debug)]
pub struct OtlpMetricExporter {
    handle: Handle,
    temporality: OtelTemporality,
    scope_attributes: bool,
    exemplars_dropped: Arc<AtomicU64>,
}

/// One of the SDK's number types, as OTLP carries it.
trait Number: Copy {
    /// A sum or gauge value.
    fn number(self) -> NumberValue;
    /// A histogram's sum, min or max (OTLP's are doubles).
    fn float(self) -> f64;
}

impl Number for f64 {
    fn number(self) -> NumberValue {
        NumberValue::Double(self)
    }
    fn float(self) -> f64 {
        self
    }
}

impl Number for i64 {
    fn number(self) -> NumberValue {
        NumberValue::Int(self)
    }
    #[allow(clippy::cast_precision_loss)] // OTLP's histogram sums are doubles, as opentelemetry-proto converts them.
    fn float(self) -> f64 {
        self as f64
    }
}

impl Number for u64 {
    fn number(self) -> NumberValue {
        NumberValue::Int(i64::try_from(self).unwrap_or(i64::MAX))
    }
    #[allow(clippy::cast_precision_loss)] // as for i64
    fn float(self) -> f64 {
        self as f64
    }
}

impl OtlpMetricExporter {
    /// An exporter that offers metrics to `handle` (an exporter's,
    /// [`crate::Exporter::handle`]) and asks the SDK for cumulative
    /// temporality (the SDK's default, and OTLP's usual one).
    pub fn new(handle: Handle) -> Self {
        OtlpMetricExporter {
            handle,
            temporality: OtelTemporality::Cumulative,
            scope_attributes: true,
            exemplars_dropped: Arc::default(),
        }
    }

    /// The temporality the SDK aggregates sums and histograms with
    /// (`Delta` or `Cumulative`; `LowMemory` as the SDK defines it).
    #[must_use]
    pub fn with_temporality(mut self, temporality: OtelTemporality) -> Self {
        self.temporality = temporality;
        self
    }

    /// Whether each data point gets its meter's scope as the attributes
    /// `otel.scope.name` and `otel.scope.version`; default on (see
    /// [`super::OtlpSpanProcessor::scope_attributes`]): without them, two
    /// meters' metrics of the same name would be exported as one series.
    #[must_use]
    pub fn scope_attributes(mut self, on: bool) -> Self {
        self.scope_attributes = on;
        self
    }

    /// Exemplars the conversion dropped so far (the model has none). A
    /// shared counter: it stays readable after the exporter moved into the
    /// SDK's reader ([`Self::exemplars_dropped_counter`]).
    pub fn exemplars_dropped(&self) -> u64 {
        self.exemplars_dropped.load(Ordering::Relaxed)
    }

    /// The counter behind [`Self::exemplars_dropped`], to keep before the
    /// exporter is handed to the SDK.
    pub fn exemplars_dropped_counter(&self) -> Arc<AtomicU64> {
        self.exemplars_dropped.clone()
    }

    /// Every metric of `metrics` as this crate's, in the SDK's order.
    pub fn convert(&self, metrics: &ResourceMetrics) -> Vec<Metric> {
        let mut out = Vec::new();
        for sm in metrics.scope_metrics() {
            let scope = sm.scope();
            let scope = self.scope_attributes.then(|| {
                let mut list = Vec::new();
                push_scope(&mut list, scope.name(), scope.version());
                list
            });
            for m in sm.metrics() {
                let data = match m.data() {
                    AggregatedMetrics::F64(d) => self.data(d, scope.as_deref()),
                    AggregatedMetrics::U64(d) => self.data(d, scope.as_deref()),
                    AggregatedMetrics::I64(d) => self.data(d, scope.as_deref()),
                };
                out.push(Metric {
                    name: Str::copy_from(m.name()),
                    description: Str::copy_from(m.description()),
                    unit: Str::copy_from(m.unit()),
                    data: Some(data),
                    metadata: Vec::new(),
                });
            }
        }
        out
    }

    fn data<T: Number>(&self, data: &OtelData<T>, scope: Option<&[KeyValue]>) -> MetricData {
        match data {
            OtelData::Gauge(g) => MetricData::Gauge(self.gauge(g, scope)),
            OtelData::Sum(s) => MetricData::Sum {
                points: self.sum(s, scope),
                temporality: temporality(s.temporality()),
                is_monotonic: s.is_monotonic(),
            },
            OtelData::Histogram(h) => {
                MetricData::Histogram { points: self.histogram(h, scope), temporality: temporality(h.temporality()) }
            }
            OtelData::ExponentialHistogram(h) => {
                let (start, time) = (unix_nanos(h.start_time()), unix_nanos(h.time()));
                let points = h
                    .data_points()
                    .map(|p| {
                        self.count_exemplars(p.exemplars().count());
                        ExponentialHistogramDataPoint {
                            attributes: point_attributes(p.attributes(), scope),
                            start_time_unix_nano: start,
                            time_unix_nano: time,
                            count: p.count() as u64,
                            sum: Some(p.sum().float()),
                            scale: i32::from(p.scale()),
                            zero_count: p.zero_count(),
                            positive: Some(buckets(p.positive_bucket())),
                            negative: Some(buckets(p.negative_bucket())),
                            flags: 0,
                            min: p.min().map(Number::float),
                            max: p.max().map(Number::float),
                            zero_threshold: p.zero_threshold(),
                        }
                    })
                    .collect();
                MetricData::ExponentialHistogram { points, temporality: temporality(h.temporality()) }
            }
        }
    }

    fn gauge<T: Number>(&self, g: &Gauge<T>, scope: Option<&[KeyValue]>) -> Vec<NumberDataPoint> {
        let points = g.data_points().map(|p| (p.attributes(), p.value(), p.exemplars().count()));
        self.number_points(g.start_time().map_or(0, unix_nanos), unix_nanos(g.time()), points, scope)
    }

    fn sum<T: Number>(&self, s: &Sum<T>, scope: Option<&[KeyValue]>) -> Vec<NumberDataPoint> {
        let points = s.data_points().map(|p| (p.attributes(), p.value(), p.exemplars().count()));
        self.number_points(unix_nanos(s.start_time()), unix_nanos(s.time()), points, scope)
    }

    /// The points of a gauge or a sum (the SDK's two point types read
    /// alike): each one's attributes, value and exemplar count.
    fn number_points<'p, T: Number>(
        &self,
        start: u64,
        time: u64,
        points: impl Iterator<Item = (impl Iterator<Item = &'p opentelemetry::KeyValue>, T, usize)>,
        scope: Option<&[KeyValue]>,
    ) -> Vec<NumberDataPoint> {
        points
            .map(|(attrs, value, exemplars)| {
                self.count_exemplars(exemplars);
                NumberDataPoint {
                    attributes: point_attributes(attrs, scope),
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    value: Some(value.number()),
                    flags: 0,
                }
            })
            .collect()
    }

    fn histogram<T: Number>(&self, h: &Histogram<T>, scope: Option<&[KeyValue]>) -> Vec<HistogramDataPoint> {
        let (start, time) = (unix_nanos(h.start_time()), unix_nanos(h.time()));
        h.data_points()
            .map(|p| {
                self.count_exemplars(p.exemplars().count());
                HistogramDataPoint {
                    attributes: point_attributes(p.attributes(), scope),
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    count: p.count(),
                    sum: Some(p.sum().float()),
                    bucket_counts: p.bucket_counts().collect(),
                    explicit_bounds: p.bounds().collect(),
                    flags: 0,
                    min: p.min().map(Number::float),
                    max: p.max().map(Number::float),
                }
            })
            .collect()
    }

    fn count_exemplars(&self, n: usize) {
        if n > 0 {
            self.exemplars_dropped.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
}

fn point_attributes<'a>(
    kvs: impl Iterator<Item = &'a opentelemetry::KeyValue>,
    scope: Option<&[KeyValue]>,
) -> Vec<KeyValue> {
    let mut list = attributes(kvs);
    if let Some(scope) = scope {
        list.extend_from_slice(scope);
    }
    list
}

fn buckets(b: &ExponentialBucket) -> ExpBuckets {
    ExpBuckets { offset: b.offset(), bucket_counts: b.counts().collect() }
}

fn temporality(t: OtelTemporality) -> Temporality {
    match t {
        OtelTemporality::Cumulative => Temporality::Cumulative,
        OtelTemporality::Delta => Temporality::Delta,
        // `LowMemory` is a preference the SDK resolves to one of the two
        // before it aggregates; anything newer is not known here.
        _ => Temporality::Unspecified,
    }
}

impl PushMetricExporter for OtlpMetricExporter {
    /// Offers each metric without blocking. The pipeline counts refused
    /// points (a full queue, or after its shutdown); the SDK is told too, so
    /// that its reader reports the failed export.
    fn export(&self, metrics: &ResourceMetrics) -> impl Future<Output = OTelSdkResult> + Send {
        let mut refused = 0u64;
        for m in self.convert(metrics) {
            if let Err(r) = self.handle.try_metric(m) {
                refused += r.item.count();
            }
        }
        std::future::ready(if refused == 0 {
            Ok(())
        } else {
            Err(OTelSdkError::InternalFailure(format!("the pipeline refused {refused} points (counted as dropped)")))
        })
    }

    /// Nothing is held here; the exporter flushes the pipeline (module docs).
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    /// Nothing is held here; the exporter shuts the pipeline down (module docs).
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> OtelTemporality {
        self.temporality
    }
}
