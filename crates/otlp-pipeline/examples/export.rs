//! Export spans, a metric and logs, configured from the standard
//! environment, then shut down and say what was delivered.
//!
//! ```text
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 cargo run -p otlp-pipeline --example export
//! ```
//!
//! Every `OTEL_EXPORTER_OTLP_*` variable that [`ExporterBuilder::from_env`]
//! lists applies (endpoint, protocol, compression, headers, timeout, CA
//! file). With no collector listening, the items are counted as dropped and
//! the example exits with status 1: nothing is lost without being counted.
//!
//! [`ExporterBuilder::from_env`]: otlp_pipeline::exporter::ExporterBuilder::from_env

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use otlp_pipeline::model::unix_nanos;
use otlp_pipeline::{
    DropReason, Event, Exporter, KeyValue, LogRecord, Metric, MetricData, NumberDataPoint, NumberValue, Resource,
    Severity, Span, SpanKind, Status, Temporality,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(delivered_all) => {
            if delivered_all {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("export: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<bool, otlp_pipeline::Error> {
    // The builder's settings first, the environment's over them.
    let exporter = Exporter::builder()
        .resource(Resource::new([KeyValue::new("service.name", "checkout"), KeyValue::new("service.version", "1.4.2")]))
        .from_env()?
        .build()?;

    // A handle is cheap to clone and never blocks: give one to each task.
    let otel = exporter.handle();
    let started = SystemTime::now();
    for order in 0..10_i64 {
        let span = Span::builder("POST /api/orders")
            .kind(SpanKind::Server)
            .attr("http.request.method", "POST")
            .attr("http.response.status_code", 201)
            .attr("order.id", order)
            .event(Event::new("payment.accepted", unix_nanos(SystemTime::now())))
            .status(Status::OK)
            .build();
        // The span's ids are drawn and its times read from the clock, as
        // none were set; a log tied to it carries its context.
        otel.log(
            LogRecord::builder()
                .severity(Severity::INFO, "INFO")
                .body(format!("order {order} placed"))
                .span_context(span.trace_id, span.span_id, span.flags)
                .build(),
        );
        otel.span(span);
    }
    let now = unix_nanos(SystemTime::now());
    otel.metric(Metric::new(
        "http.server.request.count",
        "Requests served since start",
        "{request}",
        MetricData::Sum {
            points: vec![NumberDataPoint {
                attributes: vec![KeyValue::new("http.route", "/api/orders")],
                start_time_unix_nano: unix_nanos(started),
                time_unix_nano: now,
                value: Some(NumberValue::Int(10)),
                flags: 0,
            }],
            temporality: Temporality::Cumulative,
            is_monotonic: true,
        },
    ));

    // Shutdown delivers what is queued; what it cannot deliver by the
    // deadline is counted as dropped, by reason. A panic in the pipeline's
    // batcher task (a bug) is an error that still carries the counters.
    let stats = match exporter.shutdown(Duration::from_secs(5)).await {
        Ok(stats) => stats,
        Err(e) => {
            eprintln!("export: {e}");
            e.into_stats()
        }
    };
    let p = stats.pipeline;
    println!("accepted {} items, exported {}, dropped {}", p.accepted, p.exported, p.dropped_total());
    for reason in DropReason::ALL {
        if p.dropped(reason) > 0 {
            println!("  dropped ({reason}): {}", p.dropped(reason));
        }
    }
    Ok(p.exported == p.accepted)
}
