#!/usr/bin/env bash
# Makes the toolchain rust-toolchain.toml pins available to rustup, without
# downloading anything: with the pin in place every cargo command asks rustup
# for that release, and a machine whose rustup has it only as `stable` (and
# cannot reach static.rust-lang.org) would fail on the first cargo command.
#
#   1. rustup already has a toolchain of the pinned release: done.
#   2. rustup's stable is that release: link it under the pinned name, so
#      that both names run the same compiler.
#   3. anything else: install the release with rustup (which needs
#      static.rust-lang.org), or fail saying which rustc is needed and which
#      was found.
#
# Then rustfmt and clippy must be there (CI runs both); a linked toolchain
# gets them from stable. Run by .ci/run and scripts/run_benchmarks.sh before
# any cargo command; run it once by hand before a bare `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { printf 'error: scripts/toolchain.sh: %s\n' "$*" >&2; exit 1; }

[ -f rust-toolchain.toml ] || die "rust-toolchain.toml is missing"
want=$(sed -n 's/^[[:space:]]*channel[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' rust-toolchain.toml | head -n 1)
[ -n "$want" ] || die "rust-toolchain.toml has no 'channel = \"...\"' line"
[[ "$want" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] \
  || die "rust-toolchain.toml pins '$want'; this script handles a release number (like 1.95.0) only"
command -v rustup >/dev/null 2>&1 \
  || die "rustup is not installed: the lab needs rustc $want through rustup (rust-toolchain.toml)"

# Never let a probe install a toolchain: a missing one must show as missing.
export RUSTUP_AUTO_INSTALL=0

# The release a toolchain's rustc reports ("rustc 1.95.0 (59807616e 2026-04-14)"
# gives 1.95.0), or nothing when the toolchain is missing or broken.
release_of() {
  rustup run "$1" rustc --version 2>/dev/null | awk 'NR == 1 && $1 == "rustc" { print $2 }' || true
}

have=$(release_of "$want")
if [ -z "$have" ]; then
  stable=$(release_of stable)
  if [ "$stable" = "$want" ]; then
    sysroot=$(rustup run stable rustc --print sysroot) || die "'rustup run stable rustc --print sysroot' failed"
    host=$(rustup run stable rustc -vV | sed -n 's/^host: //p')
    [ -n "$host" ] || die "'rustup run stable rustc -vV' names no host"
    # `rustup toolchain link $want ...` would be the plain way, but rustup 1.29
    # refuses a release number as a custom name ("invalid custom toolchain
    # name"). An installed release is a folder <release>-<host> of rustup's
    # toolchains folder, so the link is a symlink there to stable's sysroot.
    toolchains=$(rustup show home)/toolchains
    link=$toolchains/$want-$host
    [ ! -e "$link" ] && [ ! -L "$link" ] || die "$link exists but rustup cannot run it: remove it and run this again"
    ln -s "$sysroot" "$link" || die "could not create the symlink $link -> $sysroot"
    echo "toolchain $want: linked to stable ($link -> $sysroot)"
  elif rustup toolchain install "$want" --profile minimal --component rustfmt,clippy >&2; then
    # A machine that reaches static.rust-lang.org gets the release itself.
    echo "toolchain $want: installed"
  else
    die "this lab needs rustc $want (rust-toolchain.toml); rustup has no toolchain '$want', could not install it (needs static.rust-lang.org), and its stable toolchain's rustc is ${stable:-missing}: make rustc $want rustup's stable, or install $want"
  fi
  have=$(release_of "$want")
fi
[ "$have" = "$want" ] \
  || die "rustup's toolchain '$want' runs rustc ${have:-nothing}, not $want: remove it ('rustup toolchain uninstall $want') and run this again"

# rustfmt and clippy in the pinned toolchain; a linked one shares stable's
# components, so those are the ones to add.
missing=()
rustup run "$want" cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
rustup run "$want" cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
if [ ${#missing[@]} -gt 0 ]; then
  rustup component add --toolchain stable "${missing[@]}" >/dev/null 2>&1 || true
  for c in "${missing[@]}"; do
    case $c in rustfmt) sub=fmt ;; *) sub=$c ;; esac
    rustup run "$want" cargo "$sub" --version >/dev/null 2>&1 \
      || die "toolchain $want has no $c: 'rustup component add --toolchain $want $c' (or --toolchain stable when $want is linked to it)"
  done
fi
echo "toolchain $want: $(rustup run "$want" rustc --version)"
