//! The ranking vectors (`tests/vectors/rank-v1.txt`) seen from outside Rust: a C program built
//! with the system compiler (under AddressSanitizer and UndefinedBehaviorSanitizer) ranks
//! every case through `relay_rank`, and an independent Python reimplementation
//! (`tests/vectors/rank_v1.py`, standard library only) recomputes every hash, score and
//! order from the documented definition.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{
    SANITIZER_ENV, SANITIZER_FLAGS, build_c_test_program, has_sanitizer_report, have_program,
    native_program,
};

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/rank-v1.txt")
}

#[test]
fn c_callers_of_relay_rank_get_the_vectors() {
    let exe = build_c_test_program("rank_vectors", "c-rank-vectors", SANITIZER_FLAGS);
    let run = native_program(&exe)
        .arg(vectors())
        .envs(SANITIZER_ENV.iter().copied())
        .output()
        .expect("run rank_vectors");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "rank_vectors failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("42 rankings checked"), "{stdout}");
    assert!(!has_sanitizer_report(&stderr), "{stderr}");
}

#[test]
fn an_independent_python_ranking_agrees_bit_for_bit() {
    if !have_program("python3") {
        panic!("python3 is needed to check the ranking vectors (apt-get install python3)");
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/rank_v1.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(vectors())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("168 scores and 42 rankings checked, 0 differ"),
        "{stdout}"
    );
}
