//! The UPM tarball `scripts/unity-package.sh` writes, as a Unity user gets it: unpacked, it
//! must hold the package under `package/` with its manifest, changelog, license and manual;
//! every native library must sit in its `Plugins/` folder with a `.meta` enabling exactly that
//! platform, in the binary format that platform loads; no `.meta` may lack its asset (Unity
//! complains about each in a read-only package); and the C# sources it carries must compile
//! and pass the binding tests on Mono against the Linux library it carries.
//!
//! `.ci/run` builds the tarball and runs this with `UDP_RELAY_UPM_TARBALL` set to its path.
//! Without that variable the test says why it did nothing and passes.

mod csharp_support;
mod support;
mod unity_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::{have_program, run_ok, scratch_dir};
use unity_support::{PLUGINS, check_metas, check_plugin_meta, format_of};

/// Unpacks the tarball named by `UDP_RELAY_UPM_TARBALL` and returns its `package/` folder.
fn unpacked_package() -> Option<PathBuf> {
    let Some(tarball) = std::env::var_os("UDP_RELAY_UPM_TARBALL") else {
        eprintln!(
            "unity_tarball: not run (UDP_RELAY_UPM_TARBALL is unset); \
             scripts/unity-package.sh builds the tarball and .ci/run checks it"
        );
        return None;
    };
    let dir = scratch_dir("unity-tarball");
    run_ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&dir),
        "unpacking the UPM tarball",
    );
    let top: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(top, ["package"], "everything under package/");
    Some(dir.join("package"))
}

/// The libraries this machine's toolchains build must be in the tarball: Linux x86_64
/// always, Windows x86_64 where mingw-w64 is installed.
fn required_libraries() -> Vec<&'static str> {
    let mut required = vec!["Linux/x86_64/libudp_relay.so"];
    if have_program("x86_64-w64-mingw32-gcc") {
        required.push("Windows/x86_64/udp_relay.dll");
    }
    required
}

fn check_layout(package: &Path) {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(package.join("package.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["name"], "com.udprelay.runtime");
    assert_eq!(manifest["version"], env!("CARGO_PKG_VERSION"));
    for file in [
        "README.md",
        "CHANGELOG.md",
        "LICENSE.md",
        "Documentation~/com.udprelay.runtime.md",
        "Runtime/UdpRelay.Runtime.asmdef",
    ] {
        assert!(package.join(file).is_file(), "no {file} in the tarball");
    }
    // Strict: a library's .meta without its library is an orphan here.
    check_metas(package, false);
}

fn check_libraries(package: &Path) {
    let plugins = package.join("Plugins");
    let mut present = Vec::new();
    for plugin in PLUGINS {
        let library = plugins.join(plugin.file);
        if !library.is_file() {
            continue;
        }
        let meta = std::fs::read_to_string(plugins.join(format!("{}.meta", plugin.file)))
            .unwrap_or_else(|e| panic!("{}.meta: {e}", plugin.file));
        check_plugin_meta(&meta, plugin);
        let bytes = std::fs::read(&library).unwrap();
        assert_eq!(
            format_of(&bytes),
            Some(plugin.format),
            "{} is not what {} loads",
            plugin.file,
            plugin.platform
        );
        present.push(plugin.file);
    }
    // Nothing else that looks like a library, anywhere.
    let mut paths = Vec::new();
    unity_support::walk(package, &mut paths);
    for path in paths {
        if unity_support::is_native_library(&path) {
            let relative = path.strip_prefix(&plugins).unwrap_or(&path);
            assert!(
                present.iter().any(|p| Path::new(p) == relative),
                "{} is no library the package has import settings for",
                path.display()
            );
        }
    }
    for required in required_libraries() {
        assert!(present.contains(&required), "the tarball has no {required}");
    }
    eprintln!("unity_tarball: libraries {present:?}");
}

#[test]
fn upm_tarball_holds_the_package_with_its_libraries() {
    let Some(package) = unpacked_package() else {
        return;
    };
    check_layout(&package);
    check_libraries(&package);

    // The C# sources as packed, on Mono, against the Linux library as packed.
    if !csharp_support::mono_available() {
        return;
    }
    let out_dir = scratch_dir("unity-tarball-csharp");
    let exe = csharp_support::compile(&package.join("Runtime"), &out_dir);
    csharp_support::run_tests(&exe, &package.join("Plugins/Linux/x86_64"), None, 30);
}
