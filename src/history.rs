//! The bench history: one line per commit in `profiles/baselines/history.jsonl`
//! (committed), each the commit, its date and subject, and that commit's
//! counts as a BMF object, and the per-bench fence the gate learns from it.
//!
//! Lines come from three places: `otlp-lab history backfill` (every commit
//! that changed `profiles/baselines/main.json`, from git), `scripts/run_benchmarks.sh
//! save main` (the saved run, to be committed with the baseline) and
//! `scripts/run_benchmarks.sh ci` (the run of HEAD, in the working tree only:
//! a CI clone discards it). A line for a commit that already has one replaces it.
//!
//! The fence is rustc-perf's significance threshold (its
//! docs/comparison-analysis.md, "What makes a test result significant?"):
//! take the magnitudes of a bench's relative changes between consecutive
//! results, Q1 and Q3 as the medians of the lower and upper halves of the
//! sorted changes (the median itself left out when their number is odd), and
//! the upper fence Q3 + 3 × IQR; a change above it is an outlier of that
//! bench's own history. Magnitudes, because a code-placement shift moves a
//! count down as often as up, and rustc-perf drops the lower fence for the
//! same reason (the data is bounded by 0). The gate applies it only once a
//! bench has [`MIN_CHANGES`] past changes ([`History::gate_fences`]), and
//! only to tighten: a bench whose history is quieter than the floor is held
//! to its fence (`crate::baseline::Gate::fences_pct` says why never to loosen).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::baseline::{self, BaselineError, Results};

/// Where the history lives, relative to the repository's root.
pub const HISTORY_FILE: &str = "profiles/baselines/history.jsonl";

/// The baseline whose git history `backfill` reads.
pub const MAIN_BASELINE: &str = "profiles/baselines/main.json";

/// The multiple of the IQR above Q3 where the fence sits (rustc-perf's 3,
/// twice Tukey's 1.5 for "outlier": a count is deterministic, so what moves it
/// is code, and only a clear outlier of its own history is flagged).
pub const IQR_MULTIPLIER: f64 = 3.0;

/// Past changes a bench needs before its fence enters the gate. With eight,
/// each half of the sorted changes has four, so Q3 is the mean of two of
/// them: one large step (a justified regression, a big improvement) in the
/// history cannot set the fence alone, as it would with three or four
/// changes, where a half is one or two values.
pub const MIN_CHANGES: usize = 8;

/// One line of the history file: a run of the quick suites on a commit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The full commit hash the run was made on.
    pub commit: String,
    /// Its abbreviated hash, for tables and plots.
    pub short: String,
    /// The commit date, ISO 8601 in UTC (file order is what counts; this is for people).
    pub date: String,
    /// The commit's subject line.
    pub subject: String,
    /// The working tree had changes to tracked files beyond the history file
    /// itself: the counts are of the commit plus those changes (a baseline
    /// saved before its commit is made).
    #[serde(default)]
    pub dirty: bool,
    /// The counts, as the BMF object `baseline::to_bmf` writes.
    pub counts: serde_json::Value,
}

impl Entry {
    /// An entry holding `results` for the commit `info`.
    pub fn new(info: CommitInfo, dirty: bool, results: &Results) -> Entry {
        let counts = serde_json::from_str(&baseline::to_bmf(results)).expect("to_bmf writes JSON");
        Entry { commit: info.commit, short: info.short, date: info.date, subject: info.subject, dirty, counts }
    }

    /// Its counts, read with `baseline::from_bmf`.
    pub fn results(&self) -> Result<Results, BaselineError> {
        baseline::from_bmf(&self.counts.to_string())
    }
}

/// Why the history could not be read, written or built.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The file exists but could not be read, or could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A line that is not an entry.
    #[error("{}:{line}: not a history entry: {source}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// What serde found.
        source: serde_json::Error,
    },
    /// A line whose counts are not BMF.
    #[error("{}:{line}: the counts of commit {commit}: {source}", path.display())]
    Counts {
        /// The file.
        path: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// The entry's commit.
        commit: String,
        /// What is wrong with them.
        source: BaselineError,
    },
    /// Two lines for the same commit.
    #[error("{}:{line}: commit {commit} has a line already (line {first})", path.display())]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The second line's number.
        line: usize,
        /// The first line's number.
        first: usize,
        /// The commit.
        commit: String,
    },
    /// git could not be run or refused.
    #[error("git {args}: {message}")]
    Git {
        /// The arguments.
        args: String,
        /// Its error output, or why it did not run.
        message: String,
    },
}

/// The history file's entries, in file order (oldest first), each with its counts read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    entries: Vec<(Entry, Results)>,
}

impl History {
    /// Parses the text of the file at `path` (named in errors): one entry a
    /// line, blank lines skipped, each commit once.
    pub fn parse(path: &Path, text: &str) -> Result<History, HistoryError> {
        let mut h = History::default();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
            let entry: Entry = serde_json::from_str(raw).map_err(|source| HistoryError::Line {
                path: path.to_owned(),
                line,
                source,
            })?;
            let results = entry.results().map_err(|source| HistoryError::Counts {
                path: path.to_owned(),
                line,
                commit: entry.commit.clone(),
                source,
            })?;
            if let Some(&first) = seen.get(&entry.commit) {
                return Err(HistoryError::Duplicate { path: path.to_owned(), line, first, commit: entry.commit });
            }
            seen.insert(entry.commit.clone(), line);
            h.entries.push((entry, results));
        }
        Ok(h)
    }

    /// Reads the file at `path`; `None` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<History>, HistoryError> {
        match std::fs::read_to_string(path) {
            Ok(text) => History::parse(path, &text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(HistoryError::Io { path: path.to_owned(), source }),
        }
    }

    /// The file's text: one compact JSON line per entry.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (e, _) in &self.entries {
            out.push_str(&serde_json::to_string(e).expect("an entry serializes"));
            out.push('\n');
        }
        out
    }

    /// Writes the file at `path`.
    pub fn write(&self, path: &Path) -> Result<(), HistoryError> {
        std::fs::write(path, self.to_text()).map_err(|source| HistoryError::Io { path: path.to_owned(), source })
    }

    /// Adds `entry`, or replaces the line of its commit where it stands.
    pub fn upsert(&mut self, entry: Entry) -> Result<(), BaselineError> {
        let results = entry.results()?;
        match self.entries.iter_mut().find(|(e, _)| e.commit == entry.commit) {
            Some(slot) => *slot = (entry, results),
            None => self.entries.push((entry, results)),
        }
        Ok(())
    }

    /// The entries, oldest first, with their counts.
    pub fn entries(&self) -> impl Iterator<Item = (&Entry, &Results)> {
        self.entries.iter().map(|(e, r)| (e, r))
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every bench any entry has, sorted.
    pub fn benches(&self) -> BTreeSet<&str> {
        self.entries.iter().flat_map(|(_, r)| r.keys().map(String::as_str)).collect()
    }

    /// The instruction counts of `bench` over the entries that have it:
    /// the entry's index, the entry, the count.
    pub fn series<'a>(&'a self, bench: &'a str) -> impl Iterator<Item = (usize, &'a Entry, u64)> + 'a {
        self.entries.iter().enumerate().filter_map(move |(i, (e, r))| r.get(bench).map(|m| (i, e, m.instructions)))
    }

    /// The magnitudes of `bench`'s relative instruction changes, in percent,
    /// between consecutive entries that have it (a change from zero has no
    /// relative size and is left out).
    pub fn changes(&self, bench: &str) -> Vec<f64> {
        let counts: Vec<u64> = self.series(bench).map(|(_, _, n)| n).collect();
        counts
            .windows(2)
            .filter(|w| w[0] > 0)
            .map(|w| (w[1] as f64 - w[0] as f64).abs() / w[0] as f64 * 100.0)
            .collect()
    }

    /// Each bench's fence, whatever its number of changes (benches with
    /// fewer than two changes have none).
    pub fn fences(&self) -> BTreeMap<String, Fence> {
        self.benches().into_iter().filter_map(|b| Fence::of(&self.changes(b)).map(|f| (b.to_owned(), f))).collect()
    }

    /// The fences the gate applies: those of benches with at least
    /// [`MIN_CHANGES`] past changes, as the upper fence in percent.
    pub fn gate_fences(&self) -> BTreeMap<String, f64> {
        self.fences().into_iter().filter(|(_, f)| f.applies()).map(|(b, f)| (b, f.upper_pct)).collect()
    }
}

/// A bench's significance threshold from its history, in percent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fence {
    /// How many past changes it was learned from.
    pub changes: usize,
    /// The first quartile of the changes' magnitudes.
    pub q1_pct: f64,
    /// The third quartile.
    pub q3_pct: f64,
    /// Q3 + [`IQR_MULTIPLIER`] × (Q3 − Q1).
    pub upper_pct: f64,
}

impl Fence {
    /// The fence of these change magnitudes (percent, any order); `None`
    /// for fewer than two, which have no quartiles.
    pub fn of(changes: &[f64]) -> Option<Fence> {
        let (q1, q3) = quartiles(changes)?;
        Some(Fence { changes: changes.len(), q1_pct: q1, q3_pct: q3, upper_pct: q3 + IQR_MULTIPLIER * (q3 - q1) })
    }

    /// Whether the gate applies it: at least [`MIN_CHANGES`] changes.
    pub fn applies(&self) -> bool {
        self.changes >= MIN_CHANGES
    }
}

/// Q1 and Q3 as rustc-perf takes them: the medians of the lower and upper
/// halves of the sorted values, the middle value left out when their number
/// is odd. `None` for fewer than two values.
pub fn quartiles(values: &[f64]) -> Option<(f64, f64)> {
    if values.len() < 2 {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let half = v.len() / 2;
    let upper_start = v.len() - half;
    Some((median(&v[..half]), median(&v[upper_start..])))
}

/// The median of sorted, non-empty values.
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 }
}

/// What git says of a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    /// Full hash.
    pub commit: String,
    /// Abbreviated hash.
    pub short: String,
    /// Commit date, ISO 8601 in UTC.
    pub date: String,
    /// Subject line.
    pub subject: String,
}

fn git(root: &Path, args: &[&str]) -> Result<String, HistoryError> {
    let fail = |message: String| HistoryError::Git { args: args.join(" "), message };
    // TZ=UTC with the `-local` date formats: every date in one zone, so that they read alike.
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .map_err(|e| fail(format!("could not run git: {e}")))?;
    if !out.status.success() {
        return Err(fail(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
    }
    String::from_utf8(out.stdout).map_err(|e| fail(format!("output is not UTF-8: {e}")))
}

/// The format of [`commit_infos`]' records: fields split by a unit separator,
/// records ended by a record separator (a subject may hold any other character).
const LOG_FORMAT: &str = "--format=%H%x1f%h%x1f%cd%x1f%s%x1e";

fn parse_log(text: &str) -> Vec<CommitInfo> {
    text.split('\x1e')
        .filter_map(|rec| {
            let mut f = rec.trim_start_matches('\n').split('\x1f');
            let (commit, short, date, subject) = (f.next()?, f.next()?, f.next()?, f.next()?);
            (!commit.is_empty()).then(|| CommitInfo {
                commit: commit.to_owned(),
                short: short.to_owned(),
                date: date.to_owned(),
                subject: subject.to_owned(),
            })
        })
        .collect()
}

/// What git says of the revision `rev` in the repository at `root`.
pub fn commit_info(root: &Path, rev: &str) -> Result<CommitInfo, HistoryError> {
    let text = git(root, &["log", "-1", "--date=iso-strict-local", LOG_FORMAT, rev, "--"])?;
    parse_log(&text)
        .into_iter()
        .next()
        .ok_or_else(|| HistoryError::Git { args: format!("log -1 {rev}"), message: "no commit".into() })
}

/// Whether tracked files of the repository at `root` differ from HEAD,
/// leaving out the history file itself (appending to it must not make the
/// next line dirty).
pub fn tree_dirty(root: &Path) -> Result<bool, HistoryError> {
    let exclude = format!(":(exclude){HISTORY_FILE}");
    let text = git(root, &["status", "--porcelain", "--untracked-files=no", "--", ".", &exclude])?;
    Ok(!text.trim().is_empty())
}

/// What [`backfill`] did.
#[derive(Clone, Debug, Default)]
pub struct Backfill {
    /// The history built.
    pub history: History,
    /// Commits whose baseline is not BMF, skipped, each with why.
    pub skipped: Vec<String>,
    /// Lines of the old history kept (commits that did not change the baseline).
    pub kept: usize,
    /// Dirty lines of the old history dropped because a backfilled commit has
    /// exactly their counts (a baseline saved before its commit was made).
    pub superseded: usize,
}

/// Builds the history from git in the repository at `root`: one entry for
/// every commit that changed `baseline` (a path from the root), oldest first,
/// holding that commit's version of it; versions that are not BMF are skipped
/// and listed. Lines of `old` for other commits are kept, in date order with
/// the rest, except dirty ones whose counts a backfilled commit holds exactly.
pub fn backfill(root: &Path, baseline: &str, old: Option<&History>) -> Result<Backfill, HistoryError> {
    let log = git(root, &["log", "--reverse", "--date=iso-strict-local", LOG_FORMAT, "--", baseline])?;
    let mut out = Backfill::default();
    for info in parse_log(&log) {
        let text = match git(root, &["show", &format!("{}:{baseline}", info.commit)]) {
            Ok(t) => t,
            // The commit deleted it.
            Err(e) => {
                out.skipped.push(format!("{} {}: no {baseline} ({e})", info.short, info.subject));
                continue;
            }
        };
        match baseline::from_bmf(&text) {
            Ok(results) => {
                let entry = Entry::new(info, false, &results);
                out.history.entries.push((entry, results));
            }
            Err(e) => out.skipped.push(format!("{} {}: not BMF ({e})", info.short, info.subject)),
        }
    }
    if let Some(old) = old {
        let known: BTreeSet<String> = out.history.entries.iter().map(|(e, _)| e.commit.clone()).collect();
        let mut merged = out.history.entries.clone();
        for (e, r) in &old.entries {
            if known.contains(&e.commit) {
                continue;
            }
            if e.dirty && out.history.entries.iter().any(|(_, b)| b == r) {
                out.superseded += 1;
                continue;
            }
            out.kept += 1;
            merged.push((e.clone(), r.clone()));
        }
        // Dates are in one zone and format, so that text order is time order; the sort is stable.
        merged.sort_by(|a, b| a.0.date.cmp(&b.0.date));
        out.history.entries = merged;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    /// Results with these instruction counts, read from BMF so that the
    /// helper does not depend on the other fields of `Metrics`.
    fn results(pairs: &[(&str, u64)]) -> Results {
        let bmf: serde_json::Map<String, serde_json::Value> = pairs
            .iter()
            .map(|(b, n)| ((*b).to_owned(), serde_json::json!({ "instructions": { "value": n } })))
            .collect();
        baseline::from_bmf(&serde_json::Value::Object(bmf).to_string()).expect("BMF")
    }

    fn entry(commit: &str, pairs: &[(&str, u64)]) -> Entry {
        let info = CommitInfo {
            commit: format!("{commit}000000"),
            short: commit.to_owned(),
            date: format!("2026-12-01T00:00:{commit}Z"),
            subject: format!("subject of {commit}"),
        };
        Entry::new(info, false, &results(pairs))
    }

    #[test]
    fn quartiles_and_the_fence_on_known_numbers() {
        // Nine changes 1..9: lower half 1,2,3,4 (Q1 = 2.5), upper half 6,7,8,9
        // (Q3 = 7.5), the median 5 in neither; IQR 5, fence 7.5 + 3 × 5 = 22.5.
        let nine: Vec<f64> = (1..=9).rev().map(f64::from).collect();
        assert_eq!(quartiles(&nine), Some((2.5, 7.5)));
        let f = Fence::of(&nine).expect("fence");
        assert_eq!((f.changes, f.q1_pct, f.q3_pct, f.upper_pct), (9, 2.5, 7.5, 22.5));
        assert!(f.applies());
        // Eight: halves 0,0,1,1 and 2,2,4,10: Q1 = 0.5, Q3 = 3, fence 3 + 7.5 = 10.5.
        let eight = [10.0, 0.0, 2.0, 1.0, 4.0, 0.0, 2.0, 1.0];
        let f = Fence::of(&eight).expect("fence");
        assert_eq!((f.q1_pct, f.q3_pct, f.upper_pct), (0.5, 3.0, 10.5));
        // Two values are each a half; one has no quartiles.
        assert_eq!(quartiles(&[1.0, 3.0]), Some((1.0, 3.0)));
        assert_eq!(quartiles(&[1.0]), None);
        assert!(!Fence::of(&[1.0, 3.0]).expect("fence").applies());
    }

    #[test]
    fn changes_are_magnitudes_between_consecutive_entries_that_have_the_bench() {
        let mut h = History::default();
        h.upsert(entry("01", &[("a", 1000), ("b", 50)])).expect("BMF");
        h.upsert(entry("02", &[("a", 1100)])).expect("BMF");
        h.upsert(entry("03", &[("a", 990), ("b", 60)])).expect("BMF");
        let a = h.changes("a");
        assert_eq!(a.len(), 2);
        assert!((a[0] - 10.0).abs() < 1e-9 && (a[1] - 10.0).abs() < 1e-9, "{a:?}");
        // b skips the entry without it: 50 -> 60 is one change of 20%.
        assert_eq!(h.changes("b"), [20.0]);
        assert_eq!(h.benches().into_iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(h.gate_fences().is_empty(), "two changes are too few for the gate");
    }

    #[test]
    fn the_file_round_trips_replaces_by_commit_and_names_a_bad_line() {
        let path = Path::new("history.jsonl");
        let mut h = History::default();
        h.upsert(entry("01", &[("a", 1000)])).expect("BMF");
        h.upsert(entry("02", &[("a", 1010)])).expect("BMF");
        let text = h.to_text();
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().all(|l| l.starts_with("{\"commit\":") && l.contains("\"dirty\":false")), "{text}");
        let back = History::parse(path, &text).expect("reads back");
        assert_eq!(back, h);
        // The same commit again replaces its line in place.
        let mut dirty = entry("01", &[("a", 999)]);
        dirty.dirty = true;
        h.upsert(dirty).expect("BMF");
        assert_eq!(h.len(), 2);
        assert_eq!(
            h.series("a").map(|(_, e, n)| (e.short.as_str(), n)).collect::<Vec<_>>(),
            [("01", 999), ("02", 1010)]
        );
        assert!(h.to_text().lines().next().expect("line").contains("\"dirty\":true"));

        // Errors name the file and the line.
        let bad = format!("{}\n\n{{\"commit\": 1}}\n", text.lines().next().expect("line"));
        let e = History::parse(path, &bad).expect_err("refused").to_string();
        assert!(e.starts_with("history.jsonl:3: not a history entry"), "{e}");
        let not_bmf = text.replace("\"instructions\":{\"value\":1010}", "\"latency\":{\"value\":1}");
        let e = History::parse(path, &not_bmf).expect_err("refused").to_string();
        assert!(e.starts_with("history.jsonl:2: the counts of commit 02000000") && e.contains("`a`"), "{e}");
        let twice = format!("{text}{}\n", text.lines().next().expect("line"));
        let e = History::parse(path, &twice).expect_err("refused").to_string();
        assert!(e.contains("history.jsonl:3: commit 01000000 has a line already (line 1)"), "{e}");
        // Nothing, or no file, is an empty history or none.
        assert!(History::parse(path, "\n").expect("empty").is_empty());
        assert_eq!(History::read(Path::new("/nonexistent/history.jsonl")).expect("no file is no error"), None);
    }

    /// A history of nine entries: `noisy` moves by code placement around
    /// 1,000,000 (+9%, back, -9%, back, ...), `flat` never moves, `young`
    /// appears in the last three entries only.
    fn placement_history() -> History {
        let noisy = [1_000_000, 1_090_000, 1_000_000, 910_000, 1_000_000, 1_090_000, 1_000_000, 910_000, 1_000_000];
        let mut h = History::default();
        for (i, n) in noisy.into_iter().enumerate() {
            let mut pairs = vec![("noisy", n), ("flat", 500_000)];
            if i >= 6 {
                pairs.push(("young", 2_000_000 + 100_000 * (i as u64 % 2)));
            }
            h.upsert(entry(&format!("{i:02}"), &pairs)).expect("BMF");
        }
        h
    }

    #[test]
    fn a_quiet_history_tightens_the_gate_and_a_noisy_one_leaves_the_floor() {
        use crate::baseline::{FENCE_MIN_PCT, Gate, Verdict, compare};
        let h = placement_history();
        // noisy's eight changes: 9, 8.257, 9, 9.890 twice over. Sorted halves
        // 8.257 8.257 9 9 and 9 9 9.890 9.890: Q1 = 8.628, Q3 = 9.445, fence
        // 9.445 + 3 × 0.817 = 11.895.
        let f = h.fences()["noisy"];
        assert_eq!(f.changes, 8);
        let q1 = (9.0 + 90_000.0 / 1_090_000.0 * 100.0) / 2.0;
        let q3 = (9.0 + 90_000.0 / 910_000.0 * 100.0) / 2.0;
        assert!((f.q1_pct - q1).abs() < 1e-9 && (f.q3_pct - q3).abs() < 1e-9, "{f:?}");
        assert!((f.upper_pct - (q3 + 3.0 * (q3 - q1))).abs() < 1e-9 && (f.upper_pct - 11.895).abs() < 1e-3, "{f:?}");
        let fences = h.gate_fences();
        assert_eq!(fences.keys().map(String::as_str).collect::<Vec<_>>(), ["flat", "noisy"], "young has 2 changes");
        assert_eq!(fences["flat"], 0.0);
        let gate = Gate { fences_pct: fences, ..Gate::default() };
        assert_eq!(gate.threshold_pct("noisy"), gate.floor_pct, "a wide fence never loosens the floor");
        assert_eq!(gate.threshold_pct("flat"), FENCE_MIN_PCT, "a flat history: the fence's minimum");
        assert_eq!(gate.threshold_pct("young"), gate.floor_pct, "too few changes: the floor");

        let (_, last) = h.entries().last().expect("entries");
        let run_with = |num: u64, den: u64| {
            let mut run = last.clone();
            for m in run.values_mut() {
                m.instructions += m.instructions * num / den;
            }
            run
        };
        let verdict =
            |run: &Results, id: &str| compare(last, run, &gate).rows.iter().find(|r| r.id == id).expect("row").verdict;
        // +5%: beyond the floor, so every bench fails, the noisy one included.
        let run = run_with(1, 20);
        for id in ["noisy", "flat", "young"] {
            assert_eq!(verdict(&run, id), Verdict::Regressed, "{id}");
        }
        // +0.3%: within the floor, but beyond the flat bench's fence.
        let run = run_with(3, 1000);
        assert_eq!(verdict(&run, "flat"), Verdict::Regressed);
        assert_eq!(verdict(&run, "noisy"), Verdict::Same);
        assert_eq!(verdict(&run, "young"), Verdict::Same, "fewer than MIN_CHANGES: the floor alone");
        let table = compare(last, &run, &gate).table();
        assert!(table.contains("fence: noisy 11.895% from its history (the floor is smaller)"), "{table}");
        assert!(
            table.contains("fence: flat 0.000% from its history (judged against 0.050%, tighter than the floor)"),
            "{table}"
        );
        assert!(!table.contains("fence: young"), "{table}");
        // +0.02%: a rebuild's drift stays below the fence's minimum.
        let run = run_with(2, 10_000);
        assert_eq!(verdict(&run, "flat"), Verdict::Same);
    }

    #[test]
    fn a_missing_or_empty_history_changes_nothing() {
        use crate::baseline::{Gate, compare};
        let base = results(&[("noisy", 1_000_000), ("flat", 500_000)]);
        let mut run = base.clone();
        run.get_mut("noisy").expect("noisy").instructions = 1_050_000;
        let plain = compare(&base, &run, &Gate::default());
        let empty = History::parse(Path::new("history.jsonl"), "").expect("empty");
        let gate = Gate { fences_pct: empty.gate_fences(), ..Gate::default() };
        let with = compare(&base, &run, &gate);
        assert_eq!(with.rows, plain.rows);
        assert_eq!(with.table(), plain.table());
        assert!(!plain.passed());
    }

    #[test]
    fn the_committed_history_reads_and_holds_the_current_baseline() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let h = History::read(&root.join(HISTORY_FILE)).expect("reads").expect("profiles/baselines/history.jsonl");
        assert!(h.len() >= 2, "{} entries", h.len());
        let main = std::fs::read_to_string(root.join(MAIN_BASELINE)).expect("main.json");
        let main = baseline::from_bmf(&main).expect("BMF");
        assert!(h.entries().any(|(_, r)| *r == main), "no line holds the counts of {MAIN_BASELINE}");
    }
}
