# Sourced by .ci/run. Makes sure /dev/null is the null device.
#
# Seen in this project's CI: /dev/null was a regular file. Build scripts that
# probe the compiler (anyhow, thiserror, proc-macro2) send rustc's error output
# to /dev/null, so the file fills with "error[E0554] ..."; cargo's own target
# probe (`rustc - --print=cfg`) reads its stdin from /dev/null, gets that text
# as source code, fails, and caches the failure in target/.rustc_info.json.
# `unshare -m` with a regular file bind-mounted over /dev/null reproduces it.

# Repairs /dev/null when it is not a character device. Returns non-zero when it
# could not, so that the caller empties it before every cargo command instead.
ensure_dev_null() {
  [ -c /dev/null ] && return 0
  echo "note: /dev/null is not the null device here ($(stat -c %F /dev/null 2>&1)); recreating it" >&2
  if rm -f /dev/null 2>/dev/null && mknod -m 0666 /dev/null c 1 3 2>/dev/null && [ -c /dev/null ]; then
    return 0
  fi
  # A bind-mounted file cannot be removed: mount a real null device over it.
  local node
  node=$(mktemp -u /tmp/otlp-lab-null.XXXXXX)
  if mknod -m 0666 "$node" c 1 3 2>/dev/null && mount --bind "$node" /dev/null 2>/dev/null && [ -c /dev/null ]; then
    return 0
  fi
  echo "warning: could not repair /dev/null; it is emptied before every cargo command" >&2
  return 1
}

# Empties /dev/null when it is still a regular file (the fallback).
empty_dev_null() {
  if [ -f /dev/null ]; then : >/dev/null; fi
}
