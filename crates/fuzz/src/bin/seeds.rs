//! Writes the generated seeds (`otlp_pipeline_fuzz::seeds`) of one target, or
//! of all, into `DIR/<target>/seed_<name>`: `seeds DIR [TARGET]`.
//! scripts/fuzz.sh adds them to the committed corpus of the run.

use std::path::PathBuf;
use std::process::ExitCode;

use otlp_pipeline_fuzz::{Target, seeds};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, targets) = match args.as_slice() {
        [dir] => (PathBuf::from(dir), Target::ALL.to_vec()),
        [dir, name] => match Target::from_name(name) {
            Some(t) => (PathBuf::from(dir), vec![t]),
            None => {
                eprintln!("error: no fuzz target `{name}`");
                return ExitCode::FAILURE;
            }
        },
        _ => {
            eprintln!("usage: seeds DIR [TARGET]");
            return ExitCode::FAILURE;
        }
    };
    for target in targets {
        let out = dir.join(target.name());
        if let Err(e) = std::fs::create_dir_all(&out) {
            eprintln!("error: cannot create {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
        for (name, bytes) in seeds(target) {
            let path = out.join(format!("seed_{name}"));
            if let Err(e) = std::fs::write(&path, bytes) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
