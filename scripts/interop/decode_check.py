#!/usr/bin/env python3
"""Decode `otlp-lab encode` output with the official generated protobuf
classes (PyPI `opentelemetry-proto` + `protobuf`) and check it.

Used by scripts/interop.sh (check 3). For DIR written with `--items N`:

- traces.pb, metrics.pb, logs.pb parse with Export*ServiceRequest.FromString,
  hold no field unknown to the official schema, and re-serialize
  (SerializeToString) to exactly the bytes of the file;
- counts: spans == N, log records == N, data points == max(N//10*10, 10);
- field values: resource service.name == "checkout", first span name
  "GET /api/users/{id}", kind SPAN_KIND_SERVER (2), 10 attributes per span;
- traces.json, metrics.json, logs.json parse with json.load and hold the
  same counts; traces.json's first traceId equals the first span's trace id
  in hex;
- expected.json, written by `otlp-lab encode` with serde_json from the
  fixture MODEL (never from the encoders under test), names the value of
  every item: per span its trace, span and parent ids, name, kind, times,
  attribute keys in order and event count; per metric its name, unit, kind
  and every point's value (or histogram count); per log record its time,
  severity, body, trace id and attribute count. Every one must equal what
  the official classes decoded from the .pb file;
- each .json, with its hex ids turned into base64 (what the protobuf JSON
  mapping expects), parses with google.protobuf.json_format.ParseDict into
  a message equal to the one decoded from the matching .pb.

Prints a "FAIL:" line per problem (naming the file, the field and both
values), then one JSON line of what was decoded; exits 1 if anything failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

FAILURES: list[str] = []


def fail(msg: str) -> None:
    FAILURES.append(msg)
    print(f"  FAIL: {msg}")


def expect(what: str, got, want) -> None:
    if got != want:
        fail(f"{what}: got {got!r}, want {want!r}")


def is_repeated(fd) -> bool:
    # protobuf 7 dropped FieldDescriptor.label in favour of is_repeated.
    rep = getattr(fd, "is_repeated", None)
    if rep is not None:
        return bool(rep)
    return fd.label == fd.LABEL_REPEATED


def unknown_fields(msg, path: str = "") -> list[str]:
    """Paths of messages that carry fields the official schema does not know."""
    found = []
    try:
        from google.protobuf import unknown_fields as uf  # protobuf >= 4.25

        n_unknown = len(uf.UnknownFieldSet(msg))
    except ImportError:  # older protobuf
        n_unknown = len(msg.UnknownFields())
    if n_unknown:
        found.append(f"{path or msg.DESCRIPTOR.name}: {n_unknown} unknown field(s)")
    for fd, value in msg.ListFields():
        if fd.message_type is None:
            continue
        if fd.message_type.GetOptions().map_entry:
            continue
        if is_repeated(fd):
            for i, v in enumerate(value):
                found.extend(unknown_fields(v, f"{path}.{fd.name}[{i}]"))
        else:
            found.extend(unknown_fields(value, f"{path}.{fd.name}"))
        if len(found) > 5:
            break
    return found


def check_pb(path: Path, cls):
    data = path.read_bytes()
    try:
        msg = cls.FromString(data)
    except Exception as e:  # DecodeError
        fail(f"{path.name}: {cls.__name__}.FromString failed: {e}")
        return None
    extra = unknown_fields(msg)
    if extra:
        fail(f"{path.name}: fields unknown to opentelemetry-proto: {extra}")
    again = msg.SerializeToString()
    if again != data:
        at = next((i for i, (a, b) in enumerate(zip(again, data)) if a != b), min(len(again), len(data)))
        fail(
            f"{path.name}: SerializeToString() differs from the file: {len(again)} vs {len(data)} bytes, "
            f"first difference at byte {at}: ours {data[at:at + 16].hex()} canonical {again[at:at + 16].hex()}"
        )
    return msg


def hex_ids_to_base64(obj, id_keys=("traceId", "spanId", "parentSpanId")):
    """OTLP/JSON writes ids as hex; the protobuf JSON mapping of bytes is base64."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in id_keys and isinstance(v, str):
                out[k] = base64.b64encode(bytes.fromhex(v)).decode() if v else v
            else:
                out[k] = hex_ids_to_base64(v, id_keys)
        return out
    if isinstance(obj, list):
        return [hex_ids_to_base64(v, id_keys) for v in obj]
    return obj


def first_diff(a, b, path="") -> str:
    """A readable first difference between two messages of the same type."""
    fa = {fd.name: v for fd, v in a.ListFields()}
    fb = {fd.name: v for fd, v in b.ListFields()}
    for name in sorted(set(fa) | set(fb)):
        va, vb = fa.get(name), fb.get(name)
        if va == vb:
            continue
        fd = a.DESCRIPTOR.fields_by_name[name]
        if va is None or vb is None or fd.message_type is None:
            return f"{path}.{name}: json {va!r} vs pb {vb!r}"[:400]
        if is_repeated(fd):
            if len(va) != len(vb):
                return f"{path}.{name}: json has {len(va)} entries, pb has {len(vb)}"
            for i, (x, y) in enumerate(zip(va, vb)):
                if x != y:
                    return first_diff(x, y, f"{path}.{name}[{i}]")
        return first_diff(va, vb, f"{path}.{name}")
    return f"{path}: (no field-level difference found)"


def check_json_equals_pb(path: Path, doc, cls, pb_msg) -> None:
    if pb_msg is None:
        return
    try:
        parsed = json_format.ParseDict(hex_ids_to_base64(doc), cls())
    except json_format.ParseError as e:
        fail(f"{path.name}: json_format.ParseDict (after hex->base64 ids) rejected it: {e}")
        return
    if parsed != pb_msg:
        fail(f"{path.name}: differs from the matching .pb: {first_diff(parsed, pb_msg)}")


def attr(kvs, key):
    for kv in kvs:
        if kv.key == key:
            return kv.value
    return None


def expect_service(what: str, resources) -> None:
    """The first resource's service.name, as every fixture sets it."""
    svc = attr(resources[0].resource.attributes, "service.name") if resources else None
    expect(f"{what}: resource service.name", svc.string_value if svc else None, "checkout")


def expect_items(what: str, got: list, want: list) -> None:
    """Item by item, reporting the count and the first differing item only."""
    if len(got) != len(want):
        fail(f"{what}: {len(got)} items decoded, expected.json has {len(want)}")
        return
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            keys = [k for k in w if g.get(k) != w.get(k)]
            fail(f"{what} #{i}: {', '.join(f'{k} got {g.get(k)!r}, want {w.get(k)!r}' for k in keys)}"[:600])
            return


def check_expected(path: Path, t, m, lg) -> None:
    """Compares the official decode of the .pb files with expected.json."""
    want = load_json(path)
    if t is not None:
        got = [
            {
                "trace_id": s.trace_id.hex(),
                "span_id": s.span_id.hex(),
                "parent_span_id": s.parent_span_id.hex(),
                "name": s.name,
                "kind": int(s.kind),
                "start_time_unix_nano": s.start_time_unix_nano,
                "end_time_unix_nano": s.end_time_unix_nano,
                "attributes": [a.key for a in s.attributes],
                "events": len(s.events),
            }
            for rs in t.resource_spans for ss in rs.scope_spans for s in ss.spans
        ]
        expect_items("traces.pb vs expected.json span", got, want["spans"])
    if m is not None:
        got = []
        for rm in m.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    kind = metric.WhichOneof("data") or ""
                    points = getattr(metric, kind).data_points if kind else []
                    if kind in ("gauge", "sum"):
                        values = [{p.WhichOneof("value"): getattr(p, p.WhichOneof("value"))} if p.WhichOneof("value")
                                  else None for p in points]
                    else:
                        values = [{"count": p.count} for p in points]
                    got.append({"name": metric.name, "unit": metric.unit, "kind": kind, "points": values})
        expect_items("metrics.pb vs expected.json metric", got, want["metrics"])
        expect("metrics.pb vs expected.json: points", sum(len(x["points"]) for x in got), want["points"])
    if lg is not None:
        got = [
            {
                "time_unix_nano": r.time_unix_nano,
                "severity_number": int(r.severity_number),
                "severity_text": r.severity_text,
                "body": r.body.string_value,
                "trace_id": r.trace_id.hex(),
                "attributes": len(r.attributes),
            }
            for rl in lg.resource_logs for sl in rl.scope_logs for r in sl.log_records
        ]
        expect_items("logs.pb vs expected.json record", got, want["log_records"])


def load_json(path: Path):
    with path.open() as f:
        return json.load(f)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True, type=Path)
    ap.add_argument("--items", required=True, type=int, help="the --items given to otlp-lab encode")
    args = ap.parse_args()
    d, n = args.dir, args.items
    want_points = max(n // 10 * 10, 10)
    results = {}

    # --- traces ---
    t = check_pb(d / "traces.pb", ExportTraceServiceRequest)
    if t is not None:
        spans = [s for rs in t.resource_spans for ss in rs.scope_spans for s in ss.spans]
        expect("traces.pb: spans", len(spans), n)
        results["spans"] = len(spans)
        expect_service("traces.pb", t.resource_spans)
        if spans:
            s0 = spans[0]
            expect("traces.pb: first span name", s0.name, "GET /api/users/{id}")
            expect("traces.pb: first span kind", s0.kind, Span.SPAN_KIND_SERVER)
            expect("traces.pb: SPAN_KIND_SERVER value", int(Span.SPAN_KIND_SERVER), 2)
            expect("traces.pb: first span trace_id length", len(s0.trace_id), 16)
            expect("traces.pb: first span span_id length", len(s0.span_id), 8)
            bad = [i for i, s in enumerate(spans) if len(s.attributes) != 10]
            if bad:
                fail(f"traces.pb: {len(bad)} span(s) without 10 attributes, first #{bad[0]} "
                     f"has {len(spans[bad[0]].attributes)}")
            if not all(s.end_time_unix_nano >= s.start_time_unix_nano > 0 for s in spans):
                fail("traces.pb: a span has start_time 0 or ends before it starts")
    tj_path = d / "traces.json"
    tj = load_json(tj_path)
    jspans = [s for rs in tj.get("resourceSpans", []) for ss in rs.get("scopeSpans", []) for s in ss.get("spans", [])]
    expect("traces.json: spans", len(jspans), n)
    if t is not None and jspans:
        s0 = [s for rs in t.resource_spans for ss in rs.scope_spans for s in ss.spans][0]
        expect("traces.json: first traceId == traces.pb first trace_id (hex)",
               jspans[0].get("traceId"), s0.trace_id.hex())
        expect("traces.json: first spanId == traces.pb first span_id (hex)",
               jspans[0].get("spanId"), s0.span_id.hex())
        expect("traces.json: first span kind", jspans[0].get("kind"), 2)
        expect("traces.json: first span name", jspans[0].get("name"), "GET /api/users/{id}")
    check_json_equals_pb(tj_path, tj, ExportTraceServiceRequest, t)

    # --- metrics ---
    m = check_pb(d / "metrics.pb", ExportMetricsServiceRequest)
    if m is not None:
        points = 0
        kinds = {}
        for rm in m.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    kind = metric.WhichOneof("data")
                    kinds[kind] = kinds.get(kind, 0) + 1
                    points += len(getattr(metric, kind).data_points) if kind else 0
        expect("metrics.pb: data points", points, want_points)
        results["points"] = points
        results["metric_kinds"] = kinds
        expect_service("metrics.pb", m.resource_metrics)
    mj_path = d / "metrics.json"
    mj = load_json(mj_path)
    jpoints = 0
    for rm in mj.get("resourceMetrics", []):
        for sm in rm.get("scopeMetrics", []):
            for metric in sm.get("metrics", []):
                for kind in ("gauge", "sum", "histogram", "exponentialHistogram", "summary"):
                    if kind in metric:
                        jpoints += len(metric[kind].get("dataPoints", []))
    expect("metrics.json: data points", jpoints, want_points)
    check_json_equals_pb(mj_path, mj, ExportMetricsServiceRequest, m)

    # --- logs ---
    lg = check_pb(d / "logs.pb", ExportLogsServiceRequest)
    if lg is not None:
        records = [r for rl in lg.resource_logs for sl in rl.scope_logs for r in sl.log_records]
        expect("logs.pb: log records", len(records), n)
        results["logs"] = len(records)
        expect_service("logs.pb", lg.resource_logs)
    lj_path = d / "logs.json"
    lj = load_json(lj_path)
    jlogs = sum(len(sl.get("logRecords", [])) for rl in lj.get("resourceLogs", []) for sl in rl.get("scopeLogs", []))
    expect("logs.json: log records", jlogs, n)
    check_json_equals_pb(lj_path, lj, ExportLogsServiceRequest, lg)

    # --- every item against the model's own values ---
    check_expected(d / "expected.json", t, m, lg)

    sizes = {p.name: p.stat().st_size for p in sorted(d.iterdir())}
    print(json.dumps({"items": n, "decoded": results, "bytes": sizes, "failures": len(FAILURES)}, sort_keys=True))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
