//! https and gRPC over TLS on loopback, with the test CA in tests/data/tls.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use otlp_pipeline::exporter::{Exporter, Protocol};
use otlp_pipeline::fixtures;
use otlp_pipeline::pipeline::DropReason;
use otlp_pipeline::receiver::{Receiver, ReceiverConfig, TlsIdentity};
use otlp_pipeline::transport::RetryConfig;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls").join(name)
}

async fn tls_receiver() -> Receiver {
    Receiver::start(ReceiverConfig {
        grpc_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        tls: Some(TlsIdentity { cert_chain: data("server.pem"), key: data("server.key") }),
        ..ReceiverConfig::default()
    })
    .await
    .expect("bind with TLS")
}

#[tokio::test]
async fn https_and_grpc_over_tls_deliver_with_the_custom_ca() {
    let receiver = tls_receiver().await;
    for (protocol, endpoint) in [
        (Protocol::HttpProtobuf, receiver.http_endpoint()),
        (Protocol::HttpJson, receiver.http_endpoint()),
        (Protocol::Grpc, receiver.grpc_endpoint().expect("gRPC listens")),
    ] {
        assert!(endpoint.starts_with("https://"), "{endpoint}");
        let exporter = Exporter::builder()
            .endpoint(endpoint.as_str())
            .protocol(protocol)
            .ca_file(data("ca.pem"))
            .build()
            .expect("valid exporter");
        for s in fixtures::spans(300) {
            exporter.handle().try_span(s).expect("room");
        }
        let stats = exporter.shutdown(Duration::from_secs(10)).await.expect("the batcher is alive");
        assert_eq!(stats.pipeline.exported, 300, "{protocol}: {}", stats.pipeline);
    }
    assert_eq!(receiver.shutdown().await.spans, 900);
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_and_counted() {
    let receiver = tls_receiver().await;
    let exporter = Exporter::builder()
        .endpoint(receiver.http_endpoint())
        .retry(RetryConfig {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(10),
            max_elapsed: Duration::from_secs(1),
        })
        .build()
        .expect("valid exporter");
    for s in fixtures::spans(10) {
        exporter.handle().try_span(s).expect("room");
    }
    let stats = exporter.shutdown(Duration::from_secs(5)).await.expect("the batcher is alive");
    assert_eq!(stats.pipeline.exported, 0);
    assert_eq!(stats.pipeline.dropped(DropReason::RetriesExhausted), 10, "{}", stats.pipeline);
    assert_eq!(receiver.shutdown().await.spans, 0);
    let bad_ca = Exporter::builder().endpoint("https://127.0.0.1:1").ca_file(data("missing.pem")).build();
    assert!(bad_ca.expect_err("missing CA file").to_string().contains("missing.pem"));
}
