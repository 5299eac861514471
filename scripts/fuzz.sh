#!/usr/bin/env bash
# Runs one fuzz target of crates/fuzz under AFL++ for a bounded time:
#   scripts/fuzz.sh TARGET SECONDS
# Builds the targets (`cargo afl build --release`), starts from the committed
# corpus (crates/fuzz/corpus/TARGET/) plus the generated seeds, stops after
# SECONDS of fuzzing (afl-fuzz -V), prints what fuzzer_stats says (execs/s,
# coverage, crashes) and exits non-zero if a crash was saved. The findings
# stay in crates/fuzz/target/afl/TARGET-<time>/ (crashes in default/crashes/).
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ=crates/fuzz
TARGETS=(decode_traces decode_metrics decode_logs json_traces json_metrics json_logs gzip zstd)

usage() {
  cat <<EOF
usage: scripts/fuzz.sh TARGET SECONDS

Fuzzes TARGET with AFL++ (through cargo-afl) for SECONDS seconds, then prints
execs_per_sec, bitmap_cvg, corpus_count, saved_crashes and saved_hangs from
afl-fuzz's fuzzer_stats. Exits 1 if a crash was saved (its files are listed;
replay one with: $FUZZ/target/release/TARGET < FILE, after a plain
\`cargo build --release\` in $FUZZ), 2 on a usage or setup error.

Targets: ${TARGETS[*]}
  (crates/fuzz/README.md says what each one checks)

Needs cargo-afl, with AFL++ built for this toolchain:
  cargo install --locked cargo-afl@0.18.2 && cargo afl config --build
EOF
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
esac
if [ $# -ne 2 ]; then
  usage >&2
  exit 2
fi
target=$1
seconds=$2
if ! printf '%s\n' "${TARGETS[@]}" | grep -qx -- "$target"; then
  echo "error: unknown fuzz target '$target' (one of: ${TARGETS[*]})" >&2
  exit 2
fi
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "error: SECONDS must be a positive integer, got '$seconds'" >&2
  exit 2
fi
if ! command -v cargo-afl >/dev/null 2>&1; then
  echo "error: cargo-afl is not installed; fuzzing needs it:" >&2
  echo "  cargo install --locked cargo-afl@0.18.2 && cargo afl config --build" >&2
  exit 2
fi
# `cargo afl --version` succeeds without AFL++ built; only a built AFL++
# puts its own version in the line.
if ! version=$(cargo afl --version 2>&1) || [[ $version != *"AFL++ version"* ]]; then
  echo "$version" >&2
  echo "error: cargo-afl has no AFL++ built for this toolchain; build it with:" >&2
  echo "  cargo afl config --build" >&2
  exit 2
fi
echo "==> $version"

echo "==> cargo afl build --release ($FUZZ)"
cargo afl build --release --locked --manifest-path "$FUZZ/Cargo.toml"
bin=$FUZZ/target/release/$target

# The run's inputs: the committed corpus and the generated seeds.
input=$(mktemp -d)
trap 'rm -rf "$input"' EXIT
cp "$FUZZ/corpus/$target"/* "$input"/ 2>/dev/null || true
"$FUZZ/target/release/seeds" "$input/seeds" "$target"
mv "$input/seeds/$target"/* "$input"/
rm -r "$input/seeds"
out=$FUZZ/target/afl/$target-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$(dirname "$out")"

dict=()
case $target in
  json_*) dict=(-x "$FUZZ/dict/otlp_json.dict") ;;
esac

echo "==> afl-fuzz $target for ${seconds}s (output: $out)"
# No UI (CI logs); no CPU binding (the machine is shared); crashes count even
# where the kernel's core_pattern pipes core dumps elsewhere (a container's
# default), and CPU frequency scaling only warns.
AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
  cargo afl fuzz -i "$input" -o "$out" -V "$seconds" "${dict[@]}" -- "$bin" >"$out.log" 2>&1 || {
  status=$?
  tail -n 30 "$out.log" >&2
  echo "error: afl-fuzz failed (exit $status); its log: $out.log" >&2
  exit 2
}

stats=$out/default/fuzzer_stats
if [ ! -f "$stats" ]; then
  tail -n 30 "$out.log" >&2
  echo "error: afl-fuzz wrote no $stats; its log: $out.log" >&2
  exit 2
fi
field() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
printf '%-16s %s\n' target "$target" run_time "$(field run_time)s" execs_done "$(field execs_done)" \
  execs_per_sec "$(field execs_per_sec)" bitmap_cvg "$(field bitmap_cvg)" corpus_count "$(field corpus_count)" \
  saved_crashes "$(field saved_crashes)" saved_hangs "$(field saved_hangs)" stability "$(field stability)"

crashes=$(field saved_crashes)
if [ "${crashes:-0}" != 0 ]; then
  echo "error: $target: $crashes crash(es) saved:" >&2
  find "$out/default/crashes" -type f ! -name README.txt >&2
  exit 1
fi
hangs=$(field saved_hangs)
if [ "${hangs:-0}" != 0 ]; then
  echo "warning: $target: $hangs hang(s) saved (inputs over afl-fuzz's timeout):" >&2
  find "$out/default/hangs" -type f >&2
fi
