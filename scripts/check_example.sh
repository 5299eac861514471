#!/usr/bin/env bash
# Runs the library's example (crates/otlp-pipeline/examples/export.rs), as a
# user would, against the lab's receiver on loopback: once over OTLP/HTTP and
# once over OTLP/gRPC with zstd, configured only through OTEL_EXPORTER_OTLP_*.
# Fails unless the example delivers every item and the receiver counts them.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${CARGO_TARGET_DIR:-target}/release
# From the workspace root (no -p): the features `cargo test` unified, so its
# build of the example serves.
cargo build --release --locked --example export
cargo build --release --locked --bin otlp-lab

log=$(mktemp)
counts=$(mktemp)
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log" "$counts"' EXIT
# Two runs of the example: 2 x (10 spans, 1 point, 10 logs).
"$bin/otlp-lab" receive --http 127.0.0.1:0 --grpc 127.0.0.1:0 \
  --expect-spans 20 --expect-points 2 --expect-logs 20 --timeout 60 >"$counts" 2>"$log" &
pid=$!
addr() { # waits for the receiver to print the address it bound for $1 (HTTP or gRPC)
  for _ in $(seq 100); do
    a=$(sed -n "s|.*receiving OTLP/$1 on \(http://127\.0\.0\.1:[0-9]*\).*|\1|p" "$log")
    [ -n "$a" ] && { echo "$a"; return; }
    sleep 0.1
  done
  echo "error: the receiver did not say where it listens for OTLP/$1:" >&2; cat "$log" >&2; exit 1
}
http=$(addr HTTP)
grpc=$(addr gRPC)
echo "==> example over OTLP/HTTP to $http"
OTEL_EXPORTER_OTLP_ENDPOINT=$http "$bin/examples/export"
echo "==> example over OTLP/gRPC (zstd) to $grpc"
OTEL_EXPORTER_OTLP_ENDPOINT=$grpc OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_COMPRESSION=zstd "$bin/examples/export"
wait "$pid" || { echo "error: the receiver did not get every item:" >&2; cat "$log" "$counts" >&2; exit 1; }
echo "receiver counts: $(cat "$counts")"
