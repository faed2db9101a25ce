#!/usr/bin/env bash
# Copies what the UDP Relay plugin needs from this repository into its ThirdParty module, so
# bindings/unreal/UdpRelay can be copied as is into a project's Plugins/ folder:
#
#   include/udp_relay.h, bindings/cpp/udp_relay.hpp
#       -> UdpRelay/Source/ThirdParty/UdpRelayLibrary/include/
#   the library cargo built for <platform>
#       -> UdpRelay/Source/ThirdParty/UdpRelayLibrary/lib/<platform>/
#         Linux: libudp_relay.so, and the same file under its soname libudp_relay.so.<ABI>
#         Win64: udp_relay.dll, udp_relay.dll.lib   Mac: libudp_relay.dylib
#
# The repository keeps one copy of each header; the staged files are build artifacts (ignored
# by git). Run it again after every rebuild.
#
# Usage: bindings/unreal/stage_library.sh [--platform Linux|Win64|Mac] [--lib-dir DIR] [--plugin DIR]
#   --platform  the Unreal platform to stage for (default: this machine's)
#   --lib-dir   where cargo put the library (default: target/release, or
#               target/x86_64-pc-windows-msvc/release for Win64 when that exists)
#   --plugin    the plugin folder to stage into (default: bindings/unreal/UdpRelay)
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
plugin="$repo/bindings/unreal/UdpRelay"
lib_dir=""
case "$(uname -s)" in
  Linux) platform=Linux ;;
  Darwin) platform=Mac ;;
  MINGW* | MSYS* | CYGWIN*) platform=Win64 ;;
  *) platform="" ;;
esac

while [ $# -gt 0 ]; do
  case "$1" in
    --platform) platform="${2:?--platform needs a value}"; shift 2 ;;
    --lib-dir) lib_dir="${2:?--lib-dir needs a value}"; shift 2 ;;
    --plugin) plugin="${2:?--plugin needs a value}"; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "stage_library: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

case "$platform" in
  Linux) files=(libudp_relay.so) ;;
  Win64) files=(udp_relay.dll udp_relay.dll.lib) ;;
  Mac) files=(libudp_relay.dylib) ;;
  *) echo "stage_library: unknown platform '$platform': use --platform Linux, Win64 or Mac" >&2; exit 2 ;;
esac

if [ -z "$lib_dir" ]; then
  lib_dir="$repo/target/release"
  if [ "$platform" = Win64 ] && [ -d "$repo/target/x86_64-pc-windows-msvc/release" ]; then
    lib_dir="$repo/target/x86_64-pc-windows-msvc/release"
  fi
fi

module="$plugin/Source/ThirdParty/UdpRelayLibrary"
if [ ! -f "$module/UdpRelayLibrary.Build.cs" ]; then
  echo "stage_library: $plugin is not the UDP Relay plugin (no $module/UdpRelayLibrary.Build.cs)" >&2
  exit 1
fi

for file in "${files[@]}"; do
  if [ ! -f "$lib_dir/$file" ]; then
    echo "stage_library: $lib_dir/$file not found: build it first (see bindings/unreal/UdpRelay/README.md)" >&2
    exit 1
  fi
done

# Linux: the game records the library's soname (libudp_relay.so.<ABI version>, set by build.rs)
# and looks for that file at run time, so it is staged under that name too.
staged=("${files[@]}")
if [ "$platform" = Linux ]; then
  soname="$(readelf -d "$lib_dir/libudp_relay.so" 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
  case "$soname" in
    libudp_relay.so.*) ;;
    *) echo "stage_library: $lib_dir/libudp_relay.so has no versioned soname (readelf from binutils needed): rebuild it" >&2; exit 1 ;;
  esac
fi

mkdir -p "$module/include" "$module/lib/$platform"
cp "$repo/include/udp_relay.h" "$repo/bindings/cpp/udp_relay.hpp" "$module/include/"
for file in "${files[@]}"; do
  cp "$lib_dir/$file" "$module/lib/$platform/"
done
if [ "$platform" = Linux ]; then
  rm -f "$module/lib/Linux"/libudp_relay.so.*
  cp "$lib_dir/libudp_relay.so" "$module/lib/Linux/$soname"
  staged+=("$soname")
fi
echo "stage_library: staged headers and ${staged[*]} for $platform into $module"
