//! Builds `tests/c/ffi_misuse.c` with the system C compiler under AddressSanitizer and
//! UndefinedBehaviorSanitizer against the shared library cargo just built, and runs it: every
//! relay-side entry point, the token functions and the GUID/handshake buffer helpers, called
//! with NULL, zero-length and too-short buffers, bad config values, stopped, double-stopped
//! and forged handles, must return its status, write nothing out of bounds, and leave the
//! library usable.

use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>`: integration test binaries run from `target/<profile>/deps/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// The directory holding the shared library built for this test run.
fn library_dir() -> PathBuf {
    let name = format!(
        "{}udp_relay{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let profile = profile_dir();
    [profile.clone(), profile.join("deps")]
        .into_iter()
        .find(|d| d.join(&name).is_file())
        .unwrap_or_else(|| panic!("{name} not found under {}", profile.display()))
}

#[test]
fn every_entry_point_survives_misuse_under_sanitizers() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lib = library_dir();
    let exe = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ffi_misuse");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args([
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-g",
            "-O1",
        ])
        .args([
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
        ])
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("tests/c/ffi_misuse.c"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib.display()))
        .arg("-ludp_relay")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(
        out.status.success(),
        "compiling tests/c/ffi_misuse.c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe)
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=1:abort_on_error=0:exitcode=23",
        )
        .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
        .output()
        .expect("run ffi_misuse");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "ffi_misuse failed ({}):\n{stdout}\n{stderr}",
        run.status
    );
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("misuse checks:"))
        .expect("summary line");
    let passed: u32 = summary
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("passed count");
    assert!(
        summary.ends_with(" 0 failed") && passed > 300,
        "{summary}\n{stdout}"
    );
    assert!(!stderr.contains("Sanitizer"), "{stderr}");
}
