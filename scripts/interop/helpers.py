#!/usr/bin/env python3
"""Small helpers for scripts/interop.sh (standard library only, except
`hist-points`, which needs opentelemetry-proto).

  free-ports N                 print N distinct free TCP ports on 127.0.0.1
  compare-sdk RECV CLIENT      compare `otlp-lab receive`'s JSON line with sdk_client.py's
  rotel-counts LOG FROM ...    sum rotel's debug-log counts after line FROM (waits, bounded)
  rotel-probe-json-hist URL LOG
                               does rotel count histogram points of OTLP/JSON whose
                               uint64 fields are strings (as OTLP/JSON requires)?
  rotel-probe-encoding URL     does rotel honour Content-Encoding (uncompressed body labelled zstd)?
  rotel-verdict KEY=VALUE...   judge one `otlp-lab send` run into rotel (PASS/FAIL/UNSUPPORTED)
  wire-check TAP COMPRESSION CALLS
                               judge what grpc_tap.py saw (its `summary` JSON in file TAP):
                               CALLS calls, all answered grpc-status 0, messages compressed
                               as COMPRESSION (none, gzip, zstd) says
  hist-points DIR              histogram data points in DIR/metrics.pb
"""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_ports(n: int) -> None:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        print(" ".join(str(s.getsockname()[1]) for s in socks))
    finally:
        for s in socks:
            s.close()


def last_json_line(path: str) -> dict:
    lines = [ln for ln in Path(path).read_text().splitlines() if ln.strip().startswith("{")]
    if not lines:
        raise SystemExit(f"no JSON line in {path}")
    return json.loads(lines[-1])


def compare_sdk(recv_path: str, client_path: str) -> int:
    recv = last_json_line(recv_path)
    client = last_json_line(client_path)
    want = client["expected"]
    problems = []
    for k in ("spans", "points", "logs"):
        if recv.get(k) != want[k]:
            problems.append(f"{k}: receiver counted {recv.get(k)}, the SDK exported {want[k]}")
    if recv.get("refused_requests", 0) != 0:
        problems.append(f"receiver refused {recv['refused_requests']} request(s)")
    if recv.get("accepted_requests") != client["requests"]:
        problems.append(
            f"receiver accepted {recv.get('accepted_requests')} request(s), the SDK made {client['requests']}"
        )
    for p in problems:
        print(f"  mismatch: {p}")
    print(
        f"  receiver: spans={recv.get('spans')} points={recv.get('points')} logs={recv.get('logs')} "
        f"accepted_requests={recv.get('accepted_requests')} refused_requests={recv.get('refused_requests')}"
    )
    return 1 if problems else 0


def rotel_events(log: str, start: int) -> list[dict]:
    out = []
    with open(log, errors="replace") as f:
        for i, line in enumerate(f):
            if i < start:
                continue
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def rotel_tally(events: list[dict]) -> dict:
    c = {"spans": 0, "points": 0, "logs": 0, "errors": []}
    for e in events:
        msg = e.get("msg", "")
        if msg == "Received traces.":
            c["spans"] += int(e.get("spans", 0))
        elif msg == "Received metrics.":
            # rotel's BatchSizer for metrics counts data points of every kind.
            c["points"] += int(e.get("metrics", 0))
        elif msg == "Received logs.":
            c["logs"] += int(e.get("logs", 0))
        elif int(e.get("level", 0)) >= 50:
            c["errors"].append(f"{msg} {e.get('error', '')}".strip())
    return c


def rotel_counts(log: str, start: int, want: list[int], timeout: float, settle: float = 2.0) -> None:
    """Wait until rotel has logged `want` (spans, points, logs) after line
    `start`, or its counts stayed unchanged for `settle` seconds, or
    `timeout` passed; print the counts as JSON. Called once the sender has
    had every answer, so rotel has every request and only its logging lags."""
    t0 = time.monotonic()
    last, last_change = None, t0
    while True:
        c = rotel_tally(rotel_events(log, start))
        got = (c["spans"], c["points"], c["logs"])
        now = time.monotonic()
        if all(g >= w for g, w in zip(got, want)):
            time.sleep(0.3)  # anything beyond the expectation shows up too
            c = rotel_tally(rotel_events(log, start))
            break
        key = got + (len(c["errors"]),)
        if key != last:
            last, last_change = key, now
        if now - last_change >= settle or now - t0 >= timeout:
            break
        time.sleep(0.05)
    with open(log, errors="replace") as f:
        c["lines_total"] = sum(1 for _ in f)
    print(json.dumps(c, sort_keys=True))


def post(url: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def one_histogram_request(count, bucket_counts) -> bytes:
    point = {
        "startTimeUnixNano": "1700000000000000000",
        "timeUnixNano": "1700000010000000000",
        "count": count,
        "sum": 12.5,
        "bucketCounts": bucket_counts,
        "explicitBounds": [1.0, 10.0],
    }
    doc = {
        "resourceMetrics": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "probe"}}]},
                "scopeMetrics": [
                    {
                        "scope": {"name": "probe"},
                        "metrics": [
                            {
                                "name": "probe.histogram",
                                "unit": "ms",
                                "histogram": {"dataPoints": [point], "aggregationTemporality": 2},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    return json.dumps(doc).encode()


def rotel_probe_json_hist(base: str, log: str) -> int:
    """Post one histogram point as OTLP/JSON twice: uint64 fields as strings
    (what OTLP/JSON specifies and otlp-lab writes) and as numbers. Print what
    rotel answered and counted for each."""
    result = {}
    for name, count, buckets in (("strings", "3", ["1", "1", "1"]), ("numbers", 3, [1, 1, 1])):
        start = sum(1 for _ in open(log, errors="replace"))
        status, body = post(f"{base}/v1/metrics", one_histogram_request(count, buckets),
                            {"Content-Type": "application/json"})
        deadline = time.monotonic() + 5
        c = rotel_tally(rotel_events(log, start))
        while time.monotonic() < deadline:
            evs = rotel_events(log, start)
            if any(e.get("msg") == "Received metrics." for e in evs):
                c = rotel_tally(evs)
                break
            time.sleep(0.05)
        result[name] = {"status": status, "points_counted": c["points"]}
    print(json.dumps(result, sort_keys=True))
    return 0


def rotel_probe_encoding(base: str) -> int:
    """An uncompressed (valid, empty) ExportTraceServiceRequest labelled
    `Content-Encoding: zstd`: 200 means rotel ignores the header."""
    status, body = post(f"{base}/v1/traces", b"", {"Content-Type": "application/x-protobuf",
                                                     "Content-Encoding": "zstd"})
    print(json.dumps({"uncompressed_body_labelled_zstd_status": status}))
    return 0


def wire_problems(tap: dict, compression: str, calls: int | None) -> list[str]:
    """What is wrong in grpc_tap.py's summary of a run that should have
    succeeded: `calls` calls (None: any number), all answered grpc-status 0,
    each request message sent as `compression` says."""
    p = []
    if tap.get("tap_errors"):
        p.append(f"the tap could not parse the traffic: {tap['tap_errors'][0]}")
    if calls is not None and tap["calls"] != calls:
        p.append(f"{tap['calls']} gRPC calls on the wire, expected {calls}")
    if tap["incomplete"] or tap["resets"]:
        p.append(f"{tap['incomplete']} call(s) without an answer, {tap['resets']} reset")
    if set(tap["grpc_status"]) != {"0"} and tap["calls"]:
        p.append(f"answers' grpc-status {tap['grpc_status']}, messages {tap['grpc_message']}")
    if tap["messages"] != tap["calls"]:
        p.append(f"{tap['messages']} request messages in {tap['calls']} unary calls")
    enc = tap["request_grpc_encoding"]
    if compression == "none":
        if tap["compressed_messages"]:
            p.append(f"compression none, but {tap['compressed_messages']} message(s) compressed ({tap['magic']})")
        if set(enc) - {"(none)", "identity"}:
            p.append(f"compression none, but requests say grpc-encoding {enc}")
    else:
        if enc != {compression: tap["calls"]}:
            p.append(f"requests' grpc-encoding {enc}, expected {compression} on all {tap['calls']}")
        if tap["magic"] != {compression: tap["messages"]}:
            p.append(f"request messages on the wire {tap['magic']}, expected all {tap['messages']} {compression}")
    return p


def wire_summary(tap: dict) -> str:
    enc = ",".join(f"{k}x{v}" for k, v in sorted(tap["request_grpc_encoding"].items()))
    magic = ",".join(f"{k}x{v}" for k, v in sorted(tap["magic"].items()))
    return (f"wire: {tap['calls']} calls on {tap['connections']} connection(s), grpc-encoding {enc}, "
            f"messages {magic}, {tap['message_bytes']} message bytes, "
            f"grpc-status {','.join(f'{k}x{v}' for k, v in sorted(tap['grpc_status'].items()))}")


def wire_check(tap_path: str, compression: str, calls: str) -> int:
    tap = json.loads(Path(tap_path).read_text())
    problems = wire_problems(tap, compression, int(calls))
    print(f"  {wire_summary(tap)}")
    for p in problems:
        print(f"  wire mismatch: {p}")
    return 1 if problems else 0


def rotel_verdict(a: dict) -> int:
    """Judge one `otlp-lab send` run into rotel. Prints "STATUS<TAB>detail"
    then note lines. STATUS: PASS, FAIL or UNSUPPORTED (a rotel limitation,
    shown by the probes, not an otlp-lab fault)."""
    send_rc = int(a["send_rc"])
    try:
        send = last_json_line(a["send_out"])
    except SystemExit:
        send = {}
    send_err = Path(a["send_err"]).read_text(errors="replace").strip()
    counts = json.loads(Path(a["counts"]).read_text())
    probes = json.loads(Path(a["probes"]).read_text()) if Path(a["probes"]).exists() else {}
    want = {"spans": int(a["spans"]), "points": int(a["points"]), "logs": int(a["logs"])}
    hist = int(a["hist"])
    proto, comp = a["protocol"], a["compression"]
    tap = json.loads(Path(a["tap"]).read_text()) if a.get("tap") else None
    notes = []
    if tap is not None:
        notes.append(wire_summary(tap))
    got = f"rotel counted spans={counts['spans']} points={counts['points']} logs={counts['logs']}"
    sent = (
        f"send: exported={send.get('exported')} dropped={send.get('dropped')} requests={send.get('requests')} "
        f"retries={send.get('retries')} exit={send_rc}"
    )
    errors = counts.get("errors", [])
    if send_rc != 0 or send.get("dropped", 1) != 0:
        decode_errors = [e for e in errors if "Failed to decode" in e]
        nothing_received = counts["spans"] == counts["points"] == counts["logs"] == 0
        ignores_encoding = probes.get("encoding", {}).get("uncompressed_body_labelled_zstd_status") == 200
        said = send_err.splitlines()[-1].removeprefix("otlp-lab: ") if send_err else "?"
        zstd_refused_grpc = (
            tap is not None
            and comp == "zstd"
            and nothing_received
            and tap["calls"] > 0
            and tap["request_grpc_encoding"] == {"zstd": tap["calls"]}
            and set(tap["magic"]) == {"zstd"}
            and tap["grpc_status"] == {"12": tap["calls"]}
            and tap["grpc_accept_encoding"]
            and not any("zstd" in e for e in tap["grpc_accept_encoding"])
        )
        if zstd_refused_grpc:
            msgs = "; ".join(f"'{m}'" for m in tap["grpc_message"])
            print(
                f"UNSUPPORTED\trotel's gRPC receiver does not accept zstd: all {tap['calls']} calls "
                f"(grpc-encoding: zstd; {tap['messages']} message(s) seen on the wire, all zstd frames) answered "
                f"grpc-status 12 UNIMPLEMENTED {msgs}, "
                f"grpc-accept-encoding: {' | '.join(tap['grpc_accept_encoding'])}"
                f" (dropped={send.get('dropped')}, retries={send.get('retries')})"
            )
            notes.append(
                f"otlp-lab send said: {said}; rotel logged nothing for these calls "
                f"({len(errors)} error line(s)): the answer is tonic's own refusal of a grpc-encoding the server "
                f"did not enable, given before the message is read"
            )
        elif comp == "zstd" and decode_errors and nothing_received and ignores_encoding:
            print(
                f"UNSUPPORTED\trotel does not support zstd request bodies: all {send.get('requests')} requests "
                f"refused as undecodable {'protobuf' if proto == 'http/protobuf' else 'JSON'} "
                f"(dropped={send.get('dropped')}, retries={send.get('retries')})"
            )
            notes.append(
                "rotel ignores a Content-Encoding it does not know: an uncompressed body labelled "
                "'Content-Encoding: zstd' is answered 200 (probe), so a real zstd body is decoded as raw "
                f"{'protobuf' if proto == 'http/protobuf' else 'JSON'} and refused with a non-retryable 4xx "
                f"(otlp-lab send said: {said}); rotel logged "
                f"{len(decode_errors)}x: {decode_errors[0]}"
            )
        else:
            print(f"FAIL\totlp-lab send failed or dropped items; {sent}; {got}")
            if send_err:
                notes.append("otlp-lab send stderr: " + " | ".join(send_err.splitlines()[-5:]))
            for e in errors[:5]:
                notes.append(f"rotel error: {e}")
            if tap is not None and tap["grpc_message"]:
                notes.append(f"gRPC answers: {tap['grpc_status']} {tap['grpc_message']}")
        for n in notes:
            print(n)
        return 0

    problems = []
    if errors:
        problems.append(f"rotel logged {len(errors)} error(s), first: {errors[0]}")
    if tap is not None:
        # One call per request, plus one per retry.
        calls = send.get("requests", 0) + send.get("retries", 0)
        problems.extend(f"wire: {p}" for p in wire_problems(tap, comp, calls))
        if comp != "none" and send.get("bytes_sent") == send.get("bytes_raw"):
            notes.append(
                f"otlp-lab send reports bytes_sent == bytes_raw ({send.get('bytes_sent')}) with {comp}: over gRPC "
                f"tonic compresses, and the wire shows {tap['message_bytes']} message bytes"
            )
    for k in ("spans", "logs"):
        if counts[k] != want[k]:
            problems.append(f"rotel counted {k}={counts[k]}, sent {want[k]}")
    status_note = ""
    if counts["points"] != want["points"]:
        hp = probes.get("json_hist", {})
        rotel_json_hist_gap = (
            proto == "http/json"
            and counts["points"] == want["points"] - hist
            and hp.get("strings", {}).get("points_counted") == 0
            and hp.get("numbers", {}).get("points_counted") == 1
        )
        if rotel_json_hist_gap:
            status_note = f" (rotel counted {counts['points']}/{want['points']} points: see note)"
            notes.append(
                f"rotel answered 200 but counted none of the {hist} histogram points: its OTLP/JSON decoder "
                "drops histogram data points whose uint64 fields (count, bucketCounts) are JSON strings, as "
                "OTLP/JSON specifies and otlp-lab writes (probe: one histogram point with string count/bucketCounts "
                "-> 200, 0 points counted; the same with numbers -> 200, 1 point counted). A rotel limitation."
            )
        else:
            problems.append(f"rotel counted points={counts['points']}, sent {want['points']}")
    if problems:
        print(f"FAIL\t{'; '.join(problems)}; {sent}")
    else:
        print(
            f"PASS\t{send.get('requests')} requests, all accepted, dropped 0; rotel counted "
            f"{counts['spans']} spans, {counts['points']} points, {counts['logs']} logs{status_note}"
        )
    for n in notes:
        print(n)
    return 0


def hist_points(d: str) -> int:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    m = ExportMetricsServiceRequest.FromString((Path(d) / "metrics.pb").read_bytes())
    n = sum(
        len(x.histogram.data_points)
        for rm in m.resource_metrics
        for sm in rm.scope_metrics
        for x in sm.metrics
        if x.WhichOneof("data") == "histogram"
    )
    print(n)
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, args = argv[0], argv[1:]
    if cmd == "free-ports":
        free_ports(int(args[0]))
        return 0
    if cmd == "compare-sdk":
        return compare_sdk(args[0], args[1])
    if cmd == "rotel-counts":
        log, start, spans, points, logs, timeout = args
        rotel_counts(log, int(start), [int(spans), int(points), int(logs)], float(timeout))
        return 0
    if cmd == "rotel-probe-json-hist":
        return rotel_probe_json_hist(args[0], args[1])
    if cmd == "rotel-probe-encoding":
        return rotel_probe_encoding(args[0])
    if cmd == "rotel-verdict":
        return rotel_verdict(dict(arg.split("=", 1) for arg in args))
    if cmd == "hist-points":
        return hist_points(args[0])
    if cmd == "wire-check":
        return wire_check(args[0], args[1], args[2])
    print(f"unknown helper command {cmd!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
