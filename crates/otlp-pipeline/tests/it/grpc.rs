//! OTLP/gRPC end to end over loopback: the exporter's pass-through client
//! against the receiver's tonic services.

use std::net::SocketAddr;
use std::time::Duration;

use otlp_pipeline::compress::Compression;
use otlp_pipeline::encode::Signal;
use otlp_pipeline::exporter::{Exporter, Protocol};
use otlp_pipeline::fixtures;
use otlp_pipeline::model::Span;
use otlp_pipeline::pipeline::{BodyFormat, ExportRequest, PipelineConfig};
use otlp_pipeline::receiver::{Faults, Received, Receiver, ReceiverConfig};
use otlp_pipeline::transport::grpc::GrpcClient;
use otlp_pipeline::transport::{BreakerConfig, Retry, RetryConfig};

fn config(faults: Faults) -> ReceiverConfig {
    ReceiverConfig {
        grpc_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        capture: true,
        faults,
        ..ReceiverConfig::default()
    }
}

#[tokio::test]
async fn every_item_crosses_grpc_and_decodes_equal_for_each_codec() {
    let receiver = Receiver::start(config(Faults::default())).await.expect("bind");
    let endpoint = receiver.grpc_endpoint().expect("gRPC listens");
    let spans = fixtures::spans(700);
    let metrics = fixtures::metrics(50).resource_metrics[0].scope_metrics[0].metrics.clone();
    for compression in [Compression::None, Compression::GZIP_DEFAULT, Compression::ZSTD_DEFAULT] {
        let exporter = Exporter::builder()
            .endpoint(endpoint.as_str())
            .protocol(Protocol::Grpc)
            .compression(compression)
            .batch(PipelineConfig { max_batch_items: 256, ..PipelineConfig::default() })
            .build()
            .expect("valid exporter");
        for s in &spans {
            exporter.handle().try_span(s.clone()).expect("room");
        }
        for m in &metrics {
            exporter.handle().try_metric(m.clone()).expect("room");
        }
        let stats = exporter.shutdown(Duration::from_secs(10)).await.expect("the batcher is alive");
        assert_eq!(stats.pipeline.exported, 750, "{compression}: {}", stats.pipeline);
        let (mut got, mut got_metrics) = (Vec::<Span>::new(), Vec::new());
        for r in receiver.take_captured() {
            match r {
                Received::Traces(d) => {
                    got.extend(d.resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans))
                }
                Received::Metrics(d) => got_metrics
                    .extend(d.resource_metrics.into_iter().flat_map(|r| r.scope_metrics).flat_map(|s| s.metrics)),
                Received::Logs(_) => panic!("no logs were sent"),
            }
        }
        got.sort_by_key(|s| s.start_time_unix_nano);
        assert!(got == spans, "{compression}: received spans differ from those sent");
        assert_eq!(got_metrics, metrics, "{compression}");
    }
    let counts = receiver.shutdown().await;
    assert_eq!(counts.spans, 3 * 700);
    assert_eq!(counts.points, 3 * 50);
}

#[tokio::test]
async fn malformed_protobuf_is_invalid_argument_and_permanent() {
    let receiver = Receiver::start(config(Faults::default())).await.expect("bind");
    let client = GrpcClient::new(&receiver.grpc_endpoint().expect("gRPC listens"), Compression::None, &[], None)
        .expect("endpoint");
    let req = ExportRequest {
        signal: Signal::Traces,
        body: bytes::Bytes::from_static(&[0x0a, 0xff, 0xff, 0x01]),
        compression: Compression::None,
        format: BodyFormat::Protobuf,
        items: 1,
        raw_len: 4,
    };
    let err = client.send(&req).await.expect_err("malformed");
    assert_eq!(err.retry(), Retry::Never, "{err}");
    assert!(err.to_string().contains("gRPC status 3") && err.to_string().contains("decode"), "{err}");
    receiver.shutdown().await;
}

#[tokio::test]
async fn thirty_percent_unavailable_loses_nothing_over_grpc() {
    let faults = Faults { seed: 7, fail_fraction: 0.3, fail_status: 503, ..Faults::default() };
    let receiver = Receiver::start(config(faults)).await.expect("bind");
    let exporter = Exporter::builder()
        .endpoint(receiver.grpc_endpoint().expect("gRPC listens"))
        .protocol(Protocol::Grpc)
        .batch(PipelineConfig { max_batch_items: 100, ..PipelineConfig::default() })
        .retry(RetryConfig {
            max_attempts: 40,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(100),
            max_elapsed: Duration::from_secs(20),
        })
        .breaker(BreakerConfig { failure_threshold: 5, open_for: Duration::from_millis(50), half_open_probes: 1 })
        .build()
        .expect("valid exporter");
    for s in fixtures::spans(1500) {
        exporter.handle().try_span(s).expect("room");
    }
    let stats = exporter.shutdown(Duration::from_secs(30)).await.expect("the batcher is alive");
    let counts = receiver.shutdown().await;
    assert!(counts.faulted_requests > 0);
    assert_eq!(stats.pipeline.dropped_total(), 0, "{}", stats.pipeline);
    assert_eq!(counts.spans, 1500);
    assert!(stats.pipeline.is_balanced());
}

#[tokio::test]
async fn a_message_over_the_decoded_limit_is_refused_and_the_receiver_keeps_serving() {
    let receiver = Receiver::start(ReceiverConfig { max_decompressed_bytes: 4096, ..config(Faults::default()) })
        .await
        .expect("bind");
    let client = GrpcClient::new(&receiver.grpc_endpoint().expect("gRPC listens"), Compression::None, &[], None)
        .expect("endpoint");
    let request = |spans: usize| {
        let mut body = Vec::new();
        otlp_pipeline::encode::direct::encode_traces(&fixtures::traces(spans), &mut body);
        let raw_len = body.len();
        ExportRequest {
            signal: Signal::Traces,
            body: body.into(),
            compression: Compression::None,
            format: BodyFormat::Protobuf,
            items: spans as u64,
            raw_len,
        }
    };
    let big = request(100);
    assert!(big.raw_len > 4096);
    let err = client.send(&big).await.expect_err("over the limit");
    assert!(err.to_string().contains("gRPC status"), "{err}");
    client.send(&request(1)).await.expect("a small one is taken");
    let counts = receiver.shutdown().await;
    assert_eq!(counts.spans, 1);
}

/// An uncompressed Export body: the gRPC client compresses with its own codec.
fn traces_request(spans: usize) -> ExportRequest {
    let mut raw = Vec::new();
    otlp_pipeline::encode::direct::encode_traces(&fixtures::traces(spans), &mut raw);
    let raw_len = raw.len();
    ExportRequest {
        signal: Signal::Traces,
        body: raw.into(),
        compression: Compression::None,
        format: BodyFormat::Protobuf,
        items: spans as u64,
        raw_len,
    }
}

#[tokio::test]
async fn a_message_over_the_compressed_limit_is_resource_exhausted_and_counted() {
    let receiver =
        Receiver::start(ReceiverConfig { max_body_bytes: 2048, ..config(Faults::default()) }).await.expect("bind");
    let client = GrpcClient::new(&receiver.grpc_endpoint().expect("gRPC listens"), Compression::None, &[], None)
        .expect("endpoint");
    let big = traces_request(100);
    assert!(big.body.len() > 2048);
    let err = client.send(&big).await.expect_err("over the limit");
    assert!(err.to_string().contains("gRPC status 8"), "{err}");
    client.send(&traces_request(1)).await.expect("a small one is taken");
    let counts = receiver.shutdown().await;
    assert_eq!((counts.spans, counts.accepted_requests), (1, 1));
    assert_eq!((counts.refused_requests, counts.refused_too_large), (1, 1));
}

#[tokio::test]
async fn a_bomb_over_the_decompressed_limit_is_resource_exhausted_and_counted() {
    let receiver = Receiver::start(ReceiverConfig { max_decompressed_bytes: 4096, ..config(Faults::default()) })
        .await
        .expect("bind");
    let client =
        GrpcClient::new(&receiver.grpc_endpoint().expect("gRPC listens"), Compression::ZSTD_DEFAULT, &[], None)
            .expect("endpoint");
    // 64 KiB of zeros: a few bytes once the client compresses them,
    // sixteen times the limit decompressed.
    let bomb = ExportRequest { body: vec![0u8; 64 << 10].into(), raw_len: 64 << 10, ..traces_request(1) };
    let err = client.send(&bomb).await.expect_err("over the decompressed limit");
    assert!(err.to_string().contains("gRPC status 8"), "{err}");
    client.send(&traces_request(1)).await.expect("a small one is taken");
    let counts = receiver.shutdown().await;
    assert_eq!(counts.spans, 1);
    assert_eq!((counts.refused_requests, counts.refused_too_large), (1, 1));
}

#[tokio::test]
async fn a_grpc_client_that_sends_nothing_is_closed_after_the_handshake_timeout() {
    use tokio::io::AsyncReadExt;
    let receiver = Receiver::start(ReceiverConfig {
        header_read_timeout: Duration::from_millis(200),
        ..config(Faults::default())
    })
    .await
    .expect("bind");
    let mut silent =
        tokio::net::TcpStream::connect(receiver.grpc_addr().expect("gRPC listens")).await.expect("connect");
    let mut buf = Vec::new();
    // A guard against a hang, not a timing assertion: the server must close.
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the server must close a connection that sends nothing");
    let client = GrpcClient::new(&receiver.grpc_endpoint().expect("gRPC listens"), Compression::None, &[], None)
        .expect("endpoint");
    client.send(&traces_request(2)).await.expect("still serving");
    assert_eq!(receiver.shutdown().await.spans, 2);
}

#[tokio::test]
async fn a_grpc_connection_over_the_cap_waits_until_one_closes() {
    use tokio::io::AsyncReadExt;
    let receiver = Receiver::start(ReceiverConfig {
        max_connections: 1,
        header_read_timeout: Duration::from_millis(300),
        ..config(Faults::default())
    })
    .await
    .expect("bind");
    let addr = receiver.grpc_addr().expect("gRPC listens");
    // The one slot is taken by a client that sends nothing.
    let mut holder = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let client = GrpcClient::new(&receiver.grpc_endpoint().expect("gRPC listens"), Compression::None, &[], None)
        .expect("endpoint");
    // The export waits in the backlog until the holder is closed by the
    // watchdog, then is served: it is not refused.
    let request = traces_request(3);
    let (sent, closed) = tokio::join!(client.send(&request), async {
        let mut buf = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), holder.read_to_end(&mut buf)).await
    });
    assert!(closed.is_ok(), "the holder is closed by the watchdog");
    sent.expect("served once the slot is free");
    let counts = receiver.shutdown().await;
    assert_eq!((counts.spans, counts.refused_requests), (3, 0));
}

#[tokio::test]
async fn a_zero_limit_is_refused_at_start_with_its_name() {
    for config in [
        ReceiverConfig { max_concurrent_decodes: 0, ..ReceiverConfig::default() },
        ReceiverConfig { max_connections: 0, ..ReceiverConfig::default() },
        ReceiverConfig { max_concurrent_streams: 0, ..ReceiverConfig::default() },
    ] {
        let err = Receiver::start(config).await.expect_err("a zero count never admits anything");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().starts_with("max_"), "{err}");
    }
}
