//! The whole exporter at full speed: `otlp-lab exporter-run` of each stack,
//! natively (no valgrind), with many spans, against a loopback receiver in
//! this process; each run reports its own wall time, CPU time (every thread
//! of the exporting process; the receiver's CPU is not in it) and peak RSS
//! (`otlp-lab exporter-run --usage`), and this module turns them into spans
//! per second and CPU microseconds per span, medians over the repeats.
//!
//! What it answers: how fast one service thread can emit spans through each
//! stack and how much CPU the whole exporter spends per span delivered,
//! beside the instruction counts of `crate::exporter_run`. Wall time and
//! CPU time are noisy on a shared machine: the repeats' spread is printed.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::exporter_compare::Spread;
use crate::exporter_run::{Case, Implementation, NotOnlySpans, check_only_spans};
use crate::harness::Usage;
use otlp_pipeline::exporter::Protocol;
use otlp_pipeline::receiver::{Receiver, ReceiverConfig};

/// What one `exporter-run --usage` measured of itself, printed as one JSON
/// line on its standard output and read back by [`run`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunUsage {
    /// The stack.
    pub implementation: Implementation,
    /// Spans created.
    pub spans: u64,
    /// Spans the exporter reports as exported (0 for the floor).
    pub exported: u64,
    /// Seconds of `exporter_run::run`: building the stack (runtime,
    /// exporter, subscriber, the SDK's threads), the spans, shutdown.
    pub wall_s: f64,
    /// User plus system CPU seconds of the whole process at exit.
    pub cpu_s: f64,
    /// Peak resident set size, bytes.
    pub peak_rss_bytes: u64,
}

impl RunUsage {
    /// The usage of a run that took `wall` and is ending now.
    pub fn now(implementation: Implementation, spans: u64, exported: u64, wall: Duration) -> RunUsage {
        let u = Usage::now();
        RunUsage {
            implementation,
            spans,
            exported,
            wall_s: wall.as_secs_f64(),
            cpu_s: u.user_s + u.system_s,
            peak_rss_bytes: u.peak_rss_bytes,
        }
    }
}

/// What `exporter-load` runs.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// The stacks.
    pub implementations: Vec<Implementation>,
    /// Protocol and codec.
    pub case: Case,
    /// Spans per run.
    pub spans: u64,
    /// Runs per stack.
    pub repeats: u32,
    /// The `otlp-lab` binary (normally this one).
    pub exe: PathBuf,
}

/// One stack's runs.
#[derive(Clone, Debug)]
pub struct LoadRow {
    /// The stack.
    pub implementation: Implementation,
    /// Each run's own figures.
    pub runs: Vec<RunUsage>,
}

impl LoadRow {
    /// Spans created per wall second.
    pub fn spans_per_s(&self) -> Option<Spread> {
        Spread::of(&self.runs.iter().map(|r| r.spans as f64 / r.wall_s.max(1e-9)).collect::<Vec<_>>())
    }

    /// CPU microseconds per span (the whole process, start-up included).
    pub fn cpu_us_per_span(&self) -> Option<Spread> {
        Spread::of(&self.runs.iter().map(|r| r.cpu_s * 1e6 / r.spans as f64).collect::<Vec<_>>())
    }
}

/// Why `exporter-load` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Nothing to run.
    #[error("nothing to run: give at least one implementation, --spans and --repeats of at least 1")]
    Nothing,
    /// A stack this build lacks.
    #[error(transparent)]
    NotBuilt(#[from] crate::harness::SdkNotBuilt),
    /// The runtime or the receiver could not start.
    #[error("{what}: {source}")]
    Io {
        /// What was being started.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// A run failed.
    #[error("exporter-run {implementation} ({case}, {spans} spans) failed ({status}): {stderr}")]
    RunFailed {
        /// The stack.
        implementation: Implementation,
        /// Protocol and codec.
        case: Case,
        /// Spans of the run.
        spans: u64,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Its standard error.
        stderr: String,
    },
    /// A run printed no usage line.
    #[error("exporter-run {implementation} printed no usage line: {reason}")]
    NoUsage {
        /// The stack.
        implementation: Implementation,
        /// Why its output could not be read.
        reason: String,
    },
    /// The receiver did not get every span of a run.
    #[error("{implementation}: the receiver got {got} of {spans} spans")]
    Missing {
        /// The stack.
        implementation: Implementation,
        /// Spans of the run.
        spans: u64,
        /// Spans received.
        got: u64,
    },
    /// The loopback receiver has no gRPC endpoint.
    #[error("the loopback receiver has no gRPC endpoint")]
    NoGrpc,
    /// A run sent something else than spans, or had requests refused.
    #[error(transparent)]
    NotOnlySpans(#[from] NotOnlySpans),
    /// A run's thread failed.
    #[error("the run's thread failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Runs every stack `cfg.repeats` times (stacks interleaved, so that a
/// change of the machine's load spreads over all of them), checks the
/// receiver's count after each run, and returns the rows. Progress goes to
/// stderr.
pub fn run(cfg: &LoadConfig) -> Result<Vec<LoadRow>, LoadError> {
    if cfg.implementations.is_empty() || cfg.spans == 0 || cfg.repeats == 0 {
        return Err(LoadError::Nothing);
    }
    for imp in &cfg.implementations {
        imp.check_available()?;
    }
    let io = |what| move |source| LoadError::Io { what, source };
    // The receiver runs on this thread while each run waits on the blocking pool.
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(io("starting a tokio runtime"))?;
    rt.block_on(async {
        let receiver = Receiver::start(ReceiverConfig {
            grpc_addr: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            ..ReceiverConfig::default()
        })
        .await
        .map_err(io("starting the loopback receiver"))?;
        let endpoint = if cfg.case.protocol == Protocol::Grpc {
            receiver.grpc_endpoint().ok_or(LoadError::NoGrpc)?
        } else {
            receiver.http_endpoint()
        };
        let mut rows: Vec<LoadRow> =
            cfg.implementations.iter().map(|&implementation| LoadRow { implementation, runs: Vec::new() }).collect();
        let total = rows.len() * cfg.repeats as usize;
        let started = Instant::now();
        let mut done = 0;
        for repeat in 1..=cfg.repeats {
            for row in &mut rows {
                done += 1;
                let implementation = row.implementation;
                let before = receiver.counts();
                let mut cmd = Command::new(&cfg.exe);
                cmd.args(["exporter-run", "--usage", "--implementation", implementation.flag()])
                    .args(["--spans", &cfg.spans.to_string(), "--endpoint", &endpoint])
                    .args(["--protocol", &cfg.case.protocol.to_string()])
                    .args(["--compression", &cfg.case.compression.to_string()]);
                let out = tokio::task::spawn_blocking(move || cmd.output())
                    .await?
                    .map_err(io("running otlp-lab exporter-run"))?;
                if !out.status.success() {
                    return Err(LoadError::RunFailed {
                        implementation,
                        case: cfg.case,
                        spans: cfg.spans,
                        status: out.status,
                        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                    });
                }
                let usage: RunUsage = serde_json::from_slice(&out.stdout)
                    .map_err(|e| LoadError::NoUsage { implementation, reason: e.to_string() })?;
                let want = if implementation.exports() { cfg.spans } else { 0 };
                let since = receiver.counts().since(before);
                if since.spans != want {
                    return Err(LoadError::Missing { implementation, spans: want, got: since.spans });
                }
                check_only_spans(implementation, since)?;
                eprintln!(
                    "otlp-lab: [{done}/{total}] {:<12} run {repeat}: {:.0} spans/s, {:.2} µs CPU per span, {:.0} MB peak ({:.0} s so far)",
                    implementation.flag(),
                    usage.spans as f64 / usage.wall_s.max(1e-9),
                    usage.cpu_s * 1e6 / usage.spans as f64,
                    usage.peak_rss_bytes as f64 / 1e6,
                    started.elapsed().as_secs_f64()
                );
                row.runs.push(usage);
            }
        }
        receiver.shutdown().await;
        Ok(rows)
    })
}

/// The table `exporter-load` prints.
pub fn table(cfg: &LoadConfig, rows: &[LoadRow]) -> String {
    use std::fmt::Write as _;
    let cell = |s: Option<Spread>, digits: usize| {
        s.map_or_else(|| "-".to_owned(), |s| format!("{:.digits$} ({:.digits$}–{:.digits$})", s.median, s.min, s.max))
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} spans per run, {}, median (min–max) of {} runs; CPU of the whole exporting process (not the receiver's)",
        cfg.spans, cfg.case, cfg.repeats
    );
    let _ = writeln!(out, "{:<14} {:>28} {:>24} {:>14}", "implementation", "spans/s", "CPU µs/span", "peak RSS MB");
    for row in rows {
        let rss = row.runs.iter().map(|r| r.peak_rss_bytes).max().unwrap_or(0) as f64 / 1e6;
        let _ = writeln!(
            out,
            "{:<14} {:>28} {:>24} {:>14.0}",
            row.implementation.flag(),
            cell(row.spans_per_s(), 0),
            cell(row.cpu_us_per_span(), 2),
            rss
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_line_round_trips_and_rows_compute_rates() {
        let u = RunUsage {
            implementation: Implementation::TracingOurs,
            spans: 100_000,
            exported: 100_000,
            wall_s: 0.5,
            cpu_s: 0.25,
            peak_rss_bytes: 40_000_000,
        };
        let line = serde_json::to_string(&u).expect("serializes");
        assert!(line.contains("\"implementation\":\"tracing-ours\""), "{line}");
        assert_eq!(serde_json::from_str::<RunUsage>(&line).expect("reads"), u);
        let row = LoadRow {
            implementation: u.implementation,
            runs: vec![u.clone(), RunUsage { wall_s: 1.0, cpu_s: 0.5, ..u }],
        };
        let rate = row.spans_per_s().expect("runs");
        assert_eq!((rate.median, rate.min, rate.max), (150_000.0, 100_000.0, 200_000.0));
        assert_eq!(row.cpu_us_per_span().map(|s| s.median), Some(3.75));
    }
}
