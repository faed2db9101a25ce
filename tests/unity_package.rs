//! The Unity package is only usable if Unity imports it: every file and folder of a UPM
//! package needs a `.meta` with a unique GUID (Unity ignores files without one in an immutable
//! package), the manifest must be valid, and the native-plugin metas must target the platform
//! their folder names.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod unity_support;
use unity_support::{PLUGINS, check_metas, check_plugin_meta};

const PACKAGE: &str = "bindings/unity/com.udprelay.runtime";

fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(PACKAGE)
}

#[test]
fn every_asset_has_a_meta_with_a_unique_guid() {
    // Native libraries are build artifacts: their metas wait for the file.
    let metas = check_metas(&package_dir(), true);
    assert!(metas >= 20, "only {metas} .meta files");
}

#[test]
fn native_plugin_metas_target_their_platform() {
    let plugins = package_dir().join("Plugins");
    for plugin in PLUGINS {
        let meta = std::fs::read_to_string(plugins.join(format!("{}.meta", plugin.file)))
            .unwrap_or_else(|e| panic!("{}.meta: {e}", plugin.file));
        check_plugin_meta(&meta, plugin);
    }
}

#[test]
fn package_has_its_changelog_license_and_manual() {
    let root = package_dir();
    let changelog = std::fs::read_to_string(root.join("CHANGELOG.md")).unwrap();
    assert!(
        changelog.contains(&format!("## [{}]", env!("CARGO_PKG_VERSION"))),
        "CHANGELOG.md has no entry for this version"
    );
    let license = std::fs::read_to_string(root.join("LICENSE.md")).unwrap();
    assert!(license.contains("MIT License") && license.contains("Apache License"));
    assert!(
        root.join("Documentation~/com.udprelay.runtime.md")
            .is_file()
    );
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

/// The name a `public` declaration line declares: a type, member or delegate (None for an
/// operator, which has no name to look up).
fn declared_name(line: &str) -> Option<String> {
    let line = line.trim().replace("[]", "");
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.contains(&"operator") {
        return None;
    }
    for keyword in ["class", "struct", "enum"] {
        if let Some(at) = words.iter().position(|w| *w == keyword) {
            return words.get(at + 1).map(|w| w.to_string());
        }
    }
    let end = line.find(['(', ';', '=', '{', '[']).unwrap_or(line.len());
    line[..end].split_whitespace().last().map(str::to_string)
}

/// Every public type and member of the C# runtime, with each public enum's members.
fn public_names(dir: &Path, names: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            public_names(&path, names);
            continue;
        }
        if path.extension().is_none_or(|e| e != "cs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut in_enum = false;
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with("public ") {
                in_enum = trimmed.contains(" enum ");
                names.extend(declared_name(trimmed).map(|n| (n, path.clone())));
            } else if in_enum && trimmed.starts_with('}') {
                in_enum = false;
            } else if in_enum && trimmed.contains(" = ") && !trimmed.starts_with("//") {
                let name = trimmed.split(" = ").next().unwrap().trim();
                names.push((name.to_string(), path.clone()));
            }
        }
    }
}

/// Whether `text` has `name` as a whole identifier.
fn mentions(text: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

#[test]
fn readme_lists_every_public_member() {
    let root = package_dir();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let reference = &readme[readme
        .find("## API reference")
        .expect("README.md has an API reference")..];
    let mut names = Vec::new();
    public_names(&root.join("Runtime"), &mut names);
    assert!(names.len() > 200, "only {} public names found", names.len());
    let missing: Vec<String> = names
        .iter()
        .filter(|(name, _)| !mentions(reference, name))
        .map(|(name, path)| format!("{name} ({})", path.file_name().unwrap().to_string_lossy()))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md's API reference does not name: {}",
        missing.join(", ")
    );
}
