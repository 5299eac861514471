#!/usr/bin/env bash
# Interop checks of otlp-lab against independent OTLP implementations:
#   1. the official OpenTelemetry Python SDK exporting into `otlp-lab receive`
#      (OTLP/HTTP and OTLP/gRPC);
#   2. the rotel collector (PyPI `rotel`) receiving from `otlp-lab send`
#      (OTLP/HTTP and OTLP/gRPC);
#   3. the official protobuf classes (PyPI `opentelemetry-proto`) decoding
#      `otlp-lab encode` output.
# Run `scripts/interop.sh --help` for details.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/interop.sh [--only LIST] [--build] [--recreate-venv] [--keep-tmp]

Checks otlp-lab against independent OTLP implementations, everything on
127.0.0.1 with ports picked free at run time:

  sdk     1. The OpenTelemetry Python SDK (opentelemetry-sdk with
             opentelemetry-exporter-otlp-proto-http, then -proto-grpc) exports 500
             spans, 22 metric points (8 instruments, one collection) and 200 log
             records into `otlp-lab receive` over HTTP/protobuf and over gRPC
             (`receive --grpc`), each uncompressed then gzip; the receiver's counts
             must equal what the SDK exported, request for request.
  rotel   2. `otlp-lab send` exports the standard fixtures to the rotel collector
             (rotel-agent, OTLP/HTTP and OTLP/gRPC receivers, blackhole exporter) as
             http/protobuf, http/json and grpc, each uncompressed, gzip and zstd:
             every request must be accepted (send exits 0, dropped 0), and rotel's
             debug log must count what was sent. What rotel itself cannot take is
             reported UNSUPPORTED with the evidence, not as an otlp-lab failure.

  decode  3. `otlp-lab encode` output (N = 1, 64, 1000) parsed with the official
             generated classes: counts, field values, no unknown fields, byte-identical
             re-serialization, every item's values equal to expected.json (written
             by serde_json from the fixture model, not by the encoders), and the
             .json files equal to the .pb ones.

  Every gRPC run goes through scripts/interop/grpc_tap.py, a loopback relay that
  reads the HTTP/2 frames it forwards: the calls on the wire must be as many as
  the client made, all answered grpc-status 0, each request message compressed
  as asked (gzip/zstd magic bytes, grpc-encoding header) or not at all.

Options:
  --only LIST       comma-separated subset of: sdk,rotel,decode (default: all)
  --build           run `cargo build --release --bin otlp-lab` even if the binary exists
                    (by default it is built only when missing)
  --recreate-venv   delete and recreate target/interop-venv
  --keep-tmp        keep the temporary folder (logs of every process) and print its path
  -h, --help        this help

Environment:
  OTLP_LAB_BIN      otlp-lab binary to test (default: target/release/otlp-lab)
  PYTHON            interpreter that creates the venv (default: python3)
  (127.0.0.1, localhost and ::1 are added to NO_PROXY/no_proxy for every
  process of the checks: an HTTP proxy in the environment is kept for pip only.)

The virtual environment lives in target/interop-venv and is reused while
scripts/interop/requirements.txt (exact pins) and the Python version are
unchanged. Exit status: 0 when no check failed (SKIPPED and UNSUPPORTED rows
do not fail), 1 otherwise, 2 on bad usage.
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INTEROP_DIR="$ROOT/scripts/interop"
REQ="$INTEROP_DIR/requirements.txt"
HELPERS="$INTEROP_DIR/helpers.py"
TAP="$INTEROP_DIR/grpc_tap.py"
VENV="$ROOT/target/interop-venv"
VPY="$VENV/bin/python"
BIN="${OTLP_LAB_BIN:-$ROOT/target/release/otlp-lab}"
PYTHON="${PYTHON:-python3}"

ONLY="sdk,rotel,decode"
FORCE_BUILD=0
RECREATE_VENV=0
KEEP_TMP=0

# Sizes of the checks.
SDK_SPANS=500
SDK_LOGS=200
ROTEL_SPANS=10000
ROTEL_POINTS=1000
ROTEL_LOGS=2000
PROBE_SPANS=3 # the probe before each rotel run: one request per signal
PROBE_POINTS=10
PROBE_LOGS=2
DECODE_ITEMS=(1 64 1000)

while (($#)); do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --only) [[ $# -ge 2 ]] || { echo "interop: --only needs a value" >&2; exit 2; }; ONLY="$2"; shift 2 ;;
        --only=*) ONLY="${1#--only=}"; shift ;;
        --build) FORCE_BUILD=1; shift ;;
        --recreate-venv) RECREATE_VENV=1; shift ;;
        --keep-tmp) KEEP_TMP=1; shift ;;
        *) echo "interop: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ -n "$ONLY" ]] || { echo "interop: --only needs at least one of sdk, rotel, decode" >&2; exit 2; }
IFS=',' read -r -a SELECTED <<<"$ONLY"
for c in "${SELECTED[@]}"; do
    case "$c" in sdk | rotel | decode) ;; *) echo "interop: unknown check '$c' in --only (sdk, rotel, decode)" >&2; exit 2 ;; esac
done
selected() { [[ ",$ONLY," == *",$1,"* ]]; }

log() { printf '[interop %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'interop: ERROR: %s\n' "$*" >&2; exit 1; }
indent() { sed 's/^/    /'; }

T_START=$SECONDS
TMP="$(mktemp -d "${TMPDIR:-/tmp}/otlp-lab-interop.XXXXXX")"
PIDFILE="$TMP/pids"    # every background process this script started, one pid a line
RESULTS="$TMP/results" # check<TAB>status<TAB>detail
: >"$PIDFILE"
: >"$RESULTS"

# --- processes ---------------------------------------------------------------

untrack() { # pid
    local keep
    keep="$(grep -vx -- "$1" "$PIDFILE" || true)"
    printf '%s\n' "$keep" | sed '/^$/d' >"$PIDFILE"
}

# Ends one process: SIGTERM, then SIGKILL after 3 s.
stop_pid() { # pid
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Ends every process still tracked (only pids this script started).
kill_tracked() {
    local pid
    [[ -f "$PIDFILE" ]] || return 0
    while read -r pid; do
        [[ -n "$pid" ]] && stop_pid "$pid"
    done <"$PIDFILE"
    : >"$PIDFILE"
}

cleanup() {
    local rc=$?
    if [[ -n "$CHECK_PGID" ]] && kill -0 "$CHECK_PGID" 2>/dev/null; then
        kill -TERM -- "-$CHECK_PGID" 2>/dev/null || true
        for _ in $(seq 1 30); do kill -0 "$CHECK_PGID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$CHECK_PGID" 2>/dev/null || true
    fi
    kill_tracked
    if ((KEEP_TMP)); then
        echo "interop: logs kept in $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "interop: interrupted" >&2; exit 130' INT
trap 'echo "interop: terminated" >&2; exit 143' TERM

# Starts "$@" in the background with stdout/stderr in files; sets BG_PID.
start_bg() { # out err cmd...
    local out=$1 err=$2
    shift 2
    "$@" >"$out" 2>"$err" &
    BG_PID=$!
    echo "$BG_PID" >>"$PIDFILE"
}

# Waits for a background process to exit, at most `secs` seconds; returns its
# exit status, or 124 after ending it on timeout (with SIGINT first when the
# third argument is "int": otlp-lab receive then still prints its counts).
wait_exit() { # pid secs [int]
    local pid=$1 deadline=$((SECONDS + $2)) rc=0
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            if [[ "${3:-}" == int ]]; then
                interrupt_pid "$pid" || true
            else
                stop_pid "$pid"
                untrack "$pid"
            fi
            return 124
        fi
        sleep 0.1
    done
    wait "$pid" 2>/dev/null || rc=$?
    untrack "$pid"
    return "$rc"
}

# Asks a process to stop with SIGINT (otlp-lab receive then prints its counts),
# at most 5 s, then SIGTERM/SIGKILL. Returns its exit status.
interrupt_pid() { # pid
    local pid=$1 rc=0
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    stop_pid "$pid"
    wait "$pid" 2>/dev/null || rc=$?
    untrack "$pid"
    return "$rc"
}

# Polls until 127.0.0.1:port accepts a connection, at most `secs` seconds;
# fails early when the process that should listen has exited.
wait_port() { # port pid secs name errfile
    local port=$1 pid=$2 deadline=$((SECONDS + $3)) name=$4 errf=$5
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "  $name exited before listening on 127.0.0.1:$port; its stderr:"
            tail -n 20 "$errf" | indent
            return 1
        fi
        if ((SECONDS >= deadline)); then
            echo "  $name is not listening on 127.0.0.1:$port after $3 s; its stderr:"
            tail -n 20 "$errf" | indent
            return 1
        fi
        sleep 0.1
    done
}

free_ports() { "$VPY" "$HELPERS" free-ports "$1"; }

record() { # check status detail
    printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"
    printf '  => %s: %s  %s\n' "$1" "$2" "$3"
}

# Runs one check function in a subshell with errexit on, in a process group
# of its own (so an interrupt ends it and every child it has, at once); a
# check that dies without recording a verdict gets a FAIL row.
CHECK_PGID=""
run_check() { # label function
    local label=$1 fn=$2 rc=0 before
    before=$(wc -l <"$RESULTS")
    log "=== $label ==="
    set -m
    (
        set -e
        trap kill_tracked EXIT
        "$fn"
    ) </dev/null &
    CHECK_PGID=$!
    set +m
    wait "$CHECK_PGID" || rc=$?
    CHECK_PGID=""
    if ((rc != 0)) && (($(wc -l <"$RESULTS") == before)); then
        record "$label" FAIL "the check stopped with exit status $rc before a verdict (see above)"
    fi
}

# --- setup ---------------------------------------------------------------------

ensure_binary() {
    if [[ -n "${OTLP_LAB_BIN:-}" ]]; then
        [[ -x "$BIN" ]] || die "OTLP_LAB_BIN=$BIN is not an executable file"
        ((!FORCE_BUILD)) || log "--build ignored: OTLP_LAB_BIN names the binary to test"
    elif ((FORCE_BUILD)) || [[ ! -x "$BIN" ]]; then
        command -v cargo >/dev/null || die "cargo not found: needed to build $BIN"
        log "building otlp-lab: cargo build --release --bin otlp-lab"
        (cd "$ROOT" && timeout --foreground 3000 cargo build --release --bin otlp-lab) || die "cargo build failed (or took over 50 min)"
    fi
    [[ -x "$BIN" ]] || die "no otlp-lab binary at $BIN"
    log "otlp-lab: $BIN ($("$BIN" --version))"
}

ensure_venv() {
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found: Python 3 is needed for the checks"
    local pyver want stamp="$VENV/.interop-stamp"
    pyver="$("$PYTHON" -c 'import sys; print(".".join(map(str, sys.version_info[:3])))')"
    want="$(sha256sum "$REQ" | cut -d' ' -f1) python-$pyver"
    if ((!RECREATE_VENV)) && [[ -x "$VPY" && -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$want" ]] &&
        "$VPY" -c 'import opentelemetry.sdk, opentelemetry.proto, opentelemetry.exporter.otlp.proto.http, opentelemetry.exporter.otlp.proto.grpc, grpc, hpack, rotel' 2>/dev/null; then
        log "reusing the virtual environment $VENV (python $pyver)"
        return 0
    fi
    log "creating the virtual environment $VENV (python $pyver) and installing $REQ"
    rm -rf "$VENV"
    timeout --foreground 120 "$PYTHON" -m venv "$VENV" || die "python3 -m venv $VENV failed (on Debian: apt-get install python3-venv)"
    timeout --foreground 600 "$VPY" -m pip install --quiet --disable-pip-version-check -r "$REQ" ||
        die "pip install -r $REQ failed or took over 10 min (PyPI unreachable, or a pinned version gone?)"
    echo "$want" >"$stamp"
}

# --- check 1: the OpenTelemetry Python SDK into otlp-lab receive ---------------

# Starts grpc_tap.py relaying 127.0.0.1:listen to 127.0.0.1:target, its calls
# in `out`; sets BG_PID.
start_tap() { # dir listen target out
    local d=$1 listen=$2 target=$3 out=$4
    : >"$out"
    start_bg "$d/tap-$listen.out" "$d/tap-$listen.err" "$VPY" "$TAP" serve --listen "$listen" --target "$target" --out "$out"
    wait_port "$listen" "$BG_PID" 20 "grpc_tap.py" "$d/tap-$listen.err"
}

sdk_run() { # protocol compression
    local proto=$1 comp=$2 label="1 SDK -> otlp-lab receive, $1, $2"
    local d="$TMP/sdk-${proto#http/}-$comp" port gport tport rpid tpid="" crc=0 rrc=0 points endpoint
    mkdir -p "$d"
    points="$("$VPY" "$INTEROP_DIR/sdk_client.py" --endpoint unused --print-expected-points)" ||
        { record "$label" FAIL "sdk_client.py does not run"; return 1; }
    local -a listen
    if [[ "$proto" == grpc ]]; then
        # The HTTP listener is not used: port 0, wherever the OS likes.
        read -r gport tport < <(free_ports 2) || { record "$label" FAIL "no free port"; return 1; }
        listen=(--http 127.0.0.1:0 --grpc "127.0.0.1:$gport")
        port=$gport
        log "receiver: OTLP/gRPC on 127.0.0.1:$gport (SDK through grpc_tap.py on 127.0.0.1:$tport) expecting spans=$SDK_SPANS points=$points logs=$SDK_LOGS; SDK compression=$comp"
    else
        port="$(free_ports 1)" || { record "$label" FAIL "no free port"; return 1; }
        listen=(--http "127.0.0.1:$port")
        log "receiver on 127.0.0.1:$port expecting spans=$SDK_SPANS points=$points logs=$SDK_LOGS; SDK compression=$comp"
    fi
    start_bg "$d/receive.out" "$d/receive.err" "$BIN" receive "${listen[@]}" \
        --expect-spans "$SDK_SPANS" --expect-points "$points" --expect-logs "$SDK_LOGS" --timeout 120
    rpid=$BG_PID
    wait_port "$port" "$rpid" 20 "otlp-lab receive" "$d/receive.err" ||
        { record "$label" FAIL "otlp-lab receive did not start"; return 1; }
    endpoint="http://127.0.0.1:$port"
    if [[ "$proto" == grpc ]]; then
        start_tap "$d" "$tport" "$gport" "$d/tap.jsonl" || { record "$label" FAIL "grpc_tap.py did not start"; return 1; }
        tpid=$BG_PID
        endpoint="http://127.0.0.1:$tport"
    fi

    timeout --foreground 180 "$VPY" "$INTEROP_DIR/sdk_client.py" --endpoint "$endpoint" --protocol "$proto" \
        --compression "$comp" --spans "$SDK_SPANS" --logs "$SDK_LOGS" >"$d/client.out" 2>"$d/client.err" || crc=$?
    echo "  SDK client: $(tail -n 1 "$d/client.out" 2>/dev/null)"
    if ((crc != 0)); then
        echo "  SDK client exited $crc; its stderr:"
        tail -n 30 "$d/client.err" | indent
    fi
    # The receiver stops by itself once every expectation is met; if it is
    # still waiting after the client is done, interrupt it for its counts.
    wait_exit "$rpid" 15 int || rrc=$?
    if ((rrc == 124)); then
        echo "  otlp-lab receive was still waiting 15 s after the client finished (interrupted it for its counts)"
        rrc=1
    fi
    if [[ -n "$tpid" ]]; then
        stop_pid "$tpid"
        untrack "$tpid"
    fi
    if ! grep -q '^{' "$d/receive.out"; then
        echo "  otlp-lab receive printed no counts; its stderr:"
        tail -n 20 "$d/receive.err" | indent
        record "$label" FAIL "no counts from otlp-lab receive (exit $rrc)"
        return 1
    fi
    local cmp=0 wire=0 wire_note=""
    "$VPY" "$HELPERS" compare-sdk "$d/receive.out" "$d/client.out" || cmp=$?
    if [[ "$proto" == grpc ]]; then
        local calls
        calls="$("$VPY" -c 'import json, sys; print(json.loads([l for l in open(sys.argv[1]) if l.startswith("{")][-1])["requests"])' "$d/client.out" 2>/dev/null || echo -1)"
        "$VPY" "$TAP" summary "$d/tap.jsonl" >"$d/tap-summary.json"
        "$VPY" "$HELPERS" wire-check "$d/tap-summary.json" "$comp" "$calls" || wire=$?
        wire_note="; on the wire: $calls calls, messages $([[ $comp == none ]] && echo uncompressed || echo "all $comp")"
    fi
    if ((crc == 0 && rrc == 0 && cmp == 0 && wire == 0)); then
        record "$label" PASS "$SDK_SPANS spans, $points points, $SDK_LOGS logs; counts equal request for request$wire_note"
    else
        [[ $rrc -eq 0 ]] || { echo "  otlp-lab receive exited $rrc; its stderr:"; tail -n 10 "$d/receive.err" | indent; }
        record "$label" FAIL "client exit $crc, receiver exit $rrc, counts $([[ $cmp == 0 ]] && echo equal || echo differ)$([[ $proto == grpc ]] && { [[ $wire == 0 ]] && echo ", wire as expected" || echo ", wire NOT as expected (see above)"; })"
        return 1
    fi
}

check_sdk() {
    local failed=0
    # The SDK's HTTP exporter offers none, gzip and deflate, its gRPC exporter
    # none, gzip and deflate too; otlp-lab takes gzip and zstd.
    sdk_run http/protobuf none || failed=1
    sdk_run http/protobuf gzip || failed=1
    sdk_run grpc none || failed=1
    sdk_run grpc gzip || failed=1
    return "$failed"
}

# --- check 2: otlp-lab send into rotel -------------------------------------------

# One `otlp-lab send` into rotel, judged by helpers.py rotel-verdict; sets
# RS_STATUS (PASS, FAIL, UNSUPPORTED) and RS_DETAIL. Over gRPC, `port` is
# grpc_tap.py's in front of rotel, and what it saw (in $d/tap.jsonl) is judged too.
rotel_send() { # dir port protocol compression kind spans points logs hist
    local d=$1 port=$2 proto=$3 comp=$4 kind=$5 spans=$6 points=$7 logs=$8 hist=$9
    local tag="${proto#http/}-$comp-$kind" start tap_start=0 src=0 verdict tap_arg=()
    start=$(wc -l <"$d/rotel.log")
    [[ "$proto" != grpc ]] || tap_start=$(wc -l <"$d/tap.jsonl")
    timeout --foreground 120 "$BIN" send --endpoint "http://127.0.0.1:$port" --protocol "$proto" --compression "$comp" \
        --spans "$spans" --points "$points" --logs "$logs" --deadline 30 \
        >"$d/send-$tag.out" 2>"$d/send-$tag.err" || src=$?
    echo "  $proto $comp ($kind: $spans spans, $points points, $logs logs): $(tail -n 1 "$d/send-$tag.out" 2>/dev/null)"
    "$VPY" "$HELPERS" rotel-counts "$d/rotel.log" "$start" "$spans" "$points" "$logs" 15 >"$d/counts-$tag.json"
    if [[ "$proto" == grpc ]]; then
        "$VPY" "$TAP" summary "$d/tap.jsonl" "$tap_start" >"$d/tap-$tag.json"
        tap_arg=(tap="$d/tap-$tag.json")
    fi
    verdict="$("$VPY" "$HELPERS" rotel-verdict send_out="$d/send-$tag.out" send_err="$d/send-$tag.err" \
        send_rc="$src" counts="$d/counts-$tag.json" probes="$d/probes.json" spans="$spans" \
        points="$points" logs="$logs" hist="$hist" protocol="$proto" compression="$comp" "${tap_arg[@]}")" ||
        verdict=$'FAIL\trotel-verdict failed'
    RS_STATUS="$(head -n 1 <<<"$verdict" | cut -f1)"
    RS_DETAIL="$(head -n 1 <<<"$verdict" | cut -f2-)"
    # A passing probe's notes come again with the full run.
    if [[ "$kind" == full || "$RS_STATUS" != PASS ]]; then
        tail -n +2 <<<"$verdict" | sed 's/^/    note: /'
    fi
}

check_rotel() {
    local label="2 otlp-lab send -> rotel"
    local d="$TMP/rotel" rotel_bin libdir ver hport gport tport rpid tpid hist failed=0
    mkdir -p "$d"
    rotel_bin="$("$VPY" -c 'import pathlib, rotel; print(pathlib.Path(rotel.__file__).parent / "rotel-agent")' 2>"$d/locate.err")" ||
        { cat "$d/locate.err"; record "$label" FAIL "cannot import the rotel package from the venv"; return 1; }
    [[ -x "$rotel_bin" ]] || { record "$label" FAIL "rotel-agent not found at $rotel_bin"; return 1; }
    # rotel's wheel is built per CPython version and links libpython: point the
    # loader at the venv interpreter's own library folder.
    libdir="$("$VPY" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR") or "")')"
    local ld="${libdir}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    if ! ver="$(timeout --foreground 20 env LD_LIBRARY_PATH="$ld" "$rotel_bin" --version 2>&1)"; then
        echo "  rotel-agent does not run here: $ver"
        env LD_LIBRARY_PATH="$ld" ldd "$rotel_bin" 2>&1 | grep -i 'not found' | indent || true
        record "$label" FAIL "rotel-agent ($rotel_bin) does not run: $ver"
        return 1
    fi
    log "rotel: $rotel_bin ($ver)"

    # What the fixtures hold: histogram points of the metrics batches.
    local hist_probe
    "$BIN" encode --out "$d/fixture" --items "$ROTEL_POINTS" >/dev/null
    hist="$("$VPY" "$HELPERS" hist-points "$d/fixture")"
    "$BIN" encode --out "$d/fixture-probe" --items "$PROBE_POINTS" >/dev/null
    hist_probe="$("$VPY" "$HELPERS" hist-points "$d/fixture-probe")"

    read -r hport gport tport < <(free_ports 3)
    log "rotel-agent: OTLP/HTTP on 127.0.0.1:$hport, OTLP/gRPC on 127.0.0.1:$gport (sent to through grpc_tap.py on 127.0.0.1:$tport), blackhole exporter"
    start_bg "$d/rotel.log" "$d/rotel.err" env LD_LIBRARY_PATH="$ld" "$rotel_bin" --log-format json start \
        --otlp-http-endpoint "127.0.0.1:$hport" --otlp-grpc-endpoint "127.0.0.1:$gport" \
        --exporter blackhole --debug-log traces --debug-log metrics --debug-log logs \
        --pid-file "$d/rotel.pid" --log-file "$d/rotel-daemon.log"
    rpid=$BG_PID
    if ! wait_port "$hport" "$rpid" 30 "rotel-agent" "$d/rotel.err" || ! wait_port "$gport" "$rpid" 30 "rotel-agent" "$d/rotel.err"; then
        tail -n 20 "$d/rotel.log" | indent
        record "$label" FAIL "rotel-agent did not start listening"
        return 1
    fi
    if ! start_tap "$d" "$tport" "$gport" "$d/tap.jsonl"; then
        record "$label" FAIL "grpc_tap.py did not start"
        return 1
    fi
    tpid=$BG_PID

    # Probes of rotel's own behaviour, to tell its limitations from ours.
    local p_hist p_enc
    p_hist="$(timeout --foreground 30 "$VPY" "$HELPERS" rotel-probe-json-hist "http://127.0.0.1:$hport" "$d/rotel.log")"
    p_enc="$(timeout --foreground 30 "$VPY" "$HELPERS" rotel-probe-encoding "http://127.0.0.1:$hport")"
    printf '{"json_hist": %s, "encoding": %s}\n' "$p_hist" "$p_enc" >"$d/probes.json"
    echo "  rotel probe, one OTLP/JSON histogram point, uint64 as strings vs numbers: $p_hist"
    echo "  rotel probe, uncompressed body labelled Content-Encoding: zstd: $p_enc"

    local proto comp status detail port
    for proto in http/protobuf http/json grpc; do
        port=$hport
        [[ "$proto" != grpc ]] || port=$tport
        for comp in none gzip zstd; do
            label="2 otlp-lab send -> rotel, $proto, $comp"
            # A small probe first (3 requests, below the exporter's circuit
            # breaker threshold): what rotel refuses is then known in a second,
            # not after the exporter's retries and shutdown deadline.
            rotel_send "$d" "$port" "$proto" "$comp" probe "$PROBE_SPANS" "$PROBE_POINTS" "$PROBE_LOGS" "$hist_probe"
            if [[ "$RS_STATUS" == PASS ]]; then
                rotel_send "$d" "$port" "$proto" "$comp" full "$ROTEL_SPANS" "$ROTEL_POINTS" "$ROTEL_LOGS" "$hist"
            else
                echo "  $proto $comp: the probe was not accepted, the full run is skipped"
            fi
            record "$label" "$RS_STATUS" "$RS_DETAIL"
            [[ "$RS_STATUS" != FAIL ]] || failed=1
            if ! kill -0 "$rpid" 2>/dev/null; then
                echo "  rotel-agent exited; its last log lines:"
                tail -n 20 "$d/rotel.log" "$d/rotel.err" | indent
                record "2 otlp-lab send -> rotel" FAIL "rotel-agent died during $proto $comp"
                return 1
            fi
        done
    done
    stop_pid "$tpid"
    untrack "$tpid"
    stop_pid "$rpid"
    untrack "$rpid"
    return "$failed"
}

# --- check 3: the official protobuf classes decode otlp-lab encode output ------

check_decode() {
    local n d rc failed=0
    for n in "${DECODE_ITEMS[@]}"; do
        d="$TMP/encode-$n"
        local label="3 opentelemetry-proto decodes otlp-lab encode, N=$n"
        if ! "$BIN" encode --out "$d" --items "$n" >"$d.out" 2>&1; then
            cat "$d.out"
            record "$label" FAIL "otlp-lab encode failed"
            failed=1
            continue
        fi
        rc=0
        timeout --foreground 120 "$VPY" "$INTEROP_DIR/decode_check.py" --dir "$d" --items "$n" >"$d.check" 2>&1 || rc=$?
        indent <"$d.check"
        if ((rc == 0)); then
            record "$label" PASS "counts, fields, every item == expected.json (model), no unknown fields, SerializeToString() byte-identical, .json == .pb"
        else
            record "$label" FAIL "$(grep -c 'FAIL:' "$d.check" || true) problem(s), first: $(grep -m1 'FAIL:' "$d.check" | sed 's/^ *FAIL: //')"
            failed=1
        fi
    done
    return "$failed"
}

# --- main ------------------------------------------------------------------------

log "otlp-lab interop checks: $ONLY (temporary files in $TMP)"
ensure_binary
T_VENV=$SECONDS
ensure_venv
log "virtual environment ready in $((SECONDS - T_VENV)) s; $("$VPY" -m pip freeze 2>/dev/null | grep -E '^(opentelemetry-sdk|opentelemetry-exporter-otlp-proto-grpc|opentelemetry-proto|protobuf|grpcio|rotel)==' | tr '\n' ' ')"

# Everything the checks start talks to 127.0.0.1 only: no HTTP proxy for it,
# whatever the environment says (pip above still uses one if set).
for v in NO_PROXY no_proxy; do
    export "$v=127.0.0.1,localhost,::1${!v:+,${!v}}"
done

selected sdk && run_check "1 SDK -> otlp-lab receive" check_sdk
selected rotel && run_check "2 otlp-lab send -> rotel" check_rotel
selected decode && run_check "3 opentelemetry-proto decodes otlp-lab encode" check_decode

echo
echo "Summary ($((SECONDS - T_START)) s)"
printf '%-58s %-12s %s\n' "check" "result" "detail"
printf '%-58s %-12s %s\n' "-----" "------" "------"
fails=0
while IFS=$'\t' read -r check status detail; do
    printf '%-58s %-12s %s\n' "$check" "$status" "$detail"
    [[ "$status" != FAIL ]] || fails=$((fails + 1))
done <"$RESULTS"
echo
if ((fails)); then
    echo "interop: $fails check(s) FAILED"
    exit 1
fi
echo "interop: all checks passed (SKIPPED/UNSUPPORTED rows are limitations of the other side, explained above)"
