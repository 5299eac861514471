//! `otlp-lab exporter-run` (the process the whole-exporter comparison
//! measures) against a loopback receiver, every stack this build has, and
//! `otlp-lab exporter-compare`'s refusals and one tiny run of its results
//! file under valgrind (which CI installs; a machine without it fails here).

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

/// Every stack delivers every span it creates (the floor: none), each
/// checked at the receiver; the SDK's stacks when the build has them.
#[tokio::test]
async fn exporter_run_delivers_every_span_of_every_stack() {
    let receiver = Receiver::start(ReceiverConfig::default()).await.expect("bind");
    let mut stacks = vec![("tracing-ours", 700), ("tracing-bare", 0), ("ours", 700)];
    if cfg!(feature = "official-sdk") {
        stacks.extend([("tracing-otel", 700), ("sdk-ours", 700), ("sdk", 700)]);
    }
    for (stack, delivered) in stacks {
        let before = receiver.counts().spans;
        let mut cmd = lab();
        cmd.args(["exporter-run", "--implementation", stack, "--spans", "700", "--endpoint"])
            .arg(receiver.http_endpoint())
            .args(["--compression", "zstd"]);
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("run otlp-lab")).await.expect("join");
        assert!(out.status.success(), "{stack}: {}", stderr(&out));
        assert!(stderr(&out).contains(&format!("exported {delivered} of 700")), "{stack}: {}", stderr(&out));
        assert_eq!(receiver.counts().spans - before, delivered, "{stack}");
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
    assert!(
        stderr(&out).contains(
            "unknown implementation `jaeger`: expected one of ours, sdk, tracing-ours, tracing-otel, sdk-ours, tracing-bare"
        ),
        "{}",
        stderr(&out)
    );

    let out = lab().args(["exporter-compare", "--cases", "grpc+lz4"]).output().expect("run otlp-lab");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("grpc+lz4"), "{}", stderr(&out));

    let out = lab().args(["exporter-compare", "--low", "500", "--high", "500"]).output().expect("run otlp-lab");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--low < --high"), "{}", stderr(&out));

    if !cfg!(feature = "official-sdk") {
        for stack in ["sdk", "tracing-otel", "sdk-ours"] {
            let out = lab().args(["exporter-compare", "--implementations", stack]).output().expect("run otlp-lab");
            assert!(!out.status.success());
            assert!(stderr(&out).contains(&format!("`{stack}` needs the official SDK")), "{}", stderr(&out));
            assert!(stderr(&out).contains("--features official-sdk"), "{}", stderr(&out));
        }
    }
}

/// One tiny comparison of ours, our layer and the floor under callgrind and
/// DHAT (a few seconds).
#[test]
fn exporter_compare_writes_the_contract_fields() {
    assert!(
        Command::new("valgrind").arg("--version").output().is_ok_and(|o| o.status.success()),
        "valgrind is needed by exporter-compare: apt-get install valgrind"
    );
    let dir = std::env::temp_dir().join(format!("otlp-lab-exporter-test-{}", std::process::id()));
    let path = dir.join("exporter.json");
    let out = lab()
        .args(["exporter-compare", "--low", "200", "--high", "400", "--repeats", "1"])
        .args(["--implementations", "ours,tracing-ours,tracing-bare", "--cases", "http/protobuf+none"])
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
    let names: Vec<&str> = rows.iter().filter_map(|r| r["implementation"].as_str()).collect();
    assert_eq!(names, ["ours", "tracing-ours", "tracing-bare"]);
    for row in rows {
        let (lo, hi) =
            (row["blocks"][0].as_u64().expect("blocks low"), row["blocks"][1].as_u64().expect("blocks high"));
        assert!(hi >= lo && lo > 0, "{row}");
        assert_eq!(row["blocks_per_span"].as_f64(), Some((hi as f64 - lo as f64) / 200.0), "{row}");
    }
    // What reached the receiver: our encoder's spans are a few hundred bytes
    // each; the floor sends nothing and has no figure.
    let wire = rows[0]["wire_bytes_per_span"].as_f64().expect("wire bytes");
    assert!((100.0..2000.0).contains(&wire), "{wire}");
    assert!(rows[2].get("wire_bytes_per_span").is_none(), "{}", rows[2]);
    assert!(stdout.contains("tracing-ours − tracing-bare ="), "{stdout}");
    let row = &rows[0];
    assert_eq!((row["protocol"].as_str(), row["compression"].as_str()), (Some("http/protobuf"), Some("none")));
    let (low, high) =
        (row["instructions_low"][0].as_u64().expect("low"), row["instructions_high"][0].as_u64().expect("high"));
    assert!(high > low, "{low} {high}");
    let m = &row["marginal_per_span"];
    let median = m["median"].as_f64().expect("median");
    assert_eq!(median, (high - low) as f64 / 200.0);
    assert_eq!((m["min"].as_f64(), m["max"].as_f64()), (Some(median), Some(median)));
}

/// `exporter-load`: each stack natively, its usage line read back and the
/// receiver's count checked; the table names every stack it ran.
#[test]
fn exporter_load_runs_each_stack_and_reads_its_usage() {
    let out = lab()
        .args(["exporter-load", "--implementations", "tracing-ours,ours,tracing-bare", "--spans", "3000"])
        .args(["--repeats", "2", "--case", "http/protobuf+zstd"])
        .output()
        .expect("run otlp-lab");
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("3000 spans per run, http/protobuf+zstd, median (min–max) of 2 runs"), "{stdout}");
    for stack in ["tracing-ours", "ours", "tracing-bare"] {
        let line = stdout.lines().find(|l| l.split_whitespace().next() == Some(stack)).expect(stack);
        let rate: f64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("spans/s");
        assert!(rate > 0.0, "{line}");
    }
    assert_eq!(stderr(&out).matches("µs CPU per span").count(), 6, "{}", stderr(&out));

    let out = lab().args(["exporter-load", "--spans", "0"]).output().expect("run otlp-lab");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("invalid value '0' for '--spans <SPANS>'"), "{}", stderr(&out));
}
