use super::analysis::{is_harness, strip_hash};
use super::sample::interrupted_ip;
use super::*;

fn stack(thread: &str, frames: &[&[&str]], libc: bool, count: u64) -> Stack {
    Stack {
        thread: thread.into(),
        frames: frames.iter().map(|f| f.iter().map(|s| s.to_string()).collect()).collect(),
        leaf_in_blocklist: libc,
        count,
    }
}

#[test]
fn ours_means_our_path_or_our_impl() {
    assert!(is_ours("otlp_pipeline::encode::direct::encode_traces"));
    assert!(is_ours("<otlp_pipeline::compress::Compressor as core::fmt::Debug>::fmt"));
    assert!(is_ours("<alloc::vec::Vec<u8> as otlp_pipeline::encode::direct::Sink>::put"));
    assert!(is_ours("<&mut otlp_pipeline::model::Span as core::clone::Clone>::clone"));
    assert!(!is_ours("core::ptr::drop_in_place<otlp_pipeline::model::Span>"));
    assert!(!is_ours("<alloc::vec::Vec<otlp_pipeline::model::Span> as core::clone::Clone>::clone"));
    assert!(!is_ours("malloc"));
    assert!(is_data_path("<otlp_pipeline::transport::http::Client as core::ops::Drop>::drop"));
    assert!(!is_data_path("otlp_lab::scenarios::Cpu::run"));
    assert!(is_harness("otlp_lab::main") && is_harness("otlp_lab::flame::sample::sample"));
    assert!(!is_harness("otlp_lab::scenarios::Cpu::run"));
}

#[test]
fn folds_outermost_first_and_counts_self_and_total() {
    // Innermost first, as pprof gives them; `b` inlined into `a`'s frame.
    let stacks = vec![
        stack("main", &[&["malloc"], &["__rust_alloc"], &["otlp_lab::b", "otlp_lab::a"], &["_start"]], true, 3),
        stack("main", &[&["otlp_pipeline::encode::b", "otlp_lab::a"], &["otlp_lab::main"]], false, 5),
        stack("tokio-runtime-w", &[&["memcpy"], &["Unknown"]], true, 2),
    ];
    let folded = Folded::from_stacks(&stacks);
    assert_eq!(
        folded.to_string(),
        "main;_start;otlp_lab::a;otlp_lab::b;__rust_alloc;malloc 3\nmain;otlp_lab::main;otlp_lab::a;otlp_pipeline::encode::b 5\n\
         tokio-runtime-w;Unknown;memcpy 2\n"
    );
    assert_eq!(Folded::parse(&folded.to_string()), Ok(folded.clone()));
    let a = analyze(&stacks);
    assert_eq!(a.samples, 10);
    assert_eq!(a.threads, ["main", "tokio-runtime-w"]);
    assert_eq!(a.crate_pct, 80.0);
    assert_eq!(a.data_path_pct, 50.0);
    assert_eq!(a.rooted_pct, 30.0);
    assert_eq!(a.allocator_pct, 30.0);
    assert_eq!(a.memory_pct, 20.0);
    assert_eq!(a.libc_leaf_pct, 50.0);
    assert_eq!(a.inlined_pct, 80.0);
    assert_eq!(a.unknown_pct, 20.0);
    assert_eq!(
        a.ours_by_self,
        [FunctionShare { function: "otlp_pipeline::encode::b".into(), self_pct: 50.0, total_pct: 50.0 }]
    );
    // The CLI's own frame (otlp_lab::main) is left out of the by-total ranking.
    let by_total: Vec<(&str, f64)> = a.ours_by_total.iter().map(|f| (f.function.as_str(), f.total_pct)).collect();
    assert_eq!(by_total, [("otlp_lab::a", 80.0), ("otlp_pipeline::encode::b", 50.0), ("otlp_lab::b", 30.0)]);
    assert_eq!(a.any_by_self[0].function, "otlp_pipeline::encode::b");
}

#[test]
fn names_lose_hashes_and_separators() {
    assert_eq!(strip_hash("otlp_pipeline::encode::f::h0123456789abcdef"), "otlp_pipeline::encode::f");
    assert_eq!(strip_hash("otlp_pipeline::encode::hash"), "otlp_pipeline::encode::hash");
    let s = stack("t", &[&["f<[u8; 16]>"]], false, 1);
    assert_eq!(Folded::from_stacks(&[s]).lines(), ["t;f<[u8: 16]> 1"]);
}

#[test]
fn the_interrupted_frame_follows_the_signal_trampoline() {
    let libc = |ip: usize| (0x7000..0x8000).contains(&ip);
    // handler (ours), trampoline (libc), then malloc (libc) or our code.
    assert_eq!(interrupted_ip(&[0x100, 0x7050, 0x7300, 0x200], libc), Some(0x7300));
    assert_eq!(interrupted_ip(&[0x100, 0x7050, 0x300, 0x200], libc), Some(0x300));
    // No trampoline, or nothing after it: unknown.
    assert_eq!(interrupted_ip(&[0x100, 0x300], libc), None);
    assert_eq!(interrupted_ip(&[0x7050, 0x300], libc), None);
    assert_eq!(interrupted_ip(&[0x100, 0x7050], libc), None);
}

#[test]
fn bad_folded_lines_are_named() {
    assert_eq!(Folded::parse("a;b 3\n\nc 1\n").map(|f| f.samples()), Ok(4));
    assert_eq!(Folded::parse("a;b 3\nno count here\n"), Err((2, "no count here".into())));
    assert_eq!(Folded::parse(" 3\n"), Err((1, " 3".into())));
}

#[test]
fn the_summary_reads_back_and_needs_only_what_the_report_shows() {
    let share = FunctionShare { function: "otlp_pipeline::encode::b".into(), self_pct: 50.0, total_pct: 62.5 };
    let full = FlameSummary {
        name: "cpu_intensive".into(),
        samples: 10,
        frequency_hz: 250,
        duration_s: 1.5,
        iterations: 3,
        blocklist: false,
        threads: vec!["main".into()],
        top: vec![share.clone()],
        top_total: vec![share.clone()],
        top_any_self: vec![share],
        effective_hz: Some(6.67),
        cpu_s: None,
        samples_per_cpu_s: None,
        scale: Some(1),
        crate_pct: Some(100.0),
        data_path_pct: Some(80.0),
        rooted_pct: Some(100.0),
        allocator_pct: Some(0.0),
        memory_pct: Some(0.0),
        libc_leaf_pct: Some(1.0),
        inlined_pct: Some(100.0),
        unknown_pct: Some(0.0),
        truncated_pct: Some(0.0),
    };
    let path = std::path::Path::new("cpu_intensive.json");
    let text = crate::result_file::to_text(&full);
    assert_eq!(crate::result_file::from_str::<FlameSummary>(path, &text).expect("reads"), full);
    let short = r#"{"name": "x", "samples": 1, "frequency_hz": 250, "duration_s": 1.0, "iterations": 1,
        "blocklist": false, "threads": [], "top": []}"#;
    let s: FlameSummary = crate::result_file::from_str(path, short).expect("reads");
    assert_eq!((s.top_total.len(), s.crate_pct, s.scale), (0, None, None));
    let err = crate::result_file::from_str::<FlameSummary>(path, r#"{"name": "x"}"#).expect_err("no samples");
    assert!(err.to_string().starts_with("cpu_intensive.json: missing field `samples`"), "{err}");
}
