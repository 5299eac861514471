//! What an instruction count depends on besides the source, and the gate's
//! refusal to compare counts measured on different toolchains.
//!
//! The same source gives other counts under another rustc or LLVM, another
//! valgrind or iai-callgrind-runner, other Cargo profile settings, or a CPU
//! whose features send the runtime dispatch of simd-json, simdutf8, zstd and
//! the others down another path. [`crate::html::env::Environment`] records all
//! of them; [`check`] splits the differences between two records into those
//! that refuse a comparison and those that are only worth a warning.
//!
//! The readers here are small on purpose: `rustc -vV` lines,
//! `/proc/cpuinfo`'s flags, and the few TOML tables the record needs
//! (`[profile.*]` of the root Cargo.toml, `[toolchain]` of rust-toolchain.toml)
//! through a reader of the TOML subset those tables use (no `toml` crate is in
//! Cargo.lock).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `rustc -vV`: the compiler's release, commit, LLVM and host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RustcVersion {
    /// The first line (`rustc 1.95.0 (59807616e 2026-04-14)`).
    pub version: String,
    /// `release:` (`1.95.0`).
    pub release: String,
    /// `commit-hash:`, when the build has one.
    pub commit_hash: Option<String>,
    /// `LLVM version:`, when the backend is LLVM.
    pub llvm_version: Option<String>,
    /// `host:` (`x86_64-unknown-linux-gnu`).
    pub host: String,
}

/// Why `rustc -vV`'s output was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RustcVersionError {
    /// No output at all.
    #[error("`rustc -vV` printed nothing")]
    Empty,
    /// A line the record needs is not there.
    #[error("`rustc -vV` has no `{0}:` line")]
    Missing(&'static str),
}

impl RustcVersion {
    /// Reads `rustc -vV`'s output. `commit-hash: unknown` (a local build)
    /// counts as no commit.
    pub fn parse(text: &str) -> Result<RustcVersion, RustcVersionError> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        let version = lines.next().ok_or(RustcVersionError::Empty)?.to_owned();
        let mut fields = BTreeMap::new();
        for l in lines {
            if let Some((k, v)) = l.split_once(':') {
                fields.insert(k.trim(), v.trim().to_owned());
            }
        }
        let known = |v: &String| v != "unknown";
        Ok(RustcVersion {
            version,
            release: fields.remove("release").ok_or(RustcVersionError::Missing("release"))?,
            commit_hash: fields.remove("commit-hash").filter(known),
            llvm_version: fields.remove("LLVM version"),
            host: fields.remove("host").ok_or(RustcVersionError::Missing("host"))?,
        })
    }
}

/// The `/proc/cpuinfo` flags that change which code runs under callgrind,
/// by runtime dispatch: simd-json, simdutf8 and value-trait (avx2, sse4_2,
/// pclmulqdq), faster-hex (avx2, sse4_1), memchr and aho-corasick (avx2,
/// ssse3), crc32fast and zlib-rs (pclmulqdq, sse4_1, avx2, bmi1, bmi2),
/// zstd's C sources (bmi2), and glibc's string functions (avx, avx2, bmi2,
/// abm for lzcnt, movbe); the aarch64 names (asimd, aes, pmull, crc32,
/// sha2, sve, sve2) for the same crates' NEON paths.
///
/// Left out on purpose: flags valgrind 3.19 never shows the program it
/// runs (AVX-512, VPCLMULQDQ; its CPUID leaf 7 EBX is 0x427aa where this
/// machine's is 0xf1bf07ab: `valgrind -q /lib64/ld-linux-x86-64.so.2
/// --list-diagnostics | grep cpuid`), and ones that only pick among
/// equivalent glibc copies valgrind replaces with its own (erms, fsrm), so
/// that two machines whose counts agree are not refused. Others (vmx,
/// rdrand, ...) change no count either.
pub const RUNTIME_FEATURES: &[&str] = &[
    "abm",
    "aes",
    "asimd",
    "avx",
    "avx2",
    "bmi1",
    "bmi2",
    "crc32",
    "fma",
    "movbe",
    "pclmulqdq",
    "pmull",
    "popcnt",
    "sha2",
    "sse2",
    "sse4_1",
    "sse4_2",
    "ssse3",
    "sve",
    "sve2",
];

/// The [`RUNTIME_FEATURES`] the first CPU of `/proc/cpuinfo`'s text has
/// (its `flags` line, or `Features` on aarch64), sorted; empty when the text
/// has no such line.
pub fn cpu_features(cpuinfo: &str) -> Vec<String> {
    let flags = cpuinfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        matches!(k.trim(), "flags" | "Features").then_some(v)
    });
    let mut out: Vec<String> = flags
        .into_iter()
        .flat_map(str::split_whitespace)
        .filter(|f| RUNTIME_FEATURES.contains(f))
        .map(str::to_owned)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Why a TOML file was not read: the reader knows the subset the lab's
/// tables use (`[table]` headers, `key = value` lines with strings,
/// integers, booleans and one-line arrays or inline tables) and refuses the
/// rest where it touches a table it reads, rather than miss a setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TomlError {
    /// A `[` header without its `]`.
    #[error("line {line}: a table header without its closing `]`")]
    Header {
        /// 1-based line number.
        line: usize,
    },
    /// A line of a table the reader reads that is not `key = value`.
    #[error("line {line}: not `key = value`: {text}")]
    NotKeyValue {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// A value that is not a string, integer, boolean, or one-line array or
    /// inline table (a multi-line one, or a float or date).
    #[error(
        "line {line}: `{key}` has a value this reader does not take (one line: string, integer, boolean, array, inline table): {text}"
    )]
    Value {
        /// 1-based line number.
        line: usize,
        /// The key.
        key: String,
        /// The value as written.
        text: String,
    },
    /// The same table twice, or the same key twice in a table.
    #[error("line {line}: `{name}` is defined twice")]
    Duplicate {
        /// 1-based line number.
        line: usize,
        /// The table, or `table.key`.
        name: String,
    },
    /// A table the reader reads written as a dotted key or an inline table
    /// elsewhere (`profile.release.lto = true`, `[profile]` with `release.lto`).
    #[error(
        "line {line}: `{name}` is set outside its table's own `[...]` header, which this reader does not follow; move it under that header as a `key = value` line"
    )]
    Unsupported {
        /// 1-based line number.
        line: usize,
        /// The dotted name.
        name: String,
    },
}

/// The keys of the tables whose names are `prefix` or start with `prefix.`,
/// for each prefix given: a map from `table.key` (dotted, quotes dropped) to
/// the value as written, strings unquoted.
pub fn read_tables(text: &str, prefixes: &[&str]) -> Result<BTreeMap<String, String>, TomlError> {
    let wanted = |name: &str| prefixes.iter().any(|p| name == *p || name.starts_with(&format!("{p}.")));
    // A name from which a wanted table could be set without its own header.
    let encloses = |name: &str| prefixes.iter().any(|p| p.starts_with(&format!("{name}.")));
    let mut out = BTreeMap::new();
    let mut tables_seen = std::collections::BTreeSet::new();
    // The current table's name, and whether it is read.
    let mut table = String::new();
    let mut reading = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = strip_comment(raw).trim();
        if l.is_empty() {
            continue;
        }
        if let Some(rest) = l.strip_prefix('[') {
            let array_of_tables = rest.starts_with('[');
            let inner = rest.trim_start_matches('[');
            let Some(inner) = inner.strip_suffix(if array_of_tables { "]]" } else { "]" }) else {
                // A nested array in a multi-line array of another table
                // (`  ["a", "b"],`) is no header; only a header in or of a
                // table read must be well formed.
                let name = dotted(inner);
                if reading || wanted(&name) || encloses(&name) {
                    return Err(TomlError::Header { line });
                }
                continue;
            };
            table = dotted(inner);
            reading = wanted(&table);
            if reading && (array_of_tables || !tables_seen.insert(table.clone())) {
                return Err(TomlError::Duplicate { line, name: table });
            }
            continue;
        }
        let Some((k, v)) = l.split_once('=') else {
            if reading {
                return Err(TomlError::NotKeyValue { line, text: l.to_owned() });
            }
            continue;
        };
        let key = dotted(k);
        let full = if table.is_empty() { key.clone() } else { format!("{table}.{key}") };
        if !reading {
            if wanted(&full) || encloses(&full) {
                return Err(TomlError::Unsupported { line, name: full });
            }
            continue;
        }
        let value =
            scalar(v.trim()).ok_or_else(|| TomlError::Value { line, key: key.clone(), text: v.trim().to_owned() })?;
        if out.insert(full.clone(), value).is_some() {
            return Err(TomlError::Duplicate { line, name: full });
        }
    }
    Ok(out)
}

/// The line without its comment (a `#` outside a string).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return &line[..i],
            None => {}
        }
    }
    line
}

/// A dotted name with the spaces around its parts and their quotes dropped
/// (`profile . "release"` is `profile.release`).
fn dotted(name: &str) -> String {
    name.split('.').map(|p| p.trim().trim_matches('"').trim_matches('\'')).collect::<Vec<_>>().join(".")
}

/// A one-line value: a string (unquoted), an integer, a boolean, or an array
/// or inline table closed on the same line (as written).
fn scalar(v: &str) -> Option<String> {
    let quoted = |q: char| {
        let inner = v.strip_prefix(q)?.strip_suffix(q)?;
        // A quote inside would mean a second string after the first.
        let bare = inner.replace("\\\\", "").replace("\\\"", "");
        (!bare.contains(q)).then(|| inner.replace("\\\"", "\"").replace("\\\\", "\\"))
    };
    if v.starts_with('"') {
        return quoted('"');
    }
    if v.starts_with('\'') {
        return quoted('\'');
    }
    if v == "true" || v == "false" {
        return Some(v.to_owned());
    }
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return Some(v.replace('_', ""));
    }
    let closed = |open: char, close: char| {
        v.starts_with(open)
            && v.ends_with(close)
            && v.chars().filter(|c| *c == open).count() == v.chars().filter(|c| *c == close).count()
    };
    (closed('[', ']') || closed('{', '}')).then(|| v.to_owned())
}

/// The profile tables of a Cargo.toml whose settings reach the benches'
/// code: `[profile.release]` (the tests' and the CLI's) and `[profile.bench]`
/// (the benches', which inherit from release), with their sub-tables.
pub const PROFILE_TABLES: [&str; 2] = ["profile.release", "profile.bench"];

/// Every setting of the [`PROFILE_TABLES`] of a Cargo.toml's text, as
/// `profile.bench.lto` → `fat`. All keys are kept, not only opt-level, lto,
/// codegen-units, debug and panic: overflow-checks, debug-assertions or a
/// per-package override change the code as much.
pub fn profile_settings(cargo_toml: &str) -> Result<BTreeMap<String, String>, TomlError> {
    read_tables(cargo_toml, &PROFILE_TABLES)
}

/// The `[toolchain]` channel of a rust-toolchain.toml's text (`1.95.0`), if it names one.
pub fn toolchain_channel(toolchain_toml: &str) -> Result<Option<String>, TomlError> {
    Ok(read_tables(toolchain_toml, &["toolchain"])?.remove("toolchain.channel"))
}

/// One key whose values differ between the baseline's record and the run's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// The key (`rustc.release`, `cpu-features`, `profile.bench.lto` ...).
    pub key: String,
    /// The baseline's value.
    pub baseline: String,
    /// The run's value.
    pub run: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: baseline {}, run {}", self.key, self.baseline, self.run)
    }
}

/// Two records compared: the differences that refuse the comparison (the
/// toolchain fingerprint), and those that only warrant a warning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Check {
    /// Keys of the fingerprint that differ: the counts are not comparable.
    pub refused: Vec<Difference>,
    /// Keys that differ without changing a count of their own (the CPU's
    /// model name when its features match, the core count, the channel's
    /// name for the same compiler).
    pub warned: Vec<Difference>,
}

impl Check {
    /// Whether the counts may be compared.
    pub fn comparable(&self) -> bool {
        self.refused.is_empty()
    }
}

/// One key of a record: its name, its value as printed, and whether a
/// difference in it refuses the comparison.
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) value: String,
    pub(crate) refuses: bool,
}

/// Compares two records key by key (a key only one side has differs from
/// the other's absence, printed as `(not set)`).
pub(crate) fn check_keys(baseline: Vec<Key>, run: Vec<Key>) -> Check {
    let run: BTreeMap<String, Key> = run.into_iter().map(|k| (k.name.clone(), k)).collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut check = Check::default();
    let absent = || "(not set)".to_owned();
    let mut push = |name: String, refuses: bool, b: String, r: String| {
        if b != r {
            let d = Difference { key: name, baseline: b, run: r };
            if refuses { check.refused.push(d) } else { check.warned.push(d) }
        }
    };
    for k in baseline {
        seen.insert(k.name.clone());
        let (r, refuses) = run.get(&k.name).map_or_else(|| (absent(), k.refuses), |r| (r.value.clone(), k.refuses));
        push(k.name, refuses, k.value, r);
    }
    for (name, k) in run {
        if !seen.contains(&name) {
            push(name, k.refuses, absent(), k.value);
        }
    }
    check
}

/// Why `otlp-lab compare` would not compare a run with a baseline.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The two records' toolchain fingerprints differ.
    #[error(
        "refused: {} and {} were measured on different toolchains, so their counts are not comparable:\n{}\nsave a baseline measured on this toolchain (scripts/run_benchmarks.sh quick, then save), or run on the baseline's",
        baseline.display(), run.display(), differences.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n")
    )]
    Toolchain {
        /// The baseline's results file.
        baseline: PathBuf,
        /// The run's results file.
        run: PathBuf,
        /// Each differing key of the fingerprint.
        differences: Vec<Difference>,
    },
    /// A results file without its environment record.
    #[error(
        "refused: {} has no environment record ({}), so the toolchain its counts come from is unknown; `otlp-lab bmf --out` writes one beside a run and scripts/run_benchmarks.sh save keeps it beside a baseline (--allow-unknown-environment compares anyway)",
        results.display(), record.display()
    )]
    Unknown {
        /// The results file.
        results: PathBuf,
        /// Where its record should be.
        record: PathBuf,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const VV: &str = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\ncommit-hash: 59807616e1fa2540724bfbac14d7976d7e4a3860\ncommit-date: 2026-04-14\nhost: x86_64-unknown-linux-gnu\nrelease: 1.95.0\nLLVM version: 22.1.2\n";

    #[test]
    fn rustc_vv_reads_and_refuses_what_lacks_a_release() {
        let v = RustcVersion::parse(VV).expect("reads");
        assert_eq!(v.version, "rustc 1.95.0 (59807616e 2026-04-14)");
        assert_eq!(v.release, "1.95.0");
        assert_eq!(v.commit_hash.as_deref(), Some("59807616e1fa2540724bfbac14d7976d7e4a3860"));
        assert_eq!(v.llvm_version.as_deref(), Some("22.1.2"));
        assert_eq!(v.host, "x86_64-unknown-linux-gnu");
        let local = VV.replace("commit-hash: 59807616e1fa2540724bfbac14d7976d7e4a3860", "commit-hash: unknown");
        assert_eq!(RustcVersion::parse(&local).expect("reads").commit_hash, None);
        assert_eq!(RustcVersion::parse(""), Err(RustcVersionError::Empty));
        assert_eq!(RustcVersion::parse("rustc 1.95.0\nhost: x"), Err(RustcVersionError::Missing("release")));
    }

    #[test]
    fn cpu_features_keep_the_dispatching_flags_sorted() {
        let info = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu vme sse2 avx2 pclmulqdq sse4_2 hypervisor bmi2 avx512f rdrand\n\nprocessor\t: 1\nflags\t\t: fpu sse2\n";
        assert_eq!(cpu_features(info), ["avx2", "bmi2", "pclmulqdq", "sse2", "sse4_2"], "avx512f: valgrind hides it");
        let arm = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32\n";
        assert_eq!(cpu_features(arm), ["aes", "asimd", "crc32", "pmull", "sha2"]);
        assert!(cpu_features("processor: 0\n").is_empty());
        let mut sorted = RUNTIME_FEATURES.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, RUNTIME_FEATURES, "kept sorted, so that a reader finds a flag");
    }

    #[test]
    fn the_profile_tables_read_every_key_as_written() {
        let text = r#"
[package]
name = "x"   # profile.release = "not this"
description = "a [profile.bench] in a string"

[workspace]
members = [
  ".",
  ["odd", "nesting"],
]

[profile.release]
debug = true

[profile.bench]
# Callgrind needs symbols.
debug = true
codegen-units = 1
lto = "fat"  # whole program
opt-level = 3
panic = 'abort'

[profile.bench.package."*"]
opt-level = 2

[dev-dependencies]
iai-callgrind = "=0.16.1"
"#;
        let p = profile_settings(text).expect("reads");
        let want: BTreeMap<String, String> = [
            ("profile.bench.codegen-units", "1"),
            ("profile.bench.debug", "true"),
            ("profile.bench.lto", "fat"),
            ("profile.bench.opt-level", "3"),
            ("profile.bench.package.*.opt-level", "2"),
            ("profile.bench.panic", "abort"),
            ("profile.release.debug", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(p, want);
        assert!(profile_settings("[package]\nname = \"x\"\n").expect("reads").is_empty());
    }

    #[test]
    fn the_root_cargo_toml_has_the_bench_profile_the_readme_describes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
        let p = profile_settings(&text).expect("the root Cargo.toml reads");
        assert_eq!(p.get("profile.bench.lto").map(String::as_str), Some("fat"));
        assert_eq!(p.get("profile.bench.codegen-units").map(String::as_str), Some("1"));
        assert_eq!(p.get("profile.bench.debug").map(String::as_str), Some("true"));
        let text = std::fs::read_to_string(root.join("rust-toolchain.toml")).expect("rust-toolchain.toml");
        let channel = toolchain_channel(&text).expect("reads").expect("has a channel");
        // The pin and the crate's declared minimum are the same release.
        let msrv = read_tables(&std::fs::read_to_string(root.join("Cargo.toml")).expect("read"), &["package"])
            .expect("reads")
            .remove("package.rust-version")
            .expect("rust-version");
        assert!(channel.starts_with(&format!("{msrv}.")), "{channel} vs rust-version {msrv}");
    }

    #[test]
    fn the_toolchain_file_gives_its_channel() {
        let text = "# pinned\n[toolchain]\nchannel = \"1.95.0\"\ncomponents = [\"rustfmt\", \"clippy\"]\nprofile = \"minimal\"\n";
        assert_eq!(toolchain_channel(text), Ok(Some("1.95.0".to_owned())));
        assert_eq!(toolchain_channel("[toolchain]\npath = \"/opt/rust\"\n"), Ok(None));
        assert!(matches!(
            toolchain_channel("[toolchain]\nchannel = \"1.95.0\"\nchannel = \"1.94.0\"\n"),
            Err(TomlError::Duplicate { line: 3, .. })
        ));
    }

    #[test]
    fn what_the_reader_cannot_read_in_a_table_it_reads_is_an_error() {
        let err = |t: &str| profile_settings(t).expect_err("refused");
        assert!(matches!(err("[profile.bench\nlto = true\n"), TomlError::Header { line: 1 }));
        assert!(matches!(err("[profile.bench]\nlto\n"), TomlError::NotKeyValue { line: 2, .. }));
        assert!(matches!(err("[profile.bench]\nlto = [\n  \"x\",\n]\n"), TomlError::Value { line: 2, .. }));
        assert!(matches!(err("[profile.bench]\nopt-level = 1.5\n"), TomlError::Value { .. }));
        assert!(matches!(err("[profile.bench]\nlto = \"fat\" \"thin\"\n"), TomlError::Value { .. }));
        assert!(matches!(err("[profile.bench]\nlto = 1\n[profile.bench]\n"), TomlError::Duplicate { line: 3, .. }));
        assert!(matches!(err("[profile.bench]\nlto = 1\nlto = 2\n"), TomlError::Duplicate { line: 3, .. }));
        // Set from outside the table's own header: refused, not missed.
        let e = err("profile.bench.lto = true\n");
        assert!(matches!(&e, TomlError::Unsupported { line: 1, name } if name == "profile.bench.lto"), "{e:?}");
        assert!(matches!(err("[profile]\nrelease.lto = true\n"), TomlError::Unsupported { .. }));
        assert!(matches!(err("[profile]\nbench = { lto = true }\n"), TomlError::Unsupported { .. }));
        assert_eq!(
            e.to_string(),
            "line 1: `profile.bench.lto` is set outside its table's own `[...]` header, which this reader does not follow; move it under that header as a `key = value` line"
        );
    }

    fn key(name: &str, value: &str, refuses: bool) -> Key {
        Key { name: name.into(), value: value.into(), refuses }
    }

    #[test]
    fn a_key_differing_refuses_or_warns_as_it_is_marked() {
        let a = || vec![key("rustc.release", "1.95.0", true), key("cpu-model", "AMD EPYC", false)];
        assert_eq!(check_keys(a(), a()), Check::default());
        let c = check_keys(a(), vec![key("rustc.release", "1.96.0", true), key("cpu-model", "Intel", false)]);
        assert!(!c.comparable());
        assert_eq!(
            c.refused,
            [Difference { key: "rustc.release".into(), baseline: "1.95.0".into(), run: "1.96.0".into() }]
        );
        assert_eq!(c.warned[0].to_string(), "cpu-model: baseline AMD EPYC, run Intel");
        // A key on one side only.
        let c = check_keys(a(), vec![key("rustc.release", "1.95.0", true), key("profile.bench.lto", "fat", true)]);
        assert_eq!(c.refused[0].to_string(), "profile.bench.lto: baseline (not set), run fat");
        assert_eq!(c.warned[0].to_string(), "cpu-model: baseline AMD EPYC, run (not set)");
    }
}
