//! Pipeline settings.

use std::time::Duration;

use crate::compress::Compression;

/// How the pipeline batches and exports.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    /// Items a batch holds before it is exported. 512 spans ≈ 235 KB of
    /// protobuf: well under the usual 4 MiB receiver limit.
    pub max_batch_items: usize,
    /// Longest an item waits in a partial batch before it is exported.
    pub max_delay: Duration,
    /// Items the queue holds between the callers and the batcher; an item
    /// offered to a full queue is refused at once and counted as dropped.
    pub queue_capacity: usize,
    /// Export requests in flight at once.
    pub max_concurrent_exports: usize,
    /// Codec of the request bodies.
    pub compression: Compression,
    /// Encoding of the request bodies.
    pub format: BodyFormat,
    /// Keep request bodies in a buffer pool and reuse them (the default).
    /// Off, every batch gets a fresh body that is freed after its export:
    /// the lab's pool-on/off comparison.
    pub pool_bodies: bool,
}

/// The two OTLP body encodings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BodyFormat {
    /// OTLP/protobuf, written by the direct encoder.
    #[default]
    Protobuf,
    /// OTLP/JSON.
    Json,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            max_batch_items: 512,
            // The OpenTelemetry SDKs wait up to 5 s; 200 ms keeps export
            // latency low at a trivial cost in extra requests when idle.
            max_delay: Duration::from_millis(200),
            // Four full batches of spans: absorbs a short stall of the receiver.
            queue_capacity: 2048,
            max_concurrent_exports: 2,
            compression: Compression::None,
            format: BodyFormat::Protobuf,
            pool_bodies: true,
        }
    }
}

impl PipelineConfig {
    /// Checks the settings; the pipeline refuses to start on a bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_batch_items == 0 {
            return Err(ConfigError::Zero("max_batch_items"));
        }
        if self.queue_capacity == 0 {
            return Err(ConfigError::Zero("queue_capacity"));
        }
        if self.max_concurrent_exports == 0 {
            return Err(ConfigError::Zero("max_concurrent_exports"));
        }
        if self.max_delay.is_zero() {
            return Err(ConfigError::Zero("max_delay"));
        }
        self.compression.validate().map_err(ConfigError::Compression)
    }
}

/// A setting the pipeline cannot run with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A size or duration that must be positive is zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    /// The codec or its level is invalid.
    #[error("invalid compression: {0}")]
    Compression(#[source] crate::compress::CompressError),
}
