//! The justification file beside a baseline: the regressions a commit that
//! saved the baseline accepted, each with its exact counts and reason.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Measure;
use crate::result_file::{self, ResultFileError};

/// The reviewed record of one count a saved baseline made worse: the bench,
/// the measure, the previous baseline's count, the new baseline's, and why
/// that is accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Justification {
    /// Bench id.
    pub bench: String,
    /// Which count.
    pub measure: Measure,
    /// The count in the previous commit's baseline.
    pub old: u64,
    /// The count in the baseline this commit saved.
    pub new: u64,
    /// Why the change is accepted (not empty).
    pub why: String,
}

/// The justification file beside a baseline (`profiles/baselines/main.json`
/// has `main.justified.json`): the regressions the commit that saved the
/// baseline accepted. An entry excuses a flagged row of the comparison with
/// the previous baseline only when its counts are exactly the previous and
/// the current baseline's, so an entry written for one change excuses no other.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JustificationFile {
    /// The entries.
    pub justified: Vec<Justification>,
}

/// Why a justification file is refused.
#[derive(Debug, thiserror::Error)]
pub enum JustificationError {
    /// Not readable, not JSON, or not the file's shape.
    #[error(transparent)]
    File(#[from] ResultFileError),
    /// An entry without a reason.
    #[error("{}: the entry for `{bench}` ({}) has no `why`", path.display(), measure.name())]
    NoWhy {
        /// The file.
        path: PathBuf,
        /// The entry's bench.
        bench: String,
        /// The entry's measure.
        measure: Measure,
    },
    /// An entry whose count did not rise: nothing to justify.
    #[error("{}: the entry for `{bench}` ({}) goes from {old} to {new}, which is no increase", path.display(), measure.name())]
    NotAnIncrease {
        /// The file.
        path: PathBuf,
        /// The entry's bench.
        bench: String,
        /// The entry's measure.
        measure: Measure,
        /// The entry's previous count.
        old: u64,
        /// The entry's new count.
        new: u64,
    },
    /// The same bench, measure and counts twice.
    #[error("{}: `{bench}` ({}) is justified twice", path.display(), measure.name())]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The bench.
        bench: String,
        /// The measure.
        measure: Measure,
    },
}

impl JustificationFile {
    /// Where the justifications of the baseline `baseline` live.
    pub fn path_for(baseline: &Path) -> PathBuf {
        baseline.with_extension("justified.json")
    }

    /// Reads and checks the file at `path` (it must exist).
    pub fn read(path: &Path) -> Result<JustificationFile, JustificationError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ResultFileError::Read { path: path.to_owned(), source })?;
        Self::parse(path, &text)
    }

    /// Parses and checks the text of the file at `path`: every entry has a
    /// reason, is an increase, and appears once.
    pub fn parse(path: &Path, text: &str) -> Result<JustificationFile, JustificationError> {
        let file: JustificationFile = result_file::from_str(path, text)?;
        let mut seen = std::collections::BTreeSet::new();
        for j in &file.justified {
            let (bench, measure) = (j.bench.clone(), j.measure);
            if j.why.trim().is_empty() {
                return Err(JustificationError::NoWhy { path: path.to_owned(), bench, measure });
            }
            if j.new <= j.old {
                let (old, new) = (j.old, j.new);
                return Err(JustificationError::NotAnIncrease { path: path.to_owned(), bench, measure, old, new });
            }
            if !seen.insert((j.bench.as_str(), j.measure, j.old, j.new)) {
                return Err(JustificationError::Duplicate { path: path.to_owned(), bench, measure });
            }
        }
        Ok(file)
    }

    /// The file's text (what [`JustificationFile::parse`] reads).
    pub fn to_text(&self) -> String {
        result_file::to_text(self)
    }

    /// The entry for exactly this change, if any.
    pub fn find(&self, bench: &str, measure: Measure, old: u64, new: u64) -> Option<&Justification> {
        self.justified.iter().find(|j| j.bench == bench && j.measure == measure && j.old == old && j.new == new)
    }
}
