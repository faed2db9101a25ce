//! Shared by the tests that compile the C# bindings with Mono's `mcs` and run them on `mono`
//! (tests/csharp.rs against the library cargo built, tests/unity_tarball.rs against the one
//! packed into the Unity package): finding Mono, the C structs' layout for the C# mirror to
//! compare with, compiling the bindings with the test program, and reading its verdict.
#![allow(dead_code)]

use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, have_program, run_ok};
use udp_relay::ffi::{
    RelayAddress, RelayChannelCounters, RelayClientConfig, RelayConfig, RelayEvent, RelayGuid,
    RelayMeasurement, RelayRankEntry, RelayStats,
};

/// The test program's sources.
pub const TESTS_DIR: &str = "bindings/csharp/tests";

/// Returns false (after a loud warning) when Mono is missing outside CI.
pub fn mono_available() -> bool {
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
pub fn native_layout() -> String {
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
        (
            "RelayConfig.CoalesceWindowUs",
            offset_of!(RelayConfig, coalesce_window_us),
        ),
        ("RelayConfig.RelayId", offset_of!(RelayConfig, relay_id)),
        (
            "RelayConfig.RequireTokenV2",
            offset_of!(RelayConfig, require_token_v2),
        ),
        (
            "RelayConfig.PreviousSecretKey",
            offset_of!(RelayConfig, previous_secret_key),
        ),
        (
            "RelayConfig.PreviousSecretKeyLength",
            offset_of!(RelayConfig, previous_secret_key_len),
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
        (
            "RelayStats.HandshakesWrongRelay",
            offset_of!(RelayStats, handshakes_wrong_relay),
        ),
        ("RelayRankEntry", size_of::<RelayRankEntry>()),
        ("RelayRankEntry.Weight", offset_of!(RelayRankEntry, weight)),
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
        ("RelayMeasurement", size_of::<RelayMeasurement>()),
        (
            "RelayMeasurement.State",
            offset_of!(RelayMeasurement, state),
        ),
        (
            "RelayMeasurement.RttUs",
            offset_of!(RelayMeasurement, rtt_us),
        ),
        (
            "RelayMeasurement.Replies",
            offset_of!(RelayMeasurement, replies),
        ),
        (
            "RelayMeasurement.Address",
            offset_of!(RelayMeasurement, address),
        ),
    ];
    entries
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(";")
}

pub fn cs_files(dir: &Path) -> Vec<PathBuf> {
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

/// Compiles the bindings in `runtime_dir` (a package's `Runtime/`) with the test program
/// into `RelayTests.exe` in `out_dir`.
pub fn compile(runtime_dir: &Path, out_dir: &Path) -> PathBuf {
    let root = support::repo_root();
    let exe = out_dir.join("RelayTests.exe");
    let mut mcs = Command::new("mcs");
    mcs.args(["-langversion:7.2", "-unsafe", "-warnaserror", "-debug"])
        // Also compiles the Span<byte> overloads that Unity 2021.2+ gets by default.
        .arg("-define:UDP_RELAY_SPAN")
        .arg(format!("-out:{}", exe.display()))
        .args(cs_files(runtime_dir))
        .args(cs_files(&root.join(TESTS_DIR)));
    run_ok(&mut mcs, "compiling the C# bindings and tests with mcs");
    exe
}

/// Runs the test program with `library_dir` as the only place to find the native library
/// and returns its output; asserts it ends with `expected passed, 0 failed`.
pub fn run_tests(exe: &Path, library_dir: &Path, mode: Option<&str>, min_passed: usize) -> String {
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
        )
        .env(
            "UDP_RELAY_TOKEN_VECTORS",
            support::repo_root().join("tests/vectors/tokens-v2.json"),
        )
        .env(
            "UDP_RELAY_RANK_VECTORS",
            support::repo_root().join("tests/vectors/rank-v1.txt"),
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
