//! The view workloads' walk: validate a request body with the library's
//! zero-copy views and read every item and field they hand out (resources,
//! scopes, spans, events, links, metrics, points, buckets, records,
//! attributes and nested values), folded into a fingerprint so that none of
//! the work can be skipped. The same fold over the model is the oracle
//! `verify` checks a walk against: its input is the fixture itself, not the
//! view.

use otlp_pipeline::encode::view::{
    AnyValueView, KeyValueView, List, LogsView, MetricDataView, MetricsView, TracesView,
};
use otlp_pipeline::model::{AnyValue, KeyValue, LogsData, MetricData, MetricsData, NumberValue, TracesData};

/// A running fingerprint (wrapping: the values are arbitrary bits).
#[derive(Default)]
struct Fold(u64);

impl Fold {
    #[inline]
    fn add(&mut self, x: u64) {
        self.0 = self.0.rotate_left(5) ^ x;
    }

    fn id(&mut self, id: &[u8]) {
        let mut low = [0u8; 8];
        low.copy_from_slice(&id[..8]);
        self.add(u64::from_le_bytes(low));
    }

    fn view_value(&mut self, v: AnyValueView<'_>) {
        match v {
            AnyValueView::String(s) => self.add(s.len() as u64),
            AnyValueView::Bool(b) => self.add(u64::from(b)),
            AnyValueView::Int(i) => self.add(i as u64),
            AnyValueView::Double(d) => self.add(d.to_bits()),
            AnyValueView::Bytes(b) => self.add(b.len() as u64),
            AnyValueView::Array(xs) => xs.iter().for_each(|x| self.view_value(x)),
            AnyValueView::KvList(kvs) => self.view_attributes(kvs),
            _ => self.add(1),
        }
    }

    fn view_attributes(&mut self, kvs: List<'_, KeyValueView<'_>>) {
        for kv in kvs {
            self.add(kv.key.len() as u64);
            self.view_value(kv.value);
        }
    }

    fn model_value(&mut self, v: &AnyValue) {
        match v {
            AnyValue::String(s) => self.add(s.len() as u64),
            AnyValue::Bool(b) => self.add(u64::from(*b)),
            AnyValue::Int(i) => self.add(*i as u64),
            AnyValue::Double(d) => self.add(d.to_bits()),
            AnyValue::Bytes(b) => self.add(b.len() as u64),
            AnyValue::Array(xs) => xs.iter().for_each(|x| self.model_value(x)),
            AnyValue::KvList(kvs) => self.model_attributes(kvs),
            _ => self.add(1),
        }
    }

    fn model_attributes(&mut self, kvs: &[KeyValue]) {
        for kv in kvs {
            self.add(kv.key.len() as u64);
            self.model_value(&kv.value);
        }
    }
}

/// Validates and walks a trace request: (spans, fingerprint).
pub(super) fn view_traces(body: &[u8]) -> (usize, u64) {
    let v = TracesView::new(body).expect("the fixture validates");
    let mut f = Fold::default();
    for r in v.resource_spans() {
        f.view_attributes(r.resource().attributes());
        for s in r.scope_spans() {
            f.add(s.scope().name().len() as u64);
            f.view_attributes(s.scope().attributes());
            for span in s.spans() {
                f.id(&span.span_id.0);
                f.id(&span.trace_id.0);
                f.add(span.parent_span_id.map_or(0, |p| u64::from_le_bytes(p.0)));
                f.add(span.name.len() as u64);
                f.add(span.kind as u64);
                f.add(span.start_time_unix_nano);
                f.add(span.end_time_unix_nano);
                f.add(span.status_code as u64);
                f.add(span.status_message.len() as u64);
                f.view_attributes(span.attributes());
                for e in span.events() {
                    f.add(e.time_unix_nano);
                    f.add(e.name.len() as u64);
                    f.view_attributes(e.attributes());
                }
                for l in span.links() {
                    f.id(&l.span_id.0);
                    f.view_attributes(l.attributes());
                }
            }
        }
    }
    (v.span_count(), f.0)
}

/// The same walk over the model.
pub(super) fn model_traces(d: &TracesData) -> (usize, u64) {
    let mut f = Fold::default();
    for r in &d.resource_spans {
        f.model_attributes(&r.resource.attributes);
        for s in &r.scope_spans {
            f.add(s.scope.name.len() as u64);
            f.model_attributes(&s.scope.attributes);
            for span in &s.spans {
                f.id(&span.span_id.0);
                f.id(&span.trace_id.0);
                f.add(span.parent_span_id.map_or(0, |p| u64::from_le_bytes(p.0)));
                f.add(span.name.len() as u64);
                f.add(span.kind as u64);
                f.add(span.start_time_unix_nano);
                f.add(span.end_time_unix_nano);
                f.add(span.status.code as u64);
                f.add(span.status.message.len() as u64);
                f.model_attributes(&span.attributes);
                for e in &span.events {
                    f.add(e.time_unix_nano);
                    f.add(e.name.len() as u64);
                    f.model_attributes(&e.attributes);
                }
                for l in &span.links {
                    f.id(&l.span_id.0);
                    f.model_attributes(&l.attributes);
                }
            }
        }
    }
    (d.span_count(), f.0)
}

fn number(v: Option<NumberValue>) -> u64 {
    match v {
        Some(NumberValue::Double(x)) => x.to_bits(),
        Some(NumberValue::Int(x)) => x as u64,
        None => 0,
    }
}

/// Validates and walks a metrics request: (points, fingerprint).
pub(super) fn view_metrics(body: &[u8]) -> (usize, u64) {
    let v = MetricsView::new(body).expect("the fixture validates");
    let mut f = Fold::default();
    for m in v.metrics() {
        f.add(m.name.len() as u64);
        f.view_attributes(m.metadata());
        match m.data {
            Some(MetricDataView::Gauge(points) | MetricDataView::Sum { points, .. }) => {
                for p in points {
                    f.add(p.time_unix_nano);
                    f.add(number(p.value));
                    f.view_attributes(p.attributes());
                }
            }
            Some(MetricDataView::Histogram { points, .. }) => {
                for p in points {
                    f.add(p.time_unix_nano);
                    f.add(p.count);
                    p.bucket_counts().for_each(|x| f.add(x));
                    p.explicit_bounds().for_each(|x| f.add(x.to_bits()));
                    f.view_attributes(p.attributes());
                }
            }
            Some(MetricDataView::ExponentialHistogram { points, .. }) => {
                for p in points {
                    f.add(p.time_unix_nano);
                    f.add(p.count);
                    f.add(p.scale as u64);
                    for b in [p.positive(), p.negative()].into_iter().flatten() {
                        f.add(b.offset() as u64);
                        b.bucket_counts().for_each(|x| f.add(x));
                    }
                    f.view_attributes(p.attributes());
                }
            }
            None => f.add(0),
        }
    }
    (v.data_point_count(), f.0)
}

/// The same walk over the model.
pub(super) fn model_metrics(d: &MetricsData) -> (usize, u64) {
    let mut f = Fold::default();
    for m in d.resource_metrics.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics) {
        f.add(m.name.len() as u64);
        f.model_attributes(&m.metadata);
        match &m.data {
            Some(MetricData::Gauge(points) | MetricData::Sum { points, .. }) => {
                for p in points {
                    f.add(p.time_unix_nano);
                    f.add(number(p.value));
                    f.model_attributes(&p.attributes);
                }
            }
            Some(MetricData::Histogram { points, .. }) => {
                for p in points {
                    f.add(p.time_unix_nano);
                    f.add(p.count);
                    p.bucket_counts.iter().for_each(|&x| f.add(x));
                    p.explicit_bounds.iter().for_each(|x| f.add(x.to_bits()));
                    f.model_attributes(&p.attributes);
                }
            }
            Some(MetricData::ExponentialHistogram { points, .. }) => {
                for p in points {
                    f.add(p.time_unix_nano);
                    f.add(p.count);
                    f.add(p.scale as u64);
                    for b in [&p.positive, &p.negative].into_iter().flatten() {
                        f.add(b.offset as u64);
                        b.bucket_counts.iter().for_each(|&x| f.add(x));
                    }
                    f.model_attributes(&p.attributes);
                }
            }
            None => f.add(0),
        }
    }
    (d.point_count(), f.0)
}

/// Validates and walks a logs request: (records, fingerprint).
pub(super) fn view_logs(body: &[u8]) -> (usize, u64) {
    let v = LogsView::new(body).expect("the fixture validates");
    let mut f = Fold::default();
    for r in v.log_records() {
        f.add(r.time_unix_nano);
        f.add(r.severity_number.0 as u64);
        f.add(r.severity_text.len() as u64);
        match r.body {
            Some(b) => f.view_value(b),
            None => f.add(0),
        }
        f.view_attributes(r.attributes());
        f.add(r.trace_id.map_or(0, |t| t.0[0].into()));
    }
    (v.log_record_count(), f.0)
}

/// The same walk over the model.
pub(super) fn model_logs(d: &LogsData) -> (usize, u64) {
    let mut f = Fold::default();
    for r in d.resource_logs.iter().flat_map(|r| &r.scope_logs).flat_map(|s| &s.log_records) {
        f.add(r.time_unix_nano);
        f.add(r.severity_number.0 as u64);
        f.add(r.severity_text.len() as u64);
        match &r.body {
            Some(b) => f.model_value(b),
            None => f.add(0),
        }
        f.model_attributes(&r.attributes);
        f.add(r.trace_id.map_or(0, |t| t.0[0].into()));
    }
    (d.record_count(), f.0)
}
