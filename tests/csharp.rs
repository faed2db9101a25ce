//! The C# bindings (`bindings/unity/com.udprelay.runtime/Runtime/`, the same sources Unity
//! compiles) are compiled with Mono's `mcs` together with the test program in
//! `bindings/csharp/tests/`, and run on `mono` against the library cargo just built. The
//! program prints `N passed, N failed`; it is also run against a stand-in library with a
//! different ABI version, and with no library at all, to check both are reported clearly.
//!
//! Without `mcs`/`mono` the test warns and passes, except on CI (`CI=true`), where it fails.

mod support;

use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{have_program, native_library_dir, run_ok, scratch_dir};
use udp_relay::ffi::{
    RelayAddress, RelayChannelCounters, RelayClientConfig, RelayConfig, RelayEvent, RelayGuid,
    RelayStats,
};

const RUNTIME_DIR: &str = "bindings/unity/com.udprelay.runtime/Runtime";
const TESTS_DIR: &str = "bindings/csharp/tests";
const SAMPLES_DIR: &str = "bindings/unity/com.udprelay.runtime/Samples~";
const UNITY_STUB_DIR: &str = "bindings/csharp/unity-stub";
const SAMPLE_DRIVER_DIR: &str = "bindings/csharp/sample-driver";

/// Returns false (after a loud warning) when Mono is missing outside CI.
fn mono_available() -> bool {
    let missing: Vec<&str> = ["mcs", "mono"]
        .into_iter()
        .filter(|p| !have_program(p))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "C# binding tests need {} on PATH. Install them with: \
         apt-get install mono-mcs mono-runtime (or run .ci/install-deps.sh)",
        missing.join(" and ")
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message}");
    }
    eprintln!(
        "\n{bar}\nWARNING: SKIPPING THE C# TESTS. {message}\n{bar}\n",
        bar = "!".repeat(78)
    );
    false
}

/// Sizes and field offsets of the C structs, as `Type=size;Type.Field=offset` with the C#
/// mirror's names, for the test program to compare with `Marshal.SizeOf`/`OffsetOf`.
fn native_layout() -> String {
    let entries: Vec<(&str, usize)> = vec![
        ("RelayConfig", size_of::<RelayConfig>()),
        (
            "RelayConfig.BindAddress",
            offset_of!(RelayConfig, bind_address),
        ),
        (
            "RelayConfig.SecretKeyLength",
            offset_of!(RelayConfig, secret_key_len),
        ),
        ("RelayConfig.Port", offset_of!(RelayConfig, port)),
        (
            "RelayConfig.MaxChannels",
            offset_of!(RelayConfig, max_channels),
        ),
        (
            "RelayConfig.MaxPendingEvents",
            offset_of!(RelayConfig, max_pending_events),
        ),
        (
            "RelayConfig.RequireTokens",
            offset_of!(RelayConfig, require_tokens),
        ),
        ("RelayStats", size_of::<RelayStats>()),
        (
            "RelayStats.EventsDropped",
            offset_of!(RelayStats, events_dropped),
        ),
        (
            "RelayStats.PeersRebound",
            offset_of!(RelayStats, peers_rebound),
        ),
        ("RelayGuid", size_of::<RelayGuid>()),
        ("RelayGuid.Lo", offset_of!(RelayGuid, lo)),
        ("RelayChannelCounters", size_of::<RelayChannelCounters>()),
        (
            "RelayChannelCounters.Dropped",
            offset_of!(RelayChannelCounters, dropped),
        ),
        ("RelayAddress", size_of::<RelayAddress>()),
        ("RelayAddress.ScopeId", offset_of!(RelayAddress, scope_id)),
        ("RelayAddress.Ip", offset_of!(RelayAddress, ip)),
        ("RelayEvent", size_of::<RelayEvent>()),
        (
            "RelayEvent.CloseReason",
            offset_of!(RelayEvent, close_reason),
        ),
        ("RelayEvent.Guid", offset_of!(RelayEvent, guid)),
        ("RelayEvent.PeerA", offset_of!(RelayEvent, peer_a)),
        ("RelayEvent.PeerB", offset_of!(RelayEvent, peer_b)),
        ("RelayEvent.Counters", offset_of!(RelayEvent, counters)),
        ("RelayEvent.LifetimeMs", offset_of!(RelayEvent, lifetime_ms)),
        ("RelayClientConfig", size_of::<RelayClientConfig>()),
        (
            "RelayClientConfig.RetryIntervalMs",
            offset_of!(RelayClientConfig, retry_interval_ms),
        ),
        (
            "RelayClientConfig.RelayAddress",
            offset_of!(RelayClientConfig, relay_address),
        ),
        (
            "RelayClientConfig.Guid",
            offset_of!(RelayClientConfig, guid),
        ),
        (
            "RelayClientConfig.SecretKey",
            offset_of!(RelayClientConfig, secret_key),
        ),
        (
            "RelayClientConfig.SecretKeyLength",
            offset_of!(RelayClientConfig, secret_key_len),
        ),
        (
            "RelayClientConfig.RetryBackoffMaxMs",
            offset_of!(RelayClientConfig, retry_backoff_max_ms),
        ),
        (
            "RelayClientConfig.HandshakeTimeoutMs",
            offset_of!(RelayClientConfig, handshake_timeout_ms),
        ),
        (
            "RelayClientConfig.KeepaliveIntervalMs",
            offset_of!(RelayClientConfig, keepalive_interval_ms),
        ),
        (
            "RelayClientConfig.MaxQueuedDatagrams",
            offset_of!(RelayClientConfig, max_queued_datagrams),
        ),
        (
            "RelayClientConfig.RecvBufferBytes",
            offset_of!(RelayClientConfig, recv_buffer_bytes),
        ),
        (
            "RelayClientConfig.SendBufferBytes",
            offset_of!(RelayClientConfig, send_buffer_bytes),
        ),
        (
            "RelayClientConfig.Token",
            offset_of!(RelayClientConfig, token),
        ),
        (
            "RelayClientConfig.TokenLength",
            offset_of!(RelayClientConfig, token_len),
        ),
        (
            "RelayClientConfig.PeerTimeoutMs",
            offset_of!(RelayClientConfig, peer_timeout_ms),
        ),
    ];
    entries
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(";")
}

fn cs_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(cs_files(&path));
        } else if path.extension().is_some_and(|e| e == "cs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// Compiles bindings + tests into `RelayTests.exe` in `out_dir`.
fn compile(out_dir: &Path) -> PathBuf {
    let root = support::repo_root();
    let exe = out_dir.join("RelayTests.exe");
    let mut mcs = Command::new("mcs");
    mcs.args(["-langversion:7.2", "-unsafe", "-warnaserror", "-debug"])
        // Also compiles the Span<byte> overloads that Unity 2021.2+ gets by default.
        .arg("-define:UDP_RELAY_SPAN")
        .arg(format!("-out:{}", exe.display()))
        .args(cs_files(&root.join(RUNTIME_DIR)))
        .args(cs_files(&root.join(TESTS_DIR)));
    run_ok(&mut mcs, "compiling the C# bindings and tests with mcs");
    exe
}

/// Runs the test program with `library_dir` as the only place to find the native library
/// and returns its output; asserts it ends with `expected passed, 0 failed`.
fn run_tests(exe: &Path, library_dir: &Path, mode: Option<&str>, min_passed: usize) -> String {
    let mut mono = Command::new("mono");
    mono.arg("--debug")
        .arg(exe)
        .args(mode)
        .env("LD_LIBRARY_PATH", library_dir)
        .env("UDP_RELAY_EXPECTED_VERSION", env!("CARGO_PKG_VERSION"))
        .env("UDP_RELAY_LAYOUT", native_layout())
        .env(
            "UDP_RELAY_VECTORS",
            support::repo_root().join("tests/vectors/handshake-v08.json"),
        );
    let output = mono.output().expect("run mono");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    let summary = text
        .lines()
        .rev()
        .find(|l| l.ends_with(" failed") && l.contains(" passed, "))
        .unwrap_or_else(|| panic!("no summary line from the C# tests:\n{text}"));
    let numbers: Vec<usize> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(numbers.get(1), Some(&0), "C# tests failed:\n{text}");
    assert!(
        numbers[0] >= min_passed,
        "only {} C# tests ran, expected at least {min_passed}:\n{text}",
        numbers[0]
    );
    assert!(
        output.status.success(),
        "mono exited with {}:\n{text}",
        output.status
    );
    text
}

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
    let exe = compile(&out_dir);

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
