#!/usr/bin/env bash
# Builds the Unity package as a UPM tarball with its native libraries:
#
#   scripts/unity-package.sh [--no-build]
#
# 1. scripts/cross-build.sh builds the Linux x86_64 and Windows x86_64 libraries into
#    target/dist/ (skipped with --no-build; GLIBC_BASELINE is passed through).
# 2. bindings/unity/com.udprelay.runtime is copied to target/unity/package/ and every library
#    found in target/dist/ goes to its Plugins/ folder:
#      linux-x86_64/libudp_relay.so             -> Plugins/Linux/x86_64/
#      windows-x86_64/udp_relay.dll             -> Plugins/Windows/x86_64/
#      macos/libudp_relay.dylib                 -> Plugins/macOS/              (built on a Mac)
#      ios/libudp_relay.a                       -> Plugins/iOS/                (built on a Mac)
#      android-arm64-v8a/libudp_relay.so        -> Plugins/Android/arm64-v8a/  (Android NDK)
#      android-armeabi-v7a/libudp_relay.so      -> Plugins/Android/armeabi-v7a/
#    The last four are never built here: a studio that builds them (README: "Platforms")
#    drops them into target/dist/ and runs this with --no-build.
# 3. The .meta of every library that is not there is left out, and so is a folder left empty,
#    so Unity finds no orphan .meta in the read-only package.
# 4. target/dist/com.udprelay.runtime-<version>.tgz is written with everything under a
#    top-level package/ folder, the layout "Add package from tarball" reads.
set -euo pipefail
cd "$(dirname "$0")/.."

build=true
case "${1:-}" in
  --no-build) build=false ;;
  "") ;;
  *) echo "usage: $0 [--no-build]" >&2; exit 2 ;;
esac

source_dir=bindings/unity/com.udprelay.runtime
name="$(sed -n 's/^  "name": "\(.*\)",$/\1/p' "$source_dir/package.json")"
version="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$source_dir/package.json")"
[ -n "$name" ] && [ -n "$version" ] || { echo "unity-package: no name/version in package.json" >&2; exit 1; }

if $build; then
  bash scripts/cross-build.sh x86_64-unknown-linux-gnu x86_64-pc-windows-gnu
fi

stage=target/unity/package
rm -rf target/unity
mkdir -p target/unity
cp -R "$source_dir" "$stage"
# Libraries copied into the source tree by hand are not what this script packs.
find "$stage/Plugins" -type f ! -name '*.meta' -delete
find "$stage" -name '.*' -prune -exec rm -rf {} +

placed=()
place() {
  local from="target/dist/$1" to="$stage/Plugins/$2"
  if [ -f "$from" ]; then
    cp "$from" "$to"
    placed+=("Plugins/$2")
  fi
}
place linux-x86_64/libudp_relay.so Linux/x86_64/libudp_relay.so
place windows-x86_64/udp_relay.dll Windows/x86_64/udp_relay.dll
place macos/libudp_relay.dylib macOS/libudp_relay.dylib
place ios/libudp_relay.a iOS/libudp_relay.a
place android-arm64-v8a/libudp_relay.so Android/arm64-v8a/libudp_relay.so
place android-armeabi-v7a/libudp_relay.so Android/armeabi-v7a/libudp_relay.so

# Orphan metas: a library's whose file is absent, then (deepest first) an empty folder's.
while IFS= read -r meta; do
  [ -e "${meta%.meta}" ] || rm "$meta"
done < <(find "$stage/Plugins" -type f -name '*.meta' ! -name '*.meta.meta')
while IFS= read -r dir; do
  if [ -z "$(ls -A "$dir")" ]; then
    rmdir "$dir"
    rm -f "$dir.meta"
  fi
done < <(find "$stage/Plugins" -mindepth 1 -depth -type d)

tarball="target/dist/$name-$version.tgz"
mkdir -p target/dist
# Fixed owner and order: the same sources and libraries give the same archive listing.
tar -C target/unity --sort=name --owner=0 --group=0 --numeric-owner -czf "$tarball" package
echo "unity-package: $tarball with ${placed[*]:-no native library}"
