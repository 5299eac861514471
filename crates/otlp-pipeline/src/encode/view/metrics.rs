//! `MetricsData` and the messages below it: validators that accept what
//! `decode/metrics.rs` accepts, in the same order of checks, and the views.

use super::common::{ResourceView, ScopeView, attributes, last_str};
use super::{Checker, Fields, KeyValueView, List, Merged, Scalars, Value};
use crate::encode::decode::dropped::{EXEMPLAR, SUMMARY};
use crate::encode::decode::reader::fields;
use crate::encode::decode::{Message, R, RECURSION_LIMIT, invalid, within};
use crate::encode::{DecodeBudget, EncodeError, Field};
use crate::model::{
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, NumberValue, ResourceMetrics,
    ScopeMetrics, Temporality,
};

/// A validated `ExportMetricsServiceRequest` (or `MetricsData`) body.
#[derive(Clone, Copy, Debug)]
pub struct MetricsView<'a> {
    body: &'a [u8],
    points: usize,
    model: usize,
}

impl<'a> MetricsView<'a> {
    /// Validates `body` in one pass, allocating nothing: `Ok` exactly when
    /// [`decode_metrics`](crate::encode::decode::decode_metrics) would
    /// decode it, else the error that decoder reports.
    pub fn new(body: &'a [u8]) -> Result<Self, EncodeError> {
        Self::new_within(body, DecodeBudget::UNLIMITED)
    }

    /// As [`MetricsView::new`], and refuses with [`EncodeError::OverBudget`] a
    /// valid body whose model would take more than `budget`
    /// ([`MetricsView::model_bytes`]): what a receiver that never builds the
    /// model uses to refuse a body that is small on the wire and huge once
    /// decoded. The decoder under the same budget
    /// ([`decode_metrics_within`](crate::encode::decode::decode_metrics_within)) also
    /// charges its vectors' spare room, so near the limit it may refuse a
    /// body this accepts, never the reverse.
    pub fn new_within(body: &'a [u8], budget: DecodeBudget) -> Result<Self, EncodeError> {
        let mut c = Checker::new(body);
        let (end, depth) = (body.len(), RECURSION_LIMIT);
        let mut points = 0;
        fields!(c, end, depth, Message::MetricsData, |tag, wt| {
            1 => c.check_resource_metrics(wt, end, depth, &mut points),
        });
        let model = c.finish(budget)?;
        Ok(MetricsView { body, points, model })
    }

    /// The heap bytes the model of this body takes at least: every element
    /// of every repeated field at the size of its model type (strings and
    /// bytes are slices of the body and cost nothing). Counted by
    /// validation: free.
    pub fn model_bytes(&self) -> usize {
        self.model
    }

    /// The number of data points the model would hold (counted by
    /// validation: free), as `MetricsData::point_count` counts them.
    pub fn data_point_count(&self) -> usize {
        self.points
    }

    /// The `ResourceMetrics`, in order.
    pub fn resource_metrics(&self) -> List<'a, ResourceMetricsView<'a>> {
        List::new(Merged::plain(self.body), 1, ResourceMetricsView)
    }

    /// Every metric, resource by resource, scope by scope.
    pub fn metrics(&self) -> impl Iterator<Item = MetricView<'a>> + use<'a> {
        self.resource_metrics().into_iter().flat_map(|r| r.scope_metrics()).flat_map(|s| s.metrics())
    }
}

impl Checker<'_> {
    fn check_resource_metrics(&mut self, wt: u8, end: usize, depth: u32, points: &mut usize) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        self.holds::<ResourceMetrics>(1);
        fields!(self, end, depth, Message::ResourceMetrics, |tag, wt| {
            1 => self.check_resource(wt, end, depth),
            2 => self.check_scope_metrics(wt, end, depth, points),
            3 => self.check_string(wt, end),
        });
        Ok(())
    }

    fn check_scope_metrics(&mut self, wt: u8, end: usize, depth: u32, points: &mut usize) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        self.holds::<ScopeMetrics>(1);
        fields!(self, end, depth, Message::ScopeMetrics, |tag, wt| {
            1 => self.check_scope(wt, end, depth),
            2 => self.check_metric(wt, end, depth).map(|n| *points += n),
            3 => self.check_string(wt, end),
        });
        Ok(())
    }

    /// A metric; its number of points in the model.
    fn check_metric(&mut self, wt: u8, end: usize, depth: u32) -> R<usize> {
        let (end, depth) = self.message(wt, end, depth)?;
        self.holds::<Metric>(1);
        // The `data` oneof's last variant (its tag), the points of its last
        // run and the first check of the reference that failed inside it
        // (`Checker::variant`): a variant given twice in a row merges,
        // another one replaces it, with what it held. A final summary is
        // rejected, as the reference does.
        let (mut variant, mut run) = (0, 0);
        let mut pending: Option<EncodeError> = None;
        let mut data = |tag: u32, (n, inner): (usize, Option<EncodeError>)| {
            if variant != tag {
                run = 0;
                pending = None;
            }
            run += n;
            pending = pending.take().or(inner);
            variant = tag;
        };
        fields!(self, end, depth, Message::Metric, |tag, wt| {
            1 => self.check_string(wt, end),
            2 => self.check_string(wt, end),
            3 => self.check_string(wt, end),
            5 => self.message(wt, end, depth).and_then(|(e, d)| self.variant(|s| s.check_gauge(e, d))).map(|x| data(5, x)),
            7 => self.message(wt, end, depth).and_then(|(e, d)| self.variant(|s| s.check_sum(e, d))).map(|x| data(7, x)),
            9 => self.message(wt, end, depth).and_then(|(e, d)| self.variant(|s| s.check_histogram(e, d))).map(|x| data(9, x)),
            10 => self
                .message(wt, end, depth)
                .and_then(|(e, d)| self.variant(|s| s.check_exponential_histogram(e, d)))
                .map(|x| data(10, x)),
            11 => self.message(wt, end, depth).and_then(|(e, d)| self.validate(&SUMMARY, e, d)).map(|()| data(11, (0, None))),
            12 => self.check_key_value(wt, end, depth),
        });
        if variant == 11 {
            return Err(invalid(Field::MetricData, "summary metrics are not supported"));
        }
        if let Some(e) = pending {
            self.defer.invalid_when_final(e)?;
        }
        Ok(run)
    }

    fn check_gauge(&mut self, end: usize, depth: u32) -> R<usize> {
        let mut n = 0;
        fields!(self, end, depth, Message::Gauge, |tag, wt| {
            1 => self.check_number_point(wt, end, depth).map(|()| n += 1),
        });
        Ok(n)
    }

    fn check_sum(&mut self, end: usize, depth: u32) -> R<usize> {
        let mut n = 0;
        fields!(self, end, depth, Message::Sum, |tag, wt| {
            1 => self.check_number_point(wt, end, depth).map(|()| n += 1),
            2 => self.int32(wt, end).map(drop),
            3 => self.bool(wt, end).map(drop),
        });
        Ok(n)
    }

    fn check_histogram(&mut self, end: usize, depth: u32) -> R<usize> {
        let mut n = 0;
        fields!(self, end, depth, Message::Histogram, |tag, wt| {
            1 => self.check_histogram_point(wt, end, depth).map(|()| n += 1),
            2 => self.int32(wt, end).map(drop),
        });
        Ok(n)
    }

    fn check_exponential_histogram(&mut self, end: usize, depth: u32) -> R<usize> {
        let mut n = 0;
        fields!(self, end, depth, Message::ExponentialHistogram, |tag, wt| {
            1 => self.check_exponential_point(wt, end, depth).map(|()| n += 1),
            2 => self.int32(wt, end).map(drop),
        });
        Ok(n)
    }

    fn check_number_point(&mut self, wt: u8, end: usize, depth: u32) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        self.holds::<NumberDataPoint>(1);
        fields!(self, end, depth, Message::NumberDataPoint, |tag, wt| {
            2 => self.fixed64(wt, end).map(drop),
            3 => self.fixed64(wt, end).map(drop),
            4 => self.double(wt, end).map(drop),
            5 => self.message(wt, end, depth).and_then(|(e, d)| self.validate(&EXEMPLAR, e, d)),
            6 => self.fixed64(wt, end).map(drop),
            7 => self.check_key_value(wt, end, depth),
            8 => self.uint32(wt, end).map(drop),
        });
        Ok(())
    }

    fn check_histogram_point(&mut self, wt: u8, end: usize, depth: u32) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        self.holds::<HistogramDataPoint>(1);
        fields!(self, end, depth, Message::HistogramDataPoint, |tag, wt| {
            2 => self.fixed64(wt, end).map(drop),
            3 => self.fixed64(wt, end).map(drop),
            4 => self.fixed64(wt, end).map(drop),
            5 => self.double(wt, end).map(drop),
            6 => self.check_repeated_fixed64(wt, end).map(|n| self.holds::<u64>(n)),
            7 => self.check_repeated_fixed64(wt, end).map(|n| self.holds::<f64>(n)),
            8 => self.message(wt, end, depth).and_then(|(e, d)| self.validate(&EXEMPLAR, e, d)),
            9 => self.check_key_value(wt, end, depth),
            10 => self.uint32(wt, end).map(drop),
            11 => self.double(wt, end).map(drop),
            12 => self.double(wt, end).map(drop),
        });
        Ok(())
    }

    fn check_exponential_point(&mut self, wt: u8, end: usize, depth: u32) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        self.holds::<ExponentialHistogramDataPoint>(1);
        fields!(self, end, depth, Message::ExponentialHistogramDataPoint, |tag, wt| {
            1 => self.check_key_value(wt, end, depth),
            2 => self.fixed64(wt, end).map(drop),
            3 => self.fixed64(wt, end).map(drop),
            4 => self.fixed64(wt, end).map(drop),
            5 => self.double(wt, end).map(drop),
            6 => self.sint32(wt, end).map(drop),
            7 => self.fixed64(wt, end).map(drop),
            8 => self.check_buckets(wt, end, depth),
            9 => self.check_buckets(wt, end, depth),
            10 => self.uint32(wt, end).map(drop),
            11 => self.message(wt, end, depth).and_then(|(e, d)| self.validate(&EXEMPLAR, e, d)),
            12 => self.double(wt, end).map(drop),
            13 => self.double(wt, end).map(drop),
            14 => self.double(wt, end).map(drop),
        });
        Ok(())
    }

    fn check_buckets(&mut self, wt: u8, end: usize, depth: u32) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        fields!(self, end, depth, Message::Buckets, |tag, wt| {
            1 => self.sint32(wt, end).map(drop),
            2 => self.check_repeated_uint64(wt, end).map(|n| self.holds::<u64>(n)),
        });
        Ok(())
    }
}

/// A `ResourceMetrics`.
#[derive(Clone, Copy, Debug)]
pub struct ResourceMetricsView<'a>(&'a [u8]);

impl<'a> ResourceMetricsView<'a> {
    /// The resource.
    pub fn resource(&self) -> ResourceView<'a> {
        ResourceView::new(self.0, 1)
    }

    /// The `ScopeMetrics`, in order.
    pub fn scope_metrics(&self) -> List<'a, ScopeMetricsView<'a>> {
        List::new(Merged::plain(self.0), 2, ScopeMetricsView)
    }

    /// `schema_url`.
    pub fn schema_url(&self) -> &'a str {
        last_str(self.0, 3)
    }
}

/// A `ScopeMetrics`.
#[derive(Clone, Copy, Debug)]
pub struct ScopeMetricsView<'a>(&'a [u8]);

impl<'a> ScopeMetricsView<'a> {
    /// The instrumentation scope.
    pub fn scope(&self) -> ScopeView<'a> {
        ScopeView::new(self.0, 1)
    }

    /// The metrics, in order.
    pub fn metrics(&self) -> List<'a, MetricView<'a>> {
        List::new(Merged::plain(self.0), 2, MetricView::new)
    }

    /// `schema_url`.
    pub fn schema_url(&self) -> &'a str {
        last_str(self.0, 3)
    }
}

/// A `Metric`.
#[derive(Clone, Copy, Debug)]
pub struct MetricView<'a> {
    body: &'a [u8],
    /// `name`.
    pub name: &'a str,
    /// `description`.
    pub description: &'a str,
    /// `unit`.
    pub unit: &'a str,
    /// The `data` oneof (`None` when absent).
    pub data: Option<MetricDataView<'a>>,
}

/// A metric's `data`: its points, as the model's `MetricData` holds them.
#[derive(Clone, Copy, Debug)]
pub enum MetricDataView<'a> {
    /// `gauge`.
    Gauge(List<'a, NumberPointView<'a>>),
    /// `sum`.
    Sum {
        /// The points.
        points: List<'a, NumberPointView<'a>>,
        /// `aggregation_temporality`.
        temporality: Temporality,
        /// `is_monotonic`.
        is_monotonic: bool,
    },
    /// `histogram`.
    Histogram {
        /// The points.
        points: List<'a, HistogramPointView<'a>>,
        /// `aggregation_temporality`.
        temporality: Temporality,
    },
    /// `exponential_histogram`.
    ExponentialHistogram {
        /// The points.
        points: List<'a, ExponentialHistogramPointView<'a>>,
        /// `aggregation_temporality`.
        temporality: Temporality,
    },
}

impl<'a> MetricView<'a> {
    fn new(body: &'a [u8]) -> Self {
        let mut m = MetricView { body, name: "", description: "", unit: "", data: None };
        // As in validation: the last variant and where its last run starts.
        let mut variant = 0;
        let mut seen = [0u32; 4];
        let mut skip = 0;
        for (tag, v) in Fields::new(body) {
            match tag {
                1 => m.name = v.str(),
                2 => m.description = v.str(),
                3 => m.unit = v.str(),
                5 | 7 | 9 | 10 | 11 => {
                    let i = match tag {
                        5 => 0,
                        7 => 1,
                        9 => 2,
                        _ => 3,
                    };
                    if variant != tag && tag != 11 {
                        skip = seen[i];
                    }
                    if tag != 11 {
                        seen[i] += 1;
                    }
                    variant = tag;
                }
                _ => {}
            }
        }
        let run = Merged::plain(body).sub(variant, skip);
        let temporality = || Temporality::from_i32(run.last(2).map_or(0, Value::i32));
        m.data = match variant {
            5 => Some(MetricDataView::Gauge(List::new(run, 1, NumberPointView::new))),
            7 => Some(MetricDataView::Sum {
                points: List::new(run, 1, NumberPointView::new),
                temporality: temporality(),
                is_monotonic: run.last(3).is_some_and(|v| v.u64() != 0),
            }),
            9 => Some(MetricDataView::Histogram {
                points: List::new(run, 1, HistogramPointView::new),
                temporality: temporality(),
            }),
            10 => Some(MetricDataView::ExponentialHistogram {
                points: List::new(run, 1, ExponentialHistogramPointView::new),
                temporality: temporality(),
            }),
            // None, or a summary (rejected by validation).
            _ => None,
        };
        m
    }

    /// `metadata`.
    pub fn metadata(&self) -> List<'a, KeyValueView<'a>> {
        attributes(Merged::plain(self.body), 12)
    }
}

/// A `NumberDataPoint`.
#[derive(Clone, Copy, Debug)]
pub struct NumberPointView<'a> {
    body: &'a [u8],
    /// `start_time_unix_nano`.
    pub start_time_unix_nano: u64,
    /// `time_unix_nano`.
    pub time_unix_nano: u64,
    /// The `value` oneof (`None` when absent).
    pub value: Option<NumberValue>,
    /// `flags`.
    pub flags: u32,
}

impl<'a> NumberPointView<'a> {
    fn new(body: &'a [u8]) -> Self {
        let mut p = NumberPointView { body, start_time_unix_nano: 0, time_unix_nano: 0, value: None, flags: 0 };
        for (tag, v) in Fields::new(body) {
            match tag {
                2 => p.start_time_unix_nano = v.u64(),
                3 => p.time_unix_nano = v.u64(),
                4 => p.value = Some(NumberValue::Double(v.f64())),
                6 => p.value = Some(NumberValue::Int(v.u64() as i64)),
                8 => p.flags = v.u32(),
                _ => {}
            }
        }
        p
    }

    /// The point's attributes.
    pub fn attributes(&self) -> List<'a, KeyValueView<'a>> {
        attributes(Merged::plain(self.body), 7)
    }
}

/// A `HistogramDataPoint`.
#[derive(Clone, Copy, Debug)]
pub struct HistogramPointView<'a> {
    body: &'a [u8],
    /// `start_time_unix_nano`.
    pub start_time_unix_nano: u64,
    /// `time_unix_nano`.
    pub time_unix_nano: u64,
    /// `count`.
    pub count: u64,
    /// `sum`.
    pub sum: Option<f64>,
    /// `flags`.
    pub flags: u32,
    /// `min`.
    pub min: Option<f64>,
    /// `max`.
    pub max: Option<f64>,
}

impl<'a> HistogramPointView<'a> {
    fn new(body: &'a [u8]) -> Self {
        let mut p = HistogramPointView {
            body,
            start_time_unix_nano: 0,
            time_unix_nano: 0,
            count: 0,
            sum: None,
            flags: 0,
            min: None,
            max: None,
        };
        for (tag, v) in Fields::new(body) {
            match tag {
                2 => p.start_time_unix_nano = v.u64(),
                3 => p.time_unix_nano = v.u64(),
                4 => p.count = v.u64(),
                5 => p.sum = Some(v.f64()),
                10 => p.flags = v.u32(),
                11 => p.min = Some(v.f64()),
                12 => p.max = Some(v.f64()),
                _ => {}
            }
        }
        p
    }

    /// `bucket_counts`, packed and unpacked runs alike.
    pub fn bucket_counts(&self) -> Scalars<'a> {
        Scalars::new(Merged::plain(self.body), 6, true)
    }

    /// `explicit_bounds`, packed and unpacked runs alike.
    pub fn explicit_bounds(&self) -> impl Iterator<Item = f64> + use<'a> {
        Scalars::new(Merged::plain(self.body), 7, true).map(f64::from_bits)
    }

    /// The point's attributes.
    pub fn attributes(&self) -> List<'a, KeyValueView<'a>> {
        attributes(Merged::plain(self.body), 9)
    }
}

/// An `ExponentialHistogramDataPoint`.
#[derive(Clone, Copy, Debug)]
pub struct ExponentialHistogramPointView<'a> {
    body: &'a [u8],
    /// `start_time_unix_nano`.
    pub start_time_unix_nano: u64,
    /// `time_unix_nano`.
    pub time_unix_nano: u64,
    /// `count`.
    pub count: u64,
    /// `sum`.
    pub sum: Option<f64>,
    /// `scale`.
    pub scale: i32,
    /// `zero_count`.
    pub zero_count: u64,
    /// `flags`.
    pub flags: u32,
    /// `min`.
    pub min: Option<f64>,
    /// `max`.
    pub max: Option<f64>,
    /// `zero_threshold`.
    pub zero_threshold: f64,
}

impl<'a> ExponentialHistogramPointView<'a> {
    fn new(body: &'a [u8]) -> Self {
        let mut p = ExponentialHistogramPointView {
            body,
            start_time_unix_nano: 0,
            time_unix_nano: 0,
            count: 0,
            sum: None,
            scale: 0,
            zero_count: 0,
            flags: 0,
            min: None,
            max: None,
            zero_threshold: 0.0,
        };
        for (tag, v) in Fields::new(body) {
            match tag {
                2 => p.start_time_unix_nano = v.u64(),
                3 => p.time_unix_nano = v.u64(),
                4 => p.count = v.u64(),
                5 => p.sum = Some(v.f64()),
                6 => p.scale = v.sint32(),
                7 => p.zero_count = v.u64(),
                10 => p.flags = v.u32(),
                12 => p.min = Some(v.f64()),
                13 => p.max = Some(v.f64()),
                14 => p.zero_threshold = v.f64(),
                _ => {}
            }
        }
        p
    }

    /// `positive` (`None` when absent).
    pub fn positive(&self) -> Option<BucketsView<'a>> {
        BucketsView::new(self.body, 8)
    }

    /// `negative` (`None` when absent).
    pub fn negative(&self) -> Option<BucketsView<'a>> {
        BucketsView::new(self.body, 9)
    }

    /// The point's attributes.
    pub fn attributes(&self) -> List<'a, KeyValueView<'a>> {
        attributes(Merged::plain(self.body), 1)
    }
}

/// An `ExponentialHistogramDataPoint.Buckets` (every occurrence, merged).
#[derive(Clone, Copy, Debug)]
pub struct BucketsView<'a>(Merged<'a>);

impl<'a> BucketsView<'a> {
    fn new(point: &'a [u8], tag: u32) -> Option<Self> {
        let m = Merged::plain(point).sub(tag, 0);
        Merged::plain(point).messages(tag).next().map(|_| BucketsView(m))
    }

    /// `offset`.
    pub fn offset(&self) -> i32 {
        self.0.last(1).map_or(0, Value::sint32)
    }

    /// `bucket_counts`, packed and unpacked runs alike.
    pub fn bucket_counts(&self) -> Scalars<'a> {
        Scalars::new(self.0, 2, false)
    }
}
