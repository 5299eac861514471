//! OTLP/HTTP end to end over loopback (pipeline → HTTP client → receiver),
//! and the receiver's answers to bad input.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use otlp_pipeline::compress::{Compression, Compressor};
use otlp_pipeline::encode::{direct, json};
use otlp_pipeline::fixtures;
use otlp_pipeline::model::Span;
use otlp_pipeline::pipeline::{BodyFormat, ExportRequest, ExportResult, ExportSink, Pipeline, PipelineConfig};
use otlp_pipeline::receiver::{Received, Receiver, ReceiverConfig};
use otlp_pipeline::transport::http::HttpClient;

/// One attempt per batch, no retries: enough over a healthy loopback.
struct OneShot(HttpClient);

impl ExportSink for OneShot {
    async fn export(&self, request: &ExportRequest) -> ExportResult {
        match self.0.send(request).await {
            Ok(ok) => ExportResult::Delivered { rejected: ok.rejected },
            Err(e) => panic!("export failed: {e}"),
        }
    }
}

#[tokio::test]
async fn every_span_crosses_loopback_and_decodes_equal_for_each_format_and_codec() {
    let receiver = Receiver::start(ReceiverConfig { capture: true, ..ReceiverConfig::default() }).await.expect("bind");
    let spans = fixtures::spans(600);
    for format in [BodyFormat::Protobuf, BodyFormat::Json] {
        for compression in [Compression::None, Compression::GZIP_DEFAULT, Compression::ZSTD_DEFAULT] {
            let cfg = PipelineConfig { max_batch_items: 256, compression, format, ..PipelineConfig::default() };
            let client = HttpClient::new(&receiver.http_endpoint(), &[]).expect("endpoint");
            let p = Pipeline::start(cfg, fixtures::resource(), fixtures::scope(), OneShot(client)).expect("config");
            for s in &spans {
                p.handle().try_span(s.clone()).expect("room");
            }
            for r in fixtures::log_records(50) {
                p.handle().try_log(r).expect("room");
            }
            let stats = p.shutdown(Duration::from_secs(10)).await.expect("the batcher is alive");
            assert_eq!(stats.exported, 650, "{format:?} {compression}: {stats}");
            assert!(stats.is_balanced());
            let mut got: Vec<Span> = Vec::new();
            let mut logs = 0;
            for r in receiver.take_captured() {
                match r {
                    Received::Traces(d) => {
                        assert_eq!(d.resource_spans[0].resource, fixtures::resource());
                        got.extend(d.resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans));
                    }
                    Received::Logs(d) => {
                        assert_eq!(d.resource_logs[0].scope_logs[0].log_records, fixtures::log_records(50));
                        logs += d.record_count();
                    }
                    Received::Metrics(_) => panic!("no metrics were sent"),
                }
            }
            // Batches may arrive out of order (two exports in flight).
            got.sort_by_key(|s| s.start_time_unix_nano);
            assert!(got == spans, "{format:?} {compression}: received spans differ from those sent");
            assert_eq!(logs, 50);
        }
    }
    let counts = receiver.shutdown().await;
    assert_eq!(counts.spans, 6 * 600);
    assert_eq!(counts.logs, 6 * 50);
    assert_eq!(counts.refused_requests, 0);
}

async fn post(base: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, Bytes) {
    post_method(base, "POST", path, headers, body).await
}

async fn post_method(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, Bytes) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut b = http::Request::builder().method(method).uri(format!("{base}{path}"));
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = client.request(b.body(Full::new(Bytes::from(body))).expect("request")).await.expect("answer");
    let status = resp.status().as_u16();
    (status, resp.into_body().collect().await.expect("body").to_bytes())
}

const PB: (&str, &str) = ("content-type", "application/x-protobuf");
const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn bad_input_gets_the_specs_answer_and_the_receiver_keeps_serving() {
    let receiver = Receiver::start(ReceiverConfig {
        max_body_bytes: 1 << 20,
        max_decompressed_bytes: 4 << 20,
        ..ReceiverConfig::default()
    })
    .await
    .expect("bind");
    let base = receiver.http_endpoint();
    let mut good = Vec::new();
    direct::encode_traces(&fixtures::traces(8), &mut good);

    assert_eq!(post(&base, "/v1/traces", &[PB], good.clone()).await.0, 200);
    assert_eq!(post(&base, "/v1/spans", &[PB], good.clone()).await.0, 404);
    assert_eq!(post_method(&base, "GET", "/v1/traces", &[PB], Vec::new()).await.0, 405);
    assert_eq!(post(&base, "/v1/traces", &[("content-type", "text/plain")], good.clone()).await.0, 415);
    assert_eq!(post(&base, "/v1/traces", &[PB, ("content-encoding", "br")], good.clone()).await.0, 415);

    // Malformed and truncated protobuf: 400 with a Status message that says why.
    let (status, body) = post(&base, "/v1/traces", &[PB], good[..good.len() / 2].to_vec()).await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("cannot decode"), "{body:?}");
    assert_eq!(post(&base, "/v1/traces", &[PB], vec![0xff; 64]).await.0, 400);

    // Invalid JSON, and a malformed id: 400, the JSON Status names the field.
    assert_eq!(post(&base, "/v1/traces", &[JSON], b"{\"resourceSpans\": [".to_vec()).await.0, 400);
    let mut j = Vec::new();
    json::write_traces(&fixtures::traces(1), &mut j);
    let bad_id = String::from_utf8(j).expect("utf8").replacen("\"traceId\":\"", "\"traceId\":\"zz", 1);
    let (status, body) = post(&base, "/v1/traces", &[JSON], bad_id.into_bytes()).await;
    assert_eq!(status, 400);
    let v: serde_json::Value = serde_json::from_slice(&body).expect("a JSON Status");
    assert!(v["message"].as_str().expect("message").contains("traceId"), "{v}");

    // Too large as sent, and too large once decompressed (a bomb).
    assert_eq!(post(&base, "/v1/traces", &[PB], vec![0; 2 << 20]).await.0, 413);
    let mut bomb = Vec::new();
    Compressor::new().compress(Compression::ZSTD_DEFAULT, &vec![0u8; 32 << 20], &mut bomb).expect("compress");
    assert!(bomb.len() < 1 << 20);
    assert_eq!(post(&base, "/v1/traces", &[PB, ("content-encoding", "zstd")], bomb).await.0, 413);
    assert_eq!(post(&base, "/v1/traces", &[PB, ("content-encoding", "gzip")], vec![1, 2, 3]).await.0, 400);

    // Still serving, and the counts add up.
    assert_eq!(post(&base, "/v1/traces", &[PB], good).await.0, 200);
    let counts = receiver.shutdown().await;
    assert_eq!(counts.accepted_requests, 2);
    assert_eq!(counts.spans, 16);
    assert_eq!(counts.refused_requests, 11);
    assert_eq!(
        (counts.refused_unsupported, counts.refused_malformed, counts.refused_too_large, counts.refused_timeout),
        (4, 5, 2, 0)
    );
}

/// Without capture the receiver validates and counts protobuf on the
/// zero-copy views, building no model; its answers and counts are those of a
/// capturing receiver, which builds the model, including the refusal of a
/// body whose model would exceed `max_decode_bytes`.
#[tokio::test]
async fn counts_and_budget_refusals_do_not_depend_on_building_the_model() {
    use otlp_pipeline::encode::view::TracesView;
    let (traces, metrics, logs) = (fixtures::traces(16), fixtures::metrics(20), fixtures::logs(16));
    let (mut t, mut m, mut l) = (Vec::new(), Vec::new(), Vec::new());
    direct::encode_traces(&traces, &mut t);
    direct::encode_metrics(&metrics, &mut m);
    direct::encode_logs(&logs, &mut l);
    let mut big = Vec::new();
    direct::encode_traces(&fixtures::traces(64), &mut big);
    // A budget the 16-span batch fits and the 64-span one does not.
    let budget = TracesView::new(&t).expect("valid").model_bytes() * 2;
    assert!(TracesView::new(&big).expect("valid").model_bytes() > budget);
    for capture in [false, true] {
        let receiver =
            Receiver::start(ReceiverConfig { capture, max_decode_bytes: budget, ..ReceiverConfig::default() })
                .await
                .expect("bind");
        let base = receiver.http_endpoint();
        assert_eq!(post(&base, "/v1/traces", &[PB], t.clone()).await.0, 200);
        assert_eq!(post(&base, "/v1/metrics", &[PB], m.clone()).await.0, 200);
        assert_eq!(post(&base, "/v1/logs", &[PB], l.clone()).await.0, 200);
        let (status, body) = post(&base, "/v1/traces", &[PB], big.clone()).await;
        assert_eq!(status, 413, "capture {capture}: {body:?}");
        assert_eq!(post(&base, "/v1/traces", &[PB], t[..t.len() - 1].to_vec()).await.0, 400);
        let counts = receiver.shutdown().await;
        assert_eq!(
            (counts.spans, counts.points, counts.logs),
            (traces.span_count() as u64, metrics.point_count() as u64, logs.record_count() as u64),
            "capture {capture}"
        );
        assert_eq!((counts.accepted_requests, counts.refused_over_budget, counts.refused_malformed), (3, 1, 1));
    }
}

#[tokio::test]
async fn an_unreachable_receiver_is_a_connect_error() {
    // Bind then drop a listener: nothing listens on that port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let client = HttpClient::new(&format!("http://127.0.0.1:{port}"), &[]).expect("endpoint");
    let req = ExportRequest {
        signal: otlp_pipeline::encode::Signal::Traces,
        body: Bytes::new(),
        compression: Compression::None,
        format: BodyFormat::Protobuf,
        items: 0,
        raw_len: 0,
    };
    let err = client.send(&req).await.expect_err("nothing listens");
    assert_eq!(err.retry(), otlp_pipeline::transport::Retry::Backoff, "{err}");
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_the_receiver_keeps_serving() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let receiver = Receiver::start(ReceiverConfig {
        header_read_timeout: Duration::from_millis(200),
        body_read_timeout: Duration::from_millis(200),
        ..ReceiverConfig::default()
    })
    .await
    .expect("bind");
    let addr = receiver.http_addr();
    // Headers never finished: the connection is closed by the server.
    let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n").await.expect("write");
    let mut buf = Vec::new();
    // A guard against a hang, not a timing assertion.
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server must close a connection whose headers never finish");
    // A body that never arrives: 408.
    let mut slow = tokio::net::TcpStream::connect(addr).await.expect("connect");
    slow.write_all(
        b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 100\r\n\r\nabc",
    )
    .await
    .expect("write");
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut buf)).await.expect("answered").expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"), "{:?}", String::from_utf8_lossy(&buf[..n]));
    // Still serving.
    let mut good = Vec::new();
    direct::encode_traces(&fixtures::traces(3), &mut good);
    assert_eq!(post(&receiver.http_endpoint(), "/v1/traces", &[PB], good).await.0, 200);
    assert_eq!(receiver.shutdown().await.spans, 3);
}

#[tokio::test]
async fn capture_dir_keeps_every_accepted_body() {
    let dir = std::env::temp_dir().join(format!("otlp-lab-capture-{}", std::process::id()));
    let _fresh = std::fs::remove_dir_all(&dir);
    let receiver = Receiver::start(ReceiverConfig { capture_dir: Some(dir.clone()), ..ReceiverConfig::default() })
        .await
        .expect("bind");
    let mut pb = Vec::new();
    direct::encode_traces(&fixtures::traces(4), &mut pb);
    let mut j = Vec::new();
    json::write_logs(&fixtures::logs(2), &mut j);
    assert_eq!(post(&receiver.http_endpoint(), "/v1/traces", &[PB], pb.clone()).await.0, 200);
    assert_eq!(post(&receiver.http_endpoint(), "/v1/logs", &[JSON], j.clone()).await.0, 200);
    assert_eq!(post(&receiver.http_endpoint(), "/v1/logs", &[JSON], b"{".to_vec()).await.0, 400);
    let counts = receiver.shutdown().await;
    assert_eq!(counts.captured_files, 2);
    assert_eq!(std::fs::read(dir.join("000000-traces.pb")).expect("captured"), pb);
    assert_eq!(std::fs::read(dir.join("000001-logs.json")).expect("captured"), j);
    std::fs::remove_dir_all(&dir).expect("clean up");
}
