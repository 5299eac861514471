//! `otlp-lab load`: timed load runs of the production mix against the
//! loopback receiver (or any OTLP endpoint), for ours and, with the
//! `official-sdk` feature, for the official Rust SDK side by side.
//!
//! Each implementation runs in a child process of its own (`otlp-lab load
//! <scenario> --child ours|sdk --endpoint <url> ...`, a hidden flag) while
//! the parent runs the loopback receiver: CPU seconds and peak RSS come from
//! `getrusage` and are process-wide, so this is what keeps the exporter's
//! figures apart from the receiver's and ours apart from the SDK's. The
//! child prints its run as one JSON line; the parent replaces its delivered
//! count with what the receiver confirmed, adds the receiver's own CPU
//! seconds, and writes `profiles/load/<scenario>.json` (see
//! `/work/contracts.md`).
//!
//! Closed loop (no rate): every producer hands items over with
//! [`Handle::send`], which waits for queue room, as fast as it can for the
//! duration. Open loop (a rate): producers offer paced blocks with
//! `try_item` every [`TICK`]; what the queue refuses is counted as dropped by
//! reason, and a late tick is skipped, not made up in a burst.
//!
//! The mix is the production workload's: blocks of 7 spans, one 2-point
//! metric and one log record (70/20/10 of the items).

mod child;
mod measure;
mod pacing;
mod runner;
mod specs;
mod summary;

pub use child::run_child;
use child::runtime;
pub use measure::{LatencyRecorder, LatencySummary, RunResult, Signals, Usage};
pub use pacing::TICK;
pub(crate) use pacing::{OpenLoop, Pace};
#[cfg(test)]
use runner::confirm_with_receiver;
pub use runner::run;
use specs::codec_name;
pub use specs::{
    Implementation, LoadArgs, LoadOptions, LoadScenario, MAX_QUEUE, SUSTAINED_DEFAULT_RATE, StepSpec,
    UnknownLoadScenario,
};
use summary::load_average;
pub use summary::{LoadReport, TARGET_ITEMS_PER_S, TARGET_P99_US, TARGET_PEAK_RSS_BYTES, TARGET_SDK_RATIO};

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::scenarios::{self, BLOCK_ITEMS, BLOCK_SPANS, NS_PER_MS};
use otlp_pipeline::compress::Compression;
use otlp_pipeline::exporter::{ExportObserver, Exporter, Protocol};
use otlp_pipeline::fixtures::{self, SplitMix64};
use otlp_pipeline::pipeline::{DropReason, ExportRequest, ExportResult, Handle, Item, PipelineConfig};
use otlp_pipeline::receiver::{Receiver, ReceiverConfig, ReceiverCounts};

/// Why a load run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A setting that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// `--sdk` in a build without the official SDK.
    #[error("--sdk needs the official SDK: build with `cargo build --release --features official-sdk`")]
    NoSdk,
    /// The runtime, the receiver or a child could not start.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The exporter refused its settings.
    #[error("building the exporter: {0}")]
    Exporter(#[from] otlp_pipeline::exporter::ExporterError),
    /// A producer task failed.
    #[error("a producer failed: {0}")]
    Producer(String),
    /// The exporter's shutdown did not return.
    #[error("the exporter's shutdown hung")]
    Hung,
    /// A child process failed or printed something that is not a run.
    #[error("the {implementation} child of step {step}: {detail}")]
    Child {
        /// Which implementation.
        implementation: &'static str,
        /// Which step.
        step: String,
        /// What went wrong (its exit status and standard error).
        detail: String,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LoadError {
    let what = what.into();
    move |source| LoadError::Io { what, source }
}

/// `otlp-lab load`: runs the scenario and prints its table (or, with the
/// hidden `--child`, one implementation's run as a JSON line).
pub fn cli(args: LoadArgs) -> Result<(), LoadError> {
    if !(args.duration.is_finite() && args.duration > 0.0 && args.duration <= 3_600.0) {
        return Err(LoadError::Invalid(format!(
            "--duration must be between 0 and 3600 seconds, got {}",
            args.duration
        )));
    }
    let duration = Duration::from_secs_f64(args.duration);
    if let Some(implementation) = args.child {
        let endpoint = args.endpoint.ok_or_else(|| LoadError::Invalid("--child needs --endpoint".into()))?;
        let spec = StepSpec {
            step: args.step.unwrap_or_else(|| "child".to_owned()),
            protocol: args.protocol,
            compression: args.compression,
            workers: args.workers.unwrap_or(scenarios::WORKERS),
            batch: args.batch.unwrap_or(PipelineConfig::default().max_batch_items),
            exports: args.exports.unwrap_or(PipelineConfig::default().max_concurrent_exports),
            queue: args.queue.unwrap_or(PipelineConfig::default().queue_capacity),
            rate: args.rate,
            duration,
        };
        let run = run_child(implementation, &spec, &endpoint)?;
        println!("{}", run.to_json());
        return Ok(());
    }
    let options = LoadOptions {
        endpoint: args.endpoint,
        protocol: args.protocol,
        compression: args.compression,
        duration,
        rate: args.rate,
        workers: args.workers,
        batch: args.batch,
        exports: args.exports,
        queue: args.queue,
        sdk: args.sdk,
        out: args.out,
        progress: !args.no_progress,
        exe: None,
    };
    let report = run(args.scenario, &options)?;
    print!("{}", report.table());
    println!("results: {}", options.out.join(format!("{}.json", args.scenario.name())).display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_known() {
        for s in LoadScenario::ALL {
            assert_eq!(s.name().parse::<LoadScenario>().expect("known"), s);
        }
        let e = "nope".parse::<LoadScenario>().expect_err("unknown").to_string();
        for s in LoadScenario::ALL {
            assert!(e.contains(s.name()), "{e}");
        }
    }

    #[test]
    fn sweeps_have_their_steps() {
        let o = LoadOptions::default();
        assert_eq!(LoadScenario::HighConcurrency.steps(&o).len(), 5);
        assert_eq!(LoadScenario::BatchProcessing.steps(&o).len(), 4);
        let net = LoadScenario::NetworkIo.steps(&o);
        assert_eq!(net.len(), 9);
        assert_eq!(net[8].step, "grpc+zstd");
        assert_eq!(LoadScenario::Sustained.steps(&o)[0].rate, Some(SUSTAINED_DEFAULT_RATE));
        assert_eq!(LoadScenario::Production.steps(&o)[0].rate, None);
    }

    #[test]
    fn a_run_survives_its_json() {
        let recorder = LatencyRecorder::new();
        for us in [100, 200, 300, 5_000] {
            recorder.record(Duration::from_micros(us));
        }
        let run = RunResult {
            implementation: Implementation::Ours,
            spec: LoadScenario::NetworkIo.steps(&LoadOptions::default())[5].clone(),
            duration_s: 1.5,
            offered: Signals { spans: 70, points: 20, logs: 10 },
            delivered: Signals { spans: 70, points: 20, logs: 5 },
            exported: 95,
            dropped: BTreeMap::from([("queue_full".to_owned(), 5)]),
            latency: recorder.summary(),
            usage: Usage::now(),
            receiver_cpu_s: None,
            offered_per_s: 66.7,
            requests: 3,
            notes: vec!["a note".to_owned()],
        };
        let v = run.to_json();
        assert_eq!(v["dropped_total"], 5);
        assert_eq!(v["latency_us"]["count"], 4);
        assert_eq!(v["compression"], "zstd");
        assert_eq!(RunResult::from_json(&v).expect("reads back"), run);
        // A result written before `--queue` existed ran with the default queue.
        let mut old = v.clone();
        old.as_object_mut().expect("an object").remove("queue_capacity");
        assert_eq!(
            RunResult::from_json(&old).expect("reads back").spec.queue,
            PipelineConfig::default().queue_capacity
        );
    }

    #[test]
    fn an_open_loop_refused_by_a_full_queue_is_told_how_to_make_room() {
        let o = LoadOptions { rate: Some(600_000.0), queue: Some(1_024), ..LoadOptions::default() };
        let spec = LoadScenario::Sustained.steps(&o)[0].clone();
        assert_eq!(spec.queue, 1_024);
        let run = |dropped: u64| RunResult {
            implementation: Implementation::Ours,
            spec: spec.clone(),
            duration_s: 1.0,
            offered: Signals { spans: 1_000, points: 0, logs: 0 },
            delivered: Signals { spans: 1_000 - dropped, points: 0, logs: 0 },
            exported: 1_000 - dropped,
            dropped: BTreeMap::from([(DropReason::QueueFull.name().to_owned(), dropped)]),
            latency: LatencySummary::default(),
            usage: Usage::default(),
            receiver_cpu_s: None,
            offered_per_s: 1_000.0,
            requests: 2,
            notes: Vec::new(),
        };
        let report = |dropped| LoadReport {
            scenario: LoadScenario::Sustained,
            target: "loopback".to_owned(),
            mode: "open",
            runs: vec![run(dropped)],
            load_average: (None, None),
        };
        let t = report(7).table();
        assert!(t.contains("7 refused by the full queue of 1024 items: for this rate try --queue 4096"), "{t}");
        assert!(!report(0).table().contains("try --queue"));
    }

    #[test]
    fn the_receiver_confirms_ours_and_accounts_the_sdk() {
        let spec = LoadScenario::Production.steps(&LoadOptions::default())[0].clone();
        let base = RunResult {
            implementation: Implementation::Ours,
            spec,
            duration_s: 1.0,
            offered: Signals { spans: 700, points: 200, logs: 100 },
            delivered: Signals { spans: 700, points: 200, logs: 100 },
            exported: 1_000,
            dropped: BTreeMap::new(),
            latency: LatencySummary::default(),
            usage: Usage::default(),
            receiver_cpu_s: None,
            offered_per_s: 1_000.0,
            requests: 2,
            notes: Vec::new(),
        };
        let before = ReceiverCounts { spans: 5, ..ReceiverCounts::default() };
        let after = ReceiverCounts { spans: 705, points: 200, logs: 90, ..ReceiverCounts::default() };
        let mut ours = base.clone();
        confirm_with_receiver(&mut ours, after, before);
        assert_eq!(ours.delivered.total(), 990);
        assert_eq!(ours.dropped["unconfirmed"], 10);
        assert_eq!(ours.offered.total(), ours.delivered.total() + ours.dropped_total());

        let mut sdk = RunResult { implementation: Implementation::Sdk, ..base };
        let after = ReceiverCounts { spans: 105, points: 6, logs: 30, ..ReceiverCounts::default() };
        confirm_with_receiver(&mut sdk, after, before);
        assert_eq!(sdk.delivered, Signals { spans: 100, points: 200, logs: 30 });
        assert_eq!(sdk.dropped["unreported"], 670);
    }
}
