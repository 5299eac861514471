//! `compare` (the regression gate against a baseline and the previous
//! commit's) and the `history` commands that keep its fences.

use std::error::Error;
use std::fs;
use std::path::Path;

use crate::GATE_FAILED;
use crate::args::HistoryCommand;

/// The `history` commands.
pub(crate) fn history(command: HistoryCommand) -> Result<(), Box<dyn Error>> {
    use otlp_lab::history::{self, Entry, History, MIN_CHANGES};
    let root = Path::new(".");
    match command {
        HistoryCommand::Backfill { file, baseline } => {
            let old = History::read(&file)?;
            let b = history::backfill(root, &baseline, old.as_ref())?;
            for note in &b.skipped {
                println!("note: skipped {note}");
            }
            if b.history.is_empty() {
                return Err(format!("no commit with a BMF {baseline}: nothing to write to {}", file.display()).into());
            }
            b.history.write(&file)?;
            println!(
                "{}: {} lines ({} commits that changed {baseline}, {} lines of other commits kept, {} dirty lines superseded, {} versions skipped)",
                file.display(),
                b.history.len(),
                b.history.len() - b.kept,
                b.kept,
                b.superseded,
                b.skipped.len()
            );
        }
        HistoryCommand::Append { results, file } => {
            let text = fs::read_to_string(&results).map_err(|e| format!("{}: {e}", results.display()))?;
            let run = otlp_lab::baseline::from_bmf(&text).map_err(|e| format!("{}: {e}", results.display()))?;
            if run.is_empty() {
                return Err(format!("{}: no benches to append", results.display()).into());
            }
            let info = history::commit_info(root, "HEAD")?;
            let dirty = history::tree_dirty(root)?;
            let mut h = History::read(&file)?.unwrap_or_default();
            let replaced = h.entries().any(|(e, _)| e.commit == info.commit);
            let (short, subject) = (info.short.clone(), info.subject.clone());
            h.upsert(Entry::new(info, dirty, &run))?;
            h.write(&file)?;
            println!(
                "{}: {} {short} {subject}{} ({} benches; {} lines)",
                file.display(),
                if replaced { "replaced the line of" } else { "appended" },
                if dirty { " (dirty: the working tree has changes)" } else { "" },
                run.len(),
                h.len()
            );
        }
        HistoryCommand::Show { bench, file } => {
            let h = History::read(&file)?
                .ok_or_else(|| format!("{}: no such file (`otlp-lab history backfill` builds it)", file.display()))?;
            match bench {
                Some(b) => {
                    let rows: Vec<_> = h.series(&b).collect();
                    if rows.is_empty() {
                        return Err(format!("{}: no line has the bench `{b}`", file.display()).into());
                    }
                    println!("{:<9} {:<20} {:>14} {:>9}  subject", "commit", "date", "instructions", "change");
                    let mut prev: Option<u64> = None;
                    for (_, e, n) in rows {
                        let change = prev.filter(|p| *p > 0).map_or_else(
                            || "-".to_owned(),
                            |p| format!("{:+.3}%", (n as f64 - p as f64) / p as f64 * 100.0),
                        );
                        let dirty = if e.dirty { " (dirty)" } else { "" };
                        println!("{:<9} {:<20} {n:>14} {change:>9}  {}{dirty}", e.short, e.date, e.subject);
                        prev = Some(n);
                    }
                    print_fences(&h, Some(&b));
                }
                None => print_fences(&h, None),
            }
            println!(
                "the gate applies a fence once a bench has {MIN_CHANGES} past changes: a change beyond the smaller of the floor and the fence (at least {}%) is flagged (README, \"Baselines and the regression gate\")",
                otlp_lab::baseline::FENCE_MIN_PCT
            );
        }
    }
    Ok(())
}

/// The fence table of `history show`: every bench, or one.
pub(crate) fn print_fences(h: &otlp_lab::history::History, only: Option<&str>) {
    println!("{:<40} {:>7} {:>9} {:>9} {:>9}  gate", "bench", "changes", "Q1", "Q3", "fence");
    let fences = h.fences();
    for b in h.benches() {
        if only.is_some_and(|o| o != b) {
            continue;
        }
        match fences.get(b) {
            Some(f) => println!(
                "{b:<40} {:>7} {:>8.3}% {:>8.3}% {:>8.3}%  {}",
                f.changes,
                f.q1_pct,
                f.q3_pct,
                f.upper_pct,
                if f.applies() { "applied" } else { "too few changes: the floor alone" }
            ),
            None => println!(
                "{b:<40} {:>7} {:>9} {:>9} {:>9}  too few changes: the floor alone",
                h.changes(b).len(),
                "-",
                "-",
                "-"
            ),
        }
    }
}

/// The files `compare` reads.
pub(crate) struct CompareFiles<'a> {
    pub(crate) baseline: &'a Path,
    pub(crate) results: &'a Path,
    pub(crate) previous: Option<&'a Path>,
    pub(crate) justified: Option<&'a Path>,
    pub(crate) history: Option<&'a Path>,
}

/// The `compare` command: the environment records first (a different
/// toolchain or a missing record refuses), then the determinism check with
/// `exact`, else the gate against the current baseline and, with `previous`,
/// the previous one.
pub(crate) fn compare(
    files: &CompareFiles<'_>,
    floor: f64,
    exact: bool,
    partial: bool,
    allow_unknown_environment: bool,
) -> Result<(), Box<dyn Error>> {
    use otlp_lab::baseline::{self, Gate, JustificationFile, RunRecord, Scope};
    let CompareFiles { baseline, results, previous, justified, history } = *files;
    if !(floor.is_finite() && floor >= 0.0) {
        return Err(format!("--floor must be a percentage of zero or more, got {floor}").into());
    }
    let read = |p: &Path| -> Result<baseline::Results, Box<dyn Error>> {
        let text = fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(baseline::from_bmf(&text).map_err(|e| format!("{}: {e}", p.display()))?)
    };
    let (old, new) = (read(baseline)?, read(results)?);
    if new.is_empty() {
        return Err(format!("{}: no benches to judge", results.display()).into());
    }
    let current_env = check_environments(baseline, results, allow_unknown_environment)?;
    if exact {
        let diffs = baseline::differences(&old, &new);
        for (id, a, b) in &diffs {
            println!("{id}: {a:?} vs {b:?}");
        }
        if !diffs.is_empty() {
            return Err(format!("{} benches differ between the two runs (determinism check)", diffs.len()).into());
        }
        println!("determinism: {} benches, identical instruction and allocation counts", new.len());
        return Ok(());
    }
    let record = RunRecord::read_beside(results)?;
    let record_path = RunRecord::path_for(results);
    let scope = match (&record, partial) {
        (Some(r), true) if !r.is_full() => r.scope(),
        // A partial judgement only for a run recorded as partial: a full run
        // that lost a bench cannot be passed off as a partial one.
        (Some(r), true) => {
            return Err(format!(
                "--partial, but {} says every quick suite ran ({}): judge it as a full run",
                record_path.display(),
                r.suites.join(", ")
            )
            .into());
        }
        (None, true) => {
            return Err(format!(
                "--partial needs the run's record of its suites, {}, which is missing (`otlp-lab bmf --out` writes it)",
                record_path.display()
            )
            .into());
        }
        (Some(r), false) if !r.is_full() => {
            println!(
                "note: {} says this run is partial (suites: {}); without --partial it is judged as a full run",
                record_path.display(),
                r.suites.join(", ")
            );
            Scope::Full
        }
        _ => Scope::Full,
    };
    let fences_pct = match history {
        None => Default::default(),
        Some(p) => {
            let h = otlp_lab::history::History::read(p)?.ok_or_else(|| {
                format!("{}: no such history file (`otlp-lab history backfill` builds it)", p.display())
            })?;
            let fences = h.gate_fences();
            println!(
                "history: {}, {} entries; {} benches have at least {} past changes, each judged against the smaller of the floor and its fence",
                p.display(),
                h.len(),
                fences.len(),
                otlp_lab::history::MIN_CHANGES
            );
            fences
        }
    };
    let gate = Gate { floor_pct: floor, scope, fences_pct };
    println!("against the current baseline, {}:", baseline.display());
    let current = baseline::compare(&old, &new, &gate);
    print!("{}", current.table());
    let mut passed = current.passed();
    if let Some(prev_path) = previous {
        let prev = read(prev_path)?;
        let file = match justified {
            Some(p) => JustificationFile::read(p)?,
            None => JustificationFile::default(),
        };
        if prev == old {
            println!(
                "against the previous baseline, {}: identical to the current baseline, so the comparison above covers it",
                prev_path.display()
            );
        } else {
            println!("against the previous baseline, {}:", prev_path.display());
            note_previous_environment(prev_path, current_env.as_ref())?;
            let c = baseline::compare_with_previous(&prev, &old, &new, &file, &gate);
            print!("{}", c.table());
            if !c.needed.is_empty() {
                let where_ = justified.map_or_else(
                    || JustificationFile::path_for(baseline).display().to_string(),
                    |p| p.display().to_string(),
                );
                println!(
                    "the current baseline made these counts worse; each needs an entry in {where_} with a reviewed `why`:"
                );
                print!("{}", JustificationFile { justified: c.needed.clone() }.to_text());
            }
            passed &= c.passed();
        }
    }
    if !passed {
        // Its own exit code, so that scripts can tell a flagged run
        // from a file that could not be read (exit 1).
        eprintln!("otlp-lab: regression gate failed against {}", baseline.display());
        std::process::exit(GATE_FAILED);
    }
    Ok(())
}

/// The environment gate of `compare`: reads the records beside the baseline
/// and the run and refuses ([`Refusal`](otlp_lab::toolchain::Refusal)) when
/// their toolchains differ, or when one is missing without
/// `allow_unknown`; prints the differences that are only warnings. Returns
/// the record of the current toolchain (the baseline's, else the run's) for
/// the comparison with the previous baseline.
pub(crate) fn check_environments(
    baseline: &Path,
    results: &Path,
    allow_unknown: bool,
) -> Result<Option<otlp_lab::html::env::Environment>, Box<dyn Error>> {
    use otlp_lab::html::env::Environment;
    use otlp_lab::toolchain::Refusal;
    let base = Environment::read_beside(baseline)?;
    let run = Environment::read_beside(results)?;
    match (&base, &run) {
        (Some(b), Some(r)) => {
            let check = b.check(r);
            if !check.comparable() {
                let (baseline, run) = (baseline.to_owned(), results.to_owned());
                return Err(Refusal::Toolchain { baseline, run, differences: check.refused }.into());
            }
            for w in &check.warned {
                println!("warning: the environments differ in {w} (the toolchain and CPU features match: compared)");
            }
        }
        _ => {
            for (path, env) in [(baseline, &base), (results, &run)] {
                if env.is_some() {
                    continue;
                }
                let record = Environment::path_for(path);
                if !allow_unknown {
                    return Err(Refusal::Unknown { results: path.to_owned(), record }.into());
                }
                println!(
                    "note: {} has no environment record ({}): compared without knowing its toolchain (--allow-unknown-environment)",
                    path.display(),
                    record.display()
                );
            }
        }
    }
    Ok(base.or(run))
}

/// Says what is known of the previous baseline's toolchain. Its counts are
/// compared whatever it was: the previous baseline is the one this commit
/// replaced, so a toolchain change in this commit shows as changed counts,
/// each worse one needing its justification like any other.
pub(crate) fn note_previous_environment(
    previous: &Path,
    current: Option<&otlp_lab::html::env::Environment>,
) -> Result<(), Box<dyn Error>> {
    use otlp_lab::html::env::Environment;
    match (Environment::read_beside(previous)?, current) {
        (None, _) => println!(
            "note: the previous baseline has no environment record ({}): its counts are compared as they are, its toolchain unknown",
            Environment::path_for(previous).display()
        ),
        (Some(p), Some(c)) => {
            let check = p.check(c);
            if !check.comparable() {
                println!(
                    "note: the previous baseline was measured on another toolchain than the current one, which this commit changed; its counts are compared, and each worse count needs its justification:"
                );
                for d in &check.refused {
                    println!("  {}: previous {}, current {}", d.key, d.baseline, d.run);
                }
            }
        }
        (Some(_), None) => {}
    }
    Ok(())
}
