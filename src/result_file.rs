//! Reading and writing the lab's JSON result files. Each file has one serde
//! type, in the module that writes it (`crate::load::LoadFile`,
//! `crate::exporter_compare::ExporterFile`, `crate::heap::PoolFile`,
//! `crate::heap::AuditFile`, `crate::html::env::Environment` and
//! `crate::flame::FlameSummary`); the writer and the report both go through
//! it, so that the field names exist once.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a result file could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResultFileError {
    /// Its folder could not be created.
    #[error("creating {}: {source}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file could not be written.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file exists but could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{}: not JSON: {source}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: serde_json::Error,
    },
    /// JSON, but not the file's shape (a field missing or of another type).
    #[error("{}: {source}", path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// What serde found, and where.
        source: serde_json::Error,
    },
}

/// Writes `value` to `path` as indented JSON with a final newline, creating
/// the folder first.
pub fn write<T: Serialize>(path: &Path, value: &T) -> Result<(), ResultFileError> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ResultFileError::CreateDir { path: dir.to_owned(), source })?;
    }
    std::fs::write(path, to_text(value)).map_err(|source| ResultFileError::Write { path: path.to_owned(), source })
}

/// The text [`write`] puts in a file, for a writer that writes the file itself.
pub fn to_text<T: Serialize>(value: &T) -> String {
    // The result types hold plain numbers, strings and string-keyed maps:
    // serializing them cannot fail.
    serde_json::to_string_pretty(value).expect("result types serialize") + "\n"
}

/// Reads `path`; `None` when it does not exist.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, ResultFileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ResultFileError::Read { path: path.to_owned(), source }),
    };
    from_str(path, &text).map(Some)
}

/// Parses the text of the file at `path` (for error messages).
pub fn from_str<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ResultFileError> {
    serde_json::from_str(text).map_err(|source| classify(path, source))
}

/// Reads an already parsed JSON value as the file at `path` (for error messages).
pub fn from_value<T: DeserializeOwned>(path: &Path, value: &serde_json::Value) -> Result<T, ResultFileError> {
    T::deserialize(value).map_err(|source| ResultFileError::Shape { path: path.to_owned(), source })
}

fn classify(path: &Path, source: serde_json::Error) -> ResultFileError {
    match source.classify() {
        serde_json::error::Category::Data => ResultFileError::Shape { path: path.to_owned(), source },
        _ => ResultFileError::Syntax { path: path.to_owned(), source },
    }
}

/// Serde by `Display` and `FromStr`, for the protocol and codec names
/// (`http/protobuf`, `zstd`) that the command line takes as well.
pub(crate) mod display {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub(crate) fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
