//! The network scenarios that send over one protocol or compare several:
//! e2e_web_application, microservices_communication, batch_processing, network_io.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use crate::workloads::Outcome;
use otlp_pipeline::compress::Compression;
use otlp_pipeline::exporter::{Exporter, Protocol};
use otlp_pipeline::fixtures::{self, SplitMix64};
use otlp_pipeline::model::{
    AnyValue, FLAG_IS_REMOTE, FLAG_SAMPLED, KeyValue, LogRecord, Resource, Severity, Span, SpanContext, SpanId,
    SpanKind, Status, Str, TraceId,
};
use otlp_pipeline::pipeline::{Handle, Item, StatsSnapshot};
use otlp_pipeline::receiver::{Received, Receiver};

use super::harness::{
    Sent, StepStart, Tally, build, check_balanced, check_delivered, check_none_dropped, deliver_all, deliver_spans,
    exporter_to, fold, http_exporter, network_outcome, pipeline_row, send, shutdown,
};
use super::sizes::{
    BATCH_SIZES, NS_PER_MS, REQUEST_NS, REQUEST_SPACING_NS, SERVICES, SHUTDOWN, WEB_CACHE_MISS_EVERY, WEB_ERROR_EVERY,
    WEB_METRIC_EVERY, WEB_USERS, default_batch,
};
use super::telemetry::{request_counter, span_id, trace_id};
use super::{ScenarioError, ScenarioRow, unexpected};

pub(super) async fn web_application(
    receiver: &Receiver,
    requests: u64,
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    const STEP: &str = "http/protobuf";
    let start = StepStart::now(receiver);
    let exporter = build(STEP, http_exporter(receiver, default_batch()))?;
    let h = exporter.handle();
    let mut rng = SplitMix64::new(fixtures::SEED);
    let (mut sent, mut ok, mut errors) = (Sent::default(), 0u64, 0u64);
    for i in 0..requests {
        let error = i % WEB_ERROR_EVERY == WEB_ERROR_EVERY - 1;
        let t0 = fixtures::BASE_TIME_NS + i * REQUEST_SPACING_NS;
        let (trace, root) = (trace_id(&mut rng), span_id(&mut rng));
        let status: i64 = if error { 500 } else { 200 };
        let user = i % WEB_USERS;
        // Inside the request: the cache lookup first, then the query, as a
        // read-through cache does.
        let cache = Span::builder("cache.get")
            .parent(trace, root)
            .span_id(span_id(&mut rng))
            .kind(SpanKind::Client)
            .times(t0 + NS_PER_MS / 4, t0 + NS_PER_MS / 2)
            .attr("cache.system", "redis")
            .attr("cache.hit", i % WEB_CACHE_MISS_EVERY != 0)
            .build();
        let db = Span::builder("SELECT users")
            .parent(trace, root)
            .span_id(span_id(&mut rng))
            .kind(SpanKind::Client)
            .times(t0 + NS_PER_MS / 2, t0 + 2 * NS_PER_MS)
            .attr("db.system", "postgresql")
            .attr("db.query.text", "SELECT * FROM users WHERE id = $1")
            .build();
        let server = Span::builder("GET /api/users/{id}")
            .with_capacity(4)
            .trace_id(trace)
            .span_id(root)
            .kind(SpanKind::Server)
            .times(t0, t0 + REQUEST_NS)
            .attr("http.request.method", "GET")
            .attr("http.route", "/api/users/{id}")
            .attr("url.path", Str::format(format_args!("/api/users/{user}")))
            .attr("http.response.status_code", status)
            .status(if error { Status::error("upstream timeout") } else { Status::OK })
            .build();
        // Children end first, so a real SDK would hand them over first.
        for span in [cache, db, server] {
            send(STEP, &h, Item::Span(span)).await?;
            sent.spans += 1;
        }
        let t_end = t0 + REQUEST_NS;
        if error {
            errors += 1;
            let log = LogRecord::builder()
                .times(t_end, t_end)
                .severity(Severity::ERROR, "ERROR")
                .body(Str::format(format_args!(
                    "GET /api/users/{user}: upstream timeout after {} ms",
                    REQUEST_NS / NS_PER_MS
                )))
                .attr("http.response.status_code", status)
                .span_context(trace, root, FLAG_SAMPLED)
                .build();
            send(STEP, &h, Item::Log(log)).await?;
            sent.logs += 1;
        } else {
            ok += 1;
        }
        if (i + 1) % WEB_METRIC_EVERY == 0 || i + 1 == requests {
            let counter = Item::Metric(request_counter(ok, errors, t_end));
            sent.points += counter.count();
            send(STEP, &h, counter).await?;
        }
    }
    drop(h);
    let extra = vec![("requests_simulated", requests.to_string())];
    deliver_all(STEP, start, exporter, sent, extra, &[ok, errors], rows).await
}

pub(super) async fn microservices(
    receiver: &Receiver,
    calls: u64,
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    // All services run at once, so the step is timed (and reported) as one.
    let step = format!("{}_services", SERVICES.len());
    // A failed earlier run may have left spans in the capture.
    let _stale = receiver.take_captured();
    let start = StepStart::now(receiver);
    let mut exporters = Vec::with_capacity(SERVICES.len());
    for service in SERVICES {
        let resource = Resource::new([
            KeyValue::new("service.name", service),
            KeyValue::new("service.version", "1.0.0"),
            KeyValue::new("deployment.environment", "prod"),
        ]);
        exporters.push(build(service, http_exporter(receiver, default_batch()).resource(resource))?);
    }
    let handles: Vec<Handle> = exporters.iter().map(Exporter::handle).collect();
    let mut rng = SplitMix64::new(fixtures::SEED);
    for call in 0..calls {
        // Each callee's span lies inside its caller's.
        let t0 = fixtures::BASE_TIME_NS + call * REQUEST_SPACING_NS;
        let index = call as i64;
        let a = Span::builder("GET /checkout")
            .trace_id(trace_id(&mut rng))
            .span_id(span_id(&mut rng))
            .kind(SpanKind::Server)
            .times(t0, t0 + REQUEST_NS)
            .attr("call.index", index)
            .build();
        // The header is all that crosses to the callee: B rebuilds the context from it.
        let header = a.context().traceparent();
        let remote =
            SpanContext::from_headers(&header, None).map_err(|source| ScenarioError::Traceparent { call, source })?;
        let b = Span::builder("POST /orders")
            .child_of_remote(&remote)
            .span_id(span_id(&mut rng))
            .kind(SpanKind::Server)
            .times(t0 + NS_PER_MS / 2, t0 + 5 * NS_PER_MS / 2)
            .attr("call.index", index)
            .build();
        let header = b.context().traceparent();
        let remote =
            SpanContext::from_headers(&header, None).map_err(|source| ScenarioError::Traceparent { call, source })?;
        let c = Span::builder("POST /payments")
            .child_of_remote(&remote)
            .span_id(span_id(&mut rng))
            .kind(SpanKind::Server)
            .times(t0 + NS_PER_MS, t0 + 2 * NS_PER_MS)
            .attr("call.index", index)
            .build();
        for (h, span) in handles.iter().zip([a, b, c]) {
            send(&step, h, Item::Span(span)).await?;
        }
    }
    drop(handles);
    let (mut total, mut retries, mut requests) = (StatsSnapshot::default(), 0, Vec::new());
    for (service, exporter) in SERVICES.iter().zip(exporters) {
        let stats = shutdown(service, exporter, SHUTDOWN).await?;
        check_balanced(service, &stats.pipeline)?;
        check_none_dropped(service, &stats.pipeline, calls)?;
        total += stats.pipeline;
        retries += stats.transport.retries;
        requests.push(stats.pipeline.requests.to_string());
    }
    let (got, wall) = start.end();
    check_delivered(&step, &total, &got, Sent { spans: calls * SERVICES.len() as u64, ..Sent::default() })?;
    let mut row = pipeline_row(step, &total, retries, wall);
    row.extra.push(("requests_per_service", requests.join(",")));
    rows.push(row);
    let verifying = Instant::now();
    let (verified, traces) = verify_chains(receiver.take_captured(), calls)?;
    let mut row = ScenarioRow::untimed("propagation", verified, 0);
    row.wall = Some(verifying.elapsed());
    rows.push(row);
    Ok(network_outcome(&total, [got.spans, verified, traces]))
}

/// Checks that every payments span continues an orders span, which
/// continues a root frontend span, all in one trace; that each span
/// continues only one callee's span (one chain per call); and that every
/// call has a trace of its own. Returns the chains verified and a fold of
/// their sorted trace ids.
fn verify_chains(captured: Vec<Received>, calls: u64) -> Result<(u64, u64), ScenarioError> {
    let mut by_service: [HashMap<SpanId, Span>; 3] = Default::default();
    for received in captured {
        let Received::Traces(data) = received else {
            return Err(unexpected("propagation", "only traces at the receiver", "metrics or logs"));
        };
        for rs in data.resource_spans {
            let service =
                rs.resource.attributes.iter().find(|kv| kv.key == "service.name").and_then(|kv| match &kv.value {
                    AnyValue::String(s) => SERVICES.iter().position(|n| s == *n),
                    _ => None,
                });
            let Some(service) = service else {
                return Err(unexpected("propagation", "service.name of a known service", "a span without one"));
            };
            for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                // A repeated span id shrinks the map, so the count below catches it.
                by_service[service].insert(span.span_id, span);
            }
        }
    }
    for (service, spans) in SERVICES.iter().zip(&by_service) {
        if spans.len() as u64 != calls {
            return Err(ScenarioError::SignalMismatch {
                step: (*service).into(),
                signal: "spans",
                received: spans.len() as u64,
                sent: calls,
            });
        }
    }
    let [frontend, orders, payments] = &by_service;
    let (mut orders_used, mut frontend_used) = (HashSet::new(), HashSet::new());
    let mut traces = HashSet::new();
    for c in payments.values() {
        let broken = |what| Err(ScenarioError::Propagation { span: c.span_id, what });
        let Some(b) = c.parent_span_id.and_then(|p| orders.get(&p)) else {
            return broken("the payments span's parent is not an orders span");
        };
        if !orders_used.insert(b.span_id) {
            return broken("another payments span continues the same orders span");
        }
        let Some(a) = b.parent_span_id.and_then(|p| frontend.get(&p)) else {
            return broken("the orders span's parent is not a frontend span");
        };
        if !frontend_used.insert(a.span_id) {
            return broken("another orders span continues the same frontend span");
        }
        if a.parent_span_id.is_some() {
            return broken("the frontend span is not a root span");
        }
        if b.trace_id != a.trace_id || c.trace_id != a.trace_id {
            return broken("the trace id changed along the call chain");
        }
        if b.flags & FLAG_IS_REMOTE == 0 || c.flags & FLAG_IS_REMOTE == 0 {
            return broken("a callee's parent is not marked remote");
        }
        traces.insert(a.trace_id);
    }
    if traces.len() as u64 != calls {
        return Err(unexpected("propagation", format!("{calls} distinct trace ids"), traces.len().to_string()));
    }
    let mut ids: Vec<TraceId> = traces.into_iter().collect();
    ids.sort_unstable();
    let words = ids.iter().map(|t| u64::from_le_bytes(t.0[..8].try_into().expect("8 of the 16 bytes")));
    Ok((calls, fold(words)))
}

pub(super) async fn batch_processing(
    receiver: &Receiver,
    spans: &[Span],
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    let mut tally = Tally::new(rows);
    for size in BATCH_SIZES {
        let step = format!("max_batch_items={size}");
        tally.parts.push(size as u64);
        deliver_spans(&step, receiver, http_exporter(receiver, size), spans, &mut tally).await?;
    }
    Ok(tally.outcome())
}

pub(super) async fn network_io(
    receiver: &Receiver,
    spans: &[Span],
    rows: &mut Vec<ScenarioRow>,
) -> Result<Outcome, ScenarioError> {
    let mut tally = Tally::new(rows);
    for protocol in [Protocol::HttpProtobuf, Protocol::Grpc] {
        for compression in [Compression::None, Compression::GZIP_DEFAULT, Compression::ZSTD_DEFAULT] {
            let step = format!("{protocol}+{compression}");
            let endpoint = match protocol {
                Protocol::Grpc => receiver.grpc_endpoint().expect("the network_io receiver is started with gRPC"),
                _ => receiver.http_endpoint(),
            };
            let builder = exporter_to(endpoint, protocol, compression, default_batch());
            deliver_spans(&step, receiver, builder, spans, &mut tally).await?;
            if protocol == Protocol::Grpc && compression != Compression::None {
                tally.last_row().extra.push(("note", "tonic compresses after the pipeline: bytes are raw".to_owned()));
            }
        }
    }
    Ok(tally.outcome())
}

#[cfg(test)]
mod tests {
    use otlp_pipeline::model::TracesData;

    use super::*;

    /// The spans of one call, frontend → orders → payments, propagated as
    /// the scenario does.
    fn chain(rng: &mut SplitMix64) -> [Span; 3] {
        let a = Span::builder("a").trace_id(trace_id(rng)).span_id(span_id(rng)).build();
        let remote = SpanContext::from_headers(&a.context().traceparent(), None).expect("valid traceparent");
        let b = Span::builder("b").child_of_remote(&remote).span_id(span_id(rng)).build();
        let remote = SpanContext::from_headers(&b.context().traceparent(), None).expect("valid traceparent");
        let c = Span::builder("c").child_of_remote(&remote).span_id(span_id(rng)).build();
        [a, b, c]
    }

    fn chains(calls: usize) -> Vec<[Span; 3]> {
        let mut rng = SplitMix64::new(fixtures::SEED);
        (0..calls).map(|_| chain(&mut rng)).collect()
    }

    /// What the receiver would capture: one request per service.
    fn captured(chains: &[[Span; 3]]) -> Vec<Received> {
        SERVICES
            .iter()
            .enumerate()
            .map(|(i, service)| {
                let resource = Resource::new([KeyValue::new("service.name", *service)]);
                let spans = chains.iter().map(|c| c[i].clone()).collect();
                Received::Traces(TracesData::single(resource, fixtures::scope(), spans))
            })
            .collect()
    }

    fn broken_because(result: Result<(u64, u64), ScenarioError>, why: &str) {
        match result {
            Err(ScenarioError::Propagation { what, .. }) => assert!(what.contains(why), "{what}"),
            other => panic!("expected a broken chain ({why}), got {other:?}"),
        }
    }

    #[test]
    fn verify_chains_accepts_one_trace_per_call() {
        let (verified, fold_a) = verify_chains(captured(&chains(4)), 4).expect("valid chains");
        assert_eq!(verified, 4);
        // The fold depends on the trace ids, not on the order of arrival.
        let mut reversed = chains(4);
        reversed.reverse();
        assert_eq!(verify_chains(captured(&reversed), 4).expect("valid chains").1, fold_a);
    }

    #[test]
    fn verify_chains_refuses_a_shared_trace_id() {
        let mut c = chains(3);
        // Call 1 continues call 0's trace, consistently along its chain.
        let t0 = c[0][0].trace_id;
        for span in &mut c[1] {
            span.trace_id = t0;
        }
        match verify_chains(captured(&c), 3) {
            Err(ScenarioError::Unexpected { expected, got, .. }) => {
                assert_eq!((&*expected, &*got), ("3 distinct trace ids", "2"));
            }
            other => panic!("expected a shared trace to be refused, got {other:?}"),
        }
    }

    #[test]
    fn verify_chains_refuses_a_parent_used_twice() {
        // Call 1's payments span continues call 0's orders span.
        let mut c = chains(2);
        let (b0, t0) = (c[0][1].span_id, c[0][0].trace_id);
        c[1][2].parent_span_id = Some(b0);
        c[1][2].trace_id = t0;
        broken_because(verify_chains(captured(&c), 2), "continues the same orders span");

        // Call 1's orders span continues call 0's frontend span.
        let mut c = chains(2);
        let (a0, t0) = (c[0][0].span_id, c[0][0].trace_id);
        c[1][1].parent_span_id = Some(a0);
        c[1][1].trace_id = t0;
        c[1][2].trace_id = t0;
        broken_because(verify_chains(captured(&c), 2), "continues the same frontend span");
    }

    #[test]
    fn verify_chains_refuses_broken_links_and_wrong_counts() {
        let mut c = chains(2);
        c[1][2].parent_span_id = Some(SpanId([9; 8]));
        broken_because(verify_chains(captured(&c), 2), "not an orders span");

        let mut c = chains(2);
        c[1][2].trace_id = TraceId([7; 16]);
        broken_because(verify_chains(captured(&c), 2), "trace id changed");

        let mut c = chains(2);
        c[1][1].flags &= !FLAG_IS_REMOTE;
        broken_because(verify_chains(captured(&c), 2), "not marked remote");

        let e = verify_chains(captured(&chains(2)), 3).expect_err("a call short");
        assert!(matches!(e, ScenarioError::SignalMismatch { received: 2, sent: 3, .. }), "{e}");
    }
}
