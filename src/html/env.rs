//! `otlp-lab env`: what the run happened on (CPU and the features its
//! runtime dispatch uses, kernel, toolchain, tool versions, Cargo profile
//! settings, commit), so that every report says where its numbers come from
//! and the gate can refuse to compare counts from different toolchains
//! (`crate::toolchain` says which keys refuse).
//!
//! The same type is `profiles/environment.json` (for the report) and the
//! record beside a results file (`profiles/results.env.json`, and beside a
//! saved baseline `profiles/baselines/main.env.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::result_file::{self, ResultFileError};
use crate::toolchain::{self, Check, Key, RustcVersion, RustcVersionError, TomlError};

/// What a run happened on: written by `otlp-lab env` and `otlp-lab bmf
/// --out`, read by the report and `otlp-lab compare`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// The CPU's model name.
    pub cpu_model: String,
    /// The CPU's features that runtime dispatch looks at
    /// ([`toolchain::RUNTIME_FEATURES`] it has), sorted; empty when
    /// /proc/cpuinfo has no flags.
    pub cpu_features: Vec<String>,
    /// Cores available to the process.
    pub cores: u64,
    /// Kernel release.
    pub kernel: String,
    /// `rustc -vV` of the toolchain that builds in this repository.
    pub rustc: RustcVersion,
    /// The channel rust-toolchain.toml pins, when it has one.
    pub toolchain_channel: Option<String>,
    /// The root Cargo.toml's `[profile.release]` and `[profile.bench]`
    /// settings (`profile.bench.lto` → `fat`).
    pub profiles: BTreeMap<String, String>,
    /// `valgrind --version`, when installed.
    pub valgrind: Option<String>,
    /// iai-callgrind-runner's version, when installed.
    pub runner: Option<String>,
    /// The cache geometry callgrind simulates for the estimated cycles
    /// (`crate::bench_config::cache_geometry`). Absent from records written
    /// before it was recorded, which [`Environment::effective_cache_geometry`]
    /// reads as the runner's own default where that is known.
    #[serde(default)]
    pub cache_geometry: Option<String>,
    /// The commit checked out.
    pub git_commit: Option<String>,
    /// Whether the tree had uncommitted changes.
    pub git_dirty: bool,
    /// When the file was written (RFC 3339, UTC).
    pub written_at: String,
}

/// Why the environment could not be collected.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// rustc did not run.
    #[error("`{program} -vV` could not run: {source}")]
    RustcRun {
        /// The rustc asked (`$RUSTC` or `rustc`).
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// rustc ran and failed.
    #[error("`{program} -vV` failed ({status}): {stderr}")]
    RustcFailed {
        /// The rustc asked.
        program: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// rustc's answer lacks what the record needs.
    #[error("`{program} -vV`: {source}")]
    RustcOutput {
        /// The rustc asked.
        program: String,
        /// What is missing.
        source: RustcVersionError,
    },
    /// A file of the repository could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Cargo.toml or rust-toolchain.toml is not in the TOML subset read.
    #[error("{}: {source}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// Where and what.
        source: TomlError,
    },
    /// The record could not be written.
    #[error(transparent)]
    File(#[from] ResultFileError),
}

impl Environment {
    /// Writes it to `path`, creating the folder first.
    pub fn write(&self, path: &Path) -> Result<(), ResultFileError> {
        result_file::write(path, self)
    }

    /// Reads `path`; `None` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<Environment>, ResultFileError> {
        result_file::read(path)
    }

    /// Where the record of the results file `results` lives:
    /// `profiles/results.json` has `profiles/results.env.json`.
    pub fn path_for(results: &Path) -> PathBuf {
        results.with_extension("env.json")
    }

    /// Reads the record beside `results`; `None` when there is none.
    pub fn read_beside(results: &Path) -> Result<Option<Environment>, ResultFileError> {
        Self::read(&Self::path_for(results))
    }

    /// The cache geometry the run's estimated cycles were simulated with:
    /// the recorded one, or for a record from before the geometry was
    /// recorded, the geometry its runner always used when that is known
    /// (runner 0.16.1's defaults, which are the pinned values); `None` when
    /// unknown.
    pub fn effective_cache_geometry(&self) -> Option<String> {
        self.cache_geometry.clone().or_else(|| crate::bench_config::geometry_of_unrecorded(self.runner.as_deref()))
    }

    /// The keys compared between two records. A difference in the
    /// toolchain fingerprint (rustc's release, commit, LLVM and host,
    /// valgrind, the runner, the simulated cache geometry, the CPU features,
    /// every profile setting) refuses the comparison; one in the CPU model, the core count or the
    /// channel's name is a warning (machines of one type may report
    /// another model string; the channel names a compiler whose own
    /// release and commit are compared).
    pub(crate) fn keys(&self) -> Vec<Key> {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_owned());
        let key = |name: &str, value: String, refuses: bool| Key { name: name.to_owned(), value, refuses };
        let mut keys = vec![
            key("rustc.release", self.rustc.release.clone(), true),
            key("rustc.commit-hash", opt(&self.rustc.commit_hash), true),
            key("rustc.llvm-version", opt(&self.rustc.llvm_version), true),
            key("rustc.host", self.rustc.host.clone(), true),
            key("valgrind", opt(&self.valgrind), true),
            key("iai-callgrind-runner", opt(&self.runner), true),
            key("callgrind.cache-geometry", opt(&self.effective_cache_geometry()), true),
            key("cpu-features", self.cpu_features.join(" "), true),
            key("cpu-model", self.cpu_model.clone(), false),
            key("cores", self.cores.to_string(), false),
            key("rust-toolchain.channel", opt(&self.toolchain_channel), false),
        ];
        keys.extend(self.profiles.iter().map(|(k, v)| key(k, v.clone(), true)));
        keys
    }

    /// This record (the baseline's) against a run's.
    pub fn check(&self, run: &Environment) -> Check {
        toolchain::check_keys(self.keys(), run.keys())
    }
}

/// Runs a command and returns its first non-empty output line (stdout, then
/// stderr), or `None` when it cannot run or fails.
fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = if out.stdout.is_empty() { out.stderr } else { out.stdout };
    String::from_utf8_lossy(&text).lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_owned)
}

/// The CPU's model name from /proc/cpuinfo (`model name`, or `Model`/`cpu
/// model` on other architectures).
fn cpu_model() -> String {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            matches!(k.trim(), "model name" | "Model" | "cpu model").then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| first_line("uname", &["-r"]))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The installed iai-callgrind-runner's version: the runner has no plain
/// `--version`, so ask cargo what it installed (as the bench script does).
fn runner(root: &Path) -> Option<String> {
    let out = Command::new("cargo").args(["install", "--list"]).current_dir(root).output().ok()?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let v = l.strip_prefix("iai-callgrind-runner v")?;
        Some(v.trim_end_matches(':').trim().to_owned())
    })
}

/// Seconds since the epoch as RFC 3339 UTC (`2026-12-01T23:59:59Z`); the
/// civil-date conversion is Howard Hinnant's `civil_from_days`.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `rustc -vV` of the compiler cargo would use in `root` (`$RUSTC`, else
/// rustup's choice there, which honours rust-toolchain.toml).
fn rustc(root: &Path) -> Result<RustcVersion, EnvError> {
    let program = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let out = Command::new(&program)
        .arg("-vV")
        .current_dir(root)
        .output()
        .map_err(|source| EnvError::RustcRun { program: program.clone(), source })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Err(EnvError::RustcFailed { program, status: out.status.to_string(), stderr });
    }
    RustcVersion::parse(&String::from_utf8_lossy(&out.stdout))
        .map_err(|source| EnvError::RustcOutput { program, source })
}

/// A file of the repository that may be absent; `None` when it is.
fn read_optional(path: &Path) -> Result<Option<String>, EnvError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(EnvError::Read { path: path.to_owned(), source }),
    }
}

/// Looks at this machine and the repository at `root` (its Cargo.toml must
/// exist; rust-toolchain.toml may not).
pub fn collect_in(root: &Path) -> Result<Environment, EnvError> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let cargo_path = root.join("Cargo.toml");
    let cargo_text =
        std::fs::read_to_string(&cargo_path).map_err(|source| EnvError::Read { path: cargo_path.clone(), source })?;
    let profiles =
        toolchain::profile_settings(&cargo_text).map_err(|source| EnvError::Toml { path: cargo_path, source })?;
    let pin_path = root.join("rust-toolchain.toml");
    let toolchain_channel = match read_optional(&pin_path)? {
        Some(text) => {
            toolchain::toolchain_channel(&text).map_err(|source| EnvError::Toml { path: pin_path, source })?
        }
        None => None,
    };
    let git = |args: &[&str]| Command::new("git").args(args).current_dir(root).output().ok();
    Ok(Environment {
        cpu_model: cpu_model(),
        cpu_features: toolchain::cpu_features(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default()),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
        kernel: kernel(),
        rustc: rustc(root)?,
        toolchain_channel,
        profiles,
        valgrind: first_line("valgrind", &["--version"]),
        runner: runner(root),
        cache_geometry: Some(crate::bench_config::cache_geometry()),
        git_commit: git(&["rev-parse", "HEAD"])
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().next().map(|l| l.trim().to_owned()))
            .filter(|l| !l.is_empty()),
        // Untracked files count: a result folder that is not ignored would be a change too.
        git_dirty: git(&["status", "--porcelain"]).filter(|o| o.status.success()).is_some_and(|o| !o.stdout.is_empty()),
        written_at: rfc3339(now),
    })
}

/// Collects the environment of the repository in the current directory and
/// writes it to `path` (its folder is created).
pub fn write(path: &Path) -> Result<Environment, EnvError> {
    let env = collect_in(Path::new("."))?;
    env.write(path)?;
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report fixture's record (tests/data/report/profiles/environment.json).
    fn fixture() -> Environment {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/report/profiles/environment.json");
        Environment::read(&path).expect("reads").expect("exists")
    }

    #[test]
    fn the_file_reads_back_and_the_fixture_reads() {
        let dir = std::env::temp_dir().join(format!("otlp-lab-env-{}", std::process::id()));
        let path = dir.join("environment.json");
        let env = Environment { git_dirty: true, written_at: rfc3339(0), valgrind: None, ..fixture() };
        env.write(&path).expect("writes");
        assert_eq!(Environment::read(&path).expect("reads"), Some(env));
        let _cleaned = std::fs::remove_dir_all(&dir);
        let e = fixture();
        assert_eq!((e.cores, e.runner.as_deref(), e.git_dirty), (2, Some("0.16.1"), false));
        assert_eq!(e.rustc.llvm_version.as_deref(), Some("22.1.2"));
        assert_eq!(e.profiles.get("profile.bench.lto").map(String::as_str), Some("fat"));
        assert_eq!(
            Environment::path_for(Path::new("profiles/baselines/main.json")),
            Path::new("profiles/baselines/main.env.json")
        );
    }

    #[test]
    fn this_checkout_collects_its_toolchain_and_profiles() {
        let e = collect_in(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("collects");
        let pin = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("rust-toolchain.toml"))
            .expect("rust-toolchain.toml");
        assert_eq!(e.toolchain_channel, toolchain::toolchain_channel(&pin).expect("reads"));
        // cargo builds these tests with the pinned toolchain, which rustc -vV reports.
        assert_eq!(Some(&e.rustc.release), e.toolchain_channel.as_ref(), "{:?}", e.rustc);
        assert_eq!(e.profiles.get("profile.bench.codegen-units").map(String::as_str), Some("1"));
        let mut sorted = e.cpu_features.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, e.cpu_features);
        let missing = std::env::temp_dir().join(format!("otlp-lab-env-none-{}", std::process::id()));
        assert!(matches!(collect_in(&missing), Err(EnvError::Read { path, .. }) if path.ends_with("Cargo.toml")));
    }

    #[test]
    fn the_fingerprint_refuses_a_toolchain_and_warns_on_a_model_name() {
        let base = fixture();
        assert!(base.check(&base).comparable() && base.check(&base).warned.is_empty());
        // Who wrote it and when is no difference at all.
        let later =
            Environment { git_commit: None, git_dirty: true, written_at: rfc3339(0), kernel: "7".into(), ..fixture() };
        assert_eq!(base.check(&later), Check::default());

        let mut other = fixture();
        other.rustc.commit_hash = Some("0000000".into());
        other.cpu_features.retain(|f| f != "avx2");
        other.profiles.insert("profile.bench.lto".into(), "thin".into());
        other.runner = None;
        let c = base.check(&other);
        let keys: Vec<&str> = c.refused.iter().map(|d| d.key.as_str()).collect();
        // Without a runner, a record that predates the geometry field has no known geometry either.
        assert_eq!(
            keys,
            [
                "rustc.commit-hash",
                "iai-callgrind-runner",
                "callgrind.cache-geometry",
                "cpu-features",
                "profile.bench.lto"
            ]
        );
        assert_eq!(c.refused[1].to_string(), "iai-callgrind-runner: baseline 0.16.1, run (none)");

        let model = Environment { cpu_model: "AMD EPYC 9B14".into(), ..fixture() };
        let c = base.check(&model);
        assert!(c.comparable());
        assert_eq!(c.warned.len(), 1);
        assert_eq!(c.warned[0].key, "cpu-model");
    }

    #[test]
    fn another_cache_geometry_refuses_and_an_unrecorded_one_is_the_runners() {
        // The fixture predates the field: runner 0.16.1 always simulated the
        // geometry that is pinned now, so the two records compare.
        let old = fixture();
        assert_eq!(old.cache_geometry, None);
        let now = Environment { cache_geometry: Some(crate::bench_config::cache_geometry()), ..fixture() };
        assert!(old.check(&now).comparable(), "{:?}", old.check(&now));
        assert_eq!(now.check(&now), Check::default());

        let bigger = Environment {
            cache_geometry: Some("--I1=32768,8,64 --D1=49152,12,64 --LL=8388608,16,64".into()),
            ..fixture()
        };
        let c = now.check(&bigger);
        assert_eq!(c.refused.len(), 1, "{c:?}");
        assert_eq!(c.refused[0].key, "callgrind.cache-geometry");
        assert!(c.refused[0].to_string().contains("--D1=49152,12,64"), "{}", c.refused[0]);

        // Unrecorded with another runner: unknown, refused against a known one.
        let unknown = Environment { runner: Some("0.17.0".into()), ..fixture() };
        let keys: Vec<String> = now.check(&unknown).refused.into_iter().map(|d| d.key).collect();
        assert_eq!(keys, ["iai-callgrind-runner", "callgrind.cache-geometry"]);

        // The record written now holds it, and reads back.
        let dir = std::env::temp_dir().join(format!("otlp-lab-env-geometry-{}", std::process::id()));
        let path = dir.join("environment.json");
        now.write(&path).expect("writes");
        let text = std::fs::read_to_string(&path).expect("reads");
        assert!(text.contains("--LL=8388608,16,64"), "{text}");
        assert_eq!(Environment::read(&path).expect("reads"), Some(now));
        let _cleaned = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
    }
}
