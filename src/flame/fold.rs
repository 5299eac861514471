//! Resolved stacks and their folded form, the text inferno reads and `--diff` compares.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::Path;

use super::FlameError;

/// One sampled stack, as pprof resolved it, with its sample count.
#[derive(Clone, Debug, PartialEq)]
pub struct Stack {
    /// Thread name (or id when the thread has no name).
    pub thread: String,
    /// Frames, innermost first; each frame's functions innermost first
    /// (more than one when functions were inlined into it).
    pub frames: Vec<Vec<String>>,
    /// Whether the sample landed in a [`BLOCKLIST`](super::BLOCKLIST) object (libc, libgcc,
    /// the vDSO), where the blocklist drops samples.
    pub leaf_in_blocklist: bool,
    /// Samples of this stack.
    pub count: u64,
}

impl Stack {
    /// Functions from innermost to outermost (inlined ones included).
    pub(super) fn functions(&self) -> impl Iterator<Item = &str> {
        self.frames.iter().flatten().map(String::as_str)
    }

    /// The folded form, without the count: `thread;outermost;...;innermost`.
    fn folded(&self) -> String {
        let mut line = sanitize(&self.thread);
        for f in self.frames.iter().rev().flat_map(|frame| frame.iter().rev()) {
            line.push(';');
            line.push_str(&sanitize(f));
        }
        line
    }
}

/// Folded stacks (`thread;outermost;...;innermost` → samples), sorted, as
/// inferno reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folded(BTreeMap<String, u64>);

impl Folded {
    /// Folds resolved stacks (equal stacks of threads with the same name merge).
    pub fn from_stacks(stacks: &[Stack]) -> Folded {
        let mut map = BTreeMap::new();
        for s in stacks {
            *map.entry(s.folded()).or_insert(0) += s.count;
        }
        Folded(map)
    }

    /// Folds `(stack, weight)` pairs whose stacks are already folded
    /// (`outermost;...;innermost`); equal stacks add up, zero weights are left out.
    pub fn from_weighted(stacks: impl IntoIterator<Item = (String, u64)>) -> Folded {
        let mut map = BTreeMap::new();
        for (stack, n) in stacks {
            if n > 0 {
                *map.entry(stack).or_insert(0) += n;
            }
        }
        Folded(map)
    }

    /// Parses folded-stack text (blank lines are skipped).
    pub fn parse(text: &str) -> Result<Folded, (usize, String)> {
        let mut map = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            let bad = || (i + 1, line.chars().take(200).collect::<String>());
            let (stack, count) = line.rsplit_once(' ').ok_or_else(bad)?;
            let count: u64 = count.parse().map_err(|_| bad())?;
            if stack.is_empty() {
                return Err(bad());
            }
            *map.entry(stack.to_owned()).or_insert(0) += count;
        }
        Ok(Folded(map))
    }

    /// Total samples.
    pub fn samples(&self) -> u64 {
        self.0.values().sum()
    }

    /// How many distinct stacks it holds.
    pub fn stacks(&self) -> usize {
        self.0.len()
    }

    /// Whether it holds no stack.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Its lines, `stack count`, sorted.
    pub fn lines(&self) -> Vec<String> {
        self.0.iter().map(|(stack, n)| format!("{stack} {n}")).collect()
    }
}

impl fmt::Display for Folded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (stack, n) in &self.0 {
            writeln!(f, "{stack} {n}")?;
        }
        Ok(())
    }
}

/// `;` separates frames and a line's last space its count: keep both out of
/// names (Rust names hold `;` in array types such as `[u8; 16]`).
pub(crate) fn sanitize(name: &str) -> String {
    name.replace(';', ":").replace(['\n', '\r'], " ")
}

/// Reads and checks a saved `.folded` file (for `--diff`).
pub fn read_folded(path: &Path) -> Result<Folded, FlameError> {
    let text = fs::read_to_string(path).map_err(|source| FlameError::Io { path: path.to_owned(), source })?;
    let folded =
        Folded::parse(&text).map_err(|(line, text)| FlameError::NotFolded { path: path.to_owned(), line, text })?;
    if folded.is_empty() {
        return Err(FlameError::EmptyFolded { path: path.to_owned() });
    }
    Ok(folded)
}
