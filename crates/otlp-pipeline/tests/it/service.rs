//! The example service (examples/service.rs) as a process: requests with and
//! without a `traceparent`, with a malformed one and on the error path, and
//! the spans that reach an in-process receiver.
//!
//! `cargo test` builds the examples before it runs the tests; the binary is
//! found beside this test's (`target/<profile>/examples/service`).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::util::loopback::{Arrived, capturing_receiver};
use otlp_pipeline::model::{
    AnyValue, FLAG_HAS_IS_REMOTE, FLAG_IS_REMOTE, FLAG_SAMPLED, Span, SpanContext, SpanKind, StatusCode,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const REMOTE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// The longest any step (start, a request, exit) may take before the test
/// fails: generous for a loaded machine, and the test never hangs.
const BOUND: Duration = Duration::from_secs(60);
/// How often the test looks whether the service has exited.
const POLL: Duration = Duration::from_millis(20);

/// What to run when the example binary is missing or stale.
const BUILD_IT: &str = "`cargo test -p otlp-pipeline` builds the examples before the tests, but a run \
    restricted to `--test it` does not: build it with `cargo build -p otlp-pipeline --example service` \
    (same profile) first";

/// The example's binary, next to this test's: `target/<profile>/deps/it-<hash>`
/// → `target/<profile>/examples/service`. It must be newer than its sources
/// (the example and the library's `src/`): a run with `--test it` alone
/// does not rebuild it, and would otherwise test old code.
fn example_binary() -> PathBuf {
    let test = std::env::current_exe().expect("the test binary's path");
    let profile = test.parent().and_then(Path::parent).expect("the test binary is in target/<profile>/deps");
    let binary = profile.join("examples").join(format!("service{}", std::env::consts::EXE_SUFFIX));
    let built = std::fs::metadata(&binary)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("the example binary {} is missing ({e}): {BUILD_IT}", binary.display()));
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = vec![crate_dir.join("examples/service.rs")];
    let mut dirs = vec![crate_dir.join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("list {}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() { dirs.push(path) } else { sources.push(path) }
        }
    }
    for source in sources {
        let changed = std::fs::metadata(&source).and_then(|m| m.modified()).expect("a source's mtime");
        assert!(
            changed <= built,
            "the example binary {} is older than {}: {BUILD_IT}",
            binary.display(),
            source.display()
        );
    }
    binary
}

/// The example running as a child process; killed if the test fails first.
struct Service {
    child: Child,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Service {
    /// Starts the example with `args`, exporting to `endpoint`, with no
    /// other OTLP setting from the test's environment.
    fn start(endpoint: &str, args: &[&str]) -> Service {
        let mut command = Command::new(example_binary());
        for var in [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_COMPRESSION",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "SERVICE_LISTEN",
        ] {
            command.env_remove(var);
        }
        let mut child = command
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the example service");
        let (lines, stdout) = mpsc::unbounded_channel();
        let out = child.stdout.take().expect("piped stdout");
        // Threads, not tasks: the pipes are blocking, and they end when the
        // child exits (or is killed).
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _partial_on_error = err.read_to_string(&mut text);
            text
        });
        Service { child, stdout, stderr: Some(stderr) }
    }

    /// The address from the first line, `listening on http://ADDR`.
    async fn address(&mut self) -> SocketAddr {
        let line = tokio::time::timeout(BOUND, self.stdout.recv())
            .await
            .expect("the service says where it listens in time")
            .unwrap_or_else(|| panic!("the service exited before listening: {}", self.stderr_text()));
        line.strip_prefix("listening on http://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("not a `listening on http://ADDR` line: {line:?}"))
    }

    /// Waits for the exit; its status, stdout after the first line, stderr.
    async fn exit(mut self) -> (ExitStatus, Vec<String>, String) {
        let mut status = None;
        for _ in 0..BOUND.as_millis() / POLL.as_millis() {
            status = self.child.try_wait().expect("poll the service");
            if status.is_some() {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        let status = status.unwrap_or_else(|| panic!("the service did not exit within {BOUND:?}"));
        let stderr = self.stderr_text();
        let mut stdout = Vec::new();
        // The reader thread ends at EOF, which follows the exit.
        while let Some(line) = tokio::time::timeout(BOUND, self.stdout.recv()).await.expect("stdout closes") {
            stdout.push(line);
        }
        (status, stdout, stderr)
    }

    /// What the service wrote on stderr (once it has exited or been killed).
    fn stderr_text(&mut self) -> String {
        let _already_exited = self.child.kill();
        match self.stderr.take() {
            Some(reader) => reader.join().expect("the stderr reader does not panic"),
            None => String::new(),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _already_exited = self.child.kill();
        let _reaped = self.child.wait();
    }
}

/// An HTTP/1.1 GET written by hand: the answer's status and body.
async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.expect("connect to the service");
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.expect("send the request");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("read the answer");
        String::from_utf8(answer).expect("a UTF-8 answer")
    };
    let answer = tokio::time::timeout(BOUND, exchange).await.expect("the service answers in time");
    let status = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.1 answer: {answer:?}"));
    let body = answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a AnyValue> {
    span.attributes.iter().find(|kv| kv.key == key).map(|kv| &kv.value)
}

fn string(s: &str) -> AnyValue {
    AnyValue::String(otlp_pipeline::Str::copy_from(s))
}

#[tokio::test]
async fn the_example_service_exports_request_spans_with_their_callers_as_parents() {
    let receiver = capturing_receiver().await;
    let mut service = Service::start(&receiver.http_endpoint(), &["--listen", "127.0.0.1:0", "--requests", "4"]);
    let addr = service.address().await;

    let continued = get(addr, "/users/7", &[("traceparent", REMOTE), ("tracestate", "congo=t61rcWkgMzE")]).await;
    assert_eq!(continued, (200, "{\"id\":7,\"name\":\"user 7\"}\n".to_owned()));
    assert_eq!(get(addr, "/users/8", &[]).await.0, 200);
    let malformed = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7";
    assert_eq!(get(addr, "/users/9", &[("traceparent", malformed)]).await.0, 200);
    assert_eq!(get(addr, "/users/0", &[]).await, (404, "no such user\n".to_owned()));

    let (status, stdout, stderr) = service.exit().await;
    assert!(status.success(), "the service failed ({status}): stdout {stdout:?}, stderr {stderr}");
    assert_eq!(
        stdout,
        ["stopped: request limit reached", "served 4 requests; accepted 8 items, exported 8, dropped 0"],
        "stderr: {stderr}"
    );

    let Arrived { spans, logs, metrics, resources } = Arrived::take(&receiver);
    assert_eq!((logs.len(), metrics.len()), (0, 0), "the service sends spans only");
    for resource in &resources {
        let name = resource.attributes.iter().find(|kv| kv.key == "service.name");
        assert_eq!(name.map(|kv| &kv.value), Some(&string("users")));
    }
    let counts = receiver.shutdown().await;
    assert_eq!((counts.spans, counts.logs, counts.points), (8, 0, 0));
    assert_eq!(spans.len(), 8);

    let servers: Vec<&Span> = spans.iter().filter(|s| s.kind == SpanKind::Server).collect();
    assert_eq!(servers.len(), 4);
    let server = |path: &str| {
        let mut found = servers.iter().filter(|s| attr(s, "url.path") == Some(&string(path)));
        let span = *found.next().unwrap_or_else(|| panic!("no server span for {path}"));
        assert!(found.next().is_none(), "one server span for {path}");
        span
    };
    for s in &servers {
        assert_eq!(s.name, "GET /users/{id}");
        assert_eq!(attr(s, "http.request.method"), Some(&string("GET")));
        assert_eq!(attr(s, "http.route"), Some(&string("/users/{id}")));
        assert!(s.trace_id.is_valid() && s.span_id.is_valid());
        assert!(s.start_time_unix_nano > 0 && s.start_time_unix_nano <= s.end_time_unix_nano);
    }

    // The caller's trace continues, with the caller's span as parent.
    let remote = SpanContext::from_headers(REMOTE, None).expect("valid");
    let with_parent = server("/users/7");
    assert_eq!((with_parent.trace_id, with_parent.parent_span_id), (remote.trace_id, Some(remote.span_id)));
    assert_eq!(with_parent.trace_state, "congo=t61rcWkgMzE");
    assert_eq!(with_parent.flags, FLAG_SAMPLED | FLAG_HAS_IS_REMOTE | FLAG_IS_REMOTE);
    assert_eq!(attr(with_parent, "http.response.status_code"), Some(&AnyValue::Int(200)));
    assert_eq!((with_parent.status.code, with_parent.events.len()), (StatusCode::Unset, 0));

    // No traceparent: a new trace, no parent.
    let fresh = server("/users/8");
    assert_eq!(fresh.parent_span_id, None);
    assert_eq!(fresh.flags, FLAG_SAMPLED | FLAG_HAS_IS_REMOTE, "no remote parent");
    assert_eq!((fresh.status.code, fresh.events.len()), (StatusCode::Unset, 0));

    // A malformed traceparent: a new trace too, and a warning event.
    let bad = server("/users/9");
    assert_eq!(bad.parent_span_id, None);
    assert_eq!(bad.flags, FLAG_SAMPLED | FLAG_HAS_IS_REMOTE);
    assert_eq!(bad.events.len(), 1);
    assert_eq!(bad.events[0].name, "malformed traceparent: starting a new trace");
    assert!(bad.events[0].attributes.iter().any(|kv| kv.key == "error"), "{:?}", bad.events[0]);
    assert_eq!(bad.status.code, StatusCode::Unset, "a warning is not an error");

    // The error path: status error, the error event, the 404.
    let failed = server("/users/0");
    assert_eq!(failed.parent_span_id, None);
    assert_eq!(failed.status.code, StatusCode::Error);
    assert_eq!(failed.events.len(), 1);
    assert_eq!(failed.events[0].name, "user not found");
    assert_eq!(
        failed.events[0].attributes.iter().find(|kv| kv.key == "user.id").map(|kv| &kv.value),
        Some(&AnyValue::Int(0))
    );
    assert_eq!(attr(failed, "http.response.status_code"), Some(&AnyValue::Int(404)));

    let mut traces: Vec<_> = servers.iter().map(|s| s.trace_id.to_bytes()).collect();
    traces.sort_unstable();
    traces.dedup();
    assert_eq!(traces.len(), 4, "each request is a trace of its own");
    assert!(servers.iter().filter(|s| s.span_id != with_parent.span_id).all(|s| s.trace_id != remote.trace_id));

    // One database call under each request: same trace, its request span as parent.
    for s in &servers {
        let calls: Vec<&Span> = spans.iter().filter(|c| c.parent_span_id == Some(s.span_id)).collect();
        assert_eq!(calls.len(), 1, "one database call under {:?}", attr(s, "url.path"));
        let db = calls[0];
        assert_eq!((db.name.as_str(), db.kind, db.trace_id), ("SELECT users", SpanKind::Client, s.trace_id));
        assert_eq!(db.flags, FLAG_SAMPLED | FLAG_HAS_IS_REMOTE, "its parent is local");
        assert_eq!(attr(db, "db.system.name"), Some(&string("sqlite")));
        let found = i64::from(s.span_id != failed.span_id);
        assert_eq!(attr(db, "db.response.returned_rows"), Some(&AnyValue::Int(found)));
        assert!(db.start_time_unix_nano >= s.start_time_unix_nano && db.end_time_unix_nano <= s.end_time_unix_nano);
    }
    assert_eq!(spans.iter().filter(|s| s.kind == SpanKind::Client).count(), 4);
}

#[tokio::test]
async fn the_example_service_explains_bad_arguments_and_prints_its_help() {
    // Nothing listens there: the service never gets far enough to export.
    let endpoint = "http://127.0.0.1:9";
    for (args, expected) in [
        (&["--requests", "0"][..], "--requests: \"0\" is not a whole number of at least 1"),
        (&["--listen", "nowhere"][..], "--listen: \"nowhere\" is not an IP address and port"),
        (&["--requests"][..], "--requests needs a value"),
        (&["--verbose"][..], "unknown argument \"--verbose\""),
    ] {
        let (status, stdout, stderr) = Service::start(endpoint, args).exit().await;
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout:?}");
        assert!(stderr.starts_with(&format!("service: {expected}")), "{args:?}: {stderr}");
        assert!(stderr.contains("Usage: service"), "{args:?}: {stderr}");
    }
    let (status, stdout, stderr) = Service::start(endpoint, &["--help"]).exit().await;
    assert!(status.success(), "{stderr}");
    assert!(stdout.iter().any(|l| l.starts_with("Usage: service [--listen ADDR] [--requests N]")), "{stdout:?}");
}
