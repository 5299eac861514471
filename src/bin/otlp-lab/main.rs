//! `otlp-lab`: the lab's command line.

mod args;
mod gate;

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use otlp_lab::Job;
use otlp_lab::scenarios::ScenarioParams;

use args::{Cli, Command};
use gate::{CompareFiles, compare, history};

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("otlp-lab: {e}");
            // A refusal to compare is neither a bad file (1) nor a flagged run (3).
            if e.downcast_ref::<otlp_lab::toolchain::Refusal>().is_some() {
                ExitCode::from(ENVIRONMENT_REFUSED)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Box<dyn Error>> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

fn run(cli: Cli) -> Result<(), Box<dyn Error>> {
    match cli.command {
        Command::List => {
            for j in Job::all() {
                println!("{:<34} {:<14} {}", j.name(), j.kind(), j.description());
            }
        }
        Command::Run { name, iterations, scale, duration } => {
            let params = ScenarioParams { duration: Duration::from_secs(duration), scale };
            run_job(name, iterations, &params)?;
        }
        Command::Receive { http, grpc, expect_spans, expect_points, expect_logs, timeout, limits } => {
            let expect = [expect_spans, expect_points, expect_logs];
            let config = limits.config(http, grpc);
            return Ok(runtime()?.block_on(otlp_lab::net::receive(config, expect, Duration::from_secs(timeout)))?);
        }
        Command::Send { endpoint, loopback, protocol, compression, spans, points, logs, deadline } => {
            let plan = otlp_lab::net::SendPlan {
                protocol,
                compression,
                spans,
                points,
                logs,
                deadline: Duration::from_secs(deadline),
            };
            let endpoint = (!loopback).then(|| {
                endpoint.unwrap_or_else(|| {
                    let port = if protocol == otlp_pipeline::exporter::Protocol::Grpc { 4317 } else { 4318 };
                    format!("http://127.0.0.1:{port}")
                })
            });
            return Ok(runtime()?.block_on(otlp_lab::net::send(endpoint, plan))?);
        }
        Command::Attack(args) => {
            let file = otlp_lab::attack::cli(&args)?;
            if file.rows.iter().any(|r| !r.valid_after) {
                return Err("the receiver did not accept a valid request after an attack".into());
            }
        }
        Command::Encode { out, items } => {
            let written = otlp_lab::report::write_fixture_bodies(&out, items as usize)
                .map_err(|e| format!("{}: {e}", out.display()))?;
            for (name, bytes) in written {
                println!("{} {bytes}", out.join(name).display());
            }
        }
        Command::Load(args) => otlp_lab::load::cli(args)?,
        Command::ExporterRun { implementation, spans, endpoint, protocol, compression, usage } => {
            use otlp_lab::exporter_run::{Case, RunPlan, run};
            let plan = RunPlan { implementation, spans, endpoint, case: Case { protocol, compression } };
            let started = std::time::Instant::now();
            let report = run(&plan)?;
            let wall = started.elapsed();
            eprintln!(
                "otlp-lab: {implementation} exported {} of {} spans ({})",
                report.exported, report.created, plan.case
            );
            if usage {
                let u = otlp_lab::exporter_load::RunUsage::now(implementation, spans, report.exported, wall);
                println!("{}", serde_json::to_string(&u)?);
            }
        }
        Command::ExporterLoad { implementations, case, spans, repeats } => {
            use otlp_lab::exporter_load::{LoadConfig, run, table};
            let cfg = LoadConfig { implementations, case, spans, repeats, exe: std::env::current_exe()? };
            let rows = run(&cfg)?;
            print!("{}", table(&cfg, &rows));
        }
        Command::ExporterCompare { repeats, low, high, implementations, cases, no_heap, out } => {
            use otlp_lab::exporter_compare::{CompareConfig, compare, table};
            let exe = std::env::current_exe()?;
            let cfg = CompareConfig { repeats, low, high, implementations, cases, heap: !no_heap, out, exe };
            let rows = compare(&cfg)?;
            print!("{}", table(&cfg, &rows));
        }
        Command::Sizes { items } => otlp_lab::report::print_sizes(items as usize),
        Command::Icount { files } => {
            print!("{}", otlp_lab::report::icount_table(&read_icount(&files)?));
        }
        Command::Flame { name, duration, frequency, blocklist, no_blocklist, scale, max_iterations, diff, out } => {
            if !(duration.is_finite() && duration > 0.0 && duration <= 86_400.0) {
                return Err(format!("--duration must be between 0 and 86400 seconds, got {duration}").into());
            }
            let config = otlp_lab::flame::FlameConfig {
                duration: Duration::from_secs_f64(duration),
                frequency_hz: frequency,
                blocklist: if blocklist || no_blocklist { blocklist } else { otlp_lab::flame::DEFAULT_BLOCKLIST },
                scale,
                max_iterations,
            };
            otlp_lab::flame::flame(name, &config, diff.as_deref(), &out)?;
        }
        Command::Report { profiles, flamegraphs, baseline, out, floor, history } => {
            if !(floor.is_finite() && floor >= 0.0) {
                return Err(format!("--floor must be a percentage of zero or more, got {floor}").into());
            }
            let baseline = baseline.unwrap_or_else(|| profiles.join("baselines/main.json"));
            let cfg = otlp_lab::html::Config {
                history: history.unwrap_or_else(|| baseline.with_file_name("history.jsonl")),
                baseline,
                out: out.unwrap_or_else(|| profiles.clone()),
                profiles,
                flamegraphs,
                floor_pct: floor,
            };
            let w = otlp_lab::html::build(&cfg)?;
            println!("report: {} and {}", w.html.display(), w.markdown.display());
            println!("exports: {} and {}", w.bmf.display(), w.github_action_benchmark.display());
            if !w.not_run.is_empty() {
                println!("not run (missing): {}", w.not_run.join(", "));
            }
            if w.gate_failed {
                println!("the regression gate flagged benches (see the report's instruction counts)");
            }
        }
        Command::Env { out } => {
            let env = otlp_lab::html::env::write(&out)?;
            println!(
                "{}: {} ({} cores), {}, {} (LLVM {})",
                out.display(),
                env.cpu_model,
                env.cores,
                env.kernel,
                env.rustc.version,
                env.rustc.llvm_version.as_deref().unwrap_or("none")
            );
        }
        Command::Heap { args } => return heap_tool("run", &args),
        Command::HeapFlame { profile, diff } => {
            use otlp_lab::heap::fold::{DhatProfile, write_flamegraphs};
            let old = diff.map(|p| DhatProfile::read(&p).map(|d| (p, d))).transpose()?;
            let dhat = DhatProfile::read(&profile)?;
            let old = old.as_ref().map(|(p, d)| (p.as_path(), d));
            for p in write_flamegraphs(&profile, &dhat, old, &mut |note| eprintln!("otlp-lab heap-flame: {note}"))? {
                println!("{}", p.display());
            }
        }
        Command::Pool { args } => return heap_tool("pool", &args),
        Command::Audit { args } => return heap_tool("audit", &args),
        Command::Bmf { files, out } => {
            let results = otlp_lab::baseline::from_rows(&read_icount(&files)?);
            if results.is_empty() {
                return Err("no bench results in the given files".into());
            }
            let blind = otlp_lab::budgets::blind_allocation_counts(&results);
            if !blind.is_empty() {
                return Err(format!(
                    "DHAT counted 0 blocks per run on {}, whose budgets are above zero: the frame it counts under \
                     ({}) is missing from their stacks (renamed, inlined, or left by a tail call; src/bench_config.rs)",
                    blind.join(", "),
                    otlp_lab::bench_config::DHAT_ENTRY_POINT
                )
                .into());
            }
            let text = otlp_lab::baseline::to_bmf(&results);
            match out {
                Some(path) => {
                    fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                    otlp_lab::baseline::RunRecord::from_files(&files).write_beside(&path)?;
                    let env = otlp_lab::html::env::collect_in(Path::new("."))?;
                    env.write(&otlp_lab::html::env::Environment::path_for(&path))?;
                }
                None => print!("{text}"),
            }
        }
        Command::Suites { results } => match otlp_lab::baseline::RunRecord::read_beside(&results)? {
            Some(r) if r.is_full() => println!("full {}", r.suites.join(" ")),
            Some(r) => println!("partial {}", r.suites.join(" ")),
            None => println!("unknown"),
        },
        Command::Readme { check, write, baseline, readme } => {
            let text = fs::read_to_string(&baseline).map_err(|e| format!("{}: {e}", baseline.display()))?;
            let results = otlp_lab::baseline::from_bmf(&text).map_err(|e| format!("{}: {e}", baseline.display()))?;
            let table = otlp_lab::readme::headline_table(&results, |w| w.prepare().run().items)?;
            if !(check || write) {
                print!("{table}");
                return Ok(());
            }
            let old = fs::read_to_string(&readme).map_err(|e| format!("{}: {e}", readme.display()))?;
            let new = otlp_lab::readme::splice(&old, &table).map_err(|e| format!("{}: {e}", readme.display()))?;
            if write {
                if new != old {
                    fs::write(&readme, &new).map_err(|e| format!("{}: {e}", readme.display()))?;
                    println!("{}: headline table rewritten from {}", readme.display(), baseline.display());
                } else {
                    println!("{}: headline table already matches {}", readme.display(), baseline.display());
                }
            } else if new != old {
                return Err(format!(
                    "{}: the headline table disagrees with {}; expected:\n{table}run `target/release/otlp-lab readme --write` and commit",
                    readme.display(),
                    baseline.display()
                )
                .into());
            } else {
                println!("{}: headline table matches {}", readme.display(), baseline.display());
            }
        }
        Command::History { command } => history(command)?,
        Command::Compare {
            baseline,
            results,
            floor,
            exact,
            partial,
            previous,
            justified,
            allow_unknown_environment,
            history,
        } => {
            let files = CompareFiles {
                baseline: &baseline,
                results: &results,
                previous: previous.as_deref(),
                justified: justified.as_deref(),
                history: history.as_deref(),
            };
            return compare(&files, floor, exact, partial, allow_unknown_environment);
        }
    }
    Ok(())
}

/// Runs a job once as a warm-up and then `iterations` times, checking that
/// every run gives the same outcome (sustained_load excepted: it is paced by
/// the clock), and prints the outcome and the median wall time.
fn run_job(job: Job, iterations: Option<u32>, params: &ScenarioParams) -> Result<(), Box<dyn Error>> {
    let mut p = job.prepare(params).map_err(|e| format!("{job}: {e}"))?;
    // A micro-workload takes microseconds, a scenario up to seconds.
    let iterations = iterations.unwrap_or(if matches!(job, Job::Workload(_)) { 20 } else { 1 });
    let first = p.run().map_err(|e| format!("{job}: {e}"))?;
    let mut times = Vec::with_capacity(iterations as usize);
    for _ in 0..iterations {
        let t = Instant::now();
        let o = p.run().map_err(|e| format!("{job}: {e}"))?;
        times.push(t.elapsed());
        if job.repeatable() && o != first {
            return Err(format!("{job}: outcome changed between runs: {first:?} then {o:?}").into());
        }
    }
    times.sort();
    let median = times[times.len() / 2];
    println!("{job}: items={} bytes={} checksum={:#018x}", first.items, first.bytes, first.checksum);
    println!(
        "median {median:?} over {iterations} runs after a warm-up ({:.0} ns/item); wall time is indicative only, instruction counts come from `cargo bench`",
        median.as_nanos() as f64 / first.items.max(1) as f64
    );
    for row in p.rows() {
        println!("  {row}");
    }
    Ok(())
}

/// Exit code of `compare` when the gate flags a regression (iai-callgrind's
/// runner uses the same for its own limits).
const GATE_FAILED: i32 = 3;

/// Exit code of `compare` when it refuses to compare (different toolchains,
/// or an environment record missing).
const ENVIRONMENT_REFUSED: u8 = 4;

/// Runs the heap profiler binary, which sits beside this one (it has dhat's
/// global allocator, this one keeps the system's).
fn heap_tool(command: &str, args: &[String]) -> Result<(), Box<dyn Error>> {
    let exe = std::env::current_exe()?.with_file_name("otlp-lab-heap");
    let status =
        std::process::Command::new(&exe).arg(command).args(args).status().map_err(|e| {
            format!("{}: {e} (build it with `cargo build --release --bin otlp-lab-heap`)", exe.display())
        })?;
    if status.success() { Ok(()) } else { Err(format!("otlp-lab-heap {command} failed ({status})").into()) }
}

/// Reads bench rows from iai-callgrind JSON-lines files.
fn read_icount(files: &[PathBuf]) -> Result<Vec<otlp_lab::report::IcountRow>, Box<dyn Error>> {
    let mut rows = Vec::new();
    for f in files {
        let text = fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        rows.extend(otlp_lab::report::parse_icount_lines(&text).map_err(|e| format!("{}: {e}", f.display()))?);
    }
    Ok(rows)
}
