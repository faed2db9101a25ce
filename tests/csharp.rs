//! The C# bindings (`bindings/unity/com.udprelay.runtime/Runtime/`, the same sources Unity
//! compiles) are compiled with Mono's `mcs` together with the test program in
//! `bindings/csharp/tests/`, and run on `mono` against the library cargo just built. The
//! program prints `N passed, N failed`; it is also run against a stand-in library with a
//! different ABI version, and with no library at all, to check both are reported clearly.
//!
//! Without `mcs`/`mono` the test warns and passes, except on CI (`CI=true`), where it fails.

mod csharp_support;
mod support;

use std::process::Command;

use csharp_support::{compile, cs_files, mono_available, run_tests};
use support::{native_library_dir, run_ok, scratch_dir};

const RUNTIME_DIR: &str = "bindings/unity/com.udprelay.runtime/Runtime";
const SAMPLES_DIR: &str = "bindings/unity/com.udprelay.runtime/Samples~";
const UNITY_STUB_DIR: &str = "bindings/csharp/unity-stub";
const SAMPLE_DRIVER_DIR: &str = "bindings/csharp/sample-driver";

/// The runtime sources and the package sample compile as Unity would see them (its defines,
/// the AOT attribute from UnityEngine), and iOS builds bind to the statically linked library.
#[test]
fn unity_sources_compile_with_unity_defines() {
    if !mono_available() {
        return;
    }
    let root = support::repo_root();
    let out_dir = scratch_dir("csharp-unity");
    for (platform, defines, static_link) in [
        (
            "standalone",
            "UNITY_5_3_OR_NEWER;UNITY_2021_2_OR_NEWER",
            false,
        ),
        (
            "ios",
            "UNITY_5_3_OR_NEWER;UNITY_2021_2_OR_NEWER;UNITY_IOS",
            true,
        ),
        // The Editor: the log handler also unhooks before an assembly reload (UnityEditor).
        (
            "editor",
            "UNITY_5_3_OR_NEWER;UNITY_2021_2_OR_NEWER;UNITY_EDITOR",
            false,
        ),
    ] {
        let dll = out_dir.join(format!("UdpRelay.Unity.{platform}.dll"));
        let mut mcs = Command::new("mcs");
        mcs.args([
            "-langversion:7.2",
            "-unsafe",
            "-warnaserror",
            "-target:library",
        ])
        .arg(format!("-define:{defines}"))
        .arg(format!("-out:{}", dll.display()))
        .args(cs_files(&root.join(RUNTIME_DIR)))
        .args(cs_files(&root.join(SAMPLES_DIR)))
        .args(cs_files(&root.join(UNITY_STUB_DIR)));
        run_ok(&mut mcs, &format!("compiling for Unity ({platform})"));
        let bytes = std::fs::read(&dll).unwrap();
        let has_internal = bytes.windows(10).any(|w| w == b"__Internal");
        assert_eq!(
            has_internal,
            static_link,
            "{platform}: DllImport library should be {}",
            if static_link {
                "__Internal"
            } else {
                "udp_relay"
            }
        );
    }
}

/// The RelayClient sample runs as Unity would run it (OnEnable, Update per frame, OnDisable,
/// called by a driver): two components join one channel through a relay and each logs the
/// hello the other sent once established.
#[test]
fn unity_client_sample_joins_a_channel() {
    if !mono_available() {
        return;
    }
    let root = support::repo_root();
    let out_dir = scratch_dir("csharp-sample");
    let exe = out_dir.join("RunClientSample.exe");
    let mut mcs = Command::new("mcs");
    mcs.args(["-langversion:7.2", "-unsafe", "-warnaserror"])
        .arg("-define:UNITY_5_3_OR_NEWER;UNITY_2021_2_OR_NEWER")
        .arg(format!("-out:{}", exe.display()))
        .args(cs_files(&root.join(RUNTIME_DIR)))
        .args(cs_files(&root.join(SAMPLES_DIR)))
        .args(cs_files(&root.join(UNITY_STUB_DIR)))
        .args(cs_files(&root.join(SAMPLE_DRIVER_DIR)));
    run_ok(&mut mcs, "compiling the Unity samples with their driver");
    let output = Command::new("mono")
        .arg(&exe)
        .env("LD_LIBRARY_PATH", native_library_dir())
        .output()
        .expect("run mono");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    assert!(output.status.success(), "driver failed:\n{text}");
    assert!(
        !text.contains("[Error]"),
        "the sample logged an error:\n{text}"
    );
    // "[Log] udp-relay: joining channel <guid> through <relay> from UDP port <port>"
    let ports: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("[Log] udp-relay: joining channel "))
        .filter_map(|l| l.rsplit(' ').next())
        .collect();
    assert_eq!(ports.len(), 2, "two components joined:\n{text}");
    for port in ports {
        let hello = format!("bytes: hello from UDP port {port}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("[Log] udp-relay: received ") && l.ends_with(&hello)),
            "the hello from port {port} was not logged by the other component:\n{text}"
        );
    }
}

#[test]
fn csharp_bindings_on_mono() {
    if !mono_available() {
        return;
    }
    let out_dir = scratch_dir("csharp");
    let exe = compile(&support::repo_root().join(RUNTIME_DIR), &out_dir);

    run_tests(&exe, &native_library_dir(), None, 30);

    // A stand-in library that reports another ABI version must be refused on first use.
    let fake_dir = out_dir.join("fake-abi");
    std::fs::create_dir_all(&fake_dir).unwrap();
    let fake_source = fake_dir.join("fake_udp_relay.c");
    std::fs::write(
        &fake_source,
        "#include <stdint.h>\n\
         uint32_t relay_abi_version(void) { return 999; }\n\
         const char *relay_version(void) { return \"9.9.9-fake\"; }\n",
    )
    .unwrap();
    let mut cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
    cc.args(["-shared", "-fPIC", "-o"])
        .arg(fake_dir.join(support::shared_library_name()))
        .arg(&fake_source);
    run_ok(&mut cc, "compiling the stand-in library");
    run_tests(&exe, &fake_dir, Some("--expect-abi-mismatch"), 1);

    // No library at all: a DllNotFoundException that says where the file goes.
    let empty_dir = out_dir.join("no-library");
    std::fs::create_dir_all(&empty_dir).unwrap();
    run_tests(&exe, &empty_dir, Some("--expect-missing-library"), 1);
}
