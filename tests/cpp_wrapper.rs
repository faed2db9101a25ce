//! The header-only C++ wrapper `bindings/cpp/udp_relay.hpp` is compiled with the system C++
//! compiler as C++17 with warnings as errors and without exceptions or RTTI (as game engines
//! build), linked against the library cargo just built, and its test program
//! `bindings/cpp/tests/wrapper_test.cpp` is run: an embedded relay, two clients and an
//! engine-owned socket exchange datagrams on 127.0.0.1, and moves, error paths and
//! allocation-free hot paths are checked. Built once plainly and once under AddressSanitizer +
//! UndefinedBehaviorSanitizer.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{
    SANITIZER_ENV, SANITIZER_FLAGS, has_sanitizer_report, native_program, repo_root, run_ok,
    scratch_dir, shared_library_link_args,
};

/// Flags every build uses: what an engine's strict build would.
const STRICT_FLAGS: &[&str] = &[
    "-std=c++17",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wpedantic",
    "-Wshadow",
    "-Wconversion",
    "-Wsign-conversion",
    "-fno-exceptions",
    "-fno-rtti",
];

/// The wrapper test and a second translation unit including the header, so a definition
/// that is not `inline` fails to link.
const SOURCES: &[&str] = &[
    "bindings/cpp/tests/wrapper_test.cpp",
    "bindings/cpp/tests/second_unit.cpp",
];

/// The least number of checks the program must report: it prints one line per check, so a
/// program that silently skipped its scenarios fails here.
const MIN_CHECKS: u32 = 120;

fn compile(variant: &str, extra_flags: &[&str]) -> PathBuf {
    let root = repo_root();
    let exe = scratch_dir(&format!("cpp-wrapper-{variant}")).join("wrapper_test");
    let mut cxx = Command::new(std::env::var("CXX").unwrap_or_else(|_| "c++".into()));
    cxx.args(STRICT_FLAGS)
        .args(extra_flags)
        .arg("-I")
        .arg(root.join("include"))
        .arg("-I")
        .arg(root.join("bindings/cpp"))
        .args(SOURCES.iter().map(|source| root.join(source)))
        .arg("-o")
        .arg(&exe)
        .args(shared_library_link_args());
    run_ok(
        &mut cxx,
        &format!("compiling the C++ wrapper test ({variant})"),
    );
    exe
}

/// Runs the program and checks its verdict line `N passed, M failed`.
fn run(exe: &Path, env: &[(&str, &str)]) {
    let text = run_ok(
        native_program(exe).envs(env.iter().copied()),
        "the C++ wrapper test",
    );
    assert!(!has_sanitizer_report(&text), "sanitizer report:\n{text}");
    let verdict = text
        .lines()
        .rev()
        .find_map(|line| {
            let (passed, failed) = line.split_once(" passed, ")?;
            let failed = failed.strip_suffix(" failed")?;
            Some((passed.parse::<u32>().ok()?, failed.parse::<u32>().ok()?))
        })
        .unwrap_or_else(|| panic!("no `N passed, N failed` line:\n{text}"));
    assert_eq!(verdict.1, 0, "failed checks:\n{text}");
    let ok_lines = text.lines().filter(|l| l.starts_with("ok ")).count() as u32;
    assert_eq!(
        ok_lines, verdict.0,
        "the pass count does not match the checks printed:\n{text}"
    );
    assert!(
        verdict.0 >= MIN_CHECKS,
        "only {} checks ran (expected at least {MIN_CHECKS}):\n{text}",
        verdict.0
    );
}

#[test]
fn cpp_wrapper_runs_relay_and_clients() {
    let exe = compile("strict", &["-O1"]);
    run(&exe, &[]);
}

#[test]
fn cpp_wrapper_runs_under_sanitizers() {
    let exe = compile("sanitized", SANITIZER_FLAGS);
    run(&exe, SANITIZER_ENV);
}
