#!/usr/bin/env bash
# The lab's main job: deterministic instruction counts (callgrind) and heap
# block counts (DHAT) of every hot path, per item, with Bencher Metric Format
# results under profiles/, saved baselines and a regression gate.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: scripts/run_benchmarks.sh [MODE] [NAME]   (NAME: a baseline, for save, compare, ci, report, all)
       scripts/run_benchmarks.sh audit [otlp-lab audit options, e.g. --sustain 3 --no-memcheck]

Modes:
  quick           every instruction-count suite below (default)
  all             quick, the fixture sizes, every scenario natively
                  (profiles/scenarios/<name>.txt), heap, flame, audit, load, exporter, report
  serialization   direct vs reference protobuf, decode, OTLP/JSON write and parse
  simd            SIMD paths beside their scalar references (hex, UTF-8)
  compression     gzip and zstd at several levels, compress and decompress
  pool            pooled vs fresh buffers, arena vs heap scratch
  pipeline        one batch through batcher, encode and compress
  sizes           encoded sizes and compression ratios of the standard fixtures
  heap            dhat heap profiles (profiles/dhat-<name>.json) of the hot paths
                  and the main scenarios, and the memory pool on vs off
  flame           CPU flamegraphs (pprof, 20 s each) of cpu_intensive and
                  production_workload: flamegraphs/<name>.svg, .pb, .folded, .json;
                  fails unless they name our encode, compress and transport functions
  audit           the leak audit: lifecycle, 10 s of sustained load, memcheck
  load            production load runs, ours and the official SDK side by side
                  (production_workload also through tracing: tracing-ours, tracing-otel)
                  (built with --features official-sdk): closed loop, then open
                  loop at LOAD_RATE items/s (default 100000), LOAD_DURATION s
                  each (default 10); profiles/load/<scenario>.json
  exporter        the whole exporter process of each stack under callgrind and
                  DHAT (built with --features official-sdk): ours, sdk,
                  tracing-ours, tracing-otel, sdk-ours, tracing-bare; marginal
                  instructions (3 runs), heap blocks and wire bytes per span
                  over HTTP/protobuf, none and zstd (profiles/exporter.json)
  save NAME       keep the last run's results and their environment record as
                  baseline NAME (NAME.json, NAME.env.json); over an existing
                  baseline, first list every count that got worse (the entries
                  profiles/baselines/NAME.justified.json needs); for main,
                  refuse a partial run, and refuse until each entry is there
                  with its `why`; saving main appends the run to
                  profiles/baselines/history.jsonl as HEAD's line (dirty until
                  committed: commit the line with the baseline)
  compare NAME    compare the last run's results with baseline NAME (prints, exits 0);
                  a run of fewer suites than quick is compared with --partial;
                  refused (exit 1) when the two environment records name
                  different toolchains or one is missing
  ci [NAME]       quick twice: fail if any count differs between the two runs,
                  then the gate against baseline NAME (default: main) when it
                  exists and against the baseline its last save replaced
                  (git: the parent of the last commit that changed NAME.json),
                  with NAME.justified.json excusing exactly the recorded changes,
                  and each bench's fence from profiles/baselines/history.jsonl
                  when it exists; a passing run is appended to that history as
                  HEAD's line (in the working tree: a CI clone discards it)
  report [NAME]   the report of the last run from its result files:
                  profiles/report.html (self-contained), report.md, plots/,
                  bmf.json, github-action-benchmark.json; gated against
                  baseline NAME (default: main); checked in headless Chromium
                  (scripts/check_report.sh, screenshot profiles/report.png)
                  when chromium is installed
  clean           delete generated results (keeps baselines and READMEs)
  -h, --help      this text

Results: profiles/icount/<suite>.jsonl (raw runner JSON, one line per bench),
profiles/results.json (BMF per bench: instructions, estimated cycles and cache
hits, allocations and allocated bytes of one measured run),
profiles/results.suites.json (the suites that ran: full or partial),
profiles/results.env.json (the toolchain, CPU features and profile settings
of the run), profiles/baselines/<NAME>.json and <NAME>.env.json (saved runs). The callgrind profiles stay under
target/iai/ (callgrind_annotate, KCachegrind). Installs valgrind (apt-get) and
the pinned iai-callgrind-runner (cargo install --locked) when they are missing,
and first makes the toolchain rust-toolchain.toml pins available (scripts/toolchain.sh).
Environment: GATE_FLOOR_PCT (default 0.5) overrides the gate's floor;
EXPORTER_LOW and EXPORTER_HIGH (default 2000 and 10000) the exporter mode's span counts,
EXPORTER_IMPLEMENTATIONS and EXPORTER_CASES (comma-separated) its stacks and cases.
USAGE
}

RUNNER_VERSION=0.16.1   # must equal the iai-callgrind dev-dependency in Cargo.toml
SUITES_QUICK="serialization simd compression pool pipeline"
cd "$(dirname "$0")/.."

if [ -t 1 ]; then bold=$'\e[1m'; red=$'\e[31m'; off=$'\e[0m'; color=always; else bold=; red=; off=; color=never; fi
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-$color} IAI_CALLGRIND_COLOR=${IAI_CALLGRIND_COLOR:-$color}
say() { printf '%s==> %s%s\n' "$bold" "$*" "$off" >&2; }
die() { printf '%serror: %s%s\n' "$red" "$*" "$off" >&2; exit 1; }

mode=${1:-quick}
name=${2:-}
case "$mode" in
  -h|--help|help) usage; exit 0 ;;
  quick|serialization|simd|compression|pool|pipeline|sizes|heap|flame|audit|load|exporter|clean) ;;
  save|compare) [ -n "$name" ] || die "'$mode' needs a baseline NAME (see --help)" ;;
  ci|report|all) name=${name:-main} ;;
  *) usage >&2; die "unknown mode '$mode'" ;;
esac
case "$mode:$name" in
  save:*[!A-Za-z0-9._-]*|compare:*[!A-Za-z0-9._-]*|ci:*[!A-Za-z0-9._-]*|report:*[!A-Za-z0-9._-]*)
    die "baseline names take letters, digits, '.', '_' and '-' only: '$name'" ;;
esac

# The pinned toolchain before any cargo command (it links rustup's stable when
# that is the pinned release, or fails saying which rustc is needed).
case "$mode" in
  clean) ;;
  *) scripts/toolchain.sh >&2 || exit 1 ;;
esac

results=profiles/results.json
# Written beside the results by `otlp-lab bmf --out`; compare refuses without it.
results_env=profiles/results.env.json
baselines=profiles/baselines
# One line per commit: the gate's per-bench fences and the report's history plots.
history=$baselines/history.jsonl
target=${CARGO_TARGET_DIR:-target}
lab=$target/release/otlp-lab

ensure_valgrind() {
  if ! command -v valgrind >/dev/null 2>&1; then
    say "installing valgrind (apt-get)"
    command -v apt-get >/dev/null 2>&1 || die "valgrind is missing and apt-get is not available: install valgrind"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; } \
      || die "apt-get install valgrind failed"
  fi
}

ensure_tools() {
  ensure_valgrind
  local have
  # The runner has no plain --version; cargo knows what it installed.
  have=$(cargo install --list 2>/dev/null | awk '/^iai-callgrind-runner v/ {v=$2; sub(/^v/, "", v); sub(/:$/, "", v); print v}')
  if [ "$have" != "$RUNNER_VERSION" ]; then
    say "installing iai-callgrind-runner $RUNNER_VERSION (found: ${have:-none}; about 2 minutes)"
    cargo install --locked --quiet iai-callgrind-runner --version "$RUNNER_VERSION" \
      || die "cargo install iai-callgrind-runner $RUNNER_VERSION failed"
  fi
  command -v iai-callgrind-runner >/dev/null 2>&1 \
    || die "iai-callgrind-runner is installed but not on PATH: add ~/.cargo/bin to PATH"
}

build_lab() {
  say "building otlp-lab and otlp-lab-heap (release profile with debug info)"
  cargo build --release --quiet --bin otlp-lab --bin otlp-lab-heap || die "cargo build failed (see above)"
}

# Heap profiles: one process per job (dhat counts are process-wide).
HEAP_JOBS="encode_direct_traces_512 encode_zstd1_traces_512 pipeline_batch_zstd1_discard_512 decode_reference_traces_512 decode_direct_traces_512 memory_patterns cpu_intensive production_workload"
heap_runs() {
  local j
  for j in $HEAP_JOBS; do
    say "heap profile $j (dhat)"
    "$lab" heap "$j" --iterations 3 || die "heap profile of $j failed (see above)"
  done
  # The allocation flamegraph (blocks) must name our allocation sites.
  # An otlp_pipeline:: frame among the last three of some stack (the leaf is the allocating call).
  awk '{sub(/ [0-9]+$/, ""); n = split($0, f, ";"); for (i = n; i > n - 3 && i > 0; i--) if (f[i] ~ /^otlp_pipeline::/) ok = 1} END {exit !ok}' \
    profiles/dhat-production_workload.blocks.folded \
    && grep -q -F 'otlp_pipeline::' profiles/dhat-production_workload.blocks.svg \
    || die "profiles/dhat-production_workload.blocks.folded/.svg name no otlp_pipeline:: allocation site"
  say "allocation flamegraphs: profiles/dhat-<name>.blocks.svg, .bytes.svg, .live.svg"
  if command -v node >/dev/null 2>&1; then
    scripts/check_dhat_viewer.sh profiles/dhat-production_workload.json otlp_lab::scenarios \
      || die "the DHAT viewer did not render profiles/dhat-production_workload.json"
  else
    say "node not found: skipped opening the profiles in the DHAT viewer (scripts/check_dhat_viewer.sh)"
  fi
  say "the memory pool on vs off"
  "$lab" pool || die "the pool comparison failed (see above)"
}

# CPU flamegraphs, then a check that they show the data path by name: the
# direct encoder and compression (cpu_intensive), the encoder and the HTTP
# transport (production_workload, which sends uncompressed).
FLAME_JOBS="cpu_intensive production_workload"
FLAME_NAMES="otlp_pipeline::encode::direct otlp_pipeline::compress otlp_pipeline::transport"
flame_runs() {
  local j n found svgs=()
  for j in $FLAME_JOBS; do
    say "flamegraph $j (pprof)"
    "$lab" flame "$j" || die "the flamegraph of $j failed (see above)"
    svgs+=("flamegraphs/$j.svg")
  done
  for n in $FLAME_NAMES; do
    found=$(grep -l -F "$n" "${svgs[@]}" | tr '\n' ' ' || true)
    [ -n "$found" ] || die "no flamegraph names $n (${svgs[*]})"
    say "$n: in $found"
  done
}

# The report from whatever result files exist (a missing one is "not run"),
# then the page opened in headless Chromium when it is installed.
report_run() {
  say "report (profiles/report.html, profiles/report.md, exports)"
  "$lab" report --baseline "$baselines/$name.json" --floor "$gate_floor" || die "the report failed (see above)"
  # `all` always checks (check_report.sh installs chromium if missing).
  if [ "$mode" = all ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
    scripts/check_report.sh profiles/report.html || die "the report did not pass its check in headless Chromium"
  else
    say "chromium not found: skipped the headless check (scripts/check_report.sh installs it with apt-get)"
  fi
}

audit_run() {
  say "leak audit"
  command -v valgrind >/dev/null 2>&1 || ensure_valgrind
  "$lab" audit "$@" || die "the leak audit failed (see above)"
}

# Load runs: ours and the official SDK, each in a child process of its own,
# against the loopback receiver; about a minute in all at the defaults.
load_runs() {
  local rate=${LOAD_RATE:-100000} duration=${LOAD_DURATION:-10}
  say "building otlp-lab with the official SDK (--features official-sdk)"
  cargo build --release --quiet --features official-sdk --bin otlp-lab || die "cargo build --features official-sdk failed (see above)"
  say "load: production_workload, closed loop, ours, the SDK, tracing + our layer, tracing + tracing-opentelemetry (${duration} s each)"
  "$lab" load production_workload --implementations ours,sdk,tracing-ours,tracing-otel --duration "$duration" --no-progress || die "the closed-loop load run failed (see above)"
  say "load: sustained_load, open loop at $rate items/s, ours and the SDK (${duration} s each)"
  "$lab" load sustained_load --sdk --rate "$rate" --duration "$duration" --no-progress || die "the open-loop load run failed (see above)"
  # The sweeps, ours only and shorter: the report plots throughput against
  # producers and latency per protocol and codec from them.
  say "load: high_concurrency sweep (10 to 500 producers) and network_io (HTTP and gRPC, each codec), 2 s a step"
  "$lab" load high_concurrency --duration 2 --no-progress || die "the high_concurrency load run failed (see above)"
  "$lab" load network_io --duration 2 --no-progress || die "the network_io load run failed (see above)"
  say "load results: profiles/load/{production_workload,sustained_load,high_concurrency,network_io}.json"
}

# The whole-exporter comparison at 2k and 10k spans (EXPORTER_LOW and
# EXPORTER_HIGH override them; README, "Whole-exporter instructions per span",
# says what their difference measures), every stack on the two cases with
# targets (EXPORTER_IMPLEMENTATIONS and EXPORTER_CASES override them): 96
# valgrind runs, 212 s here at 2k/10k (README, "Every stack").
exporter_run() {
  ensure_valgrind
  say "building otlp-lab with the official SDK (--features official-sdk)"
  cargo build --release --quiet --features official-sdk --bin otlp-lab || die "cargo build --features official-sdk failed (see above)"
  say "whole-exporter instructions, heap blocks and wire bytes per span, every stack (96 valgrind runs)"
  norandom "$lab" exporter-compare --repeats 3 --low "${EXPORTER_LOW:-2000}" --high "${EXPORTER_HIGH:-10000}" \
    --implementations "${EXPORTER_IMPLEMENTATIONS:-ours,sdk,tracing-ours,tracing-otel,sdk-ours,tracing-bare}" \
    --cases "${EXPORTER_CASES:-http/protobuf+none,http/protobuf+zstd}" \
    --out profiles/exporter.json || die "the exporter comparison failed (see above)"
}

# Address-space randomization off, so that no count depends on where the
# loader put things (valgrind's own layout is fixed already; this is cheap insurance).
norandom() {
  if command -v setarch >/dev/null 2>&1 && setarch "$(uname -m)" -R true 2>/dev/null; then
    setarch "$(uname -m)" -R "$@"
  else
    "$@"
  fi
}

bench_suite() {   # $1 = suite name = bench file suffix
  local suite=$1 out=profiles/icount/$1.jsonl
  say "bench $suite (callgrind)"
  # The runner prints one JSON object per bench on stdout; its progress goes to stderr.
  norandom cargo bench --quiet --bench "iai_$suite" -- --output-format=json >"$out.tmp" \
    || die "cargo bench --bench iai_$suite failed (see above)"
  mv "$out.tmp" "$out"
  "$lab" icount "$out"
}

# Runs the given suites and writes their BMF results to $1.
run_suites() {
  local dest=$1; shift
  mkdir -p profiles/icount
  ensure_tools
  local files=() s
  for s in "$@"; do
    bench_suite "$s"
    files+=("profiles/icount/$s.jsonl")
  done
  "$lab" bmf "${files[@]}" --out "$dest"
}

gate_floor=${GATE_FLOOR_PCT:-0.5}

case "$mode" in
  load) load_runs; exit 0 ;;   # builds its own binary (with the SDK)
  clean)
    say "deleting generated results (baselines and READMEs stay)"
    find profiles -mindepth 1 -maxdepth 1 ! -name README.md ! -name baselines -exec rm -rf {} +
    find flamegraphs -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
    rm -rf "$target/iai"
    exit 0 ;;
  save)
    [ -f "$results" ] || die "no results to save: run a suite first (e.g. scripts/run_benchmarks.sh quick)"
    [ -f "$results_env" ] || die "no environment record beside the results ($results_env): run the suites again with this script, which writes it"
    mkdir -p "$baselines"
    if [ -f "$baselines/$name.json" ]; then
      build_lab
      justified=$baselines/$name.justified.json
      if [ "$name" = main ]; then
        case $("$lab" suites "$results") in
          full*) ;;
          *) die "the last run was not a full quick run ($("$lab" suites "$results")): baseline 'main' is saved from scripts/run_benchmarks.sh quick" ;;
        esac
      fi
      # The run judged against itself, and against the baseline it replaces:
      # every count the save makes worse is listed with the entry it needs.
      say "what saving over '$name' makes worse (each needs an entry in $justified)"
      jargs=(); [ -f "$justified" ] && jargs=(--justified "$justified")
      # The fences CI's gate applies, so that a save that passes here passes there.
      [ "$name" != main ] || [ ! -f "$history" ] || jargs+=(--history "$history")
      rc=0; "$lab" compare "$results" "$results" --floor "$gate_floor" --previous "$baselines/$name.json" "${jargs[@]}" || rc=$?
      [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || die "could not compare with the old baseline (see above)"
      if [ "$rc" -eq 3 ] && [ "$name" = main ]; then
        die "not saved: add the entries printed above to $justified, each with a reviewed why, then save again (README, 'Baselines and the regression gate')"
      fi
    fi
    cp "$results" "$baselines/$name.json"
    cp "$results_env" "$baselines/$name.env.json"
    say "saved $results as baseline '$name': $baselines/$name.json, its environment $baselines/$name.env.json"
    if [ "$name" = main ]; then
      build_lab
      # The line names HEAD and says "dirty" until the baseline is committed;
      # `otlp-lab history backfill` later replaces it with the commit's own line.
      "$lab" history append "$results" --file "$history" || die "could not append the run to $history (see above)"
      say "commit $history with the baseline"
    fi
    exit 0 ;;
  compare)
    [ -f "$results" ] || die "no results to compare: run a suite first"
    [ -f "$baselines/$name.json" ] || die "no baseline '$name' ($baselines/$name.json); save one with: scripts/run_benchmarks.sh save $name"
    build_lab
    partial=(); case $("$lab" suites "$results") in partial*) partial=(--partial) ;; esac
    # Exit 3 is a flagged run: printed, not an error in this mode; exit 4 a refusal.
    rc=0; "$lab" compare "$baselines/$name.json" "$results" --floor "$gate_floor" "${partial[@]}" || rc=$?
    [ "$rc" -ne 4 ] || die "refused: the run and baseline '$name' come from different toolchains, or one has no environment record (see above)"
    [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || die "could not compare (see above)"
    exit 0 ;;
esac

build_lab
# What this run happens on, for the report (the report itself describes the run before it).
[ "$mode" = report ] || "$lab" env || die "otlp-lab env failed"

case "$mode" in
  sizes) "$lab" sizes; exit 0 ;;
  heap) heap_runs; say "heap profiles: profiles/dhat-<name>.json (open them in /usr/libexec/valgrind/dh_view.html)"; exit 0 ;;
  flame) flame_runs; say "flamegraphs: flamegraphs/<name>.svg (a browser), .pb (go tool pprof -http=:0), .folded (see flamegraphs/README.md)"; exit 0 ;;
  audit) shift; audit_run "$@"; exit 0 ;;
  report) report_run; exit 0 ;;
  exporter) exporter_run; say "results: profiles/exporter.json"; exit 0 ;;
  ci)
    run_suites profiles/results-first.json $SUITES_QUICK
    say "determinism: the same suites again"
    run_suites "$results" $SUITES_QUICK
    "$lab" compare profiles/results-first.json "$results" --exact \
      || die "instruction or allocation counts differ between two runs of the same binary"
    if [ -f "$baselines/$name.json" ]; then
      # The baseline the last change to it replaced (the parent of the last
      # commit that changed $name.json; HEAD~1's when HEAD changed it), so that
      # a regression saved into the baseline is judged on every later commit
      # too, not only on the one that saved it (excused only by its entry in
      # $name.justified.json).
      prev=profiles/baseline-previous.json
      prev_env=profiles/baseline-previous.env.json
      rm -f "$prev_env"
      [ "$(git rev-parse --is-shallow-repository 2>/dev/null)" != true ] \
        || die "shallow clone: the gate needs the history of $baselines/$name.json (git fetch --unshallow)"
      # A baseline saved but not committed yet replaced the committed one.
      if ! git diff --quiet HEAD -- "$baselines/$name.json" 2>/dev/null; then
        saved=HEAD prev_ref=HEAD
      else
        saved=$(git log -n 1 --first-parent --format=%h -- "$baselines/$name.json" 2>/dev/null || true)
        prev_ref="$saved~1"
      fi
      if [ -n "$saved" ] && git show "$prev_ref:$baselines/$name.json" >"$prev" 2>/dev/null; then
        say "previous baseline: $prev_ref:$baselines/$name.json (the one the last save replaced)"
        # A baseline saved before the records existed has none: compare
        # counts, and say so (otlp-lab compare prints it).
        git show "$prev_ref:$baselines/$name.env.json" >"$prev_env" 2>/dev/null \
          || { rm -f "$prev_env"; say "previous baseline: $prev_ref has no $baselines/$name.env.json (no environment record)"; }
      else
        prev_ref="the current one"
        cp "$baselines/$name.json" "$prev"
        [ ! -f "$baselines/$name.env.json" ] || cp "$baselines/$name.env.json" "$prev_env"
        say "previous baseline: no committed baseline before the current one; the second comparison is the current baseline again"
      fi
      jargs=(); [ -f "$baselines/$name.justified.json" ] && jargs=(--justified "$baselines/$name.justified.json")
      # The history holds main's runs: other baselines are judged by the floor alone.
      [ "$name" != main ] || [ ! -f "$history" ] || jargs+=(--history "$history")
      say "gate: against baseline '$name' and the one it replaced, $prev_ref's (floor $gate_floor%)"
      rc=0; "$lab" compare "$baselines/$name.json" "$results" --floor "$gate_floor" --previous "$prev" "${jargs[@]}" || rc=$?
      [ "$rc" -ne 4 ] || die "refused: the run and baseline '$name' come from different toolchains, or one has no environment record (see above)"
      [ "$rc" -eq 0 ] || die "the gate failed against baseline '$name' (see the flagged rows above)"
    else
      say "gate: no baseline '$name' ($baselines/$name.json) to compare with; save one with: scripts/run_benchmarks.sh save $name"
    fi
    # After the gate: a flagged run never widens the fences it was judged by.
    # The line stays in the working tree (a CI clone discards it; locally, commit it or not).
    if [ "$name" = main ]; then
      "$lab" history append "$results" --file "$history" || die "could not append the run to $history (see above)"
    fi
    ;;
  quick) run_suites "$results" $SUITES_QUICK ;;
  all)
    run_suites "$results" $SUITES_QUICK
    say "fixture sizes"
    "$lab" sizes
    mkdir -p profiles/scenarios
    for s in $("$lab" list | awk '$2 == "scenario" {print $1}'); do
      say "scenario $s (native, wall clock: indicative only)"
      "$lab" run "$s" | tee "profiles/scenarios/$s.txt" || die "scenario $s failed (see above)"
    done
    heap_runs
    flame_runs
    audit_run
    load_runs
    exporter_run
    report_run
    ;;
  *) run_suites "$results" "$mode" ;;
esac
say "results: $results (BMF), profiles/icount/*.jsonl (raw); callgrind profiles: $target/iai/ (callgrind_annotate or kcachegrind)"
