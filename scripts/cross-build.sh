#!/usr/bin/env bash
# Builds the release libraries of every platform this Linux x86_64 machine can build, with the
# C header, in one command:
#
#   scripts/cross-build.sh [TARGET...]      (default: every target below)
#
#   x86_64-unknown-linux-gnu   libudp_relay.so, libudp_relay.a
#   x86_64-pc-windows-gnu      udp_relay.dll, libudp_relay.dll.a (import library), libudp_relay.a
#                              (mingw-w64: gcc-mingw-w64-x86-64)
#   aarch64-unknown-linux-gnu  libudp_relay.so, libudp_relay.a (gcc-aarch64-linux-gnu,
#                              libc6-dev-arm64-cross)
#
# Output: target/dist/include/udp_relay.h and target/dist/<platform>/ (linux-x86_64,
# windows-x86_64, linux-aarch64) with the libraries (the shared one stripped of debug
# information), and for Linux a GLIBC.txt naming the newest glibc symbol version the shared library needs.
#
# With GLIBC_BASELINE=2.17 (or another version) and cargo-zigbuild plus zig on PATH
# (pip install ziglang cargo-zigbuild), the Linux libraries are linked against that glibc
# instead of the build machine's. A target whose toolchain is missing is reported with a
# SKIPPED line naming what to install; the others are still built. Exits non-zero only when a
# build that was attempted failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/targets.sh

targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${ALL_TARGETS[@]}")

dist=target/dist
mkdir -p "$dist/include"
cp include/udp_relay.h "$dist/include/"

use_zig=false
if [ -n "${GLIBC_BASELINE:-}" ]; then
  if command -v cargo-zigbuild >/dev/null && { command -v zig >/dev/null || python3 -m ziglang version >/dev/null 2>&1; }; then
    use_zig=true
  else
    skipped "glibc $GLIBC_BASELINE baseline (missing cargo-zigbuild or zig: pip install ziglang cargo-zigbuild); linking against this machine's glibc"
  fi
fi

# The newest GLIBC_x.y symbol version a shared library needs (readelf reads any ELF machine).
glibc_needed() {
  readelf -V --wide "$1" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1
}

built=() skipped_targets=()
for target in "${targets[@]}"; do
  platform="$(platform_of "$target")"
  missing="$(missing_for_build "$target")"
  if [ -n "$missing" ]; then
    skipped "$target libraries (missing ${missing//;/, })"
    skipped_targets+=("$target")
    continue
  fi
  if $use_zig && [[ "$target" == *-linux-gnu ]]; then
    # zig links against the named glibc's symbol versions (and is the linker: no cross gcc);
    # the output directory stays target/<triple>/release.
    build=(env -u "CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_LINKER"
      cargo zigbuild --release --locked --lib --target "$target.$GLIBC_BASELINE")
  else
    export_cargo_env "$target"
    build=(cargo build --release --locked --lib --target "$target")
  fi
  echo "cross-build: ${build[*]}"
  "${build[@]}"

  out="$dist/$platform"
  rm -rf "$out"
  mkdir -p "$out"
  for library in $(libraries_of "$target"); do
    cp "target/$target/release/$library" "$out/"
  done
  # The shared library is what ships inside games: its debug info stays in target/. Static
  # archives keep theirs for the game's own debug builds.
  strip="$(strip_of "$target")"
  shared="$(shared_library_of "$target")"
  if command -v "$strip" >/dev/null; then
    "$strip" --strip-unneeded "$out/$shared"
  fi
  if [[ "$target" == *-linux-gnu ]]; then
    glibc_needed "$out/libudp_relay.so" >"$out/GLIBC.txt"
    echo "cross-build: $platform/libudp_relay.so needs $(cat "$out/GLIBC.txt")"
  fi
  built+=("$target")
done

echo "cross-build: built ${built[*]:-nothing} into $dist/"
if [ "${#skipped_targets[@]}" -gt 0 ]; then
  echo "cross-build: SKIPPED ${skipped_targets[*]}"
fi
