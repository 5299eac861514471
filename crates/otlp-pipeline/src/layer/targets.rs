//! Which `tracing` targets the layer ignores: the crates whose events would
//! come back through the exporter (see [`DEFAULT_IGNORED_CRATES`]). A target
//! belongs to a crate when it is the crate's name or starts with `name::`,
//! which is the first `::` segment of a module path.

use std::borrow::Cow;

/// The crates under the exporter, and this crate: HTTP/1 (`hyper`,
/// `hyper_util`), gRPC (`tonic`, `tower`, `h2`), TLS (`rustls`,
/// `tokio_rustls`, `hyper_rustls`) and `otlp_pipeline` itself. They log each
/// connection and request with `tracing`, mostly at debug and trace level; a
/// layer with no level filter would turn those into log records (or events
/// of the app span that sent the request), whose export logs more of them,
/// without end. The OpenTelemetry SDKs call this telemetry-induced telemetry;
/// opentelemetry-otlp's examples filter the same crates.
pub const DEFAULT_IGNORED_CRATES: &[&str] =
    &["hyper", "hyper_util", "h2", "tonic", "tower", "rustls", "tokio_rustls", "hyper_rustls", "otlp_pipeline"];

/// The ignored crate names, with a mask of their lengths so that most
/// targets are told apart by their first segment's length alone.
#[derive(Debug)]
pub(super) struct Ignored {
    names: Box<[Box<str>]>,
    /// Bit `n` set: a name of `n` bytes; bit 63 stands for every length from
    /// 63 on, which the full comparison then tells apart.
    lengths: u64,
    /// The longest name: a first segment longer than it matches none, so the
    /// scan for `::` stops there.
    longest: usize,
}

/// A length's bit in [`Ignored::lengths`].
#[inline]
fn bit(len: usize) -> u64 {
    1 << len.min(63)
}

impl Ignored {
    pub(super) fn new(names: &[Cow<'static, str>]) -> Self {
        let names: Box<[Box<str>]> = names.iter().map(|n| Box::from(n.as_ref())).collect();
        let lengths = names.iter().fold(0, |m, n| m | bit(n.len()));
        let longest = names.iter().map(|n| n.len()).max().unwrap_or(0);
        Ignored { names, lengths, longest }
    }

    /// Whether `target` is one of the names or starts with `name::`.
    #[inline]
    pub(super) fn contains(&self, target: &str) -> bool {
        let t = target.as_bytes();
        // Only the first `longest + 1` bytes can hold the end of a segment
        // that matches.
        let window = &t[..t.len().min(self.longest + 1)];
        let len = window.iter().position(|&b| b == b':').unwrap_or(window.len());
        if len > self.longest || self.lengths & bit(len) == 0 {
            return false;
        }
        // "name:x" is not a path below `name`.
        if len < t.len() && t.get(len + 1) != Some(&b':') {
            return false;
        }
        let first = &t[..len];
        self.names.iter().any(|n| n.as_bytes() == first)
    }
}

/// Whether `name` cannot be a target's first segment: empty, or holding `:`.
pub(super) fn invalid(name: &str) -> bool {
    name.is_empty() || name.contains(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignored(names: &[&'static str]) -> Ignored {
        Ignored::new(&names.iter().map(|n| Cow::Borrowed(*n)).collect::<Vec<_>>())
    }

    #[test]
    fn a_target_matches_by_its_first_segment() {
        let i = ignored(DEFAULT_IGNORED_CRATES);
        for t in [
            "hyper",
            "hyper_util",
            "hyper_util::client",
            "hyper_util::client::legacy::pool",
            "h2::proto::streams",
            "tonic::transport::channel",
            "tower::buffer::worker",
            "rustls::client::hs",
            "tokio_rustls",
            "hyper_rustls::connector",
            "otlp_pipeline::transport::http",
        ] {
            assert!(i.contains(t), "{t} is ignored");
        }
        for t in [
            "",
            "hyper_utility",
            "hyper_utility::client",
            "tower_http",
            "tower_http::trace",
            "h2x",
            "h",
            "hyper:client",
            "hyper:",
            "my_app::hyper",
            "otlp_pipeline_ext",
            "otlp_lab::scenarios",
            "a_crate_name_longer_than_every_ignored_one_and_then_some::module",
        ] {
            assert!(!i.contains(t), "{t} is not ignored");
        }
    }

    #[test]
    fn the_list_is_the_apps() {
        let none = ignored(&[]);
        assert!(!none.contains("hyper") && !none.contains("") && !none.contains("::"));
        let long = "a".repeat(70);
        let i = Ignored::new(&[Cow::Owned(long.clone()), Cow::Borrowed("db")]);
        assert!(i.contains(&long) && i.contains(&format!("{long}::pool")) && i.contains("db::query"));
        assert!(!i.contains(&"a".repeat(71)) && !i.contains(&"a".repeat(64)) && !i.contains("hyper"));
        assert!(invalid("") && invalid("hyper::client") && !invalid("hyper"));
    }
}
