//! The view workloads' walk: validate a request body with the library's
//! zero-copy views, then read every item and field they hand out with the
//! library's walk (`otlp_pipeline::fixtures::walk`). The same walk over the
//! model is the oracle `verify` checks a view's walk against: its input is
//! the fixture itself, not the view.

use otlp_pipeline::encode::view::{LogsView, MetricsView, TracesView};
use otlp_pipeline::fixtures::walk;
use otlp_pipeline::model::{LogsData, MetricsData, TracesData};

/// Validates and walks a trace request: (spans, fingerprint).
pub(super) fn view_traces(body: &[u8]) -> (usize, u64) {
    let v = TracesView::new(body).expect("the fixture validates");
    (v.span_count(), walk::traces_view(&v))
}

/// The same walk over the model.
pub(super) fn model_traces(d: &TracesData) -> (usize, u64) {
    (d.span_count(), walk::traces(d))
}

/// Validates and walks a metrics request: (points, fingerprint).
pub(super) fn view_metrics(body: &[u8]) -> (usize, u64) {
    let v = MetricsView::new(body).expect("the fixture validates");
    (v.data_point_count(), walk::metrics_view(&v))
}

/// The same walk over the model.
pub(super) fn model_metrics(d: &MetricsData) -> (usize, u64) {
    (d.point_count(), walk::metrics(d))
}

/// Validates and walks a logs request: (records, fingerprint).
pub(super) fn view_logs(body: &[u8]) -> (usize, u64) {
    let v = LogsView::new(body).expect("the fixture validates");
    (v.log_record_count(), walk::logs_view(&v))
}

/// The same walk over the model.
pub(super) fn model_logs(d: &LogsData) -> (usize, u64) {
    (d.record_count(), walk::logs(d))
}
