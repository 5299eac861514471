//! Every workload runs, is deterministic, and produces the pinned outcome
//! (regenerate with `UPDATE_GOLDEN=1 cargo test --release --test it workloads`
//! after a deliberate change to a fixture or an encoder).

use otlp_lab::workloads::Workload;

use crate::golden::{golden, outcome_line};

#[test]
fn every_workload_is_deterministic_and_matches_its_golden_outcome() {
    let mut table = String::new();
    for w in Workload::ALL {
        let mut p = w.prepare();
        let a = p.run();
        let b = p.run();
        assert_eq!(a, b, "{w}: two runs differ");
        assert_eq!(a, w.prepare().run(), "{w}: a fresh prepare differs");
        assert!(a.items > 0 && a.bytes > 0, "{w}: {a:?}");
        outcome_line(&mut table, w.name(), &a);
    }
    golden("workload_outcomes.txt", table.as_bytes());
}

#[test]
fn names_are_unique_and_parse_back() {
    let mut names: Vec<_> = Workload::ALL.iter().map(|w| w.name()).collect();
    for n in &names {
        assert_eq!(n.parse::<Workload>().expect("parses").name(), *n);
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Workload::ALL.len());
    assert!("no_such_workload".parse::<Workload>().is_err());
}

#[test]
fn both_decoders_give_the_same_spans_of_the_same_bytes() {
    let reference = Workload::DecodeReferenceTraces.prepare().run();
    let direct = Workload::DecodeDirectTraces.prepare().run();
    assert_eq!(reference, direct);
}
