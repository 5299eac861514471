//! The lab: fixtures and workloads defined once, used by benches, heap runs,
//! flamegraph runs and tests. Nothing in the library's data path uses it.

pub mod baseline;
pub mod budgets;
pub mod fixtures;
pub mod net;
pub mod report;
pub mod scenarios;
pub mod workloads;
