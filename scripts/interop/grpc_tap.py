#!/usr/bin/env python3
"""A loopback TCP relay that reads the OTLP/gRPC traffic it forwards.

Used by scripts/interop.sh between a gRPC client and a gRPC server (both on
127.0.0.1, cleartext HTTP/2), to see on the wire what neither side reports:
whether each request message really is compressed, and with what, and what
the server answered (grpc-status, grpc-message, grpc-accept-encoding).

  grpc_tap.py serve --listen PORT --target PORT --out FILE
      Relay 127.0.0.1:PORT -> 127.0.0.1:PORT until killed. Every gRPC call
      (HTTP/2 stream) becomes one JSON line in FILE, written and flushed
      before the frame that ends the call is passed on to the client, so a
      client that has its answer has its line in FILE:
        {"conn", "stream", "path", "request_headers", "messages": [{"compressed",
         "length", "magic"}], "response_headers", "reset", "complete"}
      "magic" names the format of a message's first bytes: gzip (1f8b),
      zstd (28b52ffd), zlib (78..), or "other". A message that gets through
      only after its call was answered (a server refusing on the headers)
      gets a {"conn", "stream", "late_message"} line of its own.
  grpc_tap.py summary FILE FROM
      Sum up the calls on lines FROM.. of FILE as one JSON object.

Bytes are forwarded unchanged; the HTTP/2 frames are parsed on the side
(headers decoded with the `hpack` package). A parse problem is recorded as a
{"tap_error": ...} line and stops the parsing of that connection, never the
relaying.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, PUSH_PROMISE, CONTINUATION = 0x0, 0x1, 0x3, 0x5, 0x9
END_STREAM, END_HEADERS, PADDED, PRIORITY = 0x1, 0x4, 0x8, 0x20
KEEP_HEADERS = {
    ":path", ":status", "content-type", "te", "grpc-encoding", "grpc-accept-encoding",
    "grpc-status", "grpc-message", "content-encoding", "user-agent",
}


def magic(head: bytes) -> str:
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    return "other"


class Output:
    def __init__(self, path: str) -> None:
        self.f = open(path, "a", buffering=1)
        self.lock = threading.Lock()

    def write(self, obj: dict) -> None:
        with self.lock:
            self.f.write(json.dumps(obj, sort_keys=True) + "\n")
            self.f.flush()


class Connection:
    """The state of one relayed connection: its calls, by stream id."""

    def __init__(self, n: int, out: Output) -> None:
        self.n = n
        self.out = out
        self.lock = threading.Lock()
        self.calls: dict[int, dict] = {}
        self.done: set[int] = set()

    def call(self, sid: int) -> dict:
        """The call on stream `sid`; for a call already written out (frames
        that come after the answer: a late message, a RST_STREAM), a
        scratch record that is never written."""
        if sid in self.done:
            return {"request_headers": {}, "response_headers": {}, "messages": []}
        c = self.calls.get(sid)
        if c is None:
            c = self.calls[sid] = {
                "conn": self.n, "stream": sid, "path": None, "request_headers": {}, "messages": [],
                "response_headers": {}, "reset": None, "complete": False,
            }
        return c

    def finish(self, sid: int, complete: bool = True) -> None:
        c = self.calls.pop(sid, None)
        self.done.add(sid)
        if c is not None:
            c["complete"] = complete
            self.out.write(c)

    def close(self) -> None:
        with self.lock:
            for sid in list(self.calls):
                self.finish(sid, complete=False)


class Direction:
    """Parses the frames of one direction (client->server or server->client)."""

    def __init__(self, conn: Connection, to_server: bool) -> None:
        import hpack

        self.conn = conn
        self.to_server = to_server
        self.buf = bytearray()
        self.preface_left = len(PREFACE) if to_server else 0
        self.decoder = hpack.Decoder()
        self.decoder.max_allowed_table_size = 1 << 24
        self.decoder.max_header_list_size = 1 << 24
        self.block = bytearray()  # a header block still waiting for CONTINUATION frames
        self.block_sid = 0
        self.block_end_stream = False
        self.msg: dict[int, dict] = {}  # per stream: the gRPC message being read
        self.broken = False

    def feed(self, data: bytes) -> None:
        if self.broken:
            return
        try:
            self._feed(data)
        except Exception as e:  # never let parsing stop the relay
            self.broken = True
            self.conn.out.write({"tap_error": f"conn {self.conn.n} {'c2s' if self.to_server else 's2c'}: "
                                              f"{type(e).__name__}: {e}"})

    def _feed(self, data: bytes) -> None:
        if self.preface_left:
            take = min(self.preface_left, len(data))
            self.preface_left -= take
            data = data[take:]
        self.buf += data
        while len(self.buf) >= 9:
            length = int.from_bytes(self.buf[0:3], "big")
            if len(self.buf) < 9 + length:
                return
            ftype, flags = self.buf[3], self.buf[4]
            sid = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
            payload = bytes(self.buf[9:9 + length])
            del self.buf[:9 + length]
            with self.conn.lock:
                self._frame(ftype, flags, sid, payload)

    def _frame(self, ftype: int, flags: int, sid: int, p: bytes) -> None:
        if ftype in (DATA, HEADERS, PUSH_PROMISE) and flags & PADDED:
            pad = p[0]
            p = p[1:len(p) - pad]
        if ftype == DATA:
            self._data(sid, p)
            if flags & END_STREAM and not self.to_server:
                self.conn.finish(sid)
        elif ftype == HEADERS:
            if flags & PRIORITY:
                p = p[5:]
            self.block, self.block_sid, self.block_end_stream = bytearray(p), sid, bool(flags & END_STREAM)
            if flags & END_HEADERS:
                self._headers()
        elif ftype == PUSH_PROMISE:
            self.block, self.block_sid, self.block_end_stream = bytearray(p[4:]), sid, False
            if flags & END_HEADERS:
                self._headers()
        elif ftype == CONTINUATION:
            self.block += p
            if flags & END_HEADERS:
                self._headers()
        elif ftype == RST_STREAM:
            c = self.conn.call(sid)
            c["reset"] = {"by": "client" if self.to_server else "server", "code": int.from_bytes(p[:4], "big")}
            self.conn.finish(sid, complete=False)

    def _headers(self) -> None:
        sid = self.block_sid
        headers = self.decoder.decode(bytes(self.block), raw=True)
        self.block = bytearray()
        c = self.conn.call(sid)
        target = c["request_headers"] if self.to_server else c["response_headers"]
        for name, value in headers:
            k = name.decode("latin-1")
            if k in KEEP_HEADERS:
                target[k] = value.decode("latin-1")
        if self.to_server and ":path" in target:
            c["path"] = target[":path"]
        if self.block_end_stream and not self.to_server:
            self.conn.finish(sid)

    def _data(self, sid: int, p: bytes) -> None:
        if not self.to_server:
            return  # the responses' messages are not looked at
        st = self.msg.setdefault(sid, {"hdr": b"", "left": 0, "head": b"", "flag": 0, "len": 0})
        i = 0
        while i < len(p):
            if len(st["hdr"]) < 5:
                take = p[i:i + 5 - len(st["hdr"])]
                st["hdr"] += take
                i += len(take)
                if len(st["hdr"]) == 5:
                    st["flag"] = st["hdr"][0]
                    st["len"] = st["left"] = int.from_bytes(st["hdr"][1:5], "big")
                    st["head"] = b""
                    if st["left"] == 0:
                        self._message(sid, st)
                continue
            n = min(st["left"], len(p) - i)
            if len(st["head"]) < 4:
                st["head"] += p[i:i + min(n, 4 - len(st["head"]))]
            st["left"] -= n
            i += n
            if st["left"] == 0:
                self._message(sid, st)

    def _message(self, sid: int, st: dict) -> None:
        m = {"compressed": st["flag"], "length": st["len"], "magic": magic(st["head"]) if st["flag"] else "none"}
        if sid in self.conn.done:
            # The server answered before this message went through (a refusal
            # on the headers alone): a line of its own, merged by `summary`.
            self.conn.out.write({"conn": self.conn.n, "stream": sid, "late_message": m})
        else:
            self.conn.call(sid)["messages"].append(m)
        st["hdr"], st["head"], st["left"] = b"", b"", 0


def pump(src: socket.socket, dst: socket.socket, parser: Direction, done: threading.Event) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            parser.feed(data)  # first: the call's line is written before its end is passed on
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        done.set()


def relay(client: socket.socket, target: int, n: int, out: Output) -> None:
    try:
        server = socket.create_connection(("127.0.0.1", target), timeout=10)
        server.settimeout(None)
    except OSError as e:
        out.write({"tap_error": f"conn {n}: cannot connect to 127.0.0.1:{target}: {e}"})
        client.close()
        return
    conn = Connection(n, out)
    a, b = threading.Event(), threading.Event()
    threading.Thread(target=pump, args=(client, server, Direction(conn, True), a), daemon=True).start()
    threading.Thread(target=pump, args=(server, client, Direction(conn, False), b), daemon=True).start()
    a.wait()
    b.wait()
    conn.close()
    client.close()
    server.close()


def serve(listen: int, target: int, out_path: str) -> int:
    import hpack  # noqa: F401  (fail now, not on the first connection)

    out = Output(out_path)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", listen))
    ls.listen(64)
    n = 0
    while True:
        client, _ = ls.accept()
        n += 1
        threading.Thread(target=relay, args=(client, target, n, out), daemon=True).start()


def summary(path: str, start: int) -> dict:
    calls, errors, late = [], [], []
    with open(path, errors="replace") as f:
        for i, line in enumerate(f):
            if i < start or not line.startswith("{"):
                continue
            obj = json.loads(line)
            if "tap_error" in obj:
                errors.append(obj["tap_error"])
            elif "late_message" in obj:
                late.append(obj)
            else:
                calls.append(obj)
    by_id = {(c["conn"], c["stream"]): c for c in calls}
    for m in late:
        c = by_id.get((m["conn"], m["stream"]))
        if c is None:
            errors.append(f"a message on conn {m['conn']} stream {m['stream']}, a call not seen")
        else:
            c["messages"].append(m["late_message"])
    msgs = [m for c in calls for m in c["messages"]]
    # grpc-message is percent-encoded on the wire.
    grpc_messages = Counter(unquote(c["response_headers"].get("grpc-message", "")) for c in calls
                            if c["response_headers"].get("grpc-status", "0") != "0")
    return {
        "calls": len(calls),
        "connections": len({c["conn"] for c in calls}),
        "incomplete": sum(1 for c in calls if not c["complete"]),
        "resets": sum(1 for c in calls if c["reset"]),
        "paths": dict(Counter(c["path"] for c in calls)),
        "request_grpc_encoding": dict(Counter(c["request_headers"].get("grpc-encoding", "(none)") for c in calls)),
        "messages": len(msgs),
        "compressed_messages": sum(1 for m in msgs if m["compressed"]),
        "magic": dict(Counter(m["magic"] for m in msgs)),
        "message_bytes": sum(m["length"] for m in msgs),
        "grpc_status": dict(Counter(c["response_headers"].get("grpc-status", "(none)") for c in calls)),
        "grpc_message": {str(k): v for k, v in grpc_messages.items()},
        "grpc_accept_encoding": sorted({c["response_headers"]["grpc-accept-encoding"] for c in calls
                                        if "grpc-accept-encoding" in c["response_headers"]}),
        "tap_errors": errors,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--listen", type=int, required=True)
    s.add_argument("--target", type=int, required=True)
    s.add_argument("--out", required=True)
    m = sub.add_parser("summary")
    m.add_argument("file")
    m.add_argument("start", type=int, nargs="?", default=0)
    args = ap.parse_args()
    if args.cmd == "serve":
        return serve(args.listen, args.target, args.out)
    if not Path(args.file).exists():
        print(json.dumps(summary("/dev/null", 0), sort_keys=True))
        return 0
    print(json.dumps(summary(args.file, args.start), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
