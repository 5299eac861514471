//! `otlp-lab attack`: amplification requests (`otlp_pipeline::fixtures::hostile`)
//! against `otlp-lab receive` run as a child process, whose peak RSS
//! (`VmHWM` in `/proc/<pid>/status`) is the figure: the receiver's memory
//! apart from the attacker's. Each kind and transport gets a fresh child, so
//! that each peak is that row's alone.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use otlp_pipeline::compress::{Compression, Compressor};
use otlp_pipeline::encode::Signal;
use otlp_pipeline::exporter::Protocol;
use otlp_pipeline::fixtures::{self, hostile};
use otlp_pipeline::pipeline::{BodyFormat, ExportRequest};
use otlp_pipeline::transport::TransportError;
use otlp_pipeline::transport::grpc::GrpcClient;
use otlp_pipeline::transport::http::HttpClient;
use serde::{Deserialize, Serialize};

/// `otlp-lab attack` options.
#[derive(Clone, Debug, clap::Args)]
pub struct AttackArgs {
    /// Comma-separated kinds (default: all of them).
    #[arg(long, value_delimiter = ',')]
    pub kinds: Vec<hostile::Kind>,
    /// Comma-separated PROTOCOL+COMPRESSION (http/protobuf, http/json, grpc; none, gzip, zstd).
    #[arg(long, value_delimiter = ',', default_value = "http/protobuf+zstd,grpc+zstd")]
    pub transports: Vec<Transport>,
    /// Requests sent at once per kind and transport.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: u32,
    /// Seconds each request may take before it counts as `timeout`.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
    /// Kill the receiver when its RSS passes this many MiB (the row says so).
    #[arg(long, default_value_t = 6144, value_parser = clap::value_parser!(u64).range(16..))]
    pub rss_limit_mib: u64,
    /// Also write the rows here as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Flags passed on to `otlp-lab receive` (after `--`), e.g. its limits.
    #[arg(last = true)]
    pub receive_args: Vec<String>,
}

/// A protocol and a codec, `http/json+zstd`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transport {
    /// The protocol.
    pub protocol: Protocol,
    /// The codec (default levels).
    pub compression: Compression,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}+{}", self.protocol, self.compression)
    }
}

impl std::str::FromStr for Transport {
    type Err = AttackError;
    fn from_str(s: &str) -> Result<Transport, AttackError> {
        let bad = || AttackError::Transport(s.to_owned());
        let (p, c) = s.trim().split_once('+').ok_or_else(bad)?;
        let protocol = p.parse().map_err(|_| bad())?;
        let compression = match c {
            "none" => Compression::None,
            "gzip" => Compression::GZIP_DEFAULT,
            "zstd" => Compression::ZSTD_DEFAULT,
            _ => return Err(bad()),
        };
        Ok(Transport { protocol, compression })
    }
}

/// Why an attack could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttackError {
    /// A `--transports` entry that is not PROTOCOL+COMPRESSION.
    #[error("`{0}`: expected PROTOCOL+COMPRESSION, e.g. http/protobuf+zstd, http/json+gzip, grpc+none")]
    Transport(String),
    /// Peak RSS is read from /proc, which this system does not have.
    #[error("reading the receiver's peak RSS needs /proc/<pid>/status (Linux): {0}")]
    NoProc(std::io::Error),
    /// The receiver child could not be started or did not say where it listens.
    #[error("starting `{exe} receive`: {reason}", exe = exe.display())]
    Receiver {
        /// The executable.
        exe: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A body could not be written.
    #[error(transparent)]
    Body(#[from] hostile::HostileError),
    /// A body could not be compressed.
    #[error("compressing a body: {0}")]
    Compress(#[from] otlp_pipeline::compress::CompressError),
    /// A client could not be built.
    #[error("client: {0}")]
    Client(#[from] otlp_pipeline::transport::http::HttpConfigError),
    /// The runtime could not start.
    #[error("tokio runtime: {0}")]
    Runtime(std::io::Error),
    /// The result file could not be written.
    #[error(transparent)]
    ResultFile(#[from] crate::result_file::ResultFileError),
}

/// One kind over one transport against a fresh receiver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackRow {
    /// The kind's name.
    pub kind: String,
    /// http/protobuf, http/json or grpc.
    pub transport: String,
    /// none, gzip or zstd.
    pub encoding: String,
    /// Requests sent at once.
    pub concurrency: u32,
    /// Bytes of each request as sent (gRPC: before tonic compresses it).
    pub sent_bytes: u64,
    /// Bytes of each request decompressed.
    pub decompressed_bytes: u64,
    /// Elements of the filled field in each request.
    pub elements: u64,
    /// Answers by kind: `200`, `413`, `OK`, `RESOURCE_EXHAUSTED`, `timeout`, ...
    pub answers: BTreeMap<String, u64>,
    /// Whether a valid request (the standard fixture) was accepted afterwards.
    pub valid_after: bool,
    /// The receiver's peak RSS before the attack, bytes.
    pub idle_rss_bytes: u64,
    /// The receiver's peak RSS at the end, bytes.
    pub peak_rss_bytes: u64,
    /// Whether the receiver was killed for passing `--rss-limit-mib`.
    pub killed: bool,
}

/// What `--json` writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttackFile {
    /// `otlp-lab receive` flags given after `--`.
    pub receive_args: Vec<String>,
    /// One row per kind and transport.
    pub rows: Vec<AttackRow>,
}

/// `otlp-lab attack`: runs every kind over every transport, prints the table.
pub fn cli(args: &AttackArgs) -> Result<AttackFile, AttackError> {
    let exe =
        std::env::current_exe().map_err(|e| AttackError::Receiver { exe: "otlp-lab".into(), reason: e.to_string() })?;
    std::fs::read_to_string("/proc/self/status").map_err(AttackError::NoProc)?;
    let kinds = if args.kinds.is_empty() { hostile::Kind::ALL.to_vec() } else { args.kinds.clone() };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(AttackError::Runtime)?;
    let mut rows = Vec::new();
    for &kind in &kinds {
        for &t in &args.transports {
            eprintln!("otlp-lab attack: {kind} over {t}, {} at once", args.concurrency);
            let row = rt.block_on(one(&exe, args, kind, t))?;
            eprintln!("  {}", row_line(&row));
            rows.push(row);
        }
    }
    let file = AttackFile { receive_args: args.receive_args.clone(), rows };
    print!("{}", table(&file));
    if let Some(path) = &args.json {
        crate::result_file::write(path, &file)?;
    }
    Ok(file)
}

/// The table `attack` prints.
pub fn table(file: &AttackFile) -> String {
    let mut out = format!(
        "{:<29} {:<14} {:<8} {:>10} {:>12} {:<24} {:<6} {:>9} {:>10}\n",
        "kind", "transport", "encoding", "sent", "decompressed", "answers", "valid", "idle MiB", "peak MiB"
    );
    for r in &file.rows {
        out.push_str(&row_line(r));
        out.push('\n');
    }
    out
}

fn row_line(r: &AttackRow) -> String {
    let answers = r.answers.iter().map(|(a, n)| format!("{n}× {a}")).collect::<Vec<_>>().join(", ");
    let mib = |b: u64| format!("{:.0}", b as f64 / f64::from(1 << 20));
    format!(
        "{:<29} {:<14} {:<8} {:>10} {:>12} {:<24} {:<6} {:>9} {:>10}{}",
        r.kind,
        r.transport,
        r.encoding,
        r.sent_bytes,
        r.decompressed_bytes,
        answers,
        if r.valid_after { "ok" } else { "FAILED" },
        mib(r.idle_rss_bytes),
        mib(r.peak_rss_bytes),
        if r.killed { " (killed at the RSS limit)" } else { "" }
    )
}

/// A running `otlp-lab receive` child and where it listens.
struct ReceiverChild {
    child: Child,
    http: String,
    grpc: String,
}

impl ReceiverChild {
    /// Starts it on ephemeral loopback ports and reads its addresses from the
    /// lines `receive` prints on standard error.
    fn start(exe: &Path, extra: &[String]) -> Result<ReceiverChild, AttackError> {
        let fail = |reason: String| AttackError::Receiver { exe: exe.to_owned(), reason };
        let mut child = Command::new(exe)
            .args(["receive", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--timeout", "86400"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(e.to_string()))?;
        let stderr = child.stderr.take().ok_or_else(|| fail("no standard error".into()))?;
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads every line, so that the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _gone = tx.send(line);
            }
        });
        let (mut http, mut grpc) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.is_none() || grpc.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail("it did not print its addresses".into()));
            };
            if let Some(a) = line.strip_prefix("otlp-lab: receiving OTLP/HTTP on ") {
                http = Some(a.trim().to_owned());
            } else if let Some(a) = line.strip_prefix("otlp-lab: receiving OTLP/gRPC on ") {
                grpc = Some(a.trim().to_owned());
            }
        }
        Ok(ReceiverChild { child, http: http.unwrap_or_default(), grpc: grpc.unwrap_or_default() })
    }

    /// `VmHWM` and `VmRSS` in bytes, if it still runs.
    fn memory(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kb| kb * 1024)
        };
        Some((field("VmHWM:")?, field("VmRSS:")?))
    }
}

impl Drop for ReceiverChild {
    fn drop(&mut self) {
        let _already_gone = self.child.kill();
        let _reaped = self.child.wait();
    }
}

fn answer(result: Result<otlp_pipeline::transport::Accepted, TransportError>) -> String {
    match result {
        Ok(_) => "accepted".to_owned(),
        Err(TransportError::Status { status, .. }) => status.to_string(),
        Err(TransportError::Grpc { code, .. }) => tonic_code_name(code).to_owned(),
        Err(e) => format!("error: {e}"),
    }
}

/// gRPC status names for the codes a receiver answers with.
fn tonic_code_name(code: i32) -> &'static str {
    match code {
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        8 => "RESOURCE_EXHAUSTED",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        _ => "other",
    }
}

fn request(signal: Signal, format: BodyFormat, compression: Compression, body: Bytes) -> ExportRequest {
    let raw_len = body.len();
    ExportRequest { signal, body, compression, format, items: 0, raw_len }
}

#[derive(Clone, Debug)]
enum Client {
    Http(Box<HttpClient>),
    Grpc(Box<GrpcClient>),
}

impl Client {
    async fn send(&self, r: &ExportRequest) -> String {
        answer(match self {
            Client::Http(c) => c.send(r).await,
            Client::Grpc(c) => c.send(r).await,
        })
    }
}

async fn one(exe: &Path, args: &AttackArgs, kind: hostile::Kind, t: Transport) -> Result<AttackRow, AttackError> {
    let format = if t.protocol == Protocol::HttpJson { BodyFormat::Json } else { BodyFormat::Protobuf };
    let compressed = t.compression != Compression::None;
    let a = kind.body(format, hostile::target_for(compressed))?;
    let decompressed_bytes = a.body.len() as u64;
    let receiver = ReceiverChild::start(exe, &args.receive_args)?;
    let (client, body, codec) = match t.protocol {
        // tonic applies grpc-encoding itself: the message goes raw.
        Protocol::Grpc => (
            Client::Grpc(Box::new(GrpcClient::new(&receiver.grpc, t.compression, &[], None)?)),
            Bytes::from(a.body),
            Compression::None,
        ),
        _ => {
            let body = if compressed {
                let mut out = Vec::new();
                Compressor::new().compress(t.compression, &a.body, &mut out)?;
                Bytes::from(out)
            } else {
                Bytes::from(a.body)
            };
            (Client::Http(Box::new(HttpClient::new(&receiver.http, &[])?)), body, t.compression)
        }
    };
    let sent_bytes = body.len() as u64;
    let idle = receiver.memory().map_or(0, |m| m.0);
    let timeout = Duration::from_secs(args.timeout);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (client, r) = (client.clone(), request(kind.signal(), format, codec, body.clone()));
        tasks.spawn(async move {
            match tokio::time::timeout(timeout, client.send(&r)).await {
                Ok(a) => a,
                Err(_) => "timeout".to_owned(),
            }
        });
    }
    let limit = args.rss_limit_mib << 20;
    let mut answers = BTreeMap::new();
    let mut killed = false;
    let mut peak = idle;
    let mut watch = tokio::time::interval(Duration::from_millis(50));
    let mut receiver = receiver;
    while !tasks.is_empty() {
        tokio::select! {
            done = tasks.join_next() => {
                if let Some(done) = done {
                    let a = done.unwrap_or_else(|e| format!("error: {e}"));
                    *answers.entry(a).or_insert(0) += 1;
                }
            }
            _ = watch.tick() => {
                if let Some((hwm, rss)) = receiver.memory() {
                    peak = peak.max(hwm);
                    if rss > limit && !killed {
                        killed = true;
                        let _gone = receiver.child.kill();
                    }
                }
            }
        }
    }
    let valid_after = !killed && {
        let mut body = Vec::new();
        match kind.signal() {
            Signal::Traces => otlp_pipeline::encode::direct::encode_traces(&fixtures::traces(16), &mut body),
            Signal::Metrics => otlp_pipeline::encode::direct::encode_metrics(&fixtures::metrics(20), &mut body),
            Signal::Logs => otlp_pipeline::encode::direct::encode_logs(&fixtures::logs(16), &mut body),
        };
        let valid = request(kind.signal(), BodyFormat::Protobuf, Compression::None, Bytes::from(body));
        let answer = tokio::time::timeout(timeout, client.send(&valid)).await;
        answer.is_ok_and(|a| a == "accepted")
    };
    if let Some((hwm, _)) = receiver.memory() {
        peak = peak.max(hwm);
    }
    drop(receiver);
    Ok(AttackRow {
        kind: kind.name().to_owned(),
        transport: t.protocol.to_string(),
        encoding: t.compression.to_string(),
        concurrency: args.concurrency,
        sent_bytes,
        decompressed_bytes,
        elements: a.elements,
        answers,
        valid_after,
        idle_rss_bytes: idle,
        peak_rss_bytes: peak,
        killed,
    })
}
