//! The result files of the heap binary (`otlp-lab-heap`, also reached as
//! `otlp-lab pool` and `otlp-lab audit`): `profiles/pool.json` ([`PoolFile`])
//! and `profiles/audit.json` ([`AuditFile`]). The types live in the library
//! so that the binary writes and the report reads the same ones. [`fold`]
//! turns its DHAT profiles into allocation flamegraphs.

pub mod fold;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::result_file::{self, ResultFileError};

/// One row of `profiles/pool.json`: one path with the pool on or off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolRow {
    /// Which path (encode + zstd, pipeline ...).
    pub path: String,
    /// The workload measured.
    pub workload: String,
    /// Whether the workload ran with the pool.
    pub pool: PoolSetting,
    /// Items in one batch.
    pub items_per_batch: u64,
    /// Heap blocks per batch.
    pub blocks_per_batch: f64,
    /// Heap bytes per batch.
    pub bytes_per_batch: f64,
    /// Heap blocks per item.
    pub blocks_per_item: f64,
    /// The process's peak heap.
    pub peak_bytes: u64,
}

/// The pool on or off, spelled `on` and `off` in the file; any other word
/// there is an error when the file is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolSetting {
    /// The workload reuses buffers from the pool.
    On,
    /// The same workload allocating afresh.
    Off,
}

impl PoolSetting {
    /// The word in the file.
    pub const fn name(self) -> &'static str {
        match self {
            PoolSetting::On => "on",
            PoolSetting::Off => "off",
        }
    }
}

impl std::fmt::Display for PoolSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that the heap binary's table can align it with a width.
        f.pad(self.name())
    }
}

/// The pipeline's own blocks per batch at one batch size (the producer's
/// clones of the spans taken out).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineOwn {
    /// Items in one batch.
    pub batch_items: u64,
    /// Heap blocks per batch.
    pub blocks: f64,
}

/// `profiles/pool.json`, written by `otlp-lab pool`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolFile {
    /// Measured batches per row.
    pub batches: u64,
    /// One row per path and pool setting.
    pub rows: Vec<PoolRow>,
    /// The pipeline's own blocks per batch, per batch size.
    #[serde(default)]
    pub pipeline_own_blocks_per_batch: Vec<PipelineOwn>,
    /// Its blocks per extra span, between the batch sizes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_own_blocks_per_extra_span: Option<f64>,
}

/// One check of the leak audit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheck {
    /// `lifecycle`, `sustained` or `memcheck`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What it found.
    pub detail: String,
}

/// `profiles/audit.json`, written by `otlp-lab audit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFile {
    /// Whether every check passed.
    pub passed: bool,
    /// The checks.
    pub checks: Vec<AuditCheck>,
}

macro_rules! file_io {
    ($t:ty) => {
        impl $t {
            /// Writes it to `path`.
            pub fn write(&self, path: &Path) -> Result<(), ResultFileError> {
                result_file::write(path, self)
            }

            /// Reads `path`; `None` when it does not exist.
            pub fn read(path: &Path) -> Result<Option<Self>, ResultFileError> {
                result_file::read(path)
            }
        }
    };
}

file_io!(PoolFile);
file_io!(AuditFile);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_survive_their_files() {
        let dir = std::env::temp_dir().join(format!("otlp-lab-heap-files-{}", std::process::id()));
        let pool = PoolFile {
            batches: 50,
            rows: vec![PoolRow {
                path: "encode + zstd 1".to_owned(),
                workload: "encode_zstd1_pooled_traces_512".to_owned(),
                pool: PoolSetting::On,
                items_per_batch: 512,
                blocks_per_batch: 0.5,
                bytes_per_batch: 64.0,
                blocks_per_item: 0.25,
                peak_bytes: 1 << 20,
            }],
            pipeline_own_blocks_per_batch: vec![PipelineOwn { batch_items: 512, blocks: 20.0 }],
            pipeline_own_blocks_per_extra_span: Some(0.0),
        };
        pool.write(&dir.join("pool.json")).expect("writes");
        assert_eq!(PoolFile::read(&dir.join("pool.json")).expect("reads"), Some(pool));
        let audit = AuditFile {
            passed: false,
            checks: vec![AuditCheck { name: "memcheck".to_owned(), passed: false, detail: "1 leak".to_owned() }],
        };
        audit.write(&dir.join("audit.json")).expect("writes");
        assert_eq!(AuditFile::read(&dir.join("audit.json")).expect("reads"), Some(audit));
        assert_eq!(AuditFile::read(&dir.join("missing.json")).expect("no error"), None);
        let text = std::fs::read_to_string(dir.join("pool.json")).expect("written").replace("\"on\"", "\"maybe\"");
        let err = result_file::from_str::<PoolFile>(&dir.join("pool.json"), &text).expect_err("not on or off");
        assert!(err.to_string().contains("unknown variant `maybe`, expected `on` or `off`"), "{err}");
        let _cleaned = std::fs::remove_dir_all(&dir);
    }
}
