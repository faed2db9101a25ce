//! The load generator runs and reports sane JSON: a couple of modes with tiny parameters
//! (a few seconds in all). No figure is asserted beyond "something was relayed": speed
//! is measured with the benchmark itself, not in tests.
#![cfg(target_os = "linux")]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// `relay_bench` as built by `cargo test` next to this test: target/<profile>/examples/.
fn relay_bench() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let bench = profile_dir.join("examples").join("relay_bench");
    assert!(bench.exists(), "{} not built", bench.display());
    bench
}

fn run(args: &[&str]) -> Value {
    let out = Command::new(relay_bench())
        .args(args)
        .args(["--json", "--compare-baseline"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "relay_bench {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("relay_bench prints JSON")
}

#[test]
fn throughput_reports_relayed_datagrams() {
    let v = run(&[
        "throughput",
        "--pairs",
        "4",
        "--size",
        "100",
        "--duration",
        "0.5",
        "--rate",
        "20000",
    ]);
    for side in ["relay", "baseline"] {
        let m = &v["median"][side];
        assert!(m["relayed_per_s"].as_f64().unwrap() > 0.0, "{side}: {m}");
        assert_eq!(m["pairs_open"].as_f64(), Some(4.0), "{side}: {m}");
        assert!(m["relay_cpu_us_per_datagram"].as_f64().unwrap() > 0.0);
    }
    assert!(v["ratio_to_baseline"]["relayed_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["machine"]["cpus"].as_u64().unwrap() >= 1);
}

#[test]
fn keyed_storm_reports_channels() {
    let v = run(&[
        "storm",
        "--duration",
        "0.5",
        "--rate",
        "2000",
        "--key-hex",
        "000102030405060708090a0b0c0d0e0f",
        "--tick-us",
        "500",
    ]);
    for side in ["relay", "baseline"] {
        let m = &v["median"][side];
        assert!(m["channels_per_s"].as_f64().unwrap() > 0.0, "{side}: {m}");
    }
}

#[test]
fn gso_runs_against_the_batched_floor() {
    let v = run(&[
        "throughput",
        "--pairs",
        "4",
        "--size",
        "200",
        "--run",
        "4",
        "--gro",
        "--duration",
        "0.5",
        "--rate",
        "20000",
        "--baseline",
        "batched",
    ]);
    assert_eq!(v["baseline"].as_str(), Some("Batched"));
    for side in ["relay", "baseline"] {
        let m = &v["median"][side];
        assert!(m["relayed_per_s"].as_f64().unwrap() > 0.0, "{side}: {m}");
        assert_eq!(m["pairs_open"].as_f64(), Some(4.0), "{side}: {m}");
    }
}

#[test]
fn gamerate_reports_cost_per_datagram_against_both_comparisons() {
    let v = run(&[
        "gamerate",
        "--pairs",
        "20",
        "--rate-hz",
        "50",
        "--seconds",
        "0.5",
        "--warmup",
        "0.1",
        "--probe-hz",
        "200",
    ]);
    assert_eq!(v["baseline"].as_str(), Some("All"));
    for side in ["relay", "naive", "batched"] {
        let m = &v["median"][side];
        assert_eq!(m["pairs_open"].as_f64(), Some(20.0), "{side}: {m}");
        assert!(m["relayed_per_s"].as_f64().unwrap() > 0.0, "{side}: {m}");
        for figure in [
            "offered_per_s",
            "gen_sent_per_s",
            "gen_late_p99_us",
            "relay_cpu_us_per_datagram",
            "relay_cpu_pct",
            "relay_wakeups_per_s",
            "relay_preemptions_per_s",
            "loss_pct",
            "added_rtt_p50_us",
            "added_rtt_p99_us",
            "added_rtt_p999_us",
        ] {
            assert!(m[figure].is_f64(), "{side}: {figure} missing in {m}");
        }
    }
    for comparison in ["naive", "batched"] {
        let r = &v[format!("ratio_to_{comparison}")];
        assert!(
            r["relay_cpu_us_per_datagram"].as_f64().unwrap() > 0.0,
            "{r}"
        );
    }
}
