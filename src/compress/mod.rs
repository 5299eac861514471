//! Compression (placeholder: being written).

use thiserror::Error;

/// Why compression or decompression failed.
#[derive(Debug, Error)]
#[error("compression failed")]
pub struct CompressError;
