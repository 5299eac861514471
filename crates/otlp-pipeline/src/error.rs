//! The crate error: one variant per layer, each wrapping that layer's enum.

use thiserror::Error;

/// Any error of the crate.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Encoding or decoding failed.
    #[error(transparent)]
    Encode(#[from] crate::encode::EncodeError),
    /// Compression or decompression failed.
    #[error(transparent)]
    Compress(#[from] crate::compress::CompressError),
    /// The exporter could not be built.
    #[error(transparent)]
    Exporter(#[from] crate::exporter::ExporterError),
    /// An export attempt failed.
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    /// The pipeline's settings are invalid.
    #[error(transparent)]
    PipelineConfig(#[from] crate::pipeline::ConfigError),
    /// The retry, breaker or timeout settings are invalid.
    #[error(transparent)]
    TransportConfig(#[from] crate::transport::ConfigError),
    /// The exporter's shutdown found its batcher task dead (it panicked).
    #[error(transparent)]
    Shutdown(#[from] crate::pipeline::ShutdownError<crate::exporter::ExporterStats>),
}

/// Result with the crate [`Error`](enum@Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;
