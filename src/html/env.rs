//! `otlp-lab env`: what the run happened on (CPU, kernel, toolchain, tool
//! versions, commit), so that every report says where its numbers come from.

use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::result_file::{self, ResultFileError};

/// `profiles/environment.json`, written by `otlp-lab env` and read by the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// The CPU's model name.
    pub cpu_model: String,
    /// Cores available to the process.
    pub cores: u64,
    /// Kernel release.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
    /// `valgrind --version`, when installed.
    pub valgrind: Option<String>,
    /// iai-callgrind-runner's version, when installed.
    pub runner: Option<String>,
    /// The commit checked out.
    pub git_commit: Option<String>,
    /// Whether the tree had uncommitted changes.
    pub git_dirty: bool,
    /// When the file was written (RFC 3339, UTC).
    pub written_at: String,
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
fn runner() -> Option<String> {
    let out = Command::new("cargo").args(["install", "--list"]).output().ok()?;
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

/// Looks at this machine and the repository in the current directory.
pub fn collect() -> Environment {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Environment {
        cpu_model: cpu_model(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
        kernel: kernel(),
        rustc: first_line(&rustc, &["--version"]).unwrap_or_else(|| "unknown".to_owned()),
        valgrind: first_line("valgrind", &["--version"]),
        runner: runner(),
        git_commit: first_line("git", &["rev-parse", "HEAD"]),
        // Untracked files count: a result folder that is not ignored would be a change too.
        git_dirty: Command::new("git")
            .args(["status", "--porcelain"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .is_some_and(|o| !o.stdout.is_empty()),
        written_at: rfc3339(now),
    }
}

/// Collects the environment and writes it to `path` (its folder is created).
pub fn write(path: &Path) -> Result<Environment, ResultFileError> {
    let env = collect();
    env.write(path)?;
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_reads_back_and_the_fixture_reads() {
        let dir = std::env::temp_dir().join(format!("otlp-lab-env-{}", std::process::id()));
        let path = dir.join("environment.json");
        let env = Environment {
            cpu_model: "a CPU".into(),
            cores: 2,
            kernel: "6.1.0".into(),
            rustc: "rustc 1.95.0".into(),
            valgrind: None,
            runner: Some("0.16.1".into()),
            git_commit: None,
            git_dirty: true,
            written_at: rfc3339(0),
        };
        env.write(&path).expect("writes");
        assert_eq!(Environment::read(&path).expect("reads"), Some(env));
        let _cleaned = std::fs::remove_dir_all(&dir);
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/report/profiles/environment.json");
        let e = Environment::read(&fixture).expect("reads").expect("exists");
        assert_eq!((e.cores, e.runner.as_deref(), e.git_dirty), (2, Some("0.16.1"), false));
    }

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_798_761_599), "2026-12-31T23:59:59Z");
    }
}
