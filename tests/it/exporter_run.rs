//! `otlp-lab exporter-run` (the process the whole-exporter comparison
//! measures) against a loopback receiver, and `otlp-lab exporter-compare`'s
//! refusals and, where valgrind is installed, one tiny run of its results file.

use std::process::{Command, Output};

use otlp_pipeline::receiver::{Receiver, ReceiverConfig};

fn lab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_otlp-lab"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn exporter_run_delivers_every_span_over_http_and_grpc() {
    let receiver = Receiver::start(ReceiverConfig {
        grpc_addr: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        ..ReceiverConfig::default()
    })
    .await
    .expect("bind");
    let cases = [
        (receiver.http_endpoint(), "http/protobuf", "zstd"),
        (receiver.grpc_endpoint().expect("grpc"), "grpc", "none"),
    ];
    let mut expected = 0;
    for (endpoint, protocol, compression) in cases {
        let mut cmd = lab();
        cmd.args(["exporter-run", "--implementation", "ours", "--spans", "700", "--endpoint", &endpoint]).args([
            "--protocol",
            protocol,
            "--compression",
            compression,
        ]);
        // The receiver runs on this test's runtime: wait for the child off it.
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("run otlp-lab")).await.expect("join");
        assert!(out.status.success(), "{protocol}: {}", stderr(&out));
        assert!(stderr(&out).contains("exported 700 of 700"), "{}", stderr(&out));
        expected += 700;
        assert_eq!(receiver.counts().spans, expected, "{protocol}+{compression}");
    }
    receiver.shutdown().await;
}

#[test]
fn exporter_run_fails_when_nothing_arrives() {
    // Port 9 on loopback (discard) has no listener here: every export fails.
    let out = lab()
        .args(["exporter-run", "--implementation", "ours", "--spans", "10", "--endpoint", "http://127.0.0.1:9"])
        .output()
        .expect("run otlp-lab");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("dropped"), "{}", stderr(&out));
}

#[test]
fn exporter_compare_names_what_it_cannot_run() {
    let out = lab().args(["exporter-compare", "--implementations", "ours,jaeger"]).output().expect("run otlp-lab");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unknown implementation `jaeger`: expected ours or sdk"), "{}", stderr(&out));

    let out = lab().args(["exporter-compare", "--cases", "grpc+lz4"]).output().expect("run otlp-lab");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("grpc+lz4"), "{}", stderr(&out));

    let out = lab().args(["exporter-compare", "--low", "500", "--high", "500"]).output().expect("run otlp-lab");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--low < --high"), "{}", stderr(&out));

    if !cfg!(feature = "official-sdk") {
        let out = lab().args(["exporter-compare", "--implementations", "sdk"]).output().expect("run otlp-lab");
        assert!(!out.status.success());
        assert!(stderr(&out).contains("--features official-sdk"), "{}", stderr(&out));
    }
}

/// One tiny comparison of ours, when valgrind is installed (a few seconds).
#[test]
fn exporter_compare_writes_the_contract_fields() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("valgrind not installed: skipped the tiny exporter-compare run");
        return;
    }
    let dir = std::env::temp_dir().join(format!("otlp-lab-exporter-test-{}", std::process::id()));
    let path = dir.join("exporter.json");
    let out = lab()
        .args(["exporter-compare", "--low", "200", "--high", "400", "--repeats", "1"])
        .args(["--implementations", "ours", "--cases", "http/protobuf+none"])
        .arg("--out")
        .arg(&path)
        .output()
        .expect("run otlp-lab");
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("http/protobuf+none") && stdout.contains("4000"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("results file")).expect("JSON");
    let _cleaned = std::fs::remove_dir_all(&dir);
    assert_eq!(
        (json["spans_low"].as_u64(), json["spans_high"].as_u64(), json["repeats"].as_u64()),
        (Some(200), Some(400), Some(1))
    );
    assert_eq!(json["targets"]["http/protobuf+none"].as_u64(), Some(4000));
    assert_eq!(json["targets"]["http/protobuf+zstd"].as_u64(), Some(8000));
    let rows = json["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["implementation"], "otlp-lab");
    assert_eq!((row["protocol"].as_str(), row["compression"].as_str()), (Some("http/protobuf"), Some("none")));
    let (low, high) =
        (row["instructions_low"][0].as_u64().expect("low"), row["instructions_high"][0].as_u64().expect("high"));
    assert!(high > low, "{low} {high}");
    let m = &row["marginal_per_span"];
    let median = m["median"].as_f64().expect("median");
    assert_eq!(median, (high - low) as f64 / 200.0);
    assert_eq!((m["min"].as_f64(), m["max"].as_f64()), (Some(median), Some(median)));
}
