//! Fidelity of `OtlpLayer` against tracing-opentelemetry (issue 15): the
//! same instrumented calls run once under our layer, exporter and pipeline,
//! once under tracing-opentelemetry with the official SDK's tracer provider
//! and opentelemetry-otlp's OTLP/HTTP exporter (none of our code on that
//! side), each into a loopback `Receiver`. What the two receivers got is
//! compared span by span (matched by name), field by field.
//!
//! The differences on purpose are named below, each with its reason, and
//! asserted to exist (on theirs and not on ours, or with both values): when
//! one goes away, the test says which. Any other difference fails the test
//! with one line per differing field.

use std::fmt;
use std::future::Future as _;
use std::time::Duration;

use crate::util::loopback::{Arrived, capturing_receiver, exporter_to};
use opentelemetry::trace::{
    SpanContext as OtelSpanContext, SpanId as OtelSpanId, TraceContextExt as _, TraceFlags, TraceId as OtelTraceId,
    TraceState, TracerProvider as _,
};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use otlp_pipeline::layer::OtlpLayer;
use otlp_pipeline::model::{AnyValue, SpanContext, SpanKind, StatusCode};
use otlp_pipeline::{KeyValue, Protocol, fixtures};
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// The remote caller of the `consume` span, as a `traceparent`, and its tracestate.
const REMOTE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const REMOTE_STATE: &str = "congo=t61rcWkgMzE";

/// A value recorded with `?`: its `Debug` form becomes a string attribute.
#[derive(Debug)]
struct Peer {
    #[allow(dead_code, reason = "read through Debug only")]
    port: u16,
}

/// An error an instrumented function returns (`#[instrument(err)]` records
/// it as `error = %e` in an ERROR event without a message).
#[derive(Debug)]
struct DiskFull;

impl fmt::Display for DiskFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("disk full")
    }
}

/// The calls both layers see. `remote_parent` makes a span the child of
/// [`REMOTE`], each layer its own way.
fn instrumented_calls(remote_parent: &dyn Fn(&tracing::Span)) {
    let root = tracing::info_span!(
        "handle",
        otel.name = "GET /users/{id}",
        otel.kind = "server",
        user.id = 7,
        load = 0.25,
        cached = false,
        http.request.method = "GET",
        peer = ?Peer { port: 8080 },
        shown = %"displayed",
        otel.status_code = Empty,
        http.response.status_code = Empty,
    );
    root.in_scope(|| {
        tracing::info!(rows = 2, table = "users", ratio = 0.5, hit = true, "query done");
        let child = tracing::info_span!("SELECT users", otel.kind = "client", db.rows = Empty);
        child.in_scope(|| tracing::debug!(attempt = 1, "connecting"));
        child.record("db.rows", 2);
        drop(child);
        tracing::warn!(elapsed_ms = 12.5, "slow {}", "response");
    });
    root.record("http.response.status_code", 200);
    root.record("otel.status_code", "ok");
    drop(root);

    // An ERROR event fails its span.
    let charge = tracing::info_span!("charge", amount = 9.99);
    charge.in_scope(|| tracing::error!(code = 502, "payment gateway refused"));
    drop(charge);

    // Status from the conventions, code first.
    drop(tracing::info_span!("timeout", otel.status_code = "error", otel.status_description = "upstream timed out"));

    // Values tracing-opentelemetry has no typed visitor for.
    drop(tracing::info_span!("sizes", size = 512_u64, digest = &b"\x01\x02"[..]));
    // The `error` field on a span, a description alone, the older name of the description.
    drop(tracing::info_span!("flagged", error = true));
    drop(tracing::info_span!("failed", error = %DiskFull));
    drop(tracing::info_span!("described", otel.status_description = "quota exceeded"));
    drop(tracing::info_span!("aliased", otel.status_code = "error", otel.status_message = "gone"));
    let plain = tracing::info_span!("plain error");
    plain.in_scope(|| tracing::error!(error = "disk full"));
    drop(plain);

    // What `#[instrument(err)]` emits when the function fails: an ERROR
    // event with the error and no message.
    let write = tracing::info_span!("write", path = "/var/data");
    write.in_scope(|| tracing::error!(error = %DiskFull));
    drop(write);

    // A remote parent, and a link to a local span.
    let enqueue = tracing::info_span!("enqueue", otel.kind = "producer");
    let consume = tracing::info_span!(parent: None, "consume", otel.kind = "consumer");
    remote_parent(&consume);
    consume.follows_from(&enqueue);
    consume.in_scope(|| {
        tracing::info!(message.id = "m-1", "consumed");
        drop(tracing::info_span!("ack"));
    });
    drop(consume);
    drop(enqueue);
}

/// Ours: `OtlpLayer` and our exporter over OTLP/HTTP.
async fn run_ours() -> Arrived {
    let receiver = capturing_receiver().await;
    let exporter = exporter_to(&receiver, Protocol::HttpProtobuf, fixtures::resource());
    let layer = OtlpLayer::new(exporter.handle());
    tokio::task::spawn_blocking(move || {
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            instrumented_calls(&|span| {
                OtlpLayer::set_parent_from_headers(span, REMOTE, Some(REMOTE_STATE)).expect("valid traceparent");
            });
        });
    })
    .await
    .expect("the calls ran");
    let stats = exporter.shutdown(Duration::from_secs(10)).await.expect("the batcher is alive");
    assert_eq!(stats.pipeline.dropped_total(), 0, "{}", stats.pipeline);
    let got = Arrived::take(&receiver);
    receiver.shutdown().await;
    got
}

/// The SDK's exporter with `tracing` switched off while an export is
/// polled. The simple processor exports on the thread that ends the span,
/// inside the test's subscriber: hyper's own debug events ("checkout waiting
/// for idle connection") would become events of the span that is current
/// there (the parent of the one that ended). Our pipeline exports on its own
/// task, away from the app's spans.
#[derive(Debug)]
struct Quiet<E>(E);

impl<E: SpanExporter> SpanExporter for Quiet<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut export = std::pin::pin!(self.0.export(batch));
        std::future::poll_fn(|cx| {
            tracing::dispatcher::with_default(&tracing::Dispatch::none(), || export.as_mut().poll(cx))
        })
        .await
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.0.set_resource(resource);
    }
}

/// Theirs: tracing-opentelemetry with its defaults, the SDK's tracer
/// provider (parent-based always-on sampler) with a simple processor and
/// opentelemetry-otlp's OTLP/HTTP protobuf exporter. The simple processor
/// exports on the thread that ends the span, with a blocking executor; the
/// exporter's hyper client spawns its connection on the tokio runtime of
/// that thread (a blocking-pool thread has the test's runtime as its
/// context), which the test's thread drives while it awaits the calls.
async fn run_theirs() -> Arrived {
    let receiver = capturing_receiver().await;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(format!("{}/v1/traces", receiver.http_endpoint()))
        .build()
        .expect("valid SDK exporter");
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().with_simple_exporter(Quiet(exporter)).build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("fidelity"));
    tokio::task::spawn_blocking(move || {
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            instrumented_calls(&|span| {
                let remote = SpanContext::from_headers(REMOTE, None).expect("valid traceparent");
                let parent = OtelSpanContext::new(
                    OtelTraceId::from_bytes(remote.trace_id.to_bytes()),
                    OtelSpanId::from_bytes(remote.span_id.to_bytes()),
                    TraceFlags::SAMPLED,
                    true,
                    REMOTE_STATE.parse::<TraceState>().expect("valid tracestate"),
                );
                span.set_parent(opentelemetry::Context::new().with_remote_span_context(parent))
                    .expect("the span is not started yet");
            });
        });
        provider.shutdown().expect("the SDK shuts down");
    })
    .await
    .expect("the calls ran");
    let got = Arrived::take(&receiver);
    receiver.shutdown().await;
    got
}

/// One span as compared: ids become relations (the two runs draw
/// different ids), times are left out (they differ by construction).
#[derive(Debug, Clone, PartialEq)]
struct View {
    name: String,
    kind: SpanKind,
    /// "root", "child of <name>" or "remote <span id>".
    parent: String,
    /// "own", "parent's", "remote" or a mismatch.
    trace: String,
    trace_state: String,
    flags: u32,
    attributes: Vec<(String, AnyValue)>,
    dropped_attributes: u32,
    events: Vec<EventView>,
    dropped_events: u32,
    /// "<name> flags <hex>" of each linked span.
    links: Vec<String>,
    dropped_links: u32,
    status: (StatusCode, String),
}

#[derive(Debug, Clone, PartialEq)]
struct EventView {
    name: String,
    attributes: Vec<(String, AnyValue)>,
    dropped_attributes: u32,
}

fn pairs(attributes: &[KeyValue]) -> Vec<(String, AnyValue)> {
    attributes.iter().map(|kv| (kv.key.to_string(), kv.value.clone())).collect()
}

/// The spans of one run as views, by name; every run's spans are sane on their own.
fn views(got: &Arrived) -> Vec<View> {
    let remote = SpanContext::from_headers(REMOTE, None).expect("valid");
    let by_id = |id| got.spans.iter().find(|s| s.span_id == id);
    let mut views: Vec<View> = got
        .spans
        .iter()
        .map(|s| {
            let (parent, trace) = match s.parent_span_id {
                None => ("root".to_owned(), "own".to_owned()),
                Some(p) if p == remote.span_id => (
                    format!("remote {p}"),
                    if s.trace_id == remote.trace_id { "remote" } else { "not the remote's" }.to_owned(),
                ),
                Some(p) => match by_id(p) {
                    Some(parent) => (
                        format!("child of {}", parent.name),
                        if s.trace_id == parent.trace_id { "parent's" } else { "not the parent's" }.to_owned(),
                    ),
                    None => (format!("unknown {p}"), "unknown".to_owned()),
                },
            };
            View {
                name: s.name.to_string(),
                kind: s.kind,
                parent,
                trace,
                trace_state: s.trace_state.to_string(),
                flags: s.flags,
                attributes: pairs(&s.attributes),
                dropped_attributes: s.dropped_attributes_count,
                events: s
                    .events
                    .iter()
                    .map(|e| EventView {
                        name: e.name.to_string(),
                        attributes: pairs(&e.attributes),
                        dropped_attributes: e.dropped_attributes_count,
                    })
                    .collect(),
                dropped_events: s.dropped_events_count,
                links: s
                    .links
                    .iter()
                    .map(|l| {
                        let target = got
                            .spans
                            .iter()
                            .find(|t| t.span_id == l.span_id && t.trace_id == l.trace_id)
                            .map_or_else(|| format!("unknown {}", l.span_id), |t| t.name.to_string());
                        format!("{target} flags {:#x}", l.flags)
                    })
                    .collect(),
                dropped_links: s.dropped_links_count,
                status: (s.status.code, s.status.message.to_string()),
            }
        })
        .collect();
    views.sort_by(|a, b| a.name.cmp(&b.name));
    for s in &got.spans {
        assert!(s.trace_id.is_valid() && s.span_id.is_valid(), "{}", s.name);
        assert!(s.start_time_unix_nano > 0 && s.start_time_unix_nano <= s.end_time_unix_nano, "{}", s.name);
        for e in &s.events {
            assert!((s.start_time_unix_nano..=s.end_time_unix_nano).contains(&e.time_unix_nano), "{}", s.name);
        }
    }
    let mut roots: Vec<_> = got.spans.iter().filter(|s| s.parent_span_id.is_none()).map(|s| s.trace_id).collect();
    let n = roots.len();
    roots.sort();
    roots.dedup();
    assert_eq!(roots.len(), n, "every root starts its own trace");
    views
}

/// Takes `key` out of `attributes`, asserting it is there once, with a value of the kind `kind` names.
fn take_attr(attributes: &mut Vec<(String, AnyValue)>, key: &str, kind: &str, what: &str) -> AnyValue {
    let at: Vec<usize> = attributes.iter().enumerate().filter(|(_, (k, _))| k == key).map(|(i, _)| i).collect();
    assert_eq!(at.len(), 1, "{what}: expected one {key} attribute in {attributes:?}");
    let (_, value) = attributes.remove(at[0]);
    let ok = match kind {
        "string" => matches!(value, AnyValue::String(ref s) if !s.is_empty()),
        "int" => matches!(value, AnyValue::Int(_)),
        _ => unreachable!("a kind this test names"),
    };
    assert!(ok, "{what}: {key} should be a non-empty {kind}, is {value:?}");
    value
}

fn assert_no_attr(attributes: &[(String, AnyValue)], key: &str, what: &str) {
    assert!(attributes.iter().all(|(k, _)| k != key), "{what}: ours should not have {key}: {attributes:?}");
}

/// Attributes tracing-opentelemetry adds to every span, and ours does not.
/// `code.*` (the callsite) and `target` are the `tracing` metadata of the
/// span, which its name already identifies and which cost an attribute per
/// span on the wire; `thread.*` is the creating thread (tokio moves a
/// span's work between threads, so it says little); `busy_ns`/`idle_ns` are
/// tracing-opentelemetry's own timing of the span's entered time, which
/// needs clock reads on every enter and exit.
const THEIRS_ONLY_SPAN: [(&str, &str); 8] = [
    ("code.file.path", "string"),
    ("code.module.name", "string"),
    ("code.line.number", "int"),
    ("thread.id", "int"),
    ("thread.name", "string"),
    ("target", "string"),
    ("busy_ns", "int"),
    ("idle_ns", "int"),
];

/// Attributes tracing-opentelemetry adds to every span event, and ours does
/// not: the event's callsite and target (as for spans) and its `level`
/// (ours leaves the level out of span events; an ERROR event shows in the
/// span's status).
const THEIRS_ONLY_EVENT: [(&str, &str); 5] = [
    ("level", "string"),
    ("target", "string"),
    ("code.file.path", "string"),
    ("code.module.name", "string"),
    ("code.line.number", "int"),
];

/// Takes the named differences out of both sides (asserting each is there),
/// so that what remains must be equal.
fn remove_named_differences(ours: &mut [View], theirs: &mut [View]) {
    for (o, t) in ours.iter_mut().zip(theirs.iter_mut()) {
        let what = format!("span {}", t.name);
        for (key, kind) in THEIRS_ONLY_SPAN {
            take_attr(&mut t.attributes, key, kind, &what);
            assert_no_attr(&o.attributes, key, &what);
        }
        for (i, (oe, te)) in o.events.iter_mut().zip(t.events.iter_mut()).enumerate() {
            let what = format!("span {} event {i} ({})", t.name, te.name);
            for (key, kind) in THEIRS_ONLY_EVENT {
                take_attr(&mut te.attributes, key, kind, &what);
                assert_no_attr(&oe.attributes, key, &what);
            }
        }
    }
}

fn string(s: &str) -> AnyValue {
    AnyValue::String(otlp_pipeline::Str::copy_from(s))
}

fn attrs(list: &[(&str, AnyValue)]) -> Vec<(String, AnyValue)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

/// One value that differs on purpose: asserts that ours and theirs are
/// what the difference says, then takes theirs as ours.
fn expect<T: PartialEq + fmt::Debug + Clone>(what: &str, ours: &T, theirs: &mut T, (o, t): (T, T)) {
    assert_eq!((ours, &*theirs), (&o, &t), "{what}: the named difference is not what it was (ours, theirs)");
    *theirs = ours.clone();
}

/// The values that differ on purpose, span by span.
fn remove_value_differences(ours: &[View], theirs: &mut [View]) {
    let find = |name: &str| ours.iter().position(|v| v.name == name).unwrap_or_else(|| panic!("no span {name}"));

    // Integers and bytes keep their OTLP type in ours. tracing-opentelemetry's
    // visitors have no `record_u64` or `record_bytes`, so `tracing` hands it
    // their `Debug` text: a `u64` (every `usize`) arrives as a string, bytes as
    // "[01 02]".
    let i = find("sizes");
    expect(
        "span sizes: u64 and bytes fields",
        &ours[i].attributes,
        &mut theirs[i].attributes,
        (
            attrs(&[("size", AnyValue::Int(512)), ("digest", AnyValue::Bytes(bytes::Bytes::from_static(b"\x01\x02")))]),
            attrs(&[("size", string("512")), ("digest", string("[01 02]"))]),
        ),
    );

    // A span's `error` field (the OpenTracing `error` tag) fails the span in
    // ours, its message as the description; tracing-opentelemetry reads
    // `error` in events only and keeps a span's as a plain attribute, so the
    // failure never shows in the span's status.
    for (name, value, message) in [("flagged", AnyValue::Bool(true), ""), ("failed", string("disk full"), "disk full")]
    {
        let i = find(name);
        let what = format!("span {name}: the error field");
        expect(&what, &ours[i].attributes, &mut theirs[i].attributes, (vec![], attrs(&[("error", value)])));
        expect(
            &what,
            &ours[i].status,
            &mut theirs[i].status,
            ((StatusCode::Error, message.to_owned()), (StatusCode::Unset, String::new())),
        );
    }

    // `otel.status_message`, the description's name in older
    // tracing-opentelemetry releases, still works in ours: apps written
    // against them keep their descriptions. 0.34 knows only
    // `otel.status_description` and keeps the old name as an attribute.
    let i = find("aliased");
    let what = "span aliased: otel.status_message";
    expect(
        what,
        &ours[i].attributes,
        &mut theirs[i].attributes,
        (vec![], attrs(&[("otel.status_message", string("gone"))])),
    );
    expect(
        what,
        &ours[i].status,
        &mut theirs[i].status,
        ((StatusCode::Error, "gone".to_owned()), (StatusCode::Error, String::new())),
    );

    // An exception whose error is a plain string: ours keeps the string;
    // tracing-opentelemetry writes its `Debug` form, in quotes (an error
    // recorded with `%` or `?`, as `#[instrument(err)]` does, is the same on
    // both sides: span `write`).
    let i = find("plain error");
    let what = "span plain error: a string exception";
    expect(
        what,
        &ours[i].events[0].attributes,
        &mut theirs[i].events[0].attributes,
        (
            attrs(&[("exception.message", string("disk full"))]),
            attrs(&[("exception.message", string("\"disk full\""))]),
        ),
    );
    expect(
        what,
        &ours[i].status,
        &mut theirs[i].status,
        ((StatusCode::Error, "disk full".to_owned()), (StatusCode::Error, "\"disk full\"".to_owned())),
    );
}

/// One line per field that differs.
fn differences(ours: &[View], theirs: &[View]) -> Vec<String> {
    let mut out = Vec::new();
    let names = |v: &[View]| v.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    if names(ours) != names(theirs) {
        out.push(format!("span names: ours {:?}, theirs {:?}", names(ours), names(theirs)));
        return out;
    }
    for (o, t) in ours.iter().zip(theirs) {
        let mut field = |what: &str, a: &dyn fmt::Debug, b: &dyn fmt::Debug| {
            let (a, b) = (format!("{a:?}"), format!("{b:?}"));
            if a != b {
                out.push(format!("span {}: {what}: ours {a}, theirs {b}", o.name));
            }
        };
        field("kind", &o.kind, &t.kind);
        field("parent", &o.parent, &t.parent);
        field("trace", &o.trace, &t.trace);
        field("trace_state", &o.trace_state, &t.trace_state);
        field("flags", &format_args!("{:#x}", o.flags), &format_args!("{:#x}", t.flags));
        field("attributes", &o.attributes, &t.attributes);
        field("dropped attributes", &o.dropped_attributes, &t.dropped_attributes);
        field("event count", &o.events.len(), &t.events.len());
        for (i, (oe, te)) in o.events.iter().zip(&t.events).enumerate() {
            field(&format!("event {i} name"), &oe.name, &te.name);
            field(&format!("event {i} attributes"), &oe.attributes, &te.attributes);
            field(&format!("event {i} dropped attributes"), &oe.dropped_attributes, &te.dropped_attributes);
        }
        field("dropped events", &o.dropped_events, &t.dropped_events);
        field("links", &o.links, &t.links);
        field("dropped links", &o.dropped_links, &t.dropped_links);
        field("status", &o.status, &t.status);
    }
    out
}

#[tokio::test]
async fn our_layer_delivers_what_tracing_opentelemetry_delivers() {
    let ours = run_ours().await;
    let theirs = run_theirs().await;
    assert_eq!(ours.spans.len(), 14, "ours: {:?}", ours.spans.iter().map(|s| &s.name).collect::<Vec<_>>());
    assert_eq!(theirs.spans.len(), 14, "theirs: {:?}", theirs.spans.iter().map(|s| &s.name).collect::<Vec<_>>());
    // Events inside spans are span events on both sides, never log records.
    assert_eq!((ours.logs.len(), ours.metrics.len(), theirs.logs.len(), theirs.metrics.len()), (0, 0, 0, 0));

    let (mut o, mut t) = (views(&ours), views(&theirs));
    let names = |v: &[View]| v.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&o), names(&t), "the same spans, by name (ours, theirs)");
    remove_named_differences(&mut o, &mut t);
    remove_value_differences(&o, &mut t);
    let diff = differences(&o, &t);
    assert!(diff.is_empty(), "{} unexplained differences:\n{}", diff.len(), diff.join("\n"));
    // The comparison saw what it is about: typed attributes, a local
    // child, a remote parent and its trace, a link.
    let view = |name: &str| o.iter().find(|v| v.name == name).unwrap_or_else(|| panic!("no span {name}"));
    let root = view("GET /users/{id}");
    assert_eq!((root.kind, root.parent.as_str()), (SpanKind::Server, "root"));
    assert!(root.attributes.contains(&("load".to_owned(), AnyValue::Double(0.25))), "{:?}", root.attributes);
    assert_eq!(root.events.len(), 2);
    assert_eq!(view("SELECT users").parent, "child of GET /users/{id}");
    let consume = view("consume");
    assert_eq!((consume.parent.as_str(), consume.trace.as_str()), ("remote 00f067aa0ba902b7", "remote"));
    assert_eq!(consume.trace_state, REMOTE_STATE);
    assert_eq!(consume.links, ["enqueue flags 0x101"]);
    assert_eq!((view("ack").parent.as_str(), view("ack").trace.as_str()), ("child of consume", "parent's"));
}
