//! Builds `tests/c/ffi_misuse.c` with the system C compiler under AddressSanitizer and
//! UndefinedBehaviorSanitizer against the shared library cargo just built, and runs it: every
//! relay-side entry point, the token functions and the GUID/handshake buffer helpers, called
//! with NULL, zero-length and too-short buffers, bad config values, stopped, double-stopped
//! and forged handles, must return its status, write nothing out of bounds, and leave the
//! library usable.

mod c_scenarios;
mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{
    SANITIZER_ENV, SANITIZER_FLAGS, has_sanitizer_report, native_program, scratch_dir,
    shared_library_link_args,
};

#[test]
fn every_entry_point_survives_misuse_under_sanitizers() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let exe = scratch_dir("c-ffi-misuse").join("ffi_misuse");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .args(SANITIZER_FLAGS)
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("tests/c/ffi_misuse.c"))
        .arg("-o")
        .arg(&exe)
        .args(shared_library_link_args())
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(
        out.status.success(),
        "compiling tests/c/ffi_misuse.c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
