//! Metrics: gauges, sums, histograms and exponential histograms.

use super::{InstrumentationScope, KeyValue, Resource, Str};

/// How a sum or histogram accumulates: OTLP `AggregationTemporality`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Temporality {
    /// Not specified (invalid for sums and histograms, but accepted on the wire).
    #[default]
    Unspecified = 0,
    /// Each point covers the time since the previous one.
    Delta = 1,
    /// Each point covers the time since a fixed start.
    Cumulative = 2,
}

impl Temporality {
    /// The enum from its OTLP number; unknown numbers map to `Unspecified`.
    pub fn from_i32(v: i32) -> Self {
        match v {
            1 => Temporality::Delta,
            2 => Temporality::Cumulative,
            _ => Temporality::Unspecified,
        }
    }
}

/// The value of a gauge or sum point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NumberValue {
    /// A double value.
    Double(f64),
    /// An integer value.
    Int(i64),
}

/// One gauge or sum point: OTLP `NumberDataPoint` (exemplars not modelled).
#[derive(Clone, Debug, PartialEq)]
pub struct NumberDataPoint {
    /// Point attributes.
    pub attributes: Vec<KeyValue>,
    /// Start of the aggregation window (cumulative and delta sums), ns.
    pub start_time_unix_nano: u64,
    /// Time of the observation, ns.
    pub time_unix_nano: u64,
    /// The value; `None` when the point carries no value.
    pub value: Option<NumberValue>,
    /// Data point flags (bit 0: no recorded value).
    pub flags: u32,
}

/// One explicit-bucket histogram point: OTLP `HistogramDataPoint`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramDataPoint {
    /// Point attributes.
    pub attributes: Vec<KeyValue>,
    /// Start of the aggregation window, ns.
    pub start_time_unix_nano: u64,
    /// End of the aggregation window, ns.
    pub time_unix_nano: u64,
    /// Number of observations.
    pub count: u64,
    /// Sum of observations, when known.
    pub sum: Option<f64>,
    /// Counts per bucket: `explicit_bounds.len() + 1` entries (or none).
    pub bucket_counts: Vec<u64>,
    /// Upper bounds of the buckets, ascending.
    pub explicit_bounds: Vec<f64>,
    /// Data point flags.
    pub flags: u32,
    /// Smallest observation, when known.
    pub min: Option<f64>,
    /// Largest observation, when known.
    pub max: Option<f64>,
}

/// Bucket counts of one side of an exponential histogram.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExpBuckets {
    /// Index of the first bucket.
    pub offset: i32,
    /// Counts from `offset` upward.
    pub bucket_counts: Vec<u64>,
}

/// One base-2 exponential histogram point: OTLP `ExponentialHistogramDataPoint`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExponentialHistogramDataPoint {
    /// Point attributes.
    pub attributes: Vec<KeyValue>,
    /// Start of the aggregation window, ns.
    pub start_time_unix_nano: u64,
    /// End of the aggregation window, ns.
    pub time_unix_nano: u64,
    /// Number of observations.
    pub count: u64,
    /// Sum of observations, when known.
    pub sum: Option<f64>,
    /// Resolution: bucket boundaries are powers of `2^(2^-scale)`.
    pub scale: i32,
    /// Observations that fell in the zero bucket.
    pub zero_count: u64,
    /// Buckets for positive values.
    pub positive: Option<ExpBuckets>,
    /// Buckets for negative values.
    pub negative: Option<ExpBuckets>,
    /// Data point flags.
    pub flags: u32,
    /// Smallest observation, when known.
    pub min: Option<f64>,
    /// Largest observation, when known.
    pub max: Option<f64>,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
}

/// The data of a metric.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricData {
    /// Last-value points.
    Gauge(Vec<NumberDataPoint>),
    /// Sum points.
    Sum {
        /// The points.
        points: Vec<NumberDataPoint>,
        /// Delta or cumulative.
        temporality: Temporality,
        /// True for counters that only go up.
        is_monotonic: bool,
    },
    /// Explicit-bucket histogram points.
    Histogram {
        /// The points.
        points: Vec<HistogramDataPoint>,
        /// Delta or cumulative.
        temporality: Temporality,
    },
    /// Exponential histogram points.
    ExponentialHistogram {
        /// The points.
        points: Vec<ExponentialHistogramDataPoint>,
        /// Delta or cumulative.
        temporality: Temporality,
    },
}

impl MetricData {
    /// Number of data points.
    pub fn point_count(&self) -> usize {
        match self {
            MetricData::Gauge(p) | MetricData::Sum { points: p, .. } => p.len(),
            MetricData::Histogram { points, .. } => points.len(),
            MetricData::ExponentialHistogram { points, .. } => points.len(),
        }
    }
}

/// One metric: OTLP `Metric` (summaries are not modelled; decoders reject them).
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// Metric name.
    pub name: Str,
    /// Human-readable description.
    pub description: Str,
    /// UCUM unit.
    pub unit: Str,
    /// The points; `None` for a metric without data.
    pub data: Option<MetricData>,
    /// Additional metadata.
    pub metadata: Vec<KeyValue>,
}

impl Metric {
    /// A metric with a name, description, unit and data.
    pub fn new(name: impl Into<Str>, description: impl Into<Str>, unit: impl Into<Str>, data: MetricData) -> Self {
        Metric {
            name: name.into(),
            description: description.into(),
            unit: unit.into(),
            data: Some(data),
            metadata: Vec::new(),
        }
    }
}

/// Metrics from one scope: OTLP `ScopeMetrics`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScopeMetrics {
    /// The producing library.
    pub scope: InstrumentationScope,
    /// The metrics.
    pub metrics: Vec<Metric>,
    /// Schema URL of the metric data.
    pub schema_url: Str,
}

/// Metrics from one resource: OTLP `ResourceMetrics`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceMetrics {
    /// The producing entity.
    pub resource: Resource,
    /// Metrics grouped by scope.
    pub scope_metrics: Vec<ScopeMetrics>,
    /// Schema URL of the resource.
    pub schema_url: Str,
}

/// A batch of metrics: OTLP `MetricsData`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsData {
    /// Metrics grouped by resource.
    pub resource_metrics: Vec<ResourceMetrics>,
}

impl MetricsData {
    /// One resource, one scope, these metrics.
    pub fn single(resource: Resource, scope: InstrumentationScope, metrics: Vec<Metric>) -> Self {
        MetricsData {
            resource_metrics: vec![ResourceMetrics {
                resource,
                scope_metrics: vec![ScopeMetrics { scope, metrics, schema_url: Str::EMPTY }],
                schema_url: Str::EMPTY,
            }],
        }
    }

    /// Number of data points in the batch (the unit the pipeline counts).
    pub fn point_count(&self) -> usize {
        self.resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| m.data.as_ref().map_or(0, MetricData::point_count))
            .sum()
    }
}
