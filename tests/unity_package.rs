//! The Unity package is only usable if Unity imports it: every file and folder of a UPM
//! package needs a `.meta` with a unique GUID (Unity ignores files without one in an immutable
//! package), the manifest must be valid, and the native-plugin metas must target the platform
//! their folder names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

const PACKAGE: &str = "bindings/unity/com.udprelay.runtime";

fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(PACKAGE)
}

/// Every path below `dir`, skipping what Unity never imports (`.hidden`).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        out.push(path.clone());
        if path.is_dir() {
            walk(&path, out);
        }
    }
}

fn is_native_library(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    [".so", ".dll", ".dylib", ".a"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

#[test]
fn every_asset_has_a_meta_with_a_unique_guid() {
    let root = package_dir();
    let mut paths = Vec::new();
    walk(&root, &mut paths);
    let mut guids: HashMap<String, PathBuf> = HashMap::new();
    let mut metas = 0;
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let relative = path.strip_prefix(&root).unwrap();
        // Unity skips folders ending in `~` (Samples~): no meta for the folder itself.
        let top_level_tilde = relative.components().count() == 1 && name.ends_with('~');
        if let Some(asset) = name.strip_suffix(".meta") {
            metas += 1;
            let text = std::fs::read_to_string(path).unwrap();
            assert!(text.starts_with("fileFormatVersion: 2\n"), "{relative:?}");
            let guid = text
                .lines()
                .find_map(|l| l.strip_prefix("guid: "))
                .unwrap_or_else(|| panic!("{relative:?} has no guid"));
            assert!(
                guid.len() == 32
                    && guid
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
                "{relative:?}: guid {guid:?} is not 32 lowercase hex digits"
            );
            if let Some(other) = guids.insert(guid.to_string(), relative.to_path_buf()) {
                panic!("{relative:?} and {other:?} share guid {guid}");
            }
            let asset_path = path.with_file_name(asset);
            // Native libraries are build artifacts: their metas wait for the file.
            assert!(
                asset_path.exists() || is_native_library(&asset_path),
                "{relative:?} has no asset"
            );
            if asset_path.is_dir() {
                assert!(text.contains("folderAsset: yes"), "{relative:?}");
            }
        } else if !top_level_tilde {
            let meta = path.with_file_name(format!("{name}.meta"));
            assert!(
                meta.is_file(),
                "{relative:?} has no .meta: Unity would ignore it"
            );
        }
    }
    assert!(metas >= 20, "only {metas} .meta files");
}

#[test]
fn native_plugin_metas_target_their_platform() {
    let plugins = package_dir().join("Plugins");
    // (file, platform key that must be enabled, CPU setting of that platform)
    let expected = [
        (
            "Linux/x86_64/libudp_relay.so",
            "Standalone: Linux64",
            "x86_64",
        ),
        (
            "Windows/x86_64/udp_relay.dll",
            "Standalone: Win64",
            "x86_64",
        ),
        (
            "macOS/libudp_relay.dylib",
            "Standalone: OSXUniversal",
            "AnyCPU",
        ),
        ("iOS/libudp_relay.a", "iPhone: iOS", "AnyCPU"),
        (
            "Android/arm64-v8a/libudp_relay.so",
            "Android: Android",
            "ARM64",
        ),
    ];
    for (file, platform, cpu) in expected {
        let meta = std::fs::read_to_string(plugins.join(format!("{file}.meta")))
            .unwrap_or_else(|e| panic!("{file}.meta: {e}"));
        assert!(meta.contains("\nPluginImporter:\n"), "{file}");
        let block: Vec<&str> = meta
            .split("  - first:\n")
            .filter(|b| b.trim_start().starts_with(platform))
            .collect();
        assert_eq!(block.len(), 1, "{file}: one {platform} entry");
        assert!(
            block[0].contains("enabled: 1"),
            "{file}: {platform} enabled"
        );
        assert!(
            block[0].contains(&format!("CPU: {cpu}\n")),
            "{file}: CPU {cpu}"
        );
        // Only one platform (plus the matching editor for desktop) may load each file.
        let enabled = meta.matches("      enabled: 1").count();
        let desktop = platform.starts_with("Standalone");
        assert_eq!(
            enabled,
            if desktop { 2 } else { 1 },
            "{file}: enabled platforms"
        );
    }
}

#[test]
fn manifest_and_assembly_definition_are_valid() {
    let root = package_dir();
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("package.json")).unwrap()).unwrap();
    assert_eq!(manifest["name"], "com.udprelay.runtime");
    assert_eq!(
        manifest["version"],
        env!("CARGO_PKG_VERSION"),
        "package version follows the crate"
    );
    let mut listed = Vec::new();
    for sample in manifest["samples"].as_array().unwrap() {
        let path = root.join(sample["path"].as_str().unwrap());
        assert!(path.is_dir(), "sample {path:?}");
        listed.push(path);
    }
    // A sample folder the manifest does not list is invisible in the Package Manager.
    for entry in std::fs::read_dir(root.join("Samples~")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert!(
                listed.contains(&path),
                "{path:?} is not in package.json's samples"
            );
        }
    }
    let asmdef: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("Runtime/UdpRelay.Runtime.asmdef")).unwrap(),
    )
    .unwrap();
    assert_eq!(asmdef["name"], "UdpRelay.Runtime");
    assert_eq!(
        asmdef["allowUnsafeCode"], true,
        "the runtime uses fixed buffers"
    );
}
