//! The SDK's providers: one builder of the tracer provider for both runs,
//! and the tracer, meter and logger providers of the load run.

use std::sync::Arc;

use opentelemetry_sdk::logs::{BatchLogProcessor, SdkLoggerProvider};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanExporter};

use super::exporter::{Instrumented, SdkCounters, Transport};
use super::runtime::IoRuntime;
use super::{SdkError, resource};
use crate::harness::LatencyRecorder;

/// How the SDK's exporters and processors are set up.
#[derive(Clone, Debug)]
pub struct SdkConfig {
    /// Where and how they send.
    pub transport: Transport,
    /// Spans and log records per export (`max_export_batch_size`).
    pub batch: usize,
    /// The span and log processors' queues (`max_queue_size`; never below `batch`).
    pub queue: usize,
}

/// A tracer provider with the standard resource and a `BatchSpanProcessor`
/// (the SDK's defaults: 5 s delay) exporting through `exporter`, with the
/// batch size and queue of `config`; the caller may add to it before `build`.
pub(crate) fn tracer_provider<E: SpanExporter + 'static>(
    exporter: E,
    config: &SdkConfig,
) -> opentelemetry_sdk::trace::TracerProviderBuilder {
    let batch = BatchConfigBuilder::default()
        .with_max_export_batch_size(config.batch)
        .with_max_queue_size(config.queue.max(config.batch))
        .build();
    SdkTracerProvider::builder()
        .with_resource(resource())
        .with_span_processor(BatchSpanProcessor::builder(exporter).with_batch_config(batch).build())
}

/// A tracer, meter and logger provider exporting over OTLP, with the
/// runtime their exporters need.
#[derive(Debug)]
pub struct SdkProviders {
    /// Spans: `BatchSpanProcessor` + the OTLP span exporter.
    pub tracer: SdkTracerProvider,
    /// Metrics: `PeriodicReader` + the OTLP metric exporter.
    pub meter: SdkMeterProvider,
    /// Logs: `BatchLogProcessor` + the OTLP log exporter.
    pub logger: SdkLoggerProvider,
    /// Export latency, one sample per export call.
    pub latency: Arc<LatencyRecorder>,
    /// Items the exporters delivered.
    pub counters: Arc<SdkCounters>,
    /// The OTLP exporters' runtime; none when the providers end in our pipeline.
    io: Option<IoRuntime>,
}

impl SdkProviders {
    /// Builds the three providers with their batch processors and OTLP exporters.
    pub fn start(config: &SdkConfig) -> Result<SdkProviders, SdkError> {
        let io = IoRuntime::start()?;
        let latency = Arc::new(LatencyRecorder::new());
        let counters = Arc::new(SdkCounters::default());
        // tonic's channel spawns its worker when it is built: build inside the runtime.
        let entered = io.handle.enter();
        let t = &config.transport;
        let tracer =
            tracer_provider(Instrumented::new(t.span_exporter()?, &io.handle, Some(&latency), &counters), config)
                .build();
        let meter = SdkMeterProvider::builder()
            .with_resource(resource())
            .with_reader(
                PeriodicReader::builder(Instrumented::new(t.metric_exporter()?, &io.handle, Some(&latency), &counters))
                    .build(),
            )
            .build();
        let log_processor =
            BatchLogProcessor::builder(Instrumented::new(t.log_exporter()?, &io.handle, Some(&latency), &counters))
                .with_batch_config(
                    opentelemetry_sdk::logs::BatchConfigBuilder::default()
                        .with_max_export_batch_size(config.batch)
                        .with_max_queue_size(config.queue.max(config.batch))
                        .build(),
                )
                .build();
        let logger = SdkLoggerProvider::builder().with_resource(resource()).with_log_processor(log_processor).build();
        drop(entered);
        Ok(SdkProviders { tracer, meter, logger, latency, counters, io: Some(io) })
    }

    /// The same three providers handing what they end, emit and collect to
    /// our pipeline through `handle` (`otlp_pipeline::otel`: span and log
    /// processors that never wait, the metric exporter under the SDK's
    /// `PeriodicReader`): no batch processor, no export thread, no OTLP
    /// exporter of the SDK's. The pipeline counts what it exports; the
    /// counters and latency here stay empty.
    pub fn start_ours(handle: &otlp_pipeline::pipeline::Handle) -> SdkProviders {
        use otlp_pipeline::otel::{OtlpLogProcessor, OtlpMetricExporter, OtlpSpanProcessor};
        let tracer = SdkTracerProvider::builder()
            .with_resource(resource())
            .with_span_processor(OtlpSpanProcessor::new(handle.clone()))
            .build();
        let meter = SdkMeterProvider::builder()
            .with_resource(resource())
            .with_reader(PeriodicReader::builder(OtlpMetricExporter::new(handle.clone())).build())
            .build();
        let logger = SdkLoggerProvider::builder()
            .with_resource(resource())
            .with_log_processor(OtlpLogProcessor::new(handle.clone()))
            .build();
        let (latency, counters) = (Arc::new(LatencyRecorder::new()), Arc::new(SdkCounters::default()));
        SdkProviders { tracer, meter, logger, latency, counters, io: None }
    }

    /// Shuts the providers down (each exports what it still holds; the
    /// blocking calls run on this thread, outside any runtime), then the
    /// exporters' runtime.
    pub fn shutdown(self) {
        // Errors here mean items not delivered, which the receiver's counts show.
        let _ = self.tracer.shutdown();
        let _ = self.logger.shutdown();
        let _ = self.meter.shutdown();
        if let Some(io) = self.io {
            let _ = io.stop();
        }
    }
}
