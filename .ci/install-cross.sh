#!/usr/bin/env bash
# Installs what scripts/cross-build.sh and scripts/cross-test.sh need on a fresh Debian
# (bookworm) machine, besides the Rust toolchain:
#   - the Rust standard libraries of x86_64-pc-windows-gnu and aarch64-unknown-linux-gnu,
#   - mingw-w64 (gcc-mingw-w64-x86-64) and Wine (wine64) for Windows,
#   - the aarch64 cross compiler and C library (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross)
#     and QEMU user-mode emulation (qemu-user) for Linux aarch64.
# Never fails: whatever cannot be installed is reported, and the cross scripts print a SKIPPED
# line for the target that needs it. Idempotent. Needs root for apt.
set -uo pipefail

for target in x86_64-pc-windows-gnu aarch64-unknown-linux-gnu; do
  if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    echo "install-cross: rustup target add $target"
    rustup target add "$target" >/dev/null 2>&1 ||
      echo "install-cross: could not add the Rust target $target" >&2
  fi
done

packages=(gcc-mingw-w64-x86-64 wine64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0

echo "install-cross: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || echo "install-cross: apt-get update failed" >&2
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  # One at a time: a package this machine's sources lack must not keep the others out.
  for package in "${missing[@]}"; do
    apt-get install -y -qq --no-install-recommends "$package" >/dev/null 2>&1 ||
      echo "install-cross: could not install $package" >&2
  done
fi
exit 0
