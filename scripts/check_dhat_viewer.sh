#!/usr/bin/env bash
# Opens dhat profiles in valgrind's own DHAT viewer (dh_view.html) under jsdom
# and fails unless each renders a tree: proof that the viewer opens them.
# Usage: scripts/check_dhat_viewer.sh PROFILE [EXPECTED_TEXT...]
set -euo pipefail
cd "$(dirname "$0")/dhview"
[ $# -ge 1 ] || { echo "usage: scripts/check_dhat_viewer.sh PROFILE [EXPECTED_TEXT...]" >&2; exit 2; }
command -v node >/dev/null 2>&1 || { echo "error: node is needed (Node.js 18 or later)" >&2; exit 2; }
if [ ! -d node_modules/jsdom ]; then
  npm ci --no-audit --no-fund --silent || { echo "error: npm ci (jsdom, pinned in scripts/dhview/package-lock.json) failed" >&2; exit 2; }
fi
profile=$1; shift
case "$profile" in /*) ;; *) profile=$OLDPWD/$profile ;; esac
exec node check.js "$profile" "$@"
