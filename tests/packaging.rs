//! `scripts/install.sh` lays out an installation a C or C++ build finds by the usual means,
//! and programs built against it run: a C program through pkg-config, a C++ program (with the
//! installed C++ wrapper) through CMake's `find_package(udp_relay)`, linked shared and static.
//! The programs run without `LD_LIBRARY_PATH`, so the shared library is found by its soname
//! in the installed tree.
//!
//! The installation is made once per test run, with this test's cargo profile (a debug test
//! run installs the debug build, which cargo has already built).
#![cfg(target_os = "linux")]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use support::{have_program, profile_dir, repo_root, run_ok, scratch_dir, shared_library_soname};

/// The prefix `scripts/install.sh` installed into, made on first use.
fn installed() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let prefix = scratch_dir("install-prefix");
        let profile = profile_dir();
        let name = if profile.file_name().is_some_and(|n| n == "release") {
            "release"
        } else {
            "debug"
        };
        run_ok(
            Command::new("bash")
                .arg(repo_root().join("scripts/install.sh"))
                .arg("--prefix")
                .arg(&prefix)
                .args(["--profile", name])
                .env("CARGO_TARGET_DIR", profile.parent().unwrap()),
            "scripts/install.sh",
        );
        prefix
    })
}

fn require(program: &str) {
    assert!(
        have_program(program),
        "{program} not found: install it (.ci/install-deps.sh does)"
    );
}

/// Runs a program built against the installation with nothing pointing it at the library
/// but what the build recorded, and returns its output.
fn run_installed(exe: &Path) -> String {
    run_ok(
        Command::new(exe).env_remove("LD_LIBRARY_PATH"),
        &format!("running {}", exe.display()),
    )
}

/// The shared libraries `exe` records (`NEEDED` entries).
fn needed(exe: &Path) -> Vec<String> {
    let dynamic = run_ok(Command::new("readelf").arg("-d").arg(exe), "readelf -d");
    dynamic
        .lines()
        .filter_map(|l| l.split_once("Shared library: [")?.1.strip_suffix(']'))
        .map(String::from)
        .collect()
}

fn assert_ran(output: &str) {
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        output.contains(&format!(
            "udp_relay {version} (ABI {})",
            udp_relay::ffi::RELAY_ABI_VERSION
        )) && output.contains("relayed on port"),
        "unexpected output: {output}"
    );
}

#[test]
fn install_lays_out_include_lib_pkgconfig_and_cmake() {
    let prefix = installed();
    let soname = shared_library_soname();
    for (installed, original) in [
        ("include/udp_relay.h", "include/udp_relay.h"),
        ("include/udp_relay.hpp", "bindings/cpp/udp_relay.hpp"),
    ] {
        assert!(
            std::fs::read(prefix.join(installed)).unwrap()
                == std::fs::read(repo_root().join(original)).unwrap(),
            "{installed} is not {original}"
        );
    }
    for file in [
        "lib/libudp_relay.a",
        "lib/pkgconfig/udp_relay.pc",
        "lib/cmake/udp_relay/udp_relayConfig.cmake",
        "lib/cmake/udp_relay/udp_relayConfigVersion.cmake",
    ] {
        assert!(prefix.join(file).is_file(), "{file} not installed");
    }
    // The library under its soname, and the development link -ludp_relay finds.
    let library = prefix.join("lib").join(&soname);
    assert!(
        library.is_file() && !library.is_symlink(),
        "{soname} not installed"
    );
    assert_eq!(
        std::fs::read_link(prefix.join("lib/libudp_relay.so")).expect("lib/libudp_relay.so link"),
        Path::new(&soname)
    );
    let dynamic = run_ok(
        Command::new("readelf").arg("-d").arg(&library),
        "readelf -d",
    );
    assert!(
        dynamic.contains(&format!("Library soname: [{soname}]")),
        "{soname} does not carry its soname:\n{dynamic}"
    );
    // Nothing refers to the build tree: the files find the rest relative to themselves.
    for file in [
        "lib/pkgconfig/udp_relay.pc",
        "lib/cmake/udp_relay/udp_relayConfig.cmake",
    ] {
        let text = std::fs::read_to_string(prefix.join(file)).unwrap();
        assert!(
            !text.contains('@') && !text.contains(prefix.to_str().unwrap()),
            "{file} has an unfilled placeholder or an absolute path:\n{text}"
        );
    }
}

#[test]
fn c_program_builds_through_pkg_config_and_runs() {
    require("pkg-config");
    let prefix = installed();
    let pkg_config = |args: &[&str]| {
        run_ok(
            Command::new("pkg-config")
                .args(args)
                .arg("udp_relay")
                .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")),
            "pkg-config",
        )
    };
    assert_eq!(
        pkg_config(&["--modversion"]).trim(),
        env!("CARGO_PKG_VERSION")
    );
    let flags = pkg_config(&["--cflags", "--libs"]);
    let libdir = pkg_config(&["--variable=libdir"]);
    let exe = scratch_dir("packaging-pkg-config").join("consumer");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    run_ok(
        Command::new(cc)
            .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
            .arg(repo_root().join("tests/packaging/pkg_config_consumer.c"))
            .args(flags.split_whitespace())
            .arg(format!("-Wl,-rpath,{}", libdir.trim()))
            .arg("-o")
            .arg(&exe),
        "compiling with pkg-config's flags",
    );
    assert!(
        needed(&exe).contains(&shared_library_soname()),
        "the program does not record the soname: {:?}",
        needed(&exe)
    );
    assert_ran(&run_installed(&exe));
}

/// Configures and builds the CMake consumer against the installation, returning the
/// program, or the configure step's output when it fails.
fn cmake_build(name: &str, options: &[String]) -> Result<PathBuf, String> {
    require("cmake");
    let build = scratch_dir(&format!("packaging-cmake-{name}"));
    let configure = Command::new("cmake")
        .arg("-S")
        .arg(repo_root().join("tests/packaging/cmake_consumer"))
        .arg("-B")
        .arg(&build)
        .arg(format!("-DCMAKE_PREFIX_PATH={}", installed().display()))
        .args(options)
        .output()
        .expect("run cmake");
    if !configure.status.success() {
        return Err(format!(
            "{}{}",
            String::from_utf8_lossy(&configure.stdout),
            String::from_utf8_lossy(&configure.stderr)
        ));
    }
    run_ok(
        Command::new("cmake").arg("--build").arg(&build),
        &format!("building the CMake consumer ({name})"),
    );
    Ok(build.join("consumer"))
}

/// `major.minor` of this package, as a consumer asks for it.
fn wanted_version() -> String {
    let mut parts = env!("CARGO_PKG_VERSION").split('.');
    format!("{}.{}", parts.next().unwrap(), parts.next().unwrap())
}

#[test]
fn cpp_program_builds_through_cmake_against_the_shared_library() {
    let exe = cmake_build(
        "shared",
        &[format!("-DWANTED_VERSION={}", wanted_version())],
    )
    .unwrap_or_else(|output| panic!("cmake configure failed:\n{output}"));
    assert!(
        needed(&exe).contains(&shared_library_soname()),
        "udp_relay::udp_relay is not the shared library: {:?}",
        needed(&exe)
    );
    assert_ran(&run_installed(&exe));
}

#[test]
fn cpp_program_builds_through_cmake_against_the_static_library() {
    let exe = cmake_build(
        "static",
        &[
            format!("-DWANTED_VERSION={}", wanted_version()),
            "-DUDP_RELAY_USE_STATIC_LIBS=ON".into(),
        ],
    )
    .unwrap_or_else(|output| panic!("cmake configure failed:\n{output}"));
    assert!(
        !needed(&exe)
            .iter()
            .any(|lib| lib.starts_with("libudp_relay")),
        "udp_relay::udp_relay with UDP_RELAY_USE_STATIC_LIBS is not the static library: {:?}",
        needed(&exe)
    );
    assert_ran(&run_installed(&exe));
}

#[test]
fn cmake_refuses_a_version_it_is_not_compatible_with() {
    let version = env!("CARGO_PKG_VERSION");
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap());
    let (major, minor) = (parts.next().unwrap(), parts.next().unwrap());
    let mut incompatible = vec![format!("{}.0", major + 1)];
    if major == 0 {
        // While the major version is 0, each minor version may break the API.
        incompatible.push(format!("0.{}", minor + 1));
    }
    for wanted in incompatible {
        let output = cmake_build(
            &format!("want-{wanted}"),
            &[format!("-DWANTED_VERSION={wanted}")],
        )
        .err()
        .unwrap_or_else(|| panic!("find_package(udp_relay {wanted}) accepted {version}"));
        assert!(
            output.contains("not accepted") || output.contains("compatible"),
            "find_package(udp_relay {wanted}) failed for another reason:\n{output}"
        );
    }
}

/// Global definitions in the static library as `(strong, name)`, read with `readelf` (GNU
/// `nm` may fail on the standard library's members, which carry LLVM bitcode).
fn static_definitions(archive: &Path) -> Vec<(bool, String)> {
    let symbols = run_ok(
        Command::new("readelf").arg("-sW").arg(archive),
        "readelf -sW (binutils)",
    );
    symbols
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let defined = f.len() >= 8 && f[0].ends_with(':') && f[6] != "UND";
            (defined && matches!(f[4], "GLOBAL" | "WEAK"))
                .then(|| (f[4] == "GLOBAL", f[7].to_string()))
        })
        .collect()
}

/// What the README says a game linking the static library must know rests on this: besides
/// the header's `relay_*` functions, every strong global name is Rust-mangled (so it can only
/// meet the same name from the same Rust version), the unwinding routine
/// `rust_eh_personality`, or a compiler-rt helper (`__addvdi3`...); everything else is weak.
#[test]
fn static_library_defines_only_the_api_and_rust_internals() {
    let prefix = installed();
    let definitions = static_definitions(&prefix.join("lib/libudp_relay.a"));
    let api: std::collections::BTreeSet<&str> = definitions
        .iter()
        .map(|(_, name)| name.as_str())
        .filter(|name| name.starts_with("relay_"))
        .collect();
    let shared_exports = run_ok(
        Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(prefix.join("lib").join(shared_library_soname())),
        "nm -D",
    );
    let shared: std::collections::BTreeSet<&str> = shared_exports
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(
        api, shared,
        "relay_* in the static library and the shared one differ"
    );

    let mangled = |name: &str| ["_ZN", "_R", "anon."].iter().any(|p| name.starts_with(p));
    let foreign: Vec<&str> = definitions
        .iter()
        .filter(|(strong, name)| {
            *strong
                && !name.starts_with("relay_")
                && !mangled(name)
                && name != "rust_eh_personality"
                && !name.starts_with("__")
        })
        .map(|(_, name)| name.as_str())
        .collect();
    assert!(
        foreign.is_empty(),
        "the static library defines plain names a C or C++ program might too: {foreign:?}"
    );
    let others = definitions.iter().filter(|(_, n)| !n.starts_with("relay_"));
    let (strong, weak): (Vec<_>, Vec<_>) = others.partition(|(strong, _)| *strong);
    eprintln!(
        "libudp_relay.a: {} global definitions, {} relay_*, {} other strong, {} weak",
        definitions.len(),
        definitions.len() - strong.len() - weak.len(),
        strong.len(),
        weak.len()
    );
}

/// A game may link a second Rust static library built by the same Rust version beside
/// `libudp_relay.a` (the README's measured claim): the two standard libraries have the same
/// names and the linker keeps one copy. Built with the `rustc` this test run uses.
#[test]
fn static_library_links_beside_another_rust_static_library() {
    let prefix = installed();
    let scratch = scratch_dir("packaging-two-staticlibs");
    let other = scratch.join("other.rs");
    std::fs::write(
        &other,
        "#[no_mangle]\npub extern \"C\" fn other_total(n: u32) -> u64 {\n\
         let v: Vec<u64> = (0..u64::from(n)).collect();\n\
         let t = std::thread::spawn(move || v.iter().sum::<u64>()).join().unwrap();\n\
         println!(\"other_total({n}) = {t}\");\n    t\n}\n",
    )
    .unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    run_ok(
        Command::new(rustc)
            .args([
                "--edition",
                "2021",
                "--crate-type",
                "staticlib",
                "--crate-name",
                "other",
            ])
            .arg(&other)
            .arg("--out-dir")
            .arg(&scratch),
        "building a second Rust static library",
    );
    let main = scratch.join("main.c");
    std::fs::write(
        &main,
        "#include <stdio.h>\n#include <udp_relay.h>\n\
         unsigned long long other_total(unsigned n);\n\
         int main(void) {\n  RelayConfig c; RelayHandle *r = NULL;\n\
         relay_config_default(&c); c.bind_address = \"127.0.0.1\"; c.port = 0;\n\
         if (relay_start(&c, &r) != RELAY_STATUS_OK) return 1;\n\
         printf(\"udp_relay %s (ABI %u) relayed on port %u\\n\", relay_version(),\n\
                relay_abi_version(), (unsigned)relay_local_port(r));\n\
         if (other_total(10) != 45) return 1;\n  return relay_stop(r) == RELAY_STATUS_OK ? 0 : 1;\n}\n",
    )
    .unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let system_libs = support::STATIC_SYSTEM_LIBS;
    for (order, archives) in [
        (
            "udp_relay-first",
            [
                prefix.join("lib/libudp_relay.a"),
                scratch.join("libother.a"),
            ],
        ),
        (
            "other-first",
            [
                scratch.join("libother.a"),
                prefix.join("lib/libudp_relay.a"),
            ],
        ),
    ] {
        let exe = scratch.join(order);
        run_ok(
            Command::new(&cc)
                .args(["-std=c99", "-Wall", "-Werror", "-I"])
                .arg(prefix.join("include"))
                .arg(&main)
                .args(&archives)
                .args(system_libs)
                .arg("-o")
                .arg(&exe),
            &format!("linking two Rust static libraries ({order})"),
        );
        let output = run_installed(&exe);
        assert_ran(&output);
        assert!(output.contains("other_total(10) = 45"), "{output}");
    }
}
