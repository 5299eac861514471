//! The fuzz targets of otlp-pipeline: one function per target, each taking
//! the fuzzer's bytes and panicking (the crash AFL++ records) when the code
//! under test breaks its contract against an independent oracle.
//!
//! The AFL++ binaries (`src/bin/*.rs`) are one-line wrappers around
//! [`Target::run`]; `cargo test` replays the committed corpus
//! (`corpus/<target>/`), the crash regressions (`regressions/<target>/`) and
//! the generated [`seeds`] through the same functions (`tests/replay.rs`).
//!
//! - `decode_{traces,metrics,logs}`: the direct protobuf decoder against the
//!   prost reference decoder (equal models or both errors), its `_within`
//!   variant under a budget, and what it accepted back through the direct
//!   encoder (prost's bytes exactly, decoding to the same model).
//! - `json_{traces,metrics,logs}`: the simd-json tape parser against the
//!   serde_json walk, its `_within` variant, and what it accepted back through
//!   the JSON writer and through protobuf.
//! - `gzip`, `zstd`: the bounded decompressor against flate2's and zstd's
//!   streaming decoders, with the output limit taken from the input's first
//!   two bytes.

#![warn(missing_docs, unreachable_pub)]
#![deny(unsafe_code)]

mod compress;
mod decode;
mod json;
mod seeds;

pub use seeds::seeds;

/// Every fuzz target; the name is the binary's, the corpus folder's and
/// `scripts/fuzz.sh`'s argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The protobuf trace decoder against prost.
    DecodeTraces,
    /// The protobuf metrics decoder against prost.
    DecodeMetrics,
    /// The protobuf logs decoder against prost.
    DecodeLogs,
    /// The OTLP/JSON trace parser against the serde_json walk.
    JsonTraces,
    /// The OTLP/JSON metrics parser against the serde_json walk.
    JsonMetrics,
    /// The OTLP/JSON logs parser against the serde_json walk.
    JsonLogs,
    /// The bounded gzip decompressor against flate2.
    Gzip,
    /// The bounded zstd decompressor against the zstd crate's decoder.
    Zstd,
}

impl Target {
    /// All targets, in the order CI runs them.
    pub const ALL: &'static [Target] = &[
        Target::DecodeTraces,
        Target::DecodeMetrics,
        Target::DecodeLogs,
        Target::JsonTraces,
        Target::JsonMetrics,
        Target::JsonLogs,
        Target::Gzip,
        Target::Zstd,
    ];

    /// The target's name (`decode_traces`).
    pub fn name(self) -> &'static str {
        match self {
            Target::DecodeTraces => "decode_traces",
            Target::DecodeMetrics => "decode_metrics",
            Target::DecodeLogs => "decode_logs",
            Target::JsonTraces => "json_traces",
            Target::JsonMetrics => "json_metrics",
            Target::JsonLogs => "json_logs",
            Target::Gzip => "gzip",
            Target::Zstd => "zstd",
        }
    }

    /// The target called `name`, if any.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.iter().copied().find(|t| t.name() == name)
    }

    /// Runs the input read from standard input once (replaying a crash file
    /// without AFL++: `target/release/<target> < crash`).
    pub fn run_stdin(self) -> std::io::Result<()> {
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut data)?;
        self.run(&data);
        Ok(())
    }

    /// Runs one input; panics when the code under test and its oracle
    /// disagree, or when the code under test panics itself.
    pub fn run(self, data: &[u8]) {
        match self {
            Target::DecodeTraces => decode::traces(data),
            Target::DecodeMetrics => decode::metrics(data),
            Target::DecodeLogs => decode::logs(data),
            Target::JsonTraces => json::traces(data),
            Target::JsonMetrics => json::metrics(data),
            Target::JsonLogs => json::logs(data),
            Target::Gzip => compress::gzip(data),
            Target::Zstd => compress::zstd(data),
        }
    }
}

/// The input shown in a failure message: the bytes when short, else their
/// length (the crash file holds them).
fn shown(input: &[u8]) -> String {
    if input.len() <= 256 { format!("{input:02x?}") } else { format!("{} bytes", input.len()) }
}

/// Equal values, NaN-safe: `==`, or the same `Debug` text (a NaN is never
/// `==` to itself but prints the same).
fn same<T: PartialEq + std::fmt::Debug>(a: &T, b: &T) -> bool {
    a == b || format!("{a:?}") == format!("{b:?}")
}

/// The neighbourhood of the first difference between two long `Debug` texts.
fn first_difference(a: &str, b: &str) -> String {
    let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let window = |s: &str| s.get(at.saturating_sub(200)..).unwrap_or(s).chars().take(400).collect::<String>();
    format!("\n first  {}\n second {}", window(a), window(b))
}
