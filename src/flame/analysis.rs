//! What the samples say: each function's self and total share, and the
//! tallies and stack-quality figures of the summary.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::Stack;

/// How many functions the summary and the JSON's `top` list.
const TOP: usize = 15;

/// The crates whose functions are ours, as a demangled name starts: the
/// pipeline (the data path) and the lab (its harness and scenarios).
const OURS: &[&str] = &[DATA_PATH, "otlp_lab::"];

/// The library's data path: every function of the pipeline crate.
const DATA_PATH: &str = "otlp_pipeline::";

/// The flame runner's own frames, under every sample: left out of the
/// by-total ranking, where they would fill the top at 100%.
const HARNESS: &[&str] = &[
    "otlp_lab::main",
    "otlp_lab::run",
    "otlp_lab::flame::",
    "otlp_lab::PreparedJob::run",
    "otlp_lab::scenarios::PreparedScenario::run",
];

/// Outermost functions of a complete stack: the process's entry point or a
/// thread's start routine.
const ROOTS: &[&str] = &["_start", "clone", "clone3", "__clone", "__clone3", "start_thread"];

/// Leaf or caller names that mean "in the allocator": the C allocator's
/// entry points and Rust's global-allocator shims (glibc's internal
/// `_int_malloc` has no exported symbol here and shows below `malloc`).
const ALLOCATOR: &[&str] = &[
    "malloc",
    "free",
    "realloc",
    "calloc",
    "cfree",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
    "__libc_malloc",
    "__libc_free",
    "__libc_realloc",
    "__libc_calloc",
    "_int_malloc",
    "_int_free",
    "_int_realloc",
    "malloc_consolidate",
    "__rust_alloc",
    "__rust_dealloc",
    "__rust_realloc",
    "__rust_alloc_zeroed",
    "__rdl_alloc",
    "__rdl_dealloc",
    "__rdl_realloc",
    "__rdl_alloc_zeroed",
];

/// One function's share of the samples (also an entry of the summary's
/// `top` lists).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionShare {
    /// Demangled name, without the hash.
    pub function: String,
    /// Percent of samples in which it is the innermost function.
    pub self_pct: f64,
    /// Percent of samples in which it is on the stack.
    pub total_pct: f64,
}

/// What the samples say, beside the flamegraph itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    /// Samples in all.
    pub samples: u64,
    /// Thread names that were sampled, sorted.
    pub threads: Vec<String>,
    /// This crate's functions, most self samples first.
    pub ours_by_self: Vec<FunctionShare>,
    /// This crate's functions, most total samples first.
    pub ours_by_total: Vec<FunctionShare>,
    /// Any function, most self samples first.
    pub any_by_self: Vec<FunctionShare>,
    /// Percent of samples with a function of this crate on the stack
    /// (the CLI's `otlp_lab::main` included, so about 100% whenever stacks reach the root).
    pub crate_pct: f64,
    /// Percent of samples with a data-path function (encode, compress,
    /// transport, ...) on the stack: see [`is_data_path`].
    pub data_path_pct: f64,
    /// Percent of samples whose outermost frame is the entry point or a
    /// thread start (the stack was unwound completely).
    pub rooted_pct: f64,
    /// Percent of samples in the allocator (an [`ALLOCATOR`] function on the stack).
    pub allocator_pct: f64,
    /// Percent of samples whose innermost function is a `mem*` routine (copy, move, set, compare).
    pub memory_pct: f64,
    /// Percent of samples whose innermost frame lies in a [`BLOCKLIST`](super::BLOCKLIST)
    /// object: what the blocklist drops (zero when it was on).
    pub libc_leaf_pct: f64,
    /// Percent of samples with at least one frame that resolved to several (inlined) functions.
    pub inlined_pct: f64,
    /// Percent of samples with an unresolved frame (`Unknown`).
    pub unknown_pct: f64,
    /// Percent of samples whose stack filled pprof's depth limit (outer frames lost).
    pub truncated_pct: f64,
}

/// Whether a demangled name is a function of this crate: its path, or the
/// type or trait of an `<T as Trait>::f` impl, is ours. Generic std code
/// instantiated with our types (`Vec<otlp_lab::..>::push`, drop glue) is not.
pub fn is_ours(name: &str) -> bool {
    our_path(name).is_some()
}

/// A function of the library's data path (encode, compress, transport, ...), not of the lab or the CLI.
pub fn is_data_path(name: &str) -> bool {
    our_path(name).is_some_and(|p| p.starts_with(DATA_PATH))
}

pub(super) fn is_harness(name: &str) -> bool {
    our_path(name).is_some_and(|p| HARNESS.iter().any(|h| if h.ends_with("::") { p.starts_with(h) } else { p == *h }))
}

/// The path of a function of ours, crate first (of its type or trait for an impl).
fn our_path(name: &str) -> Option<&str> {
    if OURS.iter().any(|c| name.starts_with(c)) {
        return Some(name);
    }
    let rest = name.strip_prefix('<')?;
    // The qualified self `<T as Trait>`: up to its matching `>`.
    let mut depth = 1usize;
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            _ => {}
        }
    }
    let inner = &rest[..end];
    fn ours(s: &str) -> Option<&str> {
        let s = s.trim_start_matches('&').trim_start_matches("mut ");
        OURS.iter().any(|c| s.starts_with(c)).then_some(s)
    }
    ours(inner).or_else(|| inner.rsplit_once(" as ").and_then(|(_, tr)| ours(tr)))
}

/// Drops a legacy-mangling hash (`::h0123456789abcdef`) from a demangled name.
pub(super) fn strip_hash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => head,
        _ => name,
    }
}

fn is_memory_routine(name: &str) -> bool {
    let n = name.trim_start_matches('_');
    ["memcpy", "memmove", "memset", "memcmp", "bcmp"].iter().any(|m| n.starts_with(m))
}

/// Percent, 0 when there is nothing to divide.
fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { 100.0 * part as f64 / whole as f64 }
}

/// Shares, tallies and stack-quality figures of resolved stacks.
pub fn analyze(stacks: &[Stack]) -> Analysis {
    let samples: u64 = stacks.iter().map(|s| s.count).sum();
    let mut self_n: HashMap<&str, u64> = HashMap::new();
    let mut total_n: HashMap<&str, u64> = HashMap::new();
    let mut threads = BTreeSet::new();
    let (mut ours, mut data_path, mut rooted) = (0, 0, 0);
    let (mut alloc, mut memory, mut libc, mut inlined, mut unknown, mut truncated) = (0, 0, 0, 0, 0, 0);
    for s in stacks {
        threads.insert(s.thread.clone());
        let names: Vec<&str> = s.functions().map(strip_hash).collect();
        if let Some(leaf) = names.first() {
            *self_n.entry(leaf).or_insert(0) += s.count;
            if is_memory_routine(leaf) {
                memory += s.count;
            }
        }
        let distinct: BTreeSet<&str> = names.iter().copied().collect();
        for f in &distinct {
            *total_n.entry(f).or_insert(0) += s.count;
        }
        let tally = |cond: bool, n: &mut u64| {
            if cond {
                *n += s.count
            }
        };
        tally(distinct.iter().any(|f| is_ours(f)), &mut ours);
        tally(distinct.iter().any(|f| is_data_path(f)), &mut data_path);
        tally(names.last().is_some_and(|f| ROOTS.contains(f)), &mut rooted);
        tally(distinct.iter().any(|f| ALLOCATOR.contains(f)), &mut alloc);
        tally(s.leaf_in_blocklist, &mut libc);
        tally(s.frames.iter().any(|f| f.len() > 1), &mut inlined);
        tally(distinct.contains("Unknown"), &mut unknown);
        tally(s.frames.len() >= pprof::MAX_DEPTH, &mut truncated);
    }
    let share = |f: &str| FunctionShare {
        function: f.to_owned(),
        self_pct: pct(self_n.get(f).copied().unwrap_or(0), samples),
        total_pct: pct(total_n.get(f).copied().unwrap_or(0), samples),
    };
    let ranked = |by: &HashMap<&str, u64>, keep: &dyn Fn(&str) -> bool| {
        let mut v: Vec<(&str, u64)> = by.iter().filter(|(f, _)| keep(f)).map(|(f, n)| (*f, *n)).collect();
        // Most samples first; names break ties so that output is stable.
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.into_iter().take(TOP).map(|(f, _)| share(f)).collect::<Vec<_>>()
    };
    Analysis {
        samples,
        threads: threads.into_iter().collect(),
        ours_by_self: ranked(&self_n, &is_ours),
        ours_by_total: ranked(&total_n, &|f| is_ours(f) && !is_harness(f)),
        any_by_self: ranked(&self_n, &|_| true),
        crate_pct: pct(ours, samples),
        data_path_pct: pct(data_path, samples),
        rooted_pct: pct(rooted, samples),
        allocator_pct: pct(alloc, samples),
        memory_pct: pct(memory, samples),
        libc_leaf_pct: pct(libc, samples),
        inlined_pct: pct(inlined, samples),
        unknown_pct: pct(unknown, samples),
        truncated_pct: pct(truncated, samples),
    }
}
