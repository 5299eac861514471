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
//! seconds, and writes `profiles/load/<scenario>.json` ([`LoadFile`]).
//!
//! Closed loop (no rate): every producer hands items over with
//! `Handle::send`, which waits for queue room, as fast as it can for the
//! duration. Open loop (a rate): producers offer paced blocks with
//! `try_item` every [`TICK`]; what the queue refuses is counted as dropped by
//! reason, and a late tick is skipped, not made up in a burst.
//!
//! The mix is the production workload's: blocks of 7 spans, one 2-point
//! metric and one log record (70/20/10 of the items).

mod child;
mod results;
mod runner;
mod specs;
mod summary;

use std::time::Duration;

pub use crate::harness::TICK;
pub use child::run_child;
pub use results::{LoadFile, LoadTargets, Ratios, RunRecord, RunResult};
pub use runner::run;
pub use specs::{
    LoadArgs, LoadOptions, LoadScenario, MAX_QUEUE, SUSTAINED_DEFAULT_RATE, StepSpec, UnknownLoadScenario,
};
pub use summary::{LoadReport, TARGET_ITEMS_PER_S, TARGET_P99_US, TARGET_PEAK_RSS_BYTES, TARGET_SDK_RATIO};

use crate::harness::Implementation;
use crate::scenarios;
use otlp_pipeline::pipeline::{DropReason, PipelineConfig};

/// Why a load run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// `--duration` out of range.
    #[error("--duration must be between 0 and 3600 seconds, got {0}")]
    Duration(f64),
    /// `--rate` not a positive number.
    #[error("--rate must be a positive number of items per second")]
    Rate,
    /// A count of zero.
    #[error("--workers, --batch, --exports and --queue must be at least 1")]
    AtLeastOne,
    /// A child asked to run no producers.
    #[error("--workers must be at least 1")]
    NoWorkers,
    /// `--queue` above [`MAX_QUEUE`].
    #[error("--queue must be at most {MAX_QUEUE} items")]
    QueueTooLarge,
    /// `--child` without `--endpoint` (clap requires it; this is for callers of [`cli`]).
    #[error("--child needs --endpoint")]
    ChildNeedsEndpoint,
    /// `--sdk` (or an implementation that ends in the SDK) in a build without the official SDK.
    #[error("{0} needs the official SDK: build with `cargo build --release --features official-sdk`")]
    NoSdk(Implementation),
    /// `--implementations` empty or naming one twice.
    #[error("--implementations must name each stack at most once, and at least one")]
    Implementations,
    /// An implementation the load runner does not drive (the floor, which exports nothing).
    #[error(
        "the load runner drives ours, sdk, tracing-ours, tracing-otel and sdk-ours; {0} exports nothing and runs in exporter-run, exporter-compare and exporter-load only"
    )]
    NotInLoad(Implementation),
    /// The process already had a global `tracing` subscriber.
    #[error(transparent)]
    Subscriber(#[from] crate::stacks::AlreadyInstalled),
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
    /// A producer task panicked or was cancelled.
    #[error("a producer failed: {0}")]
    Producer(#[from] tokio::task::JoinError),
    /// The pipeline refused a producer's item for good.
    #[error("a producer's item was refused: {0}")]
    Refused(DropReason),
    /// The official SDK could not be set up or run.
    #[cfg(feature = "official-sdk")]
    #[error(transparent)]
    Sdk(#[from] crate::sdk::SdkError),
    /// The exporter's shutdown did not return.
    #[error("the exporter's shutdown hung")]
    Hung,
    /// A child process failed or printed something that is not a run.
    #[error("the {implementation} child of step {step}: {failure}", implementation = implementation.flag())]
    Child {
        /// Which implementation.
        implementation: Implementation,
        /// Which step.
        step: String,
        /// What went wrong.
        #[source]
        failure: ChildFailure,
    },
    /// The result file could not be written.
    #[error(transparent)]
    ResultFile(#[from] crate::result_file::ResultFileError),
}

/// How a child process failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChildFailure {
    /// The thread waiting for it failed.
    #[error("waiting for it: {0}")]
    Join(tokio::task::JoinError),
    /// It ran past its duration and grace period.
    #[error("still running after {0:?}")]
    Timeout(Duration),
    /// It exited unsuccessfully.
    #[error("{status} — {stderr}")]
    Exit {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Its standard error, for the reason.
        stderr: String,
    },
    /// Its last line is not a run.
    #[error("its output is not a run ({source}): {stdout}")]
    Output {
        /// Why the line does not parse.
        source: serde_json::Error,
        /// What it printed.
        stdout: String,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LoadError {
    let what = what.into();
    move |source| LoadError::Io { what, source }
}

fn runtime() -> Result<tokio::runtime::Runtime, LoadError> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(io_err("starting a tokio runtime"))
}

/// `otlp-lab load`: runs the scenario and prints its table (or, with the
/// hidden `--child`, one implementation's run as a JSON line).
pub fn cli(args: LoadArgs) -> Result<(), LoadError> {
    if !(args.duration.is_finite() && args.duration > 0.0 && args.duration <= 3_600.0) {
        return Err(LoadError::Duration(args.duration));
    }
    let duration = Duration::from_secs_f64(args.duration);
    if let Some(implementation) = args.child {
        let endpoint = args.endpoint.ok_or(LoadError::ChildNeedsEndpoint)?;
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
        // One line: the parent reads the last line that starts with `{`.
        println!("{}", serde_json::to_string(&run.record()).expect("a run serializes"));
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
        implementations: if args.sdk { vec![Implementation::Ours, Implementation::Sdk] } else { args.implementations },
        out: args.out,
        progress: !args.no_progress,
        exe: None,
    };
    let report = run(args.scenario, &options)?;
    print!("{}", report.table());
    println!("results: {}", LoadFile::path(&options.out, args.scenario).display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::runner::confirm_with_receiver;
    use super::*;
    use crate::harness::{LatencyRecorder, LatencySummary, Signals, Usage};
    use otlp_pipeline::receiver::ReceiverCounts;

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
        let v = serde_json::to_value(run.record()).expect("serializes");
        assert_eq!(v["dropped_total"], 5);
        assert_eq!(v["latency_us"]["count"], 4);
        assert_eq!(v["compression"], "zstd");
        assert_eq!(v["implementation"], "ours");
        let back: RunRecord = serde_json::from_value(v.clone()).expect("reads back");
        assert_eq!(RunResult::from(back), run);
        // A result written before `--queue` existed ran with the default queue.
        let mut old = v.clone();
        old.as_object_mut().expect("an object").remove("queue_capacity");
        let old: RunRecord = serde_json::from_value(old).expect("reads back");
        assert_eq!(RunResult::from(old).spec.queue, PipelineConfig::default().queue_capacity);
    }

    #[test]
    fn a_load_file_survives_its_file() {
        let spec = LoadScenario::Production.steps(&LoadOptions::default())[0].clone();
        let run = |implementation, items: u64| RunResult {
            implementation,
            spec: spec.clone(),
            duration_s: 1.0,
            offered: Signals { spans: items, points: 0, logs: 0 },
            delivered: Signals { spans: items, points: 0, logs: 0 },
            exported: items,
            dropped: BTreeMap::new(),
            latency: LatencySummary { p50: 10.0, p90: 20.0, p99: 30.0, p999: 40.0, max: 50.0, count: 3 },
            usage: Usage { user_s: 0.5, system_s: 0.25, peak_rss_bytes: 1 << 20 },
            receiver_cpu_s: Some((0.125, 0.0625)),
            offered_per_s: items as f64,
            requests: 3,
            notes: vec!["a note".to_owned()],
        };
        let report = LoadReport {
            scenario: LoadScenario::Production,
            target: "loopback".to_owned(),
            mode: "closed",
            runs: vec![run(Implementation::Ours, 1_000), run(Implementation::Sdk, 0)],
            load_average: (Some([1.0, 2.0, 3.0]), None),
        };
        let file = report.file();
        let ratios = file.ratios.as_ref().expect("both ran");
        // Over a rate of zero: no ratio (JSON has no infinity).
        assert_eq!(ratios.items_per_s_vs_sdk, None);
        assert_eq!(ratios.p99_us_vs_sdk, Some(1.0));
        let dir = std::env::temp_dir().join(format!("otlp-lab-load-file-{}", std::process::id()));
        let path = LoadFile::path(&dir, LoadScenario::Production);
        file.write(&path).expect("writes");
        let back = LoadFile::read(&path).expect("reads").expect("exists");
        let _cleaned = std::fs::remove_dir_all(&dir);
        assert_eq!(back, file);
        assert_eq!(back.runs.into_iter().map(RunResult::from).collect::<Vec<_>>(), report.runs);
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
