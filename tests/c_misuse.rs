//! Builds `tests/c/ffi_misuse.c` with the system C compiler under AddressSanitizer and
//! UndefinedBehaviorSanitizer against the shared library cargo just built, and runs it: every
//! relay-side entry point, the token functions and the GUID/handshake buffer helpers, called
//! with NULL, zero-length and too-short buffers, bad config values, stopped, double-stopped
//! and forged handles, must return its status, write nothing out of bounds, and leave the
//! library usable.

mod c_scenarios;
mod support;

use support::{
    SANITIZER_ENV, SANITIZER_FLAGS, build_c_test_program, has_sanitizer_report, native_program,
};

#[test]
fn every_entry_point_survives_misuse_under_sanitizers() {
    let exe = build_c_test_program("ffi_misuse", "c-ffi-misuse", SANITIZER_FLAGS);
    let run = native_program(&exe)
        .envs(SANITIZER_ENV.iter().copied())
        .output()
        .expect("run ffi_misuse");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "ffi_misuse failed ({}):\n{stdout}\n{stderr}",
        run.status
    );
    c_scenarios::check_misuse_summary(&stdout);
    assert!(!has_sanitizer_report(&stderr), "{stderr}");
}
