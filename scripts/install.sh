#!/usr/bin/env bash
# Builds udp-relay and installs what a C or C++ program needs under a prefix (Linux):
#
#   PREFIX/include/udp_relay.h              the C API
#   PREFIX/include/udp_relay.hpp            the header-only C++17 wrapper
#   PREFIX/lib/libudp_relay.so.N            the shared library, named by its soname
#                                           (N = RELAY_ABI_VERSION, set by build.rs)
#   PREFIX/lib/libudp_relay.so -> libudp_relay.so.N   what -ludp_relay links
#   PREFIX/lib/libudp_relay.a               the static library
#   PREFIX/lib/pkgconfig/udp_relay.pc       pkg-config --cflags --libs udp_relay
#   PREFIX/lib/cmake/udp_relay/             find_package(udp_relay): udp_relay::udp_relay
#
# The pkg-config and CMake files find everything relative to themselves, so the tree may be
# moved or archived as a whole. Nothing outside PREFIX is touched; run ldconfig yourself if
# PREFIX/lib is a system library directory.
#
# Usage: scripts/install.sh --prefix DIR [--profile release|debug]
#   --prefix   where to install (created if missing; files already there are replaced)
#   --profile  the cargo profile to build and install (default release; debug builds faster)
# Uses $CARGO (or cargo) and honours CARGO_TARGET_DIR.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
prefix=""
profile=release

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --profile) profile="${2:?--profile needs release or debug}"; shift 2 ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "install: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$prefix" ]; then
  echo "install: --prefix DIR is required (see --help)" >&2
  exit 2
fi
if [ "$(uname -s)" != Linux ]; then
  echo "install: only Linux is supported (see the README for other platforms)" >&2
  exit 2
fi
case "$profile" in
  release) build_args=(--release) ;;
  debug) build_args=() ;;
  *) echo "install: --profile must be release or debug, not $profile" >&2; exit 2 ;;
esac

cargo="${CARGO:-cargo}"
(cd "$repo" && "$cargo" build --locked --lib "${build_args[@]}")
lib_dir="${CARGO_TARGET_DIR:-$repo/target}/$profile"

soname="$(readelf -d "$lib_dir/libudp_relay.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
case "$soname" in
  libudp_relay.so.*) ;;
  *) echo "install: $lib_dir/libudp_relay.so has no versioned soname (is readelf, from binutils, installed?)" >&2; exit 1 ;;
esac

# Versions as the header states them.
header="$repo/include/udp_relay.h"
define() { sed -n "s/^#define $1 \([0-9][0-9]*\)$/\1/p" "$header"; }
major="$(define UDP_RELAY_VERSION_MAJOR)"
minor="$(define UDP_RELAY_VERSION_MINOR)"
patch="$(define UDP_RELAY_VERSION_PATCH)"
abi="$(define RELAY_ABI_VERSION)"
version="$major.$minor.$patch"
if [ "$soname" != "libudp_relay.so.$abi" ]; then
  echo "install: the library's soname $soname is not libudp_relay.so.$abi (RELAY_ABI_VERSION in $header): rebuild" >&2
  exit 1
fi

# What the static library needs besides itself, as printed by
# `cargo rustc --lib --crate-type staticlib -- --print native-static-libs` (Linux, glibc).
static_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
# The same for CMake, where Threads::Threads stands for -lpthread and the C library is implied.
static_libs_cmake="gcc_s;util;rt;m;dl"
pointer_size="$(getconf LONG_BIT)"
pointer_size=$((pointer_size / 8))

fill() {
  sed -e "s|@VERSION@|$version|g" \
      -e "s|@VERSION_MAJOR@|$major|g" \
      -e "s|@VERSION_MINOR@|$minor|g" \
      -e "s|@ABI_VERSION@|$abi|g" \
      -e "s|@SONAME@|$soname|g" \
      -e "s|@STATIC_SYSTEM_LIBS@|$static_libs|g" \
      -e "s|@STATIC_SYSTEM_LIBS_CMAKE@|$static_libs_cmake|g" \
      -e "s|@POINTER_SIZE@|$pointer_size|g" \
      "$1" > "$2"
}

mkdir -p "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/cmake/udp_relay"
prefix="$(cd "$prefix" && pwd)"
install -m 644 "$header" "$repo/bindings/cpp/udp_relay.hpp" "$prefix/include/"
rm -f "$prefix/lib/libudp_relay.so"
install -m 755 "$lib_dir/libudp_relay.so" "$prefix/lib/$soname"
ln -s "$soname" "$prefix/lib/libudp_relay.so"
install -m 644 "$lib_dir/libudp_relay.a" "$prefix/lib/"
fill "$repo/packaging/udp_relay.pc.in" "$prefix/lib/pkgconfig/udp_relay.pc"
fill "$repo/packaging/udp_relayConfig.cmake.in" "$prefix/lib/cmake/udp_relay/udp_relayConfig.cmake"
fill "$repo/packaging/udp_relayConfigVersion.cmake.in" "$prefix/lib/cmake/udp_relay/udp_relayConfigVersion.cmake"

echo "install: udp_relay $version (ABI $abi, $profile build) installed under $prefix"
echo "  C:     PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs udp_relay"
echo "  CMake: -DCMAKE_PREFIX_PATH=$prefix, then find_package(udp_relay) and udp_relay::udp_relay"
