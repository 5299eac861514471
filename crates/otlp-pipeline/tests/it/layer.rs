//! The `tracing` layer (feature `tracing`): `tracing` spans and events, as an
//! app writes them, through `OtlpLayer` and the pipeline to a sink that
//! decodes what it gets, and once over OTLP/HTTP into the receiver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::util::loopback::{Arrived, capturing_receiver, exporter_to};
use otlp_pipeline::Protocol;
use otlp_pipeline::compress::Decompressor;
use otlp_pipeline::encode::{Signal, decode};
use otlp_pipeline::fixtures;
use otlp_pipeline::layer::{ContextError, LayerConfig, LayerConfigError, OtlpLayer};
use otlp_pipeline::model::{
    AnyValue, FLAG_HAS_IS_REMOTE, FLAG_IS_REMOTE, FLAG_SAMPLED, LogRecord, Severity, Span, SpanContext, SpanKind,
    StatusCode, TraceparentError,
};
use otlp_pipeline::pipeline::{
    DropReason, ExportRequest, ExportResult, ExportSink, Pipeline, PipelineConfig, StatsSnapshot,
};
use tracing::field::Empty;
use tracing_subscriber::layer::SubscriberExt;

/// Decodes every batch it gets.
#[derive(Default)]
struct Capture {
    spans: Mutex<Vec<Span>>,
    logs: Mutex<Vec<LogRecord>>,
}

impl ExportSink for Capture {
    async fn export(&self, request: &ExportRequest) -> ExportResult {
        let mut raw = Vec::new();
        Decompressor::new().decompress(request.compression, &request.body, &mut raw, 64 << 20).expect("valid body");
        let raw = bytes::Bytes::from(raw);
        match request.signal {
            Signal::Traces => {
                let data = decode::decode_traces(&raw).expect("decodes");
                self.spans.lock().expect("lock").extend(data.spans().cloned());
            }
            Signal::Logs => {
                let data = decode::decode_logs(&raw).expect("decodes");
                let records = data.resource_logs.into_iter().flat_map(|r| r.scope_logs).flat_map(|s| s.log_records);
                self.logs.lock().expect("lock").extend(records);
            }
            Signal::Metrics => panic!("the layer sends no metrics"),
        }
        ExportResult::Delivered { rejected: 0 }
    }
}

/// What one run of instrumented code delivered.
struct Delivered {
    spans: Vec<Span>,
    logs: Vec<LogRecord>,
    stats: StatsSnapshot,
}

impl Delivered {
    fn span(&self, name: &str) -> &Span {
        let mut found = self.spans.iter().filter(|s| s.name == name);
        let span = found.next().unwrap_or_else(|| panic!("no span {name} in {:?}", self.names()));
        assert!(found.next().is_none(), "more than one span {name}");
        span
    }

    fn names(&self) -> Vec<&str> {
        self.spans.iter().map(|s| s.name.as_str()).collect()
    }
}

fn attr<'a>(attributes: &'a [otlp_pipeline::KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes.iter().find(|kv| kv.key == key).map(|kv| &kv.value)
}

fn string(s: &str) -> AnyValue {
    AnyValue::String(otlp_pipeline::Str::copy_from(s))
}

/// Runs `code` under a subscriber with the layer, then shuts the pipeline
/// down and returns what arrived.
async fn run(config: LayerConfig, code: impl FnOnce()) -> Delivered {
    let sink = Arc::new(Capture::default());
    let pipeline = Pipeline::start(PipelineConfig::default(), fixtures::resource(), fixtures::scope(), sink.clone())
        .expect("valid config");
    let layer = OtlpLayer::with_config(pipeline.handle(), config).expect("valid layer config");
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), code);
    let stats = pipeline.shutdown(Duration::from_secs(10)).await.expect("the batcher is alive");
    assert!(stats.is_balanced(), "{stats}");
    let spans = std::mem::take(&mut *sink.spans.lock().expect("lock"));
    let logs = std::mem::take(&mut *sink.logs.lock().expect("lock"));
    Delivered { spans, logs, stats }
}

fn ratio(sampling_ratio: f64) -> LayerConfig {
    LayerConfig { sampling_ratio, ..LayerConfig::default() }
}

#[tokio::test]
async fn nested_spans_share_one_trace_and_name_their_parents() {
    let got = run(LayerConfig::default(), || {
        let root = tracing::info_span!("root");
        let _in_root = root.enter();
        let child = tracing::info_span!("child");
        child.in_scope(|| drop(tracing::info_span!("grandchild")));
        drop(child);
        drop(tracing::info_span!("sibling"));
        // An explicit parent wins over the current span.
        drop(tracing::info_span!(parent: None, "detached"));
    })
    .await;
    assert_eq!(got.spans.len(), 5, "{:?}", got.names());
    let (root, child, grandchild, sibling) =
        (got.span("root"), got.span("child"), got.span("grandchild"), got.span("sibling"));
    assert_eq!(root.parent_span_id, None);
    assert_eq!(child.parent_span_id, Some(root.span_id));
    assert_eq!(grandchild.parent_span_id, Some(child.span_id));
    assert_eq!(sibling.parent_span_id, Some(root.span_id));
    for s in [child, grandchild, sibling] {
        assert_eq!(s.trace_id, root.trace_id, "{}", s.name);
        assert!(s.start_time_unix_nano >= root.start_time_unix_nano && s.end_time_unix_nano <= root.end_time_unix_nano);
    }
    let detached = got.span("detached");
    assert_eq!(detached.parent_span_id, None);
    assert_ne!(detached.trace_id, root.trace_id);
    let mut ids: Vec<_> = got.spans.iter().map(|s| s.span_id).collect();
    ids.sort_by_key(|id| id.to_bytes());
    ids.dedup();
    assert_eq!(ids.len(), 5, "span ids are distinct");
    for s in &got.spans {
        assert!(s.trace_id.is_valid() && s.span_id.is_valid());
        assert_eq!(s.kind, SpanKind::Internal);
        assert_eq!(s.flags, FLAG_SAMPLED | FLAG_HAS_IS_REMOTE, "{}", s.name);
        assert!(s.start_time_unix_nano > 0 && s.start_time_unix_nano <= s.end_time_unix_nano);
    }
}

#[tokio::test]
async fn fields_become_attributes_of_their_own_type() {
    let got = run(LayerConfig::default(), || {
        let span = tracing::info_span!(
            "typed",
            int = -3_i64,
            unsigned = 7_u64,
            huge = u64::MAX,
            float = 1.5,
            flag = true,
            text = "plain",
            shown = %"displayed",
            debugged = ?vec![1, 2],
            later = Empty,
        );
        span.record("later", 9);
        // Recorded again: replaced, not repeated.
        span.record("int", 4);
    })
    .await;
    let s = got.span("typed");
    let a = |k| attr(&s.attributes, k).unwrap_or_else(|| panic!("no attribute {k}: {:?}", s.attributes));
    assert_eq!(a("int"), &AnyValue::Int(4));
    assert_eq!(a("unsigned"), &AnyValue::Int(7));
    assert_eq!(a("huge"), &string("18446744073709551615"), "above i64: its decimal string");
    assert_eq!(a("float"), &AnyValue::Double(1.5));
    assert_eq!(a("flag"), &AnyValue::Bool(true));
    assert_eq!(a("text"), &string("plain"));
    assert_eq!(a("shown"), &string("displayed"));
    assert_eq!(a("debugged"), &string("[1, 2]"));
    assert_eq!(a("later"), &AnyValue::Int(9));
    assert_eq!(s.attributes.len(), 9, "{:?}", s.attributes);
}

#[tokio::test]
async fn otel_fields_set_name_kind_and_status_and_are_not_attributes() {
    let got = run(LayerConfig::default(), || {
        drop(tracing::info_span!(
            "ignored name",
            otel.name = "GET /users",
            otel.kind = "server",
            otel.status_code = "ERROR",
            otel.status_description = "upstream timed out",
            kept = 1,
        ));
        drop(tracing::info_span!("client", otel.kind = ?"Client", otel.status_code = "ok"));
        drop(tracing::info_span!("flagged", error = true));
        drop(tracing::info_span!("failed", error = %"disk full"));
        drop(tracing::info_span!("fine", error = false));
        let late =
            tracing::info_span!("late", otel.kind = Empty, otel.status_code = Empty, otel.status_message = Empty,);
        late.record("otel.kind", "producer");
        late.record("otel.status_code", "error");
        late.record("otel.status_message", "queue gone");
        drop(late);
        drop(tracing::info_span!("unknown kind", otel.kind = "serverless"));
        // A description alone is an error's; `ok` and `unset` carry none.
        drop(tracing::info_span!("described", otel.status_description = "quota exceeded"));
        let recovered =
            tracing::info_span!("recovered", otel.status_description = "retrying", otel.status_code = Empty);
        recovered.record("otel.status_code", "ok");
        drop(recovered);
    })
    .await;
    let described = got.span("described");
    assert_eq!((described.status.code, described.status.message.as_str()), (StatusCode::Error, "quota exceeded"));
    let recovered = got.span("recovered");
    assert_eq!((recovered.status.code, recovered.status.message.as_str()), (StatusCode::Ok, ""));
    let named = got.span("GET /users");
    assert_eq!(named.kind, SpanKind::Server);
    assert_eq!((named.status.code, named.status.message.as_str()), (StatusCode::Error, "upstream timed out"));
    assert_eq!(named.attributes.len(), 1, "only `kept`: {:?}", named.attributes);
    assert_eq!(attr(&named.attributes, "kept"), Some(&AnyValue::Int(1)));

    let client = got.span("client");
    assert_eq!((client.kind, client.status.code), (SpanKind::Client, StatusCode::Ok));
    let flagged = got.span("flagged");
    assert_eq!((flagged.status.code, flagged.status.message.as_str()), (StatusCode::Error, ""));
    let failed = got.span("failed");
    assert_eq!((failed.status.code, failed.status.message.as_str()), (StatusCode::Error, "disk full"));
    assert_eq!(got.span("fine").status.code, StatusCode::Unset);
    let late = got.span("late");
    assert_eq!((late.kind, late.status.code), (SpanKind::Producer, StatusCode::Error));
    assert_eq!(late.status.message, "queue gone");
    assert_eq!(got.span("unknown kind").kind, SpanKind::Internal);
    for s in &got.spans {
        assert!(s.attributes.iter().all(|kv| !kv.key.starts_with("otel.") && kv.key != "error"), "{}", s.name);
    }
}

#[tokio::test]
async fn events_inside_a_span_become_its_events() {
    let got = run(LayerConfig::default(), || {
        let span = tracing::info_span!("work");
        span.in_scope(|| {
            tracing::info!(rows = 3, table = "users", "query done");
            tracing::debug!(cached = true, "cache hit {}", 42);
        });
        // Outside the span's scope, but with it as explicit parent.
        tracing::warn!(parent: &span, "slow");
        drop(span);
        let failing = tracing::info_span!("failing");
        failing.in_scope(|| tracing::error!("it broke"));
    })
    .await;
    assert!(got.logs.is_empty(), "events inside spans are not logs: {:?}", got.logs);
    let work = got.span("work");
    let names: Vec<&str> = work.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["query done", "cache hit 42", "slow"]);
    let done = &work.events[0];
    assert_eq!(done.attributes.len(), 2);
    assert_eq!(attr(&done.attributes, "rows"), Some(&AnyValue::Int(3)));
    assert_eq!(attr(&done.attributes, "table"), Some(&string("users")));
    assert_eq!(attr(&work.events[1].attributes, "cached"), Some(&AnyValue::Bool(true)));
    for e in &work.events {
        assert!((work.start_time_unix_nano..=work.end_time_unix_nano).contains(&e.time_unix_nano));
    }
    assert_eq!(work.status.code, StatusCode::Unset, "a warning does not fail the span");
    let failing = got.span("failing");
    assert_eq!(failing.status.code, StatusCode::Error, "an ERROR event fails its span");
    assert_eq!(failing.events[0].name, "it broke");
}

#[tokio::test]
async fn an_error_field_without_a_message_is_an_exception_that_fails_the_span() {
    #[derive(Debug)]
    struct Timeout;
    let got = run(LayerConfig::default(), || {
        // What `#[instrument(err)]` emits: `error = %e`, no message.
        tracing::info_span!("instrumented").in_scope(|| tracing::error!(error = %"timed out"));
        // At any level, and the first exception's message stays.
        tracing::info_span!("warned").in_scope(|| {
            tracing::warn!(error = ?Timeout, attempt = 1);
            tracing::warn!(error = "second");
        });
        // With a message, `error` is an attribute; an ok span stays ok.
        let ok = tracing::info_span!("ok", otel.status_code = "ok");
        ok.in_scope(|| tracing::error!(error = "ignored", "handled"));
        drop(ok);
        // Outside spans: a log record, whose `error` stays an attribute.
        tracing::error!(error = "no span");
    })
    .await;
    let instrumented = got.span("instrumented");
    assert_eq!((instrumented.status.code, instrumented.status.message.as_str()), (StatusCode::Error, "timed out"));
    assert_eq!(instrumented.events[0].name, "exception");
    assert_eq!(attr(&instrumented.events[0].attributes, "exception.message"), Some(&string("timed out")));
    assert_eq!(instrumented.events[0].attributes.len(), 1);
    let warned = got.span("warned");
    assert_eq!((warned.status.code, warned.status.message.as_str()), (StatusCode::Error, "Timeout"));
    let names: Vec<&str> = warned.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["exception", "exception"]);
    assert_eq!(attr(&warned.events[0].attributes, "attempt"), Some(&AnyValue::Int(1)));
    let ok = got.span("ok");
    assert_eq!((ok.status.code, ok.events[0].name.as_str()), (StatusCode::Ok, "handled"));
    assert_eq!(attr(&ok.events[0].attributes, "error"), Some(&string("ignored")));
    assert_eq!(got.logs.len(), 1);
    assert_eq!(attr(&got.logs[0].attributes, "error"), Some(&string("no span")));
    assert_eq!(got.logs[0].body, None);
}

#[tokio::test]
async fn events_outside_spans_become_log_records_with_their_severity() {
    let got = run(LayerConfig::default(), || {
        tracing::trace!("t");
        tracing::debug!("d");
        tracing::info!(user = 7, path = "/users", "served");
        tracing::warn!("w");
        tracing::error!(code = 500_u64, "e");
        // Not in the span: explicitly a root.
        tracing::info_span!("busy").in_scope(|| tracing::info!(parent: None, "root event"));
    })
    .await;
    let by_body: Vec<(Option<AnyValue>, Severity, &str)> =
        got.logs.iter().map(|r| (r.body.clone(), r.severity_number, r.severity_text.as_str())).collect();
    assert_eq!(
        by_body,
        [
            (Some(string("t")), Severity::TRACE, "TRACE"),
            (Some(string("d")), Severity::DEBUG, "DEBUG"),
            (Some(string("served")), Severity::INFO, "INFO"),
            (Some(string("w")), Severity::WARN, "WARN"),
            (Some(string("e")), Severity::ERROR, "ERROR"),
            (Some(string("root event")), Severity::INFO, "INFO"),
        ]
    );
    let served = &got.logs[2];
    assert_eq!(served.attributes.len(), 2);
    assert_eq!(attr(&served.attributes, "user"), Some(&AnyValue::Int(7)));
    assert_eq!(attr(&served.attributes, "path"), Some(&string("/users")));
    assert_eq!(attr(&got.logs[4].attributes, "code"), Some(&AnyValue::Int(500)));
    for r in &got.logs {
        assert!(r.time_unix_nano > 0 && r.observed_time_unix_nano == r.time_unix_nano);
        assert_eq!((r.trace_id, r.span_id), (None, None));
    }
    assert!(got.span("busy").events.is_empty());

    let off = run(LayerConfig { logs: false, ..LayerConfig::default() }, || tracing::info!("dropped")).await;
    assert!(off.logs.is_empty() && off.stats.accepted == 0);
}

const REMOTE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test]
async fn a_remote_parent_is_honoured_and_a_bad_traceparent_is_an_error() {
    let mut errors = Vec::new();
    let mut propagated = None;
    let got = run(ratio(0.0), || {
        // Ratio 0 at the root, but the remote caller sampled the trace.
        let server = tracing::info_span!("server", otel.kind = "server");
        OtlpLayer::set_parent_from_headers(&server, REMOTE, Some("congo=t61rcWkgMzE")).expect("valid traceparent");
        let db = server.in_scope(|| tracing::info_span!("db", otel.kind = "client"));
        propagated = Some(OtlpLayer::span_context(&db).expect("recorded"));
        drop(db);
        drop(server);

        let bad = tracing::info_span!("bad");
        errors.push(OtlpLayer::set_parent_from_headers(
            &bad,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            None,
        ));
        errors.push(OtlpLayer::set_parent_from_headers(
            &bad,
            &REMOTE.replace("00f067aa0ba902b7", "0000000000000000"),
            None,
        ));

        // The remote caller did not sample: nothing of this trace is exported.
        let unsampled = tracing::info_span!("unsampled");
        OtlpLayer::set_parent_from_headers(&unsampled, &REMOTE.replace("-01", "-00"), None).expect("valid");
        unsampled.in_scope(|| drop(tracing::info_span!("unsampled child")));
    })
    .await;
    assert_eq!(
        errors,
        [
            Err(ContextError::Traceparent(TraceparentError::Format)),
            Err(ContextError::Traceparent(TraceparentError::ZeroId))
        ]
    );
    assert_eq!(
        got.names().len(),
        2,
        "the bad span is a root at ratio 0, the unsampled trace is dropped: {:?}",
        got.names()
    );
    let remote = SpanContext::from_headers(REMOTE, None).expect("valid");
    let server = got.span("server");
    assert_eq!(server.trace_id, remote.trace_id);
    assert_eq!(server.parent_span_id, Some(remote.span_id));
    assert_eq!(server.trace_state, "congo=t61rcWkgMzE");
    assert_eq!(server.flags, FLAG_SAMPLED | FLAG_HAS_IS_REMOTE | FLAG_IS_REMOTE);
    let db = got.span("db");
    assert_eq!((db.trace_id, db.parent_span_id), (remote.trace_id, Some(server.span_id)));
    assert_eq!(db.flags, FLAG_SAMPLED | FLAG_HAS_IS_REMOTE, "its parent is local");
    let propagated = propagated.expect("read inside the run");
    assert_eq!(propagated.traceparent(), format!("00-{}-{}-01", db.trace_id, db.span_id));
}

#[test]
fn setting_a_parent_needs_an_enabled_span_under_the_layer() {
    let remote = SpanContext::from_headers(REMOTE, None).expect("valid");
    // No subscriber: the span is disabled.
    let span = tracing::info_span!("nobody");
    assert_eq!(OtlpLayer::set_parent(&span, &remote), Err(ContextError::Disabled));
    // A subscriber without the layer.
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        let span = tracing::info_span!("no layer");
        assert_eq!(OtlpLayer::set_parent(&span, &remote), Err(ContextError::NoLayer));
        assert_eq!(OtlpLayer::span_context(&span), Err(ContextError::NoLayer));
    });
}

#[tokio::test]
async fn the_sampling_ratio_decides_at_the_root_and_children_follow() {
    fn traces(n: usize) {
        for i in 0..n {
            let root = tracing::info_span!("root", i);
            root.in_scope(|| {
                let child = tracing::info_span!("child", i);
                child.in_scope(|| {
                    drop(tracing::info_span!("leaf", i));
                    tracing::info!("event");
                });
            });
        }
    }
    let none = run(ratio(0.0), || traces(200)).await;
    assert_eq!((none.spans.len(), none.stats.accepted), (0, 0), "ratio 0 exports nothing");
    assert!(none.logs.is_empty(), "events in unsampled spans are not logs");
    let all = run(ratio(1.0), || traces(200)).await;
    assert_eq!(all.spans.len(), 600, "ratio 1 exports everything");
    assert_eq!(all.spans.iter().filter(|s| s.name == "leaf").count(), 200);

    let half = run(ratio(0.5), || traces(400)).await;
    let roots: Vec<&Span> = half.spans.iter().filter(|s| s.name == "root").collect();
    // Binomial(400, 0.5): sd 10; 6 sd either side.
    assert!((140..=260).contains(&roots.len()), "{} roots of 400", roots.len());
    assert_eq!(half.spans.len(), 3 * roots.len(), "each sampled root brings its whole tree, no other span comes");
    for s in &half.spans {
        match s.parent_span_id {
            None => assert_eq!(s.name, "root"),
            Some(p) => assert!(half.spans.iter().any(|q| q.span_id == p && q.trace_id == s.trace_id), "{}", s.name),
        }
        assert!(s.name != "child" || s.events.len() == 1);
    }

    assert_eq!(
        OtlpLayer::with_config(
            Pipeline::start(
                PipelineConfig::default(),
                fixtures::resource(),
                fixtures::scope(),
                Arc::new(Capture::default())
            )
            .expect("valid")
            .handle(),
            ratio(1.5)
        )
        .map(drop),
        Err(LayerConfigError::SamplingRatio(1.5))
    );
    assert!(ratio(f64::NAN).validate().is_err() && ratio(-0.1).validate().is_err());
}

#[tokio::test]
async fn the_app_sets_which_crates_are_ignored() {
    assert!(LayerConfig::default().ignored_crates.iter().any(|c| c == "hyper_util"));
    // The app's list replaces the default one.
    let config = LayerConfig { ignored_crates: vec!["billing".into()], ..LayerConfig::default() };
    let got = run(config, || {
        tracing::info!(target: "billing::ledger", "ignored");
        tracing::info!(target: "billing", "ignored too");
        tracing::info!(target: "billing_ext", "kept");
        tracing::info!(target: "hyper_util::client::legacy", "kept: no longer ignored");
        let ignored = tracing::info_span!(target: "billing::ledger", "ignored span");
        ignored.in_scope(|| {
            // An app span under an ignored span starts its own trace.
            tracing::info_span!("under").in_scope(|| tracing::info!(target: "billing", "ignored in a span"));
            // An app event in it is a log record: the layer holds nothing for it.
            tracing::info!("in the ignored span");
        });
    })
    .await;
    assert_eq!(got.names(), ["under"]);
    assert_eq!(got.span("under").parent_span_id, None);
    assert!(got.span("under").events.is_empty());
    let bodies: Vec<_> = got.logs.iter().map(|r| r.body.clone()).collect();
    assert_eq!(
        bodies,
        [Some(string("kept")), Some(string("kept: no longer ignored")), Some(string("in the ignored span"))]
    );
    assert_eq!(got.stats.dropped_total(), 0, "{}", got.stats);

    for (bad, index) in [(vec!["hyper".into(), "".into()], 1), (vec!["hyper::client".into()], 0)] {
        let config = LayerConfig { ignored_crates: bad, ..LayerConfig::default() };
        assert_eq!(config.validate(), Err(LayerConfigError::IgnoredCrate(index)));
    }
}

#[tokio::test]
async fn a_full_queue_counts_drops_and_the_code_keeps_running() {
    // The test's runtime has one thread and the loop never yields: the
    // batcher cannot take anything, so the queue fills after 8 items.
    let sink = Arc::new(Capture::default());
    let cfg = PipelineConfig { queue_capacity: 8, ..PipelineConfig::default() };
    let pipeline = Pipeline::start(cfg, fixtures::resource(), fixtures::scope(), sink.clone()).expect("valid config");
    let layer = OtlpLayer::new(pipeline.handle());
    let mut done = 0;
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for i in 0..100 {
            tracing::info_span!("request", i).in_scope(|| done += 1);
        }
        tracing::info!("one log more");
    });
    assert_eq!(done, 100, "every iteration ran");
    let stats = pipeline.shutdown(Duration::from_secs(10)).await.expect("the batcher is alive");
    assert_eq!(stats.accepted, 101);
    assert_eq!(stats.dropped(DropReason::QueueFull), 93, "{stats}");
    assert_eq!(stats.exported, 8);
    assert!(stats.is_balanced());
    assert_eq!(sink.spans.lock().expect("lock").len(), 8);
}

#[tokio::test]
async fn spans_arrive_at_the_receiver_over_http_with_their_parents() {
    let receiver = capturing_receiver().await;
    let exporter = exporter_to(&receiver, Protocol::HttpProtobuf, fixtures::resource());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(OtlpLayer::new(exporter.handle())), || {
        for request in 0..3 {
            let server = tracing::info_span!("GET /users", otel.kind = "server", request);
            if request == 0 {
                OtlpLayer::set_parent_from_headers(&server, REMOTE, None).expect("valid");
            }
            server.in_scope(|| {
                tracing::info_span!("SELECT users", otel.kind = "client")
                    .in_scope(|| tracing::info!(rows = 2, "fetched"));
            });
        }
        tracing::warn!("outside");
    });
    let stats = exporter.shutdown(Duration::from_secs(10)).await.expect("the batcher is alive");
    assert_eq!((stats.pipeline.exported, stats.pipeline.dropped_total()), (7, 0), "{}", stats.pipeline);

    let Arrived { spans, logs, metrics, resources } = Arrived::take(&receiver);
    assert!(metrics.is_empty(), "no metrics were sent");
    assert!(resources.iter().all(|r| *r == fixtures::resource()), "{resources:?}");
    assert_eq!(spans.len(), 6);
    let servers: Vec<&Span> = spans.iter().filter(|s| s.kind == SpanKind::Server).collect();
    assert_eq!(servers.len(), 3);
    for server in &servers {
        let db: Vec<&Span> = spans.iter().filter(|s| s.parent_span_id == Some(server.span_id)).collect();
        assert_eq!(db.len(), 1, "one child per request");
        assert_eq!(
            (db[0].name.as_str(), db[0].kind, db[0].trace_id),
            ("SELECT users", SpanKind::Client, server.trace_id)
        );
        assert_eq!(db[0].events[0].name, "fetched");
    }
    let remote = SpanContext::from_headers(REMOTE, None).expect("valid");
    let continued: Vec<&&Span> = servers.iter().filter(|s| s.trace_id == remote.trace_id).collect();
    assert_eq!(continued.len(), 1);
    assert_eq!(continued[0].parent_span_id, Some(remote.span_id));
    assert!(servers.iter().filter(|s| s.trace_id != remote.trace_id).all(|s| s.parent_span_id.is_none()));
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].severity_number, Severity::WARN);
    let counts = receiver.shutdown().await;
    assert_eq!((counts.spans, counts.logs), (6, 1));
}

/// The layer with no level filter, as its docs show it, on the runtime that
/// runs the exporter and the receiver: the exporter's clients (hyper_util;
/// tonic, tower and h2 for gRPC) log each connection and request with
/// `tracing`, and a layer that took those for the app's events would export
/// them, making more of them with each export. Only the app's one record may
/// arrive.
async fn only_the_apps_record_arrives(protocol: Protocol) {
    let receiver = capturing_receiver().await;
    let exporter = exporter_to(&receiver, protocol, fixtures::resource());
    let stats = {
        // Held across the awaits, so that the exporter's tasks (batcher,
        // export, the client's connection tasks) and the receiver's run
        // under it on this current-thread runtime.
        let _default =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(OtlpLayer::new(exporter.handle())));
        tracing::info!(order = 7, "placed");
        // Two exports: the app's record, then whatever the first export
        // logged (nothing, when the exporter's events are ignored).
        for _ in 0..2 {
            exporter.flush(Duration::from_secs(10)).await.expect("flushed");
        }
        exporter.shutdown(Duration::from_secs(10)).await.expect("the batcher is alive")
    };
    let arrived = Arrived::take(&receiver);
    assert_eq!((arrived.spans.len(), arrived.metrics.len()), (0, 0), "only the app's log record was sent: {arrived:?}");
    let logs = arrived.logs;
    let bodies: Vec<_> = logs.iter().map(|r| r.body.clone()).collect();
    assert_eq!(bodies, [Some(string("placed"))], "{} records arrived over {protocol:?}", logs.len());
    assert_eq!(attr(&logs[0].attributes, "order"), Some(&AnyValue::Int(7)));
    assert_eq!((stats.pipeline.exported, stats.pipeline.dropped_total()), (1, 0), "{}", stats.pipeline);
    let counts = receiver.shutdown().await;
    assert_eq!((counts.spans, counts.logs), (0, 1));
}

#[tokio::test]
async fn the_exporters_own_events_are_not_exported_back() {
    only_the_apps_record_arrives(Protocol::HttpProtobuf).await;
}

#[tokio::test]
async fn the_exporters_own_events_are_not_exported_back_over_grpc() {
    only_the_apps_record_arrives(Protocol::Grpc).await;
}

#[tokio::test]
async fn limits_count_what_they_drop_and_follows_from_becomes_a_link() {
    let config = LayerConfig { max_attributes_per_span: 2, max_events_per_span: 3, ..LayerConfig::default() };
    let got = run(config, || {
        let cause = tracing::info_span!("cause");
        // A local span whose own parent is remote: a link to it is local.
        OtlpLayer::set_parent_from_headers(&cause, REMOTE, None).expect("valid traceparent");
        let span = tracing::info_span!("bounded", a = 1, b = 2, c = 3, d = 4);
        span.follows_from(&cause);
        span.in_scope(|| {
            for i in 0..5 {
                tracing::info!(i, j = i, k = i, "tick");
            }
        });
    })
    .await;
    let cause = got.span("cause");
    let s = got.span("bounded");
    assert_eq!((s.attributes.len(), s.dropped_attributes_count), (2, 2));
    assert_eq!((s.events.len(), s.dropped_events_count), (3, 2));
    assert_eq!((s.events[0].attributes.len(), s.events[0].dropped_attributes_count), (2, 1));
    assert_eq!(s.links.len(), 1);
    assert_eq!((s.links[0].trace_id, s.links[0].span_id), (cause.trace_id, cause.span_id));
    assert_eq!(s.links[0].flags & FLAG_SAMPLED, FLAG_SAMPLED);
    assert_eq!(cause.flags & FLAG_IS_REMOTE, FLAG_IS_REMOTE, "the cause's parent is remote");
    assert_eq!(s.links[0].flags & (FLAG_HAS_IS_REMOTE | FLAG_IS_REMOTE), FLAG_HAS_IS_REMOTE, "the link is local");
}

#[tokio::test]
async fn an_unsampled_span_propagates_its_trace_unsampled() {
    let mut contexts = Vec::new();
    let got = run(ratio(0.0), || {
        let root = tracing::info_span!("root");
        let child = root.in_scope(|| tracing::info_span!("child"));
        contexts.push(OtlpLayer::span_context(&root).expect("recorded"));
        contexts.push(OtlpLayer::span_context(&child).expect("its root's trace"));
        // A sampled remote parent cannot be set on a span whose local
        // parent was not sampled: its fields were never recorded.
        assert_eq!(OtlpLayer::set_parent_from_headers(&child, REMOTE, None), Err(ContextError::UnsampledLocalParent));
    })
    .await;
    assert!(got.spans.is_empty());
    let [root, child] = &contexts[..] else { panic!("two contexts") };
    assert!(!root.is_sampled() && !child.is_sampled());
    assert_eq!(child.trace_id, root.trace_id);
    assert_eq!(child.span_id, root.span_id, "the nearest recorded ancestor stands for it");
}
