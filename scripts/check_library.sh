#!/usr/bin/env bash
# The library crate on its own, as an app that embeds it gets it:
# 1. its default dependency tree (normal edges), and with the receiver or the
#    `tracing` layer, holds none of the lab's tools and not the official
#    OpenTelemetry SDK or proto crates; with the `opentelemetry` adapters it
#    holds the official API and SDK and nothing else of that list (no
#    exporter, no proto crate);
# 2. each feature combination that matters builds alone with no warnings
#    (clippy on the library target: no dev-dependencies, so no feature comes
#    in through them);
# 3. its example builds.
# Prints the package counts it saw; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

lib=otlp-pipeline
# What an embedding app must not compile: the lab's tools and the official SDK.
tools='clap|pprof|inferno|plotters|hdrhistogram|indicatif|dhat|iai-callgrind|proptest'
forbidden="^($tools|opentelemetry|opentelemetry_sdk|opentelemetry-proto|opentelemetry-otlp|opentelemetry-http) "
# The adapters implement the SDK's traits, so they carry the API and the SDK,
# but still none of the tools, exporters or proto types.
forbidden_otel="^($tools|opentelemetry-proto|opentelemetry-otlp|opentelemetry-http) "

# Distinct packages (name and version) in a tree, the library itself included.
packages() {
  cargo tree --locked -p "$lib" -e normal --prefix none "$@" | sed 's/ (\*)$//; s/ (proc-macro)$//' | awk '{print $1, $2}' | sort -u
}

status=0
# The default build is the exporter alone (no default features).
default_tree=$(packages)
for combo in "" "--features receiver" "--features tracing" "--features opentelemetry" "--all-features"; do
  # shellcheck disable=SC2086 # the combination is a list of flags
  tree=$(packages $combo)
  n=$(printf '%s\n' "$tree" | wc -l)
  echo "$lib ${combo:-(default features)}: $n packages (cargo tree -p $lib -e normal $combo)"
  if [ "$combo" = "--features opentelemetry" ]; then
    echo "  what it adds to the default tree: $(comm -13 <(printf '%s\n' "$default_tree") <(printf '%s\n' "$tree") | awk '{print $1}' | tr '\n' ' ')"
  fi
  if [ "$combo" != "--all-features" ]; then
    pattern=$forbidden
    [ "$combo" = "--features opentelemetry" ] && pattern=$forbidden_otel
    bad=$(printf '%s\n' "$tree" | grep -E "$pattern" || true)
    if [ -n "$bad" ]; then
      echo "error: $lib ${combo:-(default features)} pulls in what an embedding app must not carry:" >&2
      printf '  %s\n' $bad >&2
      status=1
    fi
  fi
done
[ $status -eq 0 ] || exit 1

for combo in "" "--features receiver" "--features reference" "--features fixtures" "--features tracing" "--features opentelemetry" "--all-features"; do
  echo "==> cargo clippy -p $lib ${combo:-(default features)}"
  # shellcheck disable=SC2086
  cargo clippy --release --locked -p "$lib" $combo -- -D warnings
done
# The examples use the dev-dependencies; built from the workspace root (no
# -p), they share the features `cargo test` unified, so the test build's
# artifacts serve and nothing is compiled again.
echo "==> cargo build --examples (the library's)"
cargo build --release --locked --examples
echo "check_library: the default tree is lean and every feature builds alone"
