//! The setup of the tests that follow telemetry from an API to the wire: a
//! loopback receiver that keeps what it decodes, an exporter to it, and what
//! arrived, split by signal.

use otlp_pipeline::model::{LogRecord, Metric, Span};
use otlp_pipeline::receiver::{Received, Receiver, ReceiverConfig};
use otlp_pipeline::{Exporter, Protocol, Resource};

/// A receiver on loopback (HTTP, and gRPC) that keeps every decoded request.
pub async fn capturing_receiver() -> Receiver {
    Receiver::start(ReceiverConfig {
        capture: true,
        grpc_addr: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        ..ReceiverConfig::default()
    })
    .await
    .expect("bind loopback")
}

/// Our exporter to `receiver` over `protocol`, with `resource`.
pub fn exporter_to(receiver: &Receiver, protocol: Protocol, resource: Resource) -> Exporter {
    let endpoint = match protocol {
        Protocol::Grpc => receiver.grpc_endpoint().expect("the capturing receiver listens for gRPC"),
        _ => receiver.http_endpoint(),
    };
    Exporter::builder().endpoint(endpoint).protocol(protocol).resource(resource).build().expect("valid exporter")
}

/// What a capturing receiver decoded, in arrival order.
#[derive(Debug, Default)]
pub struct Arrived {
    /// Every span.
    pub spans: Vec<Span>,
    /// Every log record.
    pub logs: Vec<LogRecord>,
    /// Every metric.
    pub metrics: Vec<Metric>,
    /// The resource of each resource entry of every request, any signal.
    pub resources: Vec<Resource>,
}

impl Arrived {
    /// Takes what `receiver` captured so far.
    pub fn take(receiver: &Receiver) -> Arrived {
        let mut a = Arrived::default();
        for r in receiver.take_captured() {
            match r {
                Received::Traces(d) => {
                    for rs in d.resource_spans {
                        a.resources.push(rs.resource);
                        a.spans.extend(rs.scope_spans.into_iter().flat_map(|s| s.spans));
                    }
                }
                Received::Logs(d) => {
                    for rl in d.resource_logs {
                        a.resources.push(rl.resource);
                        a.logs.extend(rl.scope_logs.into_iter().flat_map(|s| s.log_records));
                    }
                }
                Received::Metrics(d) => {
                    for rm in d.resource_metrics {
                        a.resources.push(rm.resource);
                        a.metrics.extend(rm.scope_metrics.into_iter().flat_map(|s| s.metrics));
                    }
                }
            }
        }
        a
    }
}
