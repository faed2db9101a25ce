//! `tests/c/client_follow.c` is built with the system C compiler as strict C99 (warnings as
//! errors) against `include/udp_relay.h` and the library cargo just built, once plainly and
//! once under AddressSanitizer + UndefinedBehaviorSanitizer, and run: it measures relays with
//! `relay_measure`, and moves two clients whose relay was stopped to another one with
//! `relay_client_rejoin`, on the same sockets and handles (see the program's comment).

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{
    SANITIZER_ENV, SANITIZER_FLAGS, has_sanitizer_report, native_program, repo_root, run_ok,
    scratch_dir, shared_library_link_args,
};

/// The least number of checks the program must report (it prints one line per check).
const MIN_CHECKS: usize = 25;

fn build(variant: &str, extra_flags: &[&str]) -> PathBuf {
    let root = repo_root();
    let exe = scratch_dir(&format!("c-client-follow-{variant}")).join("client_follow");
    let mut cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
    cc.args([
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-pthread",
    ])
    .args(extra_flags)
    .arg("-I")
    .arg(root.join("include"))
    .arg(root.join("tests/c/client_follow.c"))
    .arg("-o")
    .arg(&exe)
    .args(shared_library_link_args());
    run_ok(
        &mut cc,
        &format!("compiling tests/c/client_follow.c ({variant})"),
    );
    exe
}

fn run(exe: &std::path::Path, env: &[(&str, &str)]) {
    let text = run_ok(
        native_program(exe).envs(env.iter().copied()),
        "tests/c/client_follow.c",
    );
    assert!(!has_sanitizer_report(&text), "sanitizer report:\n{text}");
    let last = text.lines().last().unwrap_or("");
    let passed = text.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(last, format!("{passed} passed, 0 failed"), "{text}");
    assert!(passed >= MIN_CHECKS, "only {passed} checks ran:\n{text}");
}

#[test]
fn c_program_measures_relays_and_follows_a_stopped_one() {
    run(&build("strict", &["-O1"]), &[]);
}

#[test]
fn c_program_follows_a_relay_under_sanitizers() {
    run(&build("sanitized", SANITIZER_FLAGS), SANITIZER_ENV);
}
