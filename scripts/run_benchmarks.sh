#!/usr/bin/env bash
# The lab's main job: deterministic instruction counts of every hot path under
# callgrind (iai-callgrind), printed per item, with results kept under profiles/.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/run_benchmarks.sh [MODE]

Modes:
  quick           serialization + SIMD + compression benches (default)
  all             every bench suite
  serialization   direct vs reference protobuf, decode, OTLP/JSON write and parse
  simd            SIMD paths beside their scalar references (hex, UTF-8)
  compression     gzip and zstd at several levels, compress and decompress
  sizes           encoded sizes and compression ratios of the standard fixtures
  -h, --help      this text

Results: profiles/icount/<suite>.jsonl (raw iai-callgrind JSON, one line per
bench) and the callgrind profiles under target/iai/. Installs valgrind and the
pinned iai-callgrind-runner when they are missing.
USAGE
}

RUNNER_VERSION=0.16.1   # must equal the iai-callgrind dev-dependency in Cargo.toml
cd "$(dirname "$0")/.."

if [ -t 1 ]; then bold=$'\e[1m'; red=$'\e[31m'; off=$'\e[0m'; else bold=; red=; off=; fi
say() { printf '%s==> %s%s\n' "$bold" "$*" "$off" >&2; }
die() { printf '%serror: %s%s\n' "$red" "$*" "$off" >&2; exit 1; }

mode=${1:-quick}
case "$mode" in
  -h|--help|help) usage; exit 0 ;;
  quick|all|serialization|simd|compression|sizes) ;;
  *) usage >&2; die "unknown mode '$mode'" ;;
esac

ensure_tools() {
  if ! command -v valgrind >/dev/null 2>&1; then
    say "installing valgrind (apt-get)"
    command -v apt-get >/dev/null 2>&1 || die "valgrind is missing and apt-get is not available: install valgrind"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null \
      || die "apt-get install valgrind failed"
  fi
  local have
  # The runner has no plain --version; cargo knows what it installed.
  have=$(cargo install --list 2>/dev/null | awk '/^iai-callgrind-runner v/ {v=$2; sub(/^v/, "", v); sub(/:$/, "", v); print v}')
  if [ "$have" != "$RUNNER_VERSION" ]; then
    say "installing iai-callgrind-runner $RUNNER_VERSION (found: ${have:-none})"
    cargo install --locked --quiet iai-callgrind-runner --version "$RUNNER_VERSION" \
      || die "cargo install iai-callgrind-runner $RUNNER_VERSION failed"
  fi
}

mkdir -p profiles/icount
say "building (release profile with debug info)"
cargo build --release --quiet --bin otlp-lab
lab=${CARGO_TARGET_DIR:-target}/release/otlp-lab

bench_suite() {   # $1 = suite name = bench file suffix
  local suite=$1 out=profiles/icount/$1.jsonl
  say "bench $suite (callgrind)"
  # The runner prints one JSON object per bench on stdout; its progress goes to stderr.
  cargo bench --quiet --bench "iai_$suite" -- --output-format=json >"$out.tmp" \
    || die "cargo bench --bench iai_$suite failed (see above)"
  mv "$out.tmp" "$out"
  "$lab" icount "$out"
}

case "$mode" in
  sizes) "$lab" sizes; exit 0 ;;
  quick|all) suites="serialization simd compression" ;;
  *) suites=$mode ;;
esac

ensure_tools
for s in $suites; do bench_suite "$s"; done
say "results: profiles/icount/*.jsonl; callgrind profiles: target/iai/ (open with callgrind_annotate or kcachegrind)"
