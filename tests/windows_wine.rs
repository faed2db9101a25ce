//! The Windows library (x86_64-pc-windows-gnu, built by `scripts/cross-build.sh`) from C: the
//! C examples and the C ABI misuse program are compiled with mingw-w64 against
//! `include/udp_relay.h`, linked to `udp_relay.dll` (through its import library) and to the
//! static `libudp_relay.a`, and run under Wine (`scripts/wine-run.sh`), driven from here over
//! real UDP on 127.0.0.1 by the same scenarios as the Linux builds (`c_scenarios/`).
//!
//! `scripts/cross-test.sh` runs this with `UDP_RELAY_WINDOWS_LIB_DIR` pointing at the
//! Windows build. Without that variable the tests print why they did nothing and pass: a plain
//! `cargo test` does not build for Windows.
#![cfg(target_os = "linux")]

mod c_scenarios;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{repo_root, run_ok, scratch_dir};

/// The mingw-w64 C compiler for x86_64 Windows.
const MINGW_CC: &str = "x86_64-w64-mingw32-gcc";

/// Windows libraries a static libudp_relay.a needs, as printed by `cargo rustc --target
/// x86_64-pc-windows-gnu --crate-type staticlib -- --print native-static-libs`.
const STATIC_SYSTEM_LIBS: &[&str] = &[
    "-lkernel32",
    "-lntdll",
    "-luserenv",
    "-lws2_32",
    "-ldbghelp",
];

/// The directory holding udp_relay.dll, libudp_relay.dll.a and libudp_relay.a, or None
/// (after saying so) when this run was not asked to test the Windows build.
fn windows_lib_dir() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("UDP_RELAY_WINDOWS_LIB_DIR") else {
        eprintln!(
            "windows_wine: not run (UDP_RELAY_WINDOWS_LIB_DIR is unset); \
             scripts/cross-test.sh builds the Windows library and runs these under Wine"
        );
        return None;
    };
    let dir = PathBuf::from(dir);
    for file in ["udp_relay.dll", "libudp_relay.dll.a", "libudp_relay.a"] {
        assert!(
            dir.join(file).is_file(),
            "{} has no {file}: build it with scripts/cross-build.sh x86_64-pc-windows-gnu",
            dir.display()
        );
    }
    Some(dir)
}

#[derive(Clone, Copy)]
enum Link {
    /// Against udp_relay.dll, copied next to the program (where Windows looks first).
    Shared,
    /// Against libudp_relay.a: the program carries the library and needs no DLL.
    Static,
}

/// Compiles `source` (relative to the repository) for Windows into `<name>.exe`.
fn build(lib_dir: &Path, source: &str, name: &str, link: Link, extra: &[&str]) -> PathBuf {
    let root = repo_root();
    let out_dir = scratch_dir(&format!("windows-{name}"));
    let exe = out_dir.join(format!("{name}.exe"));
    let mut cc = Command::new(MINGW_CC);
    cc.args([
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-O1",
    ])
    .arg("-I")
    .arg(root.join("include"))
    .arg(root.join(source))
    .arg("-o")
    .arg(&exe);
    match link {
        Link::Shared => {
            cc.arg(format!("-L{}", lib_dir.display()))
                .arg("-ludp_relay");
            std::fs::copy(lib_dir.join("udp_relay.dll"), out_dir.join("udp_relay.dll")).unwrap();
        }
        Link::Static => {
            cc.arg(lib_dir.join("libudp_relay.a"))
                .args(STATIC_SYSTEM_LIBS);
        }
    }
    cc.args(extra);
    run_ok(&mut cc, &format!("compiling {source} with {MINGW_CC}"));
    exe
}

/// A command running `exe` under Wine, from the program's own directory.
fn under_wine(exe: &Path) -> Command {
    let mut command = Command::new(repo_root().join("scripts/wine-run.sh"));
    command.arg(exe).current_dir(exe.parent().unwrap());
    command
}

fn embedded_host(link: Link, name: &str) {
    let Some(lib_dir) = windows_lib_dir() else {
        return;
    };
    let exe = build(&lib_dir, "examples/c/embedded_host.c", name, link, &[]);
    // SIGINT reaches the program as Ctrl-C: Wine turns it into a CTRL_C_EVENT.
    c_scenarios::embedded_host_relays_two_peers(&|| under_wine(&exe));
}

fn client_modes(link: Link, name: &str) {
    let Some(lib_dir) = windows_lib_dir() else {
        return;
    };
    let exe = build(
        &lib_dir,
        "examples/c/client_modes.c",
        name,
        link,
        &["-lws2_32"],
    );
    c_scenarios::client_modes_exchange(&|| under_wine(&exe));
}

#[test]
fn embedded_host_on_windows_relays_two_peers() {
    embedded_host(Link::Shared, "embedded_host");
}

#[test]
fn embedded_host_on_windows_linked_statically_relays_two_peers() {
    embedded_host(Link::Static, "embedded_host_static");
}

#[test]
fn client_modes_on_windows_exchange_through_a_relay() {
    client_modes(Link::Shared, "client_modes");
}

#[test]
fn client_modes_on_windows_linked_statically() {
    client_modes(Link::Static, "client_modes_static");
}

/// Every C entry point called with NULL, short buffers, bad values and dead handles (no
/// sanitizers on mingw-w64: the checks are the program's own).
#[test]
fn every_entry_point_survives_misuse_on_windows() {
    let Some(lib_dir) = windows_lib_dir() else {
        return;
    };
    let exe = build(
        &lib_dir,
        "tests/c/ffi_misuse.c",
        "ffi_misuse",
        Link::Shared,
        &[],
    );
    let out = run_ok(&mut under_wine(&exe), "ffi_misuse under Wine");
    c_scenarios::check_misuse_summary(&out);
}
