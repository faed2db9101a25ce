#!/usr/bin/env bash
# Builds the Windows x86_64 and Linux aarch64 libraries and runs their tests on this Linux
# x86_64 machine: Windows programs under Wine, aarch64 ones under QEMU user-mode emulation.
#
#   scripts/cross-test.sh [windows] [aarch64]      (default: both)
#
# Windows (x86_64-pc-windows-gnu, mingw-w64 + wine64):
#   - the Rust test suite, `cargo test --target x86_64-pc-windows-gnu` with scripts/wine-run.sh
#     as the runner, less the tests listed in WINDOWS_EXCLUDED below with their reasons;
#   - tests/windows_wine.rs (run natively): the C examples and the C ABI misuse program built
#     with mingw-w64 against the release DLL and static library, run under Wine.
# aarch64 (aarch64-unknown-linux-gnu, gcc-aarch64-linux-gnu + qemu-user):
#   - the Rust test suite with `qemu-aarch64` as the runner, less AARCH64_EXCLUDED.
#
# A part whose tools are missing prints a SKIPPED line naming them and the rest still runs.
# Exits non-zero when a test that ran failed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/targets.sh

parts=("$@")
[ "${#parts[@]}" -gt 0 ] || parts=(windows aarch64)

# Tests a Windows program under Wine cannot run: they drive Linux programs (compilers, Mono,
# cargo, bash), which are not on Wine's Windows PATH or, started all the same, get Windows
# paths (Z:\...) they cannot open. What they check is covered natively, and for the C
# programs by tests/windows_wine.rs.
declare -A WINDOWS_EXCLUDED=(
  [c_examples]="builds with the Linux C compiler and sanitizers (Windows C builds: tests/windows_wine.rs)"
  [c_misuse]="builds with the Linux C compiler and sanitizers (Windows C build: tests/windows_wine.rs)"
  [client_follow_c]="builds with the Linux C compiler and sanitizers (the same calls run from Rust in client_ffi_follow)"
  [cpp_wrapper]="builds with the Linux C++ compiler"
  [csharp]="runs Linux Mono against the Linux library"
  [header]="cbindgen starts \`cargo metadata\`, a Linux program"
  [client_example]="builds the example programs with cargo, a Linux program"
  [windows_wine]="is the Linux side of the Windows C tests, run natively below"
  [header_names]="compiles the header with the Linux C compiler and reads the library with nm"
  [unreal_plugin]="compiles the plugin with the Linux C++ compiler and runs bash scripts"
  [rank_c_python]="builds with the Linux C compiler and sanitizers and runs Linux Python"
  [matchmaker]="builds the example programs with cargo, a Linux program"
)
# Single tests of otherwise-running files: "file::test" -> reason (none at present).
declare -A WINDOWS_SKIPPED_TESTS=()

# Tests an aarch64 program under qemu-user cannot run: without binfmt_misc it cannot start
# other aarch64 programs, and the host's compilers and Mono would get the aarch64 library.
declare -A AARCH64_EXCLUDED=(
  [bench_smoke]="starts the relay_bench example, an aarch64 program"
  [c_examples]="links C programs with the host compiler against the aarch64 library"
  [c_misuse]="links a C program with the host compiler against the aarch64 library"
  [client_follow_c]="links a C program with the host compiler against the aarch64 library"
  [cpp_wrapper]="links a C++ program with the host compiler against the aarch64 library"
  [csharp]="runs the host's Mono against the aarch64 library"
  [client_example]="starts the example programs, aarch64 programs"
  [header]="the header generated from the sources is the same on every target (checked natively)"
  [windows_wine]="tests the Windows build"
  [rank_c_python]="links a C program with the host compiler against the aarch64 library"
  [matchmaker]="starts the matchmaker example, an aarch64 program"
)

failures=()

# `--test NAME` for every integration test file not in the named exclusion array. Only the
# library's tests/ are listed: the service's (udp-relay-server/tests/*.rs: admin, agones,
# deploy, drain, host, keys, logs, metrics, workers) start the Linux service binary, a fake
# Agones sidecar and Linux tools, and run natively only; the service's unit tests run here
# with `--lib`.
test_args() {
  local -n excluded="$1"
  local file name args=(--lib)
  for file in tests/*.rs; do
    name="$(basename "$file" .rs)"
    [ -n "${excluded[$name]:-}" ] || args+=(--test "$name")
  done
  echo "${args[@]}"
}

report_exclusions() {
  local -n excluded="$1"
  local label="$2" name
  for name in $(printf '%s\n' "${!excluded[@]}" | sort); do
    echo "cross-test: $label: not run: $name (${excluded[$name]})"
  done
}

run_windows() {
  local target=x86_64-pc-windows-gnu missing
  missing="$(missing_for_build "$target")"
  local wine_problem
  if ! wine_problem="$(scripts/wine-run.sh --check 2>&1 >/dev/null)"; then
    missing="${missing:+$missing;}${wine_problem#wine-run: }"
  fi
  if [ -n "$missing" ]; then
    skipped "Windows tests under Wine (missing ${missing//;/, })"
    return 0
  fi
  export_cargo_env "$target"
  export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$PWD/scripts/wine-run.sh"

  echo "cross-test: Windows: lints of the Windows-only code"
  if ! cargo clippy --locked --lib --target "$target" -- -D warnings; then
    failures+=("clippy for Windows")
  fi

  echo "cross-test: Windows: release library and C programs under Wine"
  bash scripts/cross-build.sh "$target"
  scripts/wine-run.sh --start
  if ! UDP_RELAY_WINDOWS_LIB_DIR="$PWD/target/dist/windows-x86_64" \
    cargo test --locked --test windows_wine; then
    failures+=("Windows C programs under Wine")
  fi

  echo "cross-test: Windows: Rust test suite under Wine"
  report_exclusions WINDOWS_EXCLUDED Windows
  local skip_args=() test
  for test in "${!WINDOWS_SKIPPED_TESTS[@]}"; do
    echo "cross-test: Windows: not run: $test (${WINDOWS_SKIPPED_TESTS[$test]})"
    skip_args+=(--skip "${test#*::}" --exact)
  done
  # Line tables only: backtraces keep their lines, linking with mingw-w64 gets faster.
  # shellcheck disable=SC2046
  if ! CARGO_PROFILE_DEV_DEBUG=line-tables-only \
    cargo test --locked --no-fail-fast --target "$target" $(test_args WINDOWS_EXCLUDED) -- "${skip_args[@]}"; then
    failures+=("Rust tests under Wine")
  fi
  scripts/wine-run.sh --stop
}

run_aarch64() {
  local target=aarch64-unknown-linux-gnu missing
  missing="$(missing_for_build "$target")"
  command -v qemu-aarch64 >/dev/null || missing="${missing:+$missing;}qemu-aarch64: apt-get install qemu-user"
  if [ -n "$missing" ]; then
    skipped "aarch64 tests under QEMU (missing ${missing//;/, })"
    return 0
  fi
  export_cargo_env "$target"
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"

  echo "cross-test: aarch64: release library"
  bash scripts/cross-build.sh "$target"
  echo "cross-test: aarch64: Rust test suite under qemu-aarch64"
  report_exclusions AARCH64_EXCLUDED aarch64
  # Emulation runs unoptimised code some 50 times slower than native (the property tests
  # alone would take minutes): optimise a little, keep debug assertions and overflow checks,
  # drop debug info (faster to link). Only this target's build directory sees these settings.
  # shellcheck disable=SC2046
  if ! CARGO_PROFILE_DEV_OPT_LEVEL=1 CARGO_PROFILE_DEV_DEBUG=0 \
    cargo test --locked --no-fail-fast --target "$target" $(test_args AARCH64_EXCLUDED); then
    failures+=("Rust tests under QEMU")
  fi
}

for part in "${parts[@]}"; do
  case "$part" in
    windows) run_windows ;;
    aarch64) run_aarch64 ;;
    *) echo "cross-test: unknown part $part (windows, aarch64)" >&2; exit 2 ;;
  esac
done

if [ "${#failures[@]}" -gt 0 ]; then
  printf 'cross-test: FAILED: %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "cross-test: done (${parts[*]})"
