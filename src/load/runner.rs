//! The parent: the receiver, the children, the result file.

use std::path::Path;
use std::time::{Duration, Instant};

use super::results::{LoadFile, RunRecord, RunResult};
use super::specs::{LoadOptions, LoadScenario, MAX_QUEUE, StepSpec};
use super::summary::{LoadReport, load_average};
use super::{ChildFailure, LoadError, io_err, runtime};
use crate::harness::{Implementation, Signals, Usage};
use otlp_pipeline::exporter::Protocol;
use otlp_pipeline::receiver::{Receiver, ReceiverConfig, ReceiverCounts};

/// The stacks a load run drives: all that export (the floor exports nothing).
const LOADED: [Implementation; 5] = [
    Implementation::Ours,
    Implementation::Sdk,
    Implementation::TracingOurs,
    Implementation::TracingOtel,
    Implementation::SdkOurs,
];

/// Longest a child may run past its duration (drain, start-up) before the
/// parent gives up on it.
const CHILD_GRACE: Duration = Duration::from_secs(60);

/// Runs every step of `scenario`, each implementation in a child process,
/// against the loopback receiver started here (or `options.endpoint`);
/// writes `<out>/<scenario>.json` and returns the report.
pub fn run(scenario: LoadScenario, options: &LoadOptions) -> Result<LoadReport, LoadError> {
    let implementations = &options.implementations;
    if implementations.is_empty()
        || (1..implementations.len()).any(|i| implementations[..i].contains(&implementations[i]))
    {
        return Err(LoadError::Implementations);
    }
    for &imp in implementations {
        if !LOADED.contains(&imp) {
            return Err(LoadError::NotInLoad(imp));
        }
        if imp.check_available().is_err() {
            return Err(LoadError::NoSdk(imp));
        }
    }
    if options.duration.is_zero() {
        return Err(LoadError::Duration(0.0));
    }
    if options.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(LoadError::Rate);
    }
    if options.workers == Some(0) || options.batch == Some(0) || options.exports == Some(0) || options.queue == Some(0)
    {
        return Err(LoadError::AtLeastOne);
    }
    if options.queue.is_some_and(|q| q > MAX_QUEUE) {
        return Err(LoadError::QueueTooLarge);
    }
    let exe = match &options.exe {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(io_err("finding the otlp-lab executable"))?,
    };
    let steps = scenario.steps(options);
    let mode = if steps.iter().any(|s| s.rate.is_some()) { "open" } else { "closed" };
    let rt = runtime()?;
    let receiver = match &options.endpoint {
        Some(_) => None,
        None => Some(
            rt.block_on(Receiver::start(ReceiverConfig {
                grpc_addr: Some(([127, 0, 0, 1], 0).into()),
                ..ReceiverConfig::default()
            }))
            .map_err(io_err("starting the loopback receiver"))?,
        ),
    };
    let load_before = load_average();
    let mut runs = Vec::new();
    for spec in &steps {
        for &imp in implementations {
            if imp.needs_sdk() && spec.protocol == Protocol::HttpJson {
                // opentelemetry-otlp's http-json feature is not built here.
                continue;
            }
            let endpoint = match (&options.endpoint, &receiver) {
                (Some(e), _) => e.clone(),
                (None, Some(r)) if spec.protocol == Protocol::Grpc => {
                    r.grpc_endpoint().expect("the loopback receiver is started with gRPC")
                }
                (None, Some(r)) => r.http_endpoint(),
                (None, None) => unreachable!("a receiver is started when no endpoint is given"),
            };
            let run =
                rt.block_on(run_in_child(&exe, scenario, imp, spec, &endpoint, receiver.as_ref(), options.progress))?;
            runs.push(run);
        }
    }
    let report = LoadReport {
        scenario,
        target: options.endpoint.clone().unwrap_or_else(|| "loopback".to_owned()),
        mode,
        runs,
        load_average: (load_before, load_average()),
    };
    write_report(&report, &options.out)?;
    Ok(report)
}

fn write_report(report: &LoadReport, out: &Path) -> Result<(), LoadError> {
    Ok(report.file().write(&LoadFile::path(out, report.scenario))?)
}

/// The arguments of a child for one step.
fn child_args(scenario: LoadScenario, imp: Implementation, spec: &StepSpec, endpoint: &str) -> Vec<String> {
    let mut args = vec![
        "load".to_owned(),
        scenario.name().to_owned(),
        "--child".to_owned(),
        imp.flag().to_owned(),
        "--step".to_owned(),
        spec.step.clone(),
        "--endpoint".to_owned(),
        endpoint.to_owned(),
        "--protocol".to_owned(),
        spec.protocol.to_string(),
        "--compression".to_owned(),
        spec.compression.to_string(),
        "--duration".to_owned(),
        spec.duration.as_secs_f64().to_string(),
        "--workers".to_owned(),
        spec.workers.to_string(),
        "--batch".to_owned(),
        spec.batch.to_string(),
        "--exports".to_owned(),
        spec.exports.to_string(),
        "--queue".to_owned(),
        spec.queue.to_string(),
        "--no-progress".to_owned(),
    ];
    if let Some(rate) = spec.rate {
        args.extend(["--rate".to_owned(), rate.to_string()]);
    }
    args
}

/// Runs one child while the receiver serves on this runtime; draws the
/// progress bar from the receiver's counts.
async fn run_in_child(
    exe: &Path,
    scenario: LoadScenario,
    imp: Implementation,
    spec: &StepSpec,
    endpoint: &str,
    receiver: Option<&Receiver>,
    progress: bool,
) -> Result<RunResult, LoadError> {
    let child_err = |failure: ChildFailure| LoadError::Child { implementation: imp, step: spec.step.clone(), failure };
    let before = receiver.map(Receiver::counts);
    let usage_before = Usage::now();
    let mut cmd = std::process::Command::new(exe);
    cmd.args(child_args(scenario, imp, spec, endpoint))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().map_err(io_err(format!("starting {}", exe.display())))?;
    let waiting = tokio::task::spawn_blocking(move || child.wait_with_output());
    let bar = progress_bar(progress, imp, spec);
    let started = Instant::now();
    let limit = spec.duration + CHILD_GRACE;
    let mut waiting = std::pin::pin!(waiting);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let output = loop {
        tokio::select! {
            done = &mut waiting => break done.map_err(|e| child_err(ChildFailure::Join(e)))?.map_err(io_err("waiting for the child"))?,
            _ = tick.tick() => {
                let elapsed = started.elapsed();
                if elapsed > limit {
                    return Err(child_err(ChildFailure::Timeout(limit)));
                }
                if let (Some(bar), Some(r), Some(b)) = (&bar, receiver, before) {
                    let n = delta_total(r.counts(), b);
                    bar.set_position(elapsed.as_millis().min(spec.duration.as_millis()) as u64);
                    bar.set_message(format!("{n} items delivered, {:.0} items/s", n as f64 / elapsed.as_secs_f64().max(1e-3)));
                } else if let Some(bar) = &bar {
                    bar.set_position(elapsed.as_millis().min(spec.duration.as_millis()) as u64);
                }
            }
        }
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let usage_after = Usage::now();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(child_err(ChildFailure::Exit { status: output.status, stderr: stderr.trim().to_owned() }));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().rev().find(|l| l.trim_start().starts_with('{')).unwrap_or("");
    let record: RunRecord = serde_json::from_str(line)
        .map_err(|source| child_err(ChildFailure::Output { source, stdout: stdout.trim().to_owned() }))?;
    let mut run = RunResult::from(record);
    if let (Some(r), Some(b)) = (receiver, before) {
        confirm_with_receiver(&mut run, r.counts(), b);
        run.receiver_cpu_s =
            Some((usage_after.user_s - usage_before.user_s, usage_after.system_s - usage_before.system_s));
    }
    Ok(run)
}

fn delta_total(after: ReceiverCounts, before: ReceiverCounts) -> u64 {
    (after.spans + after.points + after.logs).saturating_sub(before.spans + before.points + before.logs)
}

/// Replaces a run's delivered counts with what the receiver took, and makes
/// the drops add up: for ours, anything exported but not received is
/// counted as `unconfirmed` (and the same for `tracing-ours` and `sdk-ours`,
/// whose metric measurements count as delivered once their aggregated
/// points arrived, as the SDK's do); the SDK
/// (`sdk`, `tracing-otel`) drops silently, so everything offered and not
/// received is `unreported`.
pub(super) fn confirm_with_receiver(run: &mut RunResult, after: ReceiverCounts, before: ReceiverCounts) {
    let got = Signals {
        spans: after.spans.saturating_sub(before.spans),
        points: after.points.saturating_sub(before.points),
        logs: after.logs.saturating_sub(before.logs),
    };
    match run.implementation {
        Implementation::Sdk | Implementation::TracingOtel => {
            // The SDK aggregates measurements: the receiver gets a few
            // points per instrument, which hold every measurement recorded.
            let points = if got.points > 0 { run.offered.points } else { 0 };
            run.notes.push(format!(
                "receiver got {} metric points aggregating {} measurements",
                got.points, run.offered.points
            ));
            run.delivered = Signals { spans: got.spans, points, logs: got.logs };
            run.dropped.clear();
            let lost = run.offered.total().saturating_sub(run.delivered.total());
            if lost > 0 {
                run.dropped.insert("unreported".to_owned(), lost);
            }
        }
        // Ours counts its own drops: what was neither received nor counted is flagged.
        other => {
            run.delivered = got;
            if other == Implementation::SdkOurs {
                // The SDK's meter aggregates the measurements before our pipeline gets them.
                run.notes.push(format!(
                    "receiver got {} metric points aggregating {} measurements",
                    got.points, run.offered.points
                ));
                run.delivered.points = if got.points > 0 { run.offered.points } else { 0 };
            }
            let missing = run.offered.total().saturating_sub(run.delivered.total() + run.dropped_total());
            if missing > 0 {
                run.dropped.insert("unconfirmed".to_owned(), missing);
                run.notes.push(format!("{missing} items neither received nor counted as dropped"));
            }
        }
    }
}

fn progress_bar(progress: bool, imp: Implementation, spec: &StepSpec) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if !progress || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(spec.duration.as_millis() as u64);
    let style = indicatif::ProgressStyle::with_template("{prefix:>28} [{elapsed_precise}] {wide_bar} {msg}")
        .expect("the template is valid");
    bar.set_style(style);
    bar.set_prefix(format!("{} {}", imp.flag(), spec.step));
    Some(bar)
}
