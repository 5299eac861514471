//! The lab: micro-workloads and scenarios defined once, used by benches, heap
//! runs, flamegraph runs and tests, around the `otlp-pipeline` crate, which it
//! reaches through its public API only. Nothing in the pipeline uses the lab.
#![warn(missing_docs, unreachable_pub)]
#![deny(unsafe_code)]

pub mod attack;
pub mod baseline;
pub mod bench_config;
pub mod budgets;
pub mod exporter_compare;
pub mod exporter_load;
pub mod exporter_run;
pub mod flame;
pub mod harness;
pub mod heap;
pub mod history;
pub mod html;
pub mod icount;
pub mod load;
pub mod net;
pub mod readme;
pub mod report;
pub mod result_file;
pub mod scenarios;
#[cfg(feature = "official-sdk")]
pub mod sdk;
pub mod stacks;
pub mod toolchain;
pub mod workloads;

use scenarios::{PreparedScenario, Scenario, ScenarioError, ScenarioParams, ScenarioRow};
use workloads::{Outcome, Prepared, UnknownWorkload, Workload};

/// Anything the lab runs by name: a micro-workload or a scenario. The name is
/// the key everywhere (bench id, `profiles/dhat-<name>.json`, `flamegraphs/<name>.svg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Job {
    /// A micro-workload of one hot path.
    Workload(Workload),
    /// One of the twelve scenarios.
    Scenario(Scenario),
}

impl Job {
    /// Every job: the micro-workloads, then the scenarios.
    pub fn all() -> impl Iterator<Item = Job> {
        Workload::ALL.iter().map(|w| Job::Workload(*w)).chain(Scenario::ALL.iter().map(|s| Job::Scenario(*s)))
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Job::Workload(w) => w.name(),
            Job::Scenario(s) => s.name(),
        }
    }

    /// Its kind, as `otlp-lab list` shows it: the bench suite, or `scenario`.
    pub fn kind(self) -> &'static str {
        match self {
            Job::Workload(w) => w.category().name(),
            Job::Scenario(_) => "scenario",
        }
    }

    /// One line saying what it does.
    pub fn description(self) -> &'static str {
        match self {
            Job::Workload(w) => w.description(),
            Job::Scenario(s) => s.description(),
        }
    }

    /// Unmeasured setup (`params` matter to scenarios only).
    pub fn prepare(self, params: &ScenarioParams) -> Result<PreparedJob, ScenarioError> {
        Ok(match self {
            Job::Workload(w) => PreparedJob::Workload(w.prepare()),
            Job::Scenario(s) => PreparedJob::Scenario(s.prepare(params)?),
        })
    }

    /// Whether two runs give the same [`Outcome`]: all but sustained_load,
    /// which is paced by the clock.
    pub fn repeatable(self) -> bool {
        self != Job::Scenario(Scenario::SustainedLoad)
    }
}

/// A prepared job: [`PreparedJob::run`] is the measured part.
#[derive(Debug)]
pub enum PreparedJob {
    /// A prepared micro-workload.
    Workload(Prepared),
    /// A prepared scenario.
    Scenario(PreparedScenario),
}

impl PreparedJob {
    /// One measured run.
    pub fn run(&mut self) -> Result<Outcome, ScenarioError> {
        match self {
            PreparedJob::Workload(p) => Ok(p.run()),
            PreparedJob::Scenario(p) => p.run(),
        }
    }

    /// A scenario's rows of its last run (none for a micro-workload).
    pub fn rows(&self) -> &[ScenarioRow] {
        match self {
            PreparedJob::Workload(_) => &[],
            PreparedJob::Scenario(p) => p.report(),
        }
    }
}

impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Job {
    type Err = UnknownWorkload;
    fn from_str(s: &str) -> Result<Self, UnknownWorkload> {
        Job::all().find(|j| j.name() == s).ok_or_else(|| UnknownWorkload(s.to_owned()))
    }
}
