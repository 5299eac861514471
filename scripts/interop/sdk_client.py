#!/usr/bin/env python3
"""Export a known number of spans, metric points and log records with the
official OpenTelemetry Python SDK and its OTLP exporters: OTLP/HTTP (protobuf,
opentelemetry-exporter-otlp-proto-http) or OTLP/gRPC
(opentelemetry-exporter-otlp-proto-grpc), chosen with --protocol.

Used by scripts/interop.sh (check 1) against `otlp-lab receive`. Prints one
JSON line: what was exported (spans, points, logs), how many requests were
made and their outcome (HTTP statuses, or gRPC status codes). Exits 1 when an
export failed or a request was not accepted (HTTP 2xx, gRPC OK), printing
every such answer on stderr.

Requests are recorded on the client side: over HTTP by the exporters'
requests session, over gRPC by a client interceptor on the exporters'
channel (every attempt, retries included).

Metric points are exact: the PeriodicExportingMetricReader runs with an
infinite interval (no background collection), so the only collection is the
explicit `force_flush()`; `shutdown()` does not collect again with an
infinite interval. Each instrument is recorded with a fixed number of
distinct attribute sets, and every attribute set is one data point in that
single (cumulative) export.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading

# The SDK reads OTEL_* variables (endpoint, compression, temporality,
# internal metrics, ...): the check must not depend on the caller's
# environment, so drop them all before importing it.
for _k in [k for k in os.environ if k.startswith("OTEL_")]:
    del os.environ[_k]

import requests  # noqa: E402

from opentelemetry._logs import SeverityNumber  # noqa: E402
from opentelemetry.metrics import Observation  # noqa: E402
from opentelemetry.sdk._logs import LoggerProvider  # noqa: E402
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader  # noqa: E402
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult  # noqa: E402
from opentelemetry.trace import Link, SpanKind, Status, StatusCode  # noqa: E402


class RecordingSession(requests.Session):
    """A requests session that records every request the exporters make."""

    def __init__(self, log: list, lock: threading.Lock) -> None:
        super().__init__()
        self._log = log
        self._lock = lock

    def request(self, method, url, *args, **kwargs):  # noqa: D401
        data = kwargs.get("data") or b""
        headers = kwargs.get("headers") or {}
        entry = {
            "method": method,
            "url": url,
            "content_type": headers.get("Content-Type"),
            "content_encoding": headers.get("Content-Encoding"),
            "body_bytes": len(data),
        }
        try:
            resp = super().request(method, url, *args, **kwargs)
        except Exception as e:  # connection refused, reset, timeout
            entry["error"] = f"{type(e).__name__}: {e}"
            with self._lock:
                self._log.append(entry)
            raise
        entry["status"] = resp.status_code
        if not 200 <= resp.status_code < 300:
            entry["response_content_type"] = resp.headers.get("Content-Type")
            entry["response_body"] = resp.content[:400].decode("utf-8", "backslashreplace")
        with self._lock:
            self._log.append(entry)
        return resp


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ok = {"spans": 0, "points": 0, "logs": 0}
        self.failed = {"spans": 0, "points": 0, "logs": 0}

    def add(self, kind: str, n: int, success: bool) -> None:
        with self.lock:
            (self.ok if success else self.failed)[kind] += n


TALLY = Tally()


def metric_points(metrics_data) -> int:
    n = 0
    for rm in metrics_data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                n += len(m.data.data_points)
    return n


class Exporters:
    """The three OTLP exporters of one protocol, counting what they export.

    http: opentelemetry-exporter-otlp-proto-http, endpoint BASE/v1/<signal>,
    requests through a RecordingSession. grpc: opentelemetry-exporter-otlp-
    proto-grpc, endpoint BASE (host:port), insecure channel, with a client
    interceptor recording every call. Only the chosen exporter package is
    imported."""

    def __init__(self, protocol: str, base: str, compression: str, calls: list, lock: threading.Lock) -> None:
        self.protocol = protocol
        self.base = base
        if protocol == "grpc":
            import grpc
            from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            self.compression = grpc.Compression.Gzip if compression == "gzip" else grpc.Compression.NoCompression
            interceptor = recording_interceptor(calls, lock)

            def intercepted(cls):
                class Intercepted(cls):
                    # The mixin builds its channel and stub here (again after an
                    # UNAVAILABLE answer): put the interceptor on that channel.
                    def _initialize_channel_and_stub(self):
                        super()._initialize_channel_and_stub()
                        self._client = self._stub(grpc.intercept_channel(self._channel, interceptor))

                return Intercepted

            self.classes = {
                "spans": intercepted(OTLPSpanExporter),
                "points": intercepted(OTLPMetricExporter),
                "logs": intercepted(OTLPLogExporter),
            }
        else:
            from opentelemetry.exporter.otlp.proto.http import Compression
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            self.compression = Compression.Gzip if compression == "gzip" else Compression.NoCompression
            self.session = RecordingSession(calls, lock)
            self.classes = {"spans": OTLPSpanExporter, "points": OTLPMetricExporter, "logs": OTLPLogExporter}

    def make(self, kind: str, path: str):
        """A counting exporter of `kind` (spans, points, logs); `path` is the
        OTLP/HTTP signal path (v1/traces, ...), unused over gRPC."""
        if self.protocol == "grpc":
            kwargs = dict(
                endpoint=self.base,
                insecure=True,
                # No HTTP proxy for a loopback receiver, whatever the environment says.
                channel_options=(("grpc.enable_http_proxy", 0),),
            )
        else:
            kwargs = dict(endpoint=f"{self.base}/{path}", session=self.session)
        base_cls = self.classes[kind]

        class Counting(base_cls):
            def export(self, data, *args, **kw):
                r = super().export(data, *args, **kw)
                n = metric_points(data) if kind == "points" else len(data)
                TALLY.add(kind, n, r == RESULT_SUCCESS[kind])
                return r

        return Counting(compression=self.compression, timeout=10, **kwargs)


RESULT_SUCCESS = {
    "spans": SpanExportResult.SUCCESS,
    "points": MetricExportResult.SUCCESS,
    "logs": LogRecordExportResult.SUCCESS,
}


def recording_interceptor(calls: list, lock: threading.Lock):
    """A gRPC client interceptor that records every unary call (attempt):
    method, request size, status code and, when not OK, its details."""
    import grpc

    class Recording(grpc.UnaryUnaryClientInterceptor):
        def intercept_unary_unary(self, continuation, details, request):
            entry = {"method": details.method, "body_bytes": request.ByteSize()}
            try:
                outcome = continuation(details, request)
                code = outcome.code()
            except Exception as e:  # the channel itself failed
                entry["error"] = f"{type(e).__name__}: {e}"
                with lock:
                    calls.append(entry)
                raise
            entry["grpc_code"] = code.name if code is not None else None
            if code is None or code.name != "OK":
                entry["details"] = str(outcome.details())[:400]
            with lock:
                calls.append(entry)
            return outcome

    return Recording()


def export_traces(exporters: Exporters, resource: Resource, n_spans: int) -> None:
    provider = TracerProvider(resource=resource)
    exporter = exporters.make("spans", "v1/traces")
    # Batches of 128: several requests, and a partial last one.
    provider.add_span_processor(
        BatchSpanProcessor(exporter, max_queue_size=4096, max_export_batch_size=128, schedule_delay_millis=60_000)
    )
    tracer = provider.get_tracer("interop.sdk_client", "1.0.0", attributes={"interop.scope": True})
    made = 0
    linked = None
    while made < n_spans:
        # One SERVER root with up to 4 children of other kinds.
        with tracer.start_as_current_span(
            "GET /api/users/{id}",
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": "GET",
                "http.route": "/api/users/{id}",
                "http.response.status_code": 200 + (made % 3) * 100,
                "server.duration_ratio": made / 7.0,
                "sampled": made % 2 == 0,
                "tags": ["a", "b", str(made)],
                "ints": [1, 2, made],
            },
            links=[Link(linked, {"link.kind": "previous"})] if linked is not None else None,
        ) as root:
            made += 1
            linked = root.get_span_context()
            root.add_event("request.received", {"bytes": made * 10, "ratio": 0.5})
            for kind in (SpanKind.CLIENT, SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER):
                if made >= n_spans:
                    break
                with tracer.start_as_current_span(f"child {kind.name.lower()}", kind=kind) as child:
                    made += 1
                    child.set_attribute("db.system.name", "postgresql")
                    child.set_attribute("retry.count", made % 5)
                    if made % 11 == 0:
                        child.set_status(Status(StatusCode.ERROR, "synthetic failure"))
                        child.add_event("exception", {"exception.type": "ValueError", "exception.message": "boom"})
    if not provider.force_flush(timeout_millis=30_000):
        print("sdk_client: TracerProvider.force_flush timed out", file=sys.stderr)
    provider.shutdown()


# Instruments and the attribute sets recorded on each: one data point per set.
COUNTER_SETS = 5  # Counter (sum, monotonic)
UPDOWN_SETS = 3  # UpDownCounter (sum, non-monotonic)
HISTOGRAM_SETS = 4  # Histogram, explicit buckets
EXPO_SETS = 2  # Histogram through a View with the exponential aggregation
GAUGE_SETS = 2  # synchronous Gauge
OBS_GAUGE_SETS = 3  # ObservableGauge
OBS_COUNTER_SETS = 2  # ObservableCounter
OBS_UPDOWN_SETS = 1  # ObservableUpDownCounter
EXPECTED_POINTS = (
    COUNTER_SETS + UPDOWN_SETS + HISTOGRAM_SETS + EXPO_SETS + GAUGE_SETS + OBS_GAUGE_SETS + OBS_COUNTER_SETS
    + OBS_UPDOWN_SETS
)


def export_metrics(exporters: Exporters, resource: Resource) -> None:
    exporter = exporters.make("points", "v1/metrics")
    # math.inf: no background thread, so no collection besides force_flush.
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=math.inf)
    provider = MeterProvider(
        resource=resource,
        metric_readers=[reader],
        views=[View(instrument_name="interop.payload.size", aggregation=ExponentialBucketHistogramAggregation())],
    )
    meter = provider.get_meter("interop.sdk_client", "1.0.0")

    counter = meter.create_counter("interop.requests", unit="{request}", description="requests")
    for i in range(COUNTER_SETS):
        for _ in range(i + 1):
            counter.add(3, {"route": f"/r/{i}"})
    updown = meter.create_up_down_counter("interop.queue.depth", unit="{item}")
    for i in range(UPDOWN_SETS):
        updown.add(10, {"queue": f"q{i}"})
        updown.add(-4, {"queue": f"q{i}"})
    hist = meter.create_histogram("interop.latency", unit="ms")
    for i in range(HISTOGRAM_SETS):
        for v in (0.5, 3.0, 42.0, 250.0, 9000.0):
            hist.record(v * (i + 1), {"endpoint": f"e{i}", "ok": i % 2 == 0})
    expo = meter.create_histogram("interop.payload.size", unit="By")
    for i in range(EXPO_SETS):
        for v in (1, 10, 100, 1000, 10000):
            expo.record(v + i, {"direction": "in" if i == 0 else "out"})
    gauge = meter.create_gauge("interop.temperature.sync", unit="Cel")
    for i in range(GAUGE_SETS):
        gauge.set(20.5 + i, {"room": f"r{i}"})

    meter.create_observable_gauge(
        "interop.temperature",
        callbacks=[lambda _o: [Observation(18.0 + i, {"sensor": f"s{i}"}) for i in range(OBS_GAUGE_SETS)]],
        unit="Cel",
    )
    meter.create_observable_counter(
        "interop.cpu.time",
        callbacks=[lambda _o: [Observation(1.5 * (i + 1), {"cpu": str(i)}) for i in range(OBS_COUNTER_SETS)]],
        unit="s",
    )
    meter.create_observable_up_down_counter(
        "interop.connections",
        callbacks=[lambda _o: [Observation(7, {"pool": f"p{i}"}) for i in range(OBS_UPDOWN_SETS)]],
    )
    if not provider.force_flush(timeout_millis=30_000):
        print("sdk_client: MeterProvider.force_flush failed or timed out", file=sys.stderr)
    provider.shutdown()


def export_logs(exporters: Exporters, resource: Resource, n_logs: int) -> None:
    provider = LoggerProvider(resource=resource)
    exporter = exporters.make("logs", "v1/logs")
    provider.add_log_record_processor(
        BatchLogRecordProcessor(exporter, max_queue_size=4096, max_export_batch_size=64, schedule_delay_millis=60_000)
    )
    logger = provider.get_logger("interop.sdk_client", "1.0.0")
    # A tracer that is not exported: only to give some records a trace context.
    tracer = TracerProvider(resource=resource).get_tracer("interop.log_context")
    severities = [SeverityNumber.DEBUG, SeverityNumber.INFO, SeverityNumber.WARN, SeverityNumber.ERROR]
    bodies = [
        lambda i: f"user {i} logged in",
        lambda i: {"event": "checkout", "items": i, "total": i * 1.25, "ok": True},
        lambda i: ["a", i, 2.5, False],
        lambda i: i,
        lambda i: f"bytes-{i}".encode(),
    ]
    for i in range(n_logs):
        sev = severities[i % len(severities)]
        kwargs = dict(
            timestamp=1_700_000_000_000_000_000 + i * 1_000_000,
            severity_number=sev,
            severity_text=sev.name,
            body=bodies[i % len(bodies)](i),
            attributes={"log.index": i, "log.kind": "interop", "ratio": i / 3.0, "flag": i % 2 == 0},
        )
        if i % 4 == 0:
            with tracer.start_as_current_span("log-parent"):
                logger.emit(**kwargs)
        else:
            logger.emit(**kwargs)
    if not provider.force_flush(timeout_millis=30_000):
        print("sdk_client: LoggerProvider.force_flush timed out", file=sys.stderr)
    provider.shutdown()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", required=True, help="base URL, e.g. http://127.0.0.1:4318 (http) or :4317 (grpc)")
    ap.add_argument("--protocol", choices=["http/protobuf", "grpc"], default="http/protobuf")
    ap.add_argument("--compression", choices=["none", "gzip"], default="none")
    ap.add_argument("--spans", type=int, default=500)
    ap.add_argument("--logs", type=int, default=200)
    ap.add_argument("--print-expected-points", action="store_true", help="print the exact point count and exit")
    args = ap.parse_args()
    if args.print_expected_points:
        print(EXPECTED_POINTS)
        return 0

    base = args.endpoint.rstrip("/")
    resource = Resource.create({"service.name": "interop-sdk-client", "service.version": "1.0.0"})
    requests_log: list = []
    lock = threading.Lock()
    exporters = Exporters(args.protocol, base, args.compression, requests_log, lock)

    export_traces(exporters, resource, args.spans)
    export_metrics(exporters, resource)
    export_logs(exporters, resource, args.logs)

    expected = {"spans": args.spans, "points": EXPECTED_POINTS, "logs": args.logs}
    out = {
        "protocol": args.protocol,
        "compression": args.compression,
        "expected": expected,
        "exported": TALLY.ok,
        "failed": TALLY.failed,
        "requests": len(requests_log),
    }
    if args.protocol == "grpc":
        bad = [r for r in requests_log if r.get("grpc_code") != "OK"]
        out["requests_not_ok"] = len(bad)
        out["grpc_codes"] = sorted({str(r.get("grpc_code")) for r in requests_log})
        out["methods"] = sorted({r["method"] for r in requests_log})
        what = "answered OK"
    else:
        bad = [r for r in requests_log if r.get("status") is None or not 200 <= r["status"] < 300]
        out["requests_not_2xx"] = len(bad)
        out["content_encodings"] = sorted({str(r["content_encoding"]) for r in requests_log})
        what = "answered 2xx"
    print(json.dumps(out, sort_keys=True))
    for r in bad:
        print(f"sdk_client: request not accepted: {json.dumps(r, sort_keys=True)}", file=sys.stderr)
    problems = []
    if bad:
        problems.append(f"{len(bad)} request(s) not {what}")
    if any(TALLY.failed.values()):
        problems.append(f"export failures {TALLY.failed}")
    if TALLY.ok != expected:
        problems.append(f"exported {TALLY.ok}, wanted {expected}")
    if problems:
        print("sdk_client: FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
