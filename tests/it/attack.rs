//! `otlp-lab attack` through the CLI: its help, and one small attack against
//! a real `otlp-lab receive` child whose table and result file have the
//! expected structure. No figure is asserted: they depend on the machine and
//! on the receiver's limits.

use std::process::Command;

use otlp_lab::attack::AttackFile;

fn lab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_otlp-lab"))
}

#[test]
fn attack_help_lists_its_options() {
    let out = lab().args(["attack", "--help"]).output().expect("run otlp-lab attack --help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--kinds", "--transports", "--concurrency", "--timeout", "--rss-limit-mib", "--json"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn a_one_kind_attack_prints_its_table_and_writes_its_file() {
    let path = std::env::temp_dir().join(format!("otlp-lab-attack-{}.json", std::process::id()));
    // Exemplars: the model does not keep them, so the receiver's memory stays small whatever it answers.
    let out = lab()
        .args(["attack", "--kinds", "exemplars", "--transports", "http/protobuf+zstd", "--concurrency", "1", "--json"])
        .arg(&path)
        .output()
        .expect("run otlp-lab attack");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "a header and one row:\n{stdout}");
    for column in ["kind", "transport", "encoding", "answers", "valid", "peak MiB"] {
        assert!(lines[0].contains(column), "{column} in {}", lines[0]);
    }
    assert!(lines[1].starts_with("exemplars "), "{}", lines[1]);
    assert!(
        lines[1].contains("http/protobuf") && lines[1].contains("zstd") && lines[1].contains("1× "),
        "{}",
        lines[1]
    );
    let file: AttackFile = serde_json::from_str(&std::fs::read_to_string(&path).expect("the result file"))
        .expect("one serde type reads what it wrote");
    let _cleaned = std::fs::remove_file(&path);
    assert_eq!(file.rows.len(), 1);
    let row = &file.rows[0];
    assert_eq!(
        (row.kind.as_str(), row.transport.as_str(), row.encoding.as_str()),
        ("exemplars", "http/protobuf", "zstd")
    );
    assert_eq!(row.answers.values().sum::<u64>(), 1, "{row:?}");
    assert!(row.valid_after, "{row:?}");
    assert!(row.peak_rss_bytes >= row.idle_rss_bytes && row.idle_rss_bytes > 0, "{row:?}");
    assert!(row.decompressed_bytes > row.sent_bytes && row.elements > 0, "{row:?}");
}
