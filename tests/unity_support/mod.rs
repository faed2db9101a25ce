//! Shared by the tests of the Unity package (tests/unity_package.rs on the sources,
//! tests/unity_tarball.rs on the UPM tarball): what Unity needs to import a package (a `.meta`
//! with a unique GUID for every file and folder) and which platform each native library's
//! import settings must enable, with the binary format that platform loads.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The executable format a platform loads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Format {
    /// ELF shared object; `e_machine` and 64-bit or not.
    Elf { machine: u16, is_64: bool },
    /// PE/COFF DLL for x86_64 (machine 0x8664).
    PeX64,
    /// Mach-O, thin 64-bit or universal.
    MachO,
    /// `ar` archive of objects (a static library).
    Archive,
}

/// A native library's place in `Plugins/` and the import settings it needs.
pub struct Plugin {
    /// Path below `Plugins/`.
    pub file: &'static str,
    /// PluginImporter platform key that must be the (only) one enabled.
    pub platform: &'static str,
    /// CPU setting of that platform.
    pub cpu: &'static str,
    pub format: Format,
}

const ELF_X86_64: u16 = 62;
const ELF_AARCH64: u16 = 183;
const ELF_ARM: u16 = 40;

/// Every native library the package has import settings for.
pub const PLUGINS: &[Plugin] = &[
    Plugin {
        file: "Linux/x86_64/libudp_relay.so",
        platform: "Standalone: Linux64",
        cpu: "x86_64",
        format: Format::Elf {
            machine: ELF_X86_64,
            is_64: true,
        },
    },
    Plugin {
        file: "Windows/x86_64/udp_relay.dll",
        platform: "Standalone: Win64",
        cpu: "x86_64",
        format: Format::PeX64,
    },
    Plugin {
        file: "macOS/libudp_relay.dylib",
        platform: "Standalone: OSXUniversal",
        cpu: "AnyCPU",
        format: Format::MachO,
    },
    Plugin {
        file: "iOS/libudp_relay.a",
        platform: "iPhone: iOS",
        cpu: "AnyCPU",
        format: Format::Archive,
    },
    Plugin {
        file: "Android/arm64-v8a/libudp_relay.so",
        platform: "Android: Android",
        cpu: "ARM64",
        format: Format::Elf {
            machine: ELF_AARCH64,
            is_64: true,
        },
    },
    Plugin {
        file: "Android/armeabi-v7a/libudp_relay.so",
        platform: "Android: Android",
        cpu: "ARMv7",
        format: Format::Elf {
            machine: ELF_ARM,
            is_64: false,
        },
    },
];

/// Every path below `dir`, skipping what Unity never imports (`.hidden`).
pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
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

pub fn is_native_library(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    [".so", ".dll", ".dylib", ".a"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Checks that every file and folder below `root` has a `.meta` with a unique lowercase GUID
/// and that every `.meta` has its asset; a native library's `.meta` may lack its file only
/// when `library_metas_may_wait` (the sources, where libraries are build artifacts). Returns
/// how many `.meta` files there are.
pub fn check_metas(root: &Path, library_metas_may_wait: bool) -> usize {
    let mut paths = Vec::new();
    walk(root, &mut paths);
    let mut guids: HashMap<String, PathBuf> = HashMap::new();
    let mut metas = 0;
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let relative = path.strip_prefix(root).unwrap();
        // Unity skips folders ending in `~` (Samples~, Documentation~): no meta for the
        // folder itself, and nothing inside Documentation~ is imported.
        if relative.starts_with("Documentation~") {
            continue;
        }
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
            assert!(
                asset_path.exists() || (library_metas_may_wait && is_native_library(&asset_path)),
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
    metas
}

/// Checks a library's `.meta` enables exactly its platform (plus the editor for desktop
/// platforms) with the right CPU.
pub fn check_plugin_meta(meta: &str, plugin: &Plugin) {
    let (file, platform, cpu) = (plugin.file, plugin.platform, plugin.cpu);
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

/// The format of a library's bytes, judged from its header.
pub fn format_of(bytes: &[u8]) -> Option<Format> {
    let u16_le = |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    let u32_le = |at: usize| Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    if bytes.starts_with(b"\x7fELF") {
        return Some(Format::Elf {
            machine: u16_le(18)?,
            is_64: *bytes.get(4)? == 2,
        });
    }
    if bytes.starts_with(b"MZ") {
        let pe = u32_le(0x3c)? as usize;
        if bytes.get(pe..pe + 4)? == b"PE\0\0" && u16_le(pe + 4)? == 0x8664 {
            return Some(Format::PeX64);
        }
        return None;
    }
    if bytes.starts_with(&[0xcf, 0xfa, 0xed, 0xfe]) || bytes.starts_with(&[0xca, 0xfe, 0xba, 0xbe])
    {
        return Some(Format::MachO);
    }
    if bytes.starts_with(b"!<arch>\n") {
        return Some(Format::Archive);
    }
    None
}
