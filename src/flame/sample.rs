//! Sampling: the job under pprof's sampler, then its raw stacks resolved
//! into [`Stack`]s, with the process's CPU time over the run.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::time::{Duration, Instant};

use pprof::protos::Message;

use super::{Analysis, BLOCKLIST, FlameConfig, FlameError, Folded, Stack, analyze};
use crate::Job;
use crate::scenarios::ScenarioParams;

/// How often the run reports its progress on stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Address ranges of the loaded objects whose file name holds a
/// [`BLOCKLIST`] entry, from `/proc/self/maps`: the test pprof applies to its
/// list of shared libraries.
fn blocklisted_ranges() -> Vec<(usize, usize)> {
    let Ok(maps) = fs::read_to_string("/proc/self/maps") else { return Vec::new() };
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let path = fields.nth(4)?;
            let file = path.rsplit('/').next().unwrap_or(path);
            if !BLOCKLIST.iter().any(|b| file.contains(b)) {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            Some((usize::from_str_radix(a, 16).ok()?, usize::from_str_radix(b, 16).ok()?))
        })
        .collect()
}

/// The interrupted program counter of a raw stack, given which addresses lie
/// in blocklisted objects: pprof's unwind starts in its signal handler (our
/// binary), then passes the signal trampoline (libc's `__restore_rt`); the
/// frame after that is where the signal landed.
pub(super) fn interrupted_ip(ips: &[usize], blocklisted: impl Fn(usize) -> bool) -> Option<usize> {
    let trampoline = ips.iter().position(|&ip| blocklisted(ip)).filter(|&i| i > 0)?;
    ips.get(trampoline + 1).copied()
}

/// Symbolizes pprof's raw stacks: the report for the `.pb` and our [`Stack`]s
/// (resolved once; the raw addresses tell where each sample landed, which
/// the resolved names of a stripped-and-debug-linked libc do not).
fn resolve(unresolved: &pprof::UnresolvedReport) -> (pprof::Report, Vec<Stack>) {
    let ranges = blocklisted_ranges();
    let blocklisted = |ip: usize| ranges.iter().any(|&(a, b)| ip >= a && ip < b);
    let mut data: HashMap<pprof::Frames, isize> = HashMap::new();
    let mut stacks = Vec::with_capacity(unresolved.data.len());
    for (raw, &n) in unresolved.data.iter().filter(|(_, n)| **n > 0) {
        let ips: Vec<usize> = raw.frames.iter().map(|f| f.ip() as usize).collect();
        let frames = pprof::Frames::from(raw.clone());
        stacks.push(Stack {
            thread: frames.thread_name_or_id(),
            frames: frames.frames.iter().map(|f| f.iter().map(|s| s.name()).collect()).collect(),
            leaf_in_blocklist: interrupted_ip(&ips, blocklisted).is_some_and(blocklisted),
            count: n as u64,
        });
        *data.entry(frames).or_insert(0) += n;
    }
    (pprof::Report { data, timing: unresolved.timing.clone() }, stacks)
}

/// CPU time of this process so far (user + system, every thread), from
/// `/proc/self/stat` (fields 14 and 15, in USER_HZ ticks: 100 per second on
/// Linux whatever the kernel tick); `None` where there is no procfs.
fn process_cpu_time() -> Option<Duration> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count fields after its `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// A finished flame run.
pub struct FlameRun {
    /// The job sampled.
    pub job: Job,
    /// How it was sampled.
    pub config: FlameConfig,
    /// Wall time sampled.
    pub elapsed: Duration,
    /// Iterations of the job run while sampling.
    pub iterations: u64,
    /// CPU time the process used while sampling (every thread), when procfs tells.
    pub cpu: Option<Duration>,
    /// The resolved stacks.
    pub stacks: Vec<Stack>,
    /// The same, folded.
    pub folded: Folded,
    /// What they say.
    pub analysis: Analysis,
    /// The pprof protobuf, encoded.
    pub pprof: Vec<u8>,
}

impl fmt::Debug for FlameRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlameRun")
            .field("job", &self.job)
            .field("elapsed", &self.elapsed)
            .field("iterations", &self.iterations)
            .field("samples", &self.analysis.samples)
            .finish_non_exhaustive()
    }
}

/// Prepares `job`, samples it for `config.duration` (or up to
/// `config.max_iterations` runs) and resolves the stacks; `progress` gets
/// one line at the start and every few seconds.
pub fn sample(job: Job, config: &FlameConfig, progress: &mut dyn FnMut(&str)) -> Result<FlameRun, FlameError> {
    // sustained_load is paced by the clock: one run fills the sampling window.
    let params = ScenarioParams { duration: config.duration, scale: config.scale };
    let mut prepared = job.prepare(&params).map_err(|source| FlameError::Job { job, source })?;
    let frequency = i32::try_from(config.frequency_hz).unwrap_or(i32::MAX).max(1);
    progress(&format!(
        "sampling {job} ({}) for {:.1} s or {} iterations at {frequency} Hz asked (the kernel tick caps it near 250 Hz \
         per busy CPU), every thread, libc blocklist {}",
        job.kind(),
        config.duration.as_secs_f64(),
        config.max_iterations,
        if config.blocklist { "on" } else { "off" }
    ));
    let mut builder = pprof::ProfilerGuardBuilder::default().frequency(frequency);
    if config.blocklist {
        builder = builder.blocklist(&BLOCKLIST);
    }
    let guard = builder.build()?;
    let cpu_start = process_cpu_time();
    let start = Instant::now();
    let mut iterations = 0u64;
    let mut next_report = PROGRESS_EVERY;
    while iterations < config.max_iterations && start.elapsed() < config.duration {
        prepared.run().map_err(|source| FlameError::Job { job, source })?;
        iterations += 1;
        let t = start.elapsed();
        if t >= next_report && t < config.duration {
            progress(&format!("  {:.0} s: {iterations} iterations", t.as_secs_f64()));
            next_report += PROGRESS_EVERY;
        }
    }
    let elapsed = start.elapsed();
    let cpu = process_cpu_time().zip(cpu_start).map(|(end, start)| end.saturating_sub(start));
    let unresolved = guard.report().build_unresolved()?;
    drop(guard);
    let (report, stacks) = resolve(&unresolved);
    let analysis = analyze(&stacks);
    if analysis.samples == 0 {
        return Err(FlameError::NoSamples { job, secs: elapsed.as_secs_f64(), iterations });
    }
    let pprof = report.pprof()?.encode_to_vec();
    let folded = Folded::from_stacks(&stacks);
    Ok(FlameRun { job, config: config.clone(), elapsed, iterations, cpu, stacks, folded, analysis, pprof })
}

impl FlameRun {
    /// Samples per wall-clock second (per busy CPU, at most about the kernel tick).
    pub fn effective_hz(&self) -> f64 {
        self.analysis.samples as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Samples per CPU second: the sampler's real rate (about the kernel
    /// tick when nothing is dropped; lower by the share the blocklist drops).
    pub fn samples_per_cpu_s(&self) -> Option<f64> {
        self.cpu.filter(|c| !c.is_zero()).map(|c| self.analysis.samples as f64 / c.as_secs_f64())
    }
}
