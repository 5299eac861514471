//! `otlp-lab`: the lab's command line.

use std::error::Error;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use otlp_lab::lab::workloads::Workload;

/// The allocation- and CPU-profiling lab for an OTLP telemetry pipeline.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every workload with what it measures.
    List,
    /// Run one workload natively, print its outcome and the median wall time.
    Run {
        /// Workload name (see `list`).
        name: Workload,
        /// Measured iterations after one warm-up run.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        iterations: u32,
    },
    /// Encode the standard fixtures with every encoder and print sizes.
    Sizes {
        /// Spans (and log records) per batch; metrics use a tenth as many points... at least 10.
        #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        items: u32,
    },
    /// Print instructions per item from iai-callgrind `--output-format=json` files.
    Icount {
        /// Files with one JSON object per line, as the runner prints them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("otlp-lab: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn Error>> {
    match cli.command {
        Command::List => {
            for w in Workload::ALL {
                println!("{:<32} {:<14} {}", w.name(), format!("{:?}", w.category()).to_lowercase(), w.description());
            }
        }
        Command::Run { name, iterations } => {
            let mut p = name.prepare();
            let first = p.run();
            let mut times = Vec::with_capacity(iterations as usize);
            for _ in 0..iterations {
                let t = Instant::now();
                let o = p.run();
                times.push(t.elapsed());
                if o != first {
                    return Err(format!("{name}: outcome changed between runs: {first:?} then {o:?}").into());
                }
            }
            times.sort();
            let median = times[times.len() / 2];
            println!("{name}: items={} bytes={} checksum={:#018x}", first.items, first.bytes, first.checksum);
            println!(
                "median {:?} over {iterations} runs ({:.0} ns/item); wall time is indicative only, instruction counts come from `cargo bench`",
                median,
                median.as_nanos() as f64 / first.items.max(1) as f64
            );
        }
        Command::Sizes { items } => otlp_lab::lab::report::print_sizes(items as usize),
        Command::Icount { files } => {
            let mut rows = Vec::new();
            for f in &files {
                let text = fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
                rows.extend(
                    otlp_lab::lab::report::parse_icount_lines(&text).map_err(|e| format!("{}: {e}", f.display()))?,
                );
            }
            print!("{}", otlp_lab::lab::report::icount_table(&rows));
        }
    }
    Ok(())
}
