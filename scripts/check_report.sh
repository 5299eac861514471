#!/usr/bin/env bash
# Opens the generated report in headless Chromium, as a reader's browser
# would: fails on a JavaScript or console error and on a missing section
# (each section's id with its <h2> heading, in the DOM Chromium built), and
# saves a screenshot beside the page (report.png).
# Usage: scripts/check_report.sh [profiles/report.html]
# Installs Debian's chromium with apt-get when no Chromium is on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

# The page's sections, in order: must equal otlp_lab::html::SECTION_IDS
# (tests/it/report.rs checks that this line lists them).
SECTIONS="summary environment instructions history heap load exporter flamegraphs exports"

page=${1:-profiles/report.html}
[ -f "$page" ] || { echo "error: no report at $page (build it with: target/release/otlp-lab report)" >&2; exit 1; }
page_abs=$(cd "$(dirname "$page")" && pwd)/$(basename "$page")
shot=$(dirname "$page_abs")/report.png

browser=
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
done
if [ -z "$browser" ]; then
  command -v apt-get >/dev/null 2>&1 || { echo "error: no Chromium on PATH and no apt-get to install it" >&2; exit 1; }
  echo "==> installing chromium (apt-get)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
    || { echo "error: apt-get install chromium failed" >&2; exit 1; }
  browser=chromium
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# --no-sandbox: CI and this lab run as root, where Chromium's sandbox refuses
# to start. A private profile folder, so that no earlier session's state matters.
# --virtual-time-budget lets the page settle (layout, images) before the dump.
run_browser() {
  timeout 120 "$browser" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --no-default-browser-check --user-data-dir="$work/profile" \
    --enable-logging=stderr --v=0 --virtual-time-budget=3000 "$@" "file://$page_abs"
}

run_browser --dump-dom >"$work/dom.html" 2>"$work/dom.log" \
  || { cat "$work/dom.log" >&2; echo "error: $browser could not load $page" >&2; exit 1; }
run_browser --window-size=1280,2400 --hide-scrollbars --screenshot="$shot" >/dev/null 2>"$work/shot.log" \
  || { cat "$work/shot.log" >&2; echo "error: $browser could not take a screenshot of $page" >&2; exit 1; }

fail=0
# Chromium logs every console message of the page as ":INFO:CONSOLE(<line>)" (or
# ":ERROR:CONSOLE"), uncaught exceptions included; a clean page logs none.
if grep -hE 'CONSOLE\(|Uncaught' "$work/dom.log" "$work/shot.log" >"$work/console.txt"; then
  echo "FAIL: console messages or JavaScript errors:" >&2
  cat "$work/console.txt" >&2
  fail=1
fi
flat=$(tr -d '\n' <"$work/dom.html")
for id in $SECTIONS; do
  if ! grep -qE "<section id=\"$id\"> *<h2>[^<]+</h2>" <<<"$flat"; then
    echo "FAIL: section '$id' (with its <h2> heading) is missing from the rendered page" >&2
    fail=1
  fi
done
[ -s "$shot" ] || { echo "FAIL: no screenshot at $shot" >&2; fail=1; }
[ "$fail" -eq 0 ] || exit 1
# grep finds nothing on a report without plots: a count of 0, not a failure.
n=$(grep -o '<section id=' <<<"$flat" | wc -l || true)
plots=$(grep -o '<figure id="plot-' <<<"$flat" | wc -l || true)
echo "report: $page opens in $("$browser" --version 2>/dev/null | head -1) without console errors; $n sections, $plots plots; screenshot: $shot"
