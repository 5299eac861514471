//! `MetricsData` and the messages below it.

use bytes::Bytes;

use super::dropped::{EXEMPLAR, SUMMARY};
use super::reader::{Decoder, fields};
use super::{DecodeBudget, EncodeError, Field, Message, R, RECURSION_LIMIT, invalid, within};
use crate::model::*;

/// Decodes an `ExportMetricsServiceRequest` (or `MetricsData`)
/// from a request body, without a memory budget
/// ([`decode_metrics_within`] with [`DecodeBudget::UNLIMITED`]); strings and
/// bytes in the result share `body`.
pub fn decode_metrics(body: &Bytes) -> Result<MetricsData, EncodeError> {
    decode_metrics_within(body, DecodeBudget::UNLIMITED)
}

/// Decodes an `ExportMetricsServiceRequest` (or `MetricsData`)
/// from a request body, allocating at most `budget` for the model (failing
/// with [`EncodeError::OverBudget`] before it would go over); strings and
/// bytes in the result share `body`.
pub fn decode_metrics_within(body: &Bytes, budget: DecodeBudget) -> Result<MetricsData, EncodeError> {
    Decoder::new(body, budget).metrics()
}

impl Decoder<'_> {
    /// The whole request, from the start of the body.
    pub(super) fn metrics(&mut self) -> R<MetricsData> {
        let d = self;
        let (end, depth) = (d.body.len(), RECURSION_LIMIT);
        let mut out = MetricsData::default();
        fields!(d, end, depth, Message::MetricsData, |tag, wt| {
            1 => d.resource_metrics(wt, end, depth).and_then(|x| d.push(&mut out.resource_metrics, x)),
        });
        Ok(out)
    }

    pub(super) fn resource_metrics(&mut self, wt: u8, end: usize, depth: u32) -> R<ResourceMetrics> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut out = ResourceMetrics::default();
        fields!(self, end, depth, Message::ResourceMetrics, |tag, wt| {
            1 => self.resource(wt, end, depth, &mut out.resource),
            2 => self.scope_metrics(wt, end, depth).and_then(|x| self.push(&mut out.scope_metrics, x)),
            3 => self.string(wt, end).map(|x| out.schema_url = x),
        });
        Ok(out)
    }

    pub(super) fn scope_metrics(&mut self, wt: u8, end: usize, depth: u32) -> R<ScopeMetrics> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut out = ScopeMetrics::default();
        let [metrics] = self.count_fields(end, [2]);
        self.reserve(&mut out.metrics, metrics)?;
        fields!(self, end, depth, Message::ScopeMetrics, |tag, wt| {
            1 => self.scope(wt, end, depth, &mut out.scope),
            2 => self.metric(wt, end, depth).and_then(|x| self.push(&mut out.metrics, x)),
            3 => self.string(wt, end).map(|x| out.schema_url = x),
        });
        Ok(out)
    }

    pub(super) fn metric(&mut self, wt: u8, end: usize, depth: u32) -> R<Metric> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut m =
            Metric { name: Str::EMPTY, description: Str::EMPTY, unit: Str::EMPTY, data: None, metadata: Vec::new() };
        // The `data` oneof holds a summary: the model has none, so the
        // reference rejects the metric if that is the final variant.
        let mut summary = false;
        // The first check of the reference that failed inside the variant
        // held (see `Decoder::variant`): dropped with it if it is replaced.
        let mut pending: Option<EncodeError> = None;
        fields!(self, end, depth, Message::Metric, |tag, wt| {
            1 => self.string(wt, end).map(|x| m.name = x),
            2 => self.string(wt, end).map(|x| m.description = x),
            3 => self.string(wt, end).map(|x| m.unit = x),
            5 => self.message(wt, end, depth).and_then(|(e, d)| {
                summary = false;
                // Like prost's oneof merge: into the variant held, else afresh.
                if let Some(MetricData::Gauge(points)) = &mut m.data {
                    let inner = self.variant(|s| s.gauge(e, d, points))?;
                    pending = pending.take().or(inner);
                    return Ok(());
                }
                let mut points = Vec::new();
                pending = self.variant(|s| s.gauge(e, d, &mut points))?;
                m.data = Some(MetricData::Gauge(points));
                Ok(())
            }),
            7 => self.message(wt, end, depth).and_then(|(e, d)| {
                summary = false;
                let fresh = !matches!(m.data, Some(MetricData::Sum { .. }));
                if fresh {
                    m.data = Some(MetricData::Sum {
                        points: Vec::new(),
                        temporality: Temporality::Unspecified,
                        is_monotonic: false,
                    });
                }
                let Some(MetricData::Sum { points, temporality, is_monotonic }) = &mut m.data else {
                    unreachable!("set just above")
                };
                let inner = self.variant(|s| s.sum(e, d, points, temporality, is_monotonic))?;
                pending = if fresh { inner } else { pending.take().or(inner) };
                Ok(())
            }),
            9 => self.message(wt, end, depth).and_then(|(e, d)| {
                summary = false;
                let fresh = !matches!(m.data, Some(MetricData::Histogram { .. }));
                if fresh {
                    m.data = Some(MetricData::Histogram { points: Vec::new(), temporality: Temporality::Unspecified });
                }
                let Some(MetricData::Histogram { points, temporality }) = &mut m.data else {
                    unreachable!("set just above")
                };
                let inner = self.variant(|s| s.histogram(e, d, points, temporality))?;
                pending = if fresh { inner } else { pending.take().or(inner) };
                Ok(())
            }),
            10 => self.message(wt, end, depth).and_then(|(e, d)| {
                summary = false;
                let fresh = !matches!(m.data, Some(MetricData::ExponentialHistogram { .. }));
                if fresh {
                    m.data = Some(MetricData::ExponentialHistogram {
                        points: Vec::new(),
                        temporality: Temporality::Unspecified,
                    });
                }
                let Some(MetricData::ExponentialHistogram { points, temporality }) = &mut m.data else {
                    unreachable!("set just above")
                };
                let inner = self.variant(|s| s.exponential_histogram(e, d, points, temporality))?;
                pending = if fresh { inner } else { pending.take().or(inner) };
                Ok(())
            }),
            11 => self.message(wt, end, depth).and_then(|(e, d)| {
                m.data = None;
                summary = true;
                pending = None;
                self.validate(&SUMMARY, e, d)
            }),
            12 => self.key_value(wt, end, depth, &mut m.metadata),
        });
        if summary {
            return Err(invalid(Field::MetricData, "summary metrics are not supported"));
        }
        if let Some(e) = pending {
            self.invalid_when_final(e)?;
        }
        Ok(m)
    }

    pub(super) fn gauge(&mut self, end: usize, depth: u32, points: &mut Vec<NumberDataPoint>) -> R<()> {
        fields!(self, end, depth, Message::Gauge, |tag, wt| {
            1 => self.number_point(wt, end, depth).and_then(|p| self.push(points, p)),
        });
        Ok(())
    }

    pub(super) fn sum(
        &mut self,
        end: usize,
        depth: u32,
        points: &mut Vec<NumberDataPoint>,
        temporality: &mut Temporality,
        is_monotonic: &mut bool,
    ) -> R<()> {
        fields!(self, end, depth, Message::Sum, |tag, wt| {
            1 => self.number_point(wt, end, depth).and_then(|p| self.push(points, p)),
            2 => self.int32(wt, end).map(|x| *temporality = Temporality::from_i32(x)),
            3 => self.bool(wt, end).map(|x| *is_monotonic = x),
        });
        Ok(())
    }

    pub(super) fn histogram(
        &mut self,
        end: usize,
        depth: u32,
        points: &mut Vec<HistogramDataPoint>,
        temporality: &mut Temporality,
    ) -> R<()> {
        fields!(self, end, depth, Message::Histogram, |tag, wt| {
            1 => self.histogram_point(wt, end, depth).and_then(|p| self.push(points, p)),
            2 => self.int32(wt, end).map(|x| *temporality = Temporality::from_i32(x)),
        });
        Ok(())
    }

    pub(super) fn exponential_histogram(
        &mut self,
        end: usize,
        depth: u32,
        points: &mut Vec<ExponentialHistogramDataPoint>,
        temporality: &mut Temporality,
    ) -> R<()> {
        fields!(self, end, depth, Message::ExponentialHistogram, |tag, wt| {
            1 => self.exponential_point(wt, end, depth).and_then(|p| self.push(points, p)),
            2 => self.int32(wt, end).map(|x| *temporality = Temporality::from_i32(x)),
        });
        Ok(())
    }

    pub(super) fn number_point(&mut self, wt: u8, end: usize, depth: u32) -> R<NumberDataPoint> {
        let (end, depth) = self.message(wt, end, depth)?;
        let [attributes] = self.count_fields(end, [7]);
        let mut p = NumberDataPoint {
            attributes: Vec::new(),
            start_time_unix_nano: 0,
            time_unix_nano: 0,
            value: None,
            flags: 0,
        };
        self.reserve(&mut p.attributes, attributes)?;
        fields!(self, end, depth, Message::NumberDataPoint, |tag, wt| {
            2 => self.fixed64(wt, end).map(|x| p.start_time_unix_nano = x),
            3 => self.fixed64(wt, end).map(|x| p.time_unix_nano = x),
            4 => self.double(wt, end).map(|x| p.value = Some(NumberValue::Double(x))),
            5 => self.message(wt, end, depth).and_then(|(e, d)| self.validate(&EXEMPLAR, e, d)),
            6 => self.fixed64(wt, end).map(|x| p.value = Some(NumberValue::Int(x as i64))),
            7 => self.key_value(wt, end, depth, &mut p.attributes),
            8 => self.uint32(wt, end).map(|x| p.flags = x),
        });
        Ok(p)
    }

    pub(super) fn histogram_point(&mut self, wt: u8, end: usize, depth: u32) -> R<HistogramDataPoint> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut p = HistogramDataPoint::default();
        let [attributes] = self.count_fields(end, [9]);
        self.reserve(&mut p.attributes, attributes)?;
        fields!(self, end, depth, Message::HistogramDataPoint, |tag, wt| {
            2 => self.fixed64(wt, end).map(|x| p.start_time_unix_nano = x),
            3 => self.fixed64(wt, end).map(|x| p.time_unix_nano = x),
            4 => self.fixed64(wt, end).map(|x| p.count = x),
            5 => self.double(wt, end).map(|x| p.sum = Some(x)),
            6 => self.repeated_fixed64(wt, end, &mut p.bucket_counts, |x| x),
            7 => self.repeated_fixed64(wt, end, &mut p.explicit_bounds, f64::from_bits),
            8 => self.message(wt, end, depth).and_then(|(e, d)| self.validate(&EXEMPLAR, e, d)),
            9 => self.key_value(wt, end, depth, &mut p.attributes),
            10 => self.uint32(wt, end).map(|x| p.flags = x),
            11 => self.double(wt, end).map(|x| p.min = Some(x)),
            12 => self.double(wt, end).map(|x| p.max = Some(x)),
        });
        Ok(p)
    }

    pub(super) fn exponential_point(&mut self, wt: u8, end: usize, depth: u32) -> R<ExponentialHistogramDataPoint> {
        let (end, depth) = self.message(wt, end, depth)?;
        let mut p = ExponentialHistogramDataPoint::default();
        fields!(self, end, depth, Message::ExponentialHistogramDataPoint, |tag, wt| {
            1 => self.key_value(wt, end, depth, &mut p.attributes),
            2 => self.fixed64(wt, end).map(|x| p.start_time_unix_nano = x),
            3 => self.fixed64(wt, end).map(|x| p.time_unix_nano = x),
            4 => self.fixed64(wt, end).map(|x| p.count = x),
            5 => self.double(wt, end).map(|x| p.sum = Some(x)),
            6 => self.sint32(wt, end).map(|x| p.scale = x),
            7 => self.fixed64(wt, end).map(|x| p.zero_count = x),
            8 => self.buckets(wt, end, depth, &mut p.positive),
            9 => self.buckets(wt, end, depth, &mut p.negative),
            10 => self.uint32(wt, end).map(|x| p.flags = x),
            11 => self.message(wt, end, depth).and_then(|(e, d)| self.validate(&EXEMPLAR, e, d)),
            12 => self.double(wt, end).map(|x| p.min = Some(x)),
            13 => self.double(wt, end).map(|x| p.max = Some(x)),
            14 => self.double(wt, end).map(|x| p.zero_threshold = x),
        });
        Ok(p)
    }

    /// Merges `Buckets` into `b` (present from its first occurrence on).
    pub(super) fn buckets(&mut self, wt: u8, end: usize, depth: u32, b: &mut Option<ExpBuckets>) -> R<()> {
        let (end, depth) = self.message(wt, end, depth)?;
        let b = b.get_or_insert_with(ExpBuckets::default);
        fields!(self, end, depth, Message::Buckets, |tag, wt| {
            1 => self.sint32(wt, end).map(|x| b.offset = x),
            2 => self.repeated_uint64(wt, end, &mut b.bucket_counts),
        });
        Ok(())
    }
}
