#!/usr/bin/env bash
# Runs a Windows x86_64 program under Wine:
#   scripts/wine-run.sh PROGRAM.exe [ARGS...]
# It is the cargo runner of x86_64-pc-windows-gnu (CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER,
# set by scripts/cross-test.sh) and what tests/windows_wine.rs starts the C programs with.
#
# The Wine prefix is target/wine/prefix (or $WINEPREFIX), created on first use. Wine 8 lacks
# ProcessPrng in bcryptprimitives.dll, which every Rust 1.78+ program imports, so the first
# use also builds scripts/wine/bcryptprimitives.c with mingw-w64 into the prefix's system32
# (only when that DLL is absent: a newer Wine keeps its own).
#
#   scripts/wine-run.sh --check   prints the Wine loader it would use, or why it cannot run
#   scripts/wine-run.sh --start   creates the prefix and starts its wineserver, which then
#                                 stays up until a minute after its last program: otherwise it
#                                 exits 3 s after each program, and a program starting in that
#                                 instant fails ("recvmsg: Connection reset by peer")
#   scripts/wine-run.sh --stop    stops this prefix's wineserver
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export WINEPREFIX="${WINEPREFIX:-$repo/target/wine/prefix}"
export WINEDEBUG="${WINEDEBUG:--all}"
# No Mono or Gecko installer prompts while the prefix is created.
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"

# Debian's wine64 package installs the loader as /usr/lib/wine/wine64 and only the `wine`
# package puts a wrapper on PATH.
find_wine() {
  local candidate
  for candidate in "$(command -v wine64 || true)" /usr/lib/wine/wine64 "$(command -v wine || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

wine="$(find_wine)" || {
  echo "wine-run: no Wine loader (install wine64: apt-get install wine64)" >&2
  exit 127
}
mingw_cc="${MINGW_CC:-x86_64-w64-mingw32-gcc}"

# Creates the prefix once; concurrent first uses (parallel tests) wait for the first.
ensure_prefix() {
  local ready="$WINEPREFIX/.udp-relay-ready"
  [ -f "$ready" ] && return 0
  mkdir -p "$(dirname "$WINEPREFIX")"
  exec 9>"$WINEPREFIX.lock"
  flock 9
  if [ ! -f "$ready" ]; then
    echo "wine-run: creating the Wine prefix $WINEPREFIX" >&2
    "$wine" wineboot --init >/dev/null 2>&1 || true
    local system32="$WINEPREFIX/drive_c/windows/system32"
    [ -d "$system32" ] || { echo "wine-run: wineboot made no $system32" >&2; exit 1; }
    if [ ! -e "$system32/bcryptprimitives.dll" ]; then
      "$mingw_cc" -Wall -Wextra -Werror -shared -O2 \
        -o "$system32/bcryptprimitives.dll" \
        "$repo/scripts/wine/bcryptprimitives.c" "$repo/scripts/wine/bcryptprimitives.def" \
        -lbcrypt
    fi
    touch "$ready"
  fi
  flock -u 9
  exec 9>&-
}

# The wineserver next to the loader (Debian: /usr/lib/wine/wineserver64).
find_wineserver() {
  local candidate
  for candidate in "$(dirname "$wine")/wineserver" "$(dirname "$wine")/wineserver64" \
    "$(command -v wineserver || true)" /usr/lib/wine/wineserver64; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

case "${1:-}" in
  --check)
    command -v "$mingw_cc" >/dev/null || {
      echo "wine-run: no $mingw_cc to build the ProcessPrng stand-in (apt-get install gcc-mingw-w64-x86-64)" >&2
      exit 127
    }
    echo "$wine"
    exit 0
    ;;
  --start)
    ensure_prefix
    wineserver="$(find_wineserver)" || { echo "wine-run: no wineserver" >&2; exit 127; }
    "$wineserver" -k 2>/dev/null || true
    "$wineserver" --persistent=60
    exit 0
    ;;
  --stop)
    [ -d "$WINEPREFIX" ] || exit 0
    wineserver="$(find_wineserver)" || exit 0
    "$wineserver" -k 2>/dev/null || true
    exit 0
    ;;
  "")
    echo "usage: $0 PROGRAM.exe [ARGS...] | --check | --start | --stop" >&2
    exit 2
    ;;
esac

ensure_prefix
exec "$wine" "$@"
