# Sourced by scripts/cross-build.sh, scripts/cross-test.sh and scripts/unity-package.sh: the
# targets this repository builds on a Linux x86_64 machine, what each needs, and the cargo
# settings that make it build.

# Rust targets in build order, and the package folder each one's libraries go to.
ALL_TARGETS=(x86_64-unknown-linux-gnu x86_64-pc-windows-gnu aarch64-unknown-linux-gnu)

# target/dist/<platform>/ name of a Rust target.
platform_of() {
  case "$1" in
    x86_64-unknown-linux-gnu) echo linux-x86_64 ;;
    aarch64-unknown-linux-gnu) echo linux-aarch64 ;;
    x86_64-pc-windows-gnu) echo windows-x86_64 ;;
    *) echo "unknown target $1" >&2; return 1 ;;
  esac
}

# The C compiler / linker cargo uses for a target.
linker_of() {
  case "$1" in
    x86_64-unknown-linux-gnu) echo cc ;;
    aarch64-unknown-linux-gnu) echo aarch64-linux-gnu-gcc ;;
    x86_64-pc-windows-gnu) echo x86_64-w64-mingw32-gcc ;;
  esac
}

# The shared library's file name.
shared_library_of() {
  case "$1" in
    *-windows-*) echo udp_relay.dll ;;
    *) echo libudp_relay.so ;;
  esac
}

# `strip` that understands a target's binaries.
strip_of() {
  case "$1" in
    x86_64-unknown-linux-gnu) echo strip ;;
    aarch64-unknown-linux-gnu) echo aarch64-linux-gnu-strip ;;
    x86_64-pc-windows-gnu) echo x86_64-w64-mingw32-strip ;;
  esac
}

# Shared and static library file names of a target, as cargo writes them.
libraries_of() {
  case "$1" in
    *-windows-*) echo "udp_relay.dll libudp_relay.dll.a libudp_relay.a" ;;
    *) echo "libudp_relay.so libudp_relay.a" ;;
  esac
}

# Prints what is missing to build for a target (empty when nothing is), with the package that
# brings it on Debian.
missing_for_build() {
  local target="$1" missing=()
  if [ "$target" != "$(host_target)" ] &&
    ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    missing+=("Rust std for $target: rustup target add $target")
  fi
  local linker
  linker="$(linker_of "$target")"
  if ! command -v "$linker" >/dev/null; then
    case "$target" in
      aarch64-*) missing+=("$linker: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross") ;;
      *-windows-gnu) missing+=("$linker: apt-get install gcc-mingw-w64-x86-64") ;;
      *) missing+=("$linker: apt-get install gcc") ;;
    esac
  fi
  if [ "$target" = aarch64-unknown-linux-gnu ] && [ ! -e /usr/aarch64-linux-gnu/lib/libc.so.6 ]; then
    missing+=("the arm64 C library: apt-get install libc6-dev-arm64-cross")
  fi
  local IFS=';'
  echo "${missing[*]:-}"
}

host_target() {
  rustc -vV | sed -n 's/^host: //p'
}

# Exports the cargo settings a cross target needs (a linker; the caller adds a runner).
export_cargo_env() {
  case "$1" in
    aarch64-unknown-linux-gnu)
      export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER:-aarch64-linux-gnu-gcc}"
      ;;
    x86_64-pc-windows-gnu)
      export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER="${CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER:-x86_64-w64-mingw32-gcc}"
      ;;
  esac
}

# A line nobody scrolls past.
skipped() {
  local bar
  bar="$(printf '!%.0s' {1..78})"
  printf '%s\nSKIPPED: %s\n%s\n' "$bar" "$*" "$bar" >&2
}
