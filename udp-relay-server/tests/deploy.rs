//! The deployment files under deploy/, checked without a container runtime or a running
//! systemd (neither is available here):
//! - the Dockerfile is multi-stage, runs as a non-root user, and its CMD and HEALTHCHECK run
//!   for real against the binary (with loopback ports) and report healthy;
//! - the systemd unit passes `systemd-analyze verify` and the offline security check, and its
//!   ExecStart starts the relay with a key credential and drains on SIGTERM;
//! - the Prometheus alert rules pass `promtool check rules` and their unit tests, and name
//!   only metrics that /metrics serves (promtool comes with Debian's prometheus package,
//!   installed by .ci/install-deps.sh).
#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{BIN, Service, command, wait_exit};

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file)
}

fn read(file: &str) -> String {
    std::fs::read_to_string(deploy(file)).unwrap()
}

/// The Dockerfile's instructions as (keyword, arguments), continuation lines joined.
fn dockerfile() -> Vec<(String, String)> {
    let text = read("Dockerfile").replace("\\\n", " ");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, rest) = l.split_once(' ').unwrap_or((l, ""));
            (k.to_uppercase(), rest.trim().to_owned())
        })
        .collect()
}

/// A JSON-form (exec form) argument list.
fn exec_form(args: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(args).unwrap_or_else(|e| panic!("{e}: {args}"));
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn dockerfile_is_multi_stage_non_root_and_its_commands_work() {
    let instructions = dockerfile();
    let get = |k: &str| -> Vec<&str> {
        instructions
            .iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let froms = get("FROM");
    assert!(
        froms.len() >= 2 && froms[0].ends_with(" AS build"),
        "{froms:?}"
    );
    assert!(get("COPY").iter().any(|c| c.starts_with("--from=build ")));
    let run = get("RUN").join(" ");
    assert!(
        run.contains("cargo build --locked --profile dist -p udp-relay-server"),
        "{run}"
    );
    assert!(run.contains("target/dist/udp-relay "), "{run}");
    let manifest = std::fs::read_to_string(deploy("../Cargo.toml")).unwrap();
    assert!(manifest.contains("[profile.dist]"));
    // The last USER (the one the relay runs as) is not root.
    let user = *get("USER").last().expect("a USER");
    assert!(
        !["root", "0", "0:0"].contains(&user) && !user.starts_with("0:"),
        "{user}"
    );
    assert!(
        instructions.iter().rposition(|(k, _)| k == "USER")
            > instructions.iter().rposition(|(k, _)| k == "FROM")
    );
    assert!(
        get("EXPOSE")
            .iter()
            .any(|e| e.split(' ').any(|p| p == "6060/udp"))
    );
    assert_eq!(get("STOPSIGNAL"), ["SIGTERM"]);
    let entrypoint = exec_form(get("ENTRYPOINT")[0]);
    assert_eq!(entrypoint, ["/usr/local/bin/udp-relay"]);
    let healthcheck = get("HEALTHCHECK")[0];
    let (options, check) = healthcheck.split_once("CMD ").expect("HEALTHCHECK ... CMD");
    assert!(
        options.contains("--interval=") && options.contains("--timeout="),
        "{options}"
    );
    let check = exec_form(check);
    assert_eq!(check[..2], ["/usr/local/bin/udp-relay", "health"]);

    // The image's command, on loopback ports, then its health check against it.
    let cmd = exec_form(get("CMD")[0]);
    let admin_at = cmd
        .iter()
        .position(|a| a == "--admin-addr")
        .expect("CMD keeps --admin-addr");
    let admin_port = cmd[admin_at + 1].rsplit_once(':').unwrap().1;
    let check_at = check.iter().position(|a| a == "--admin-addr").unwrap();
    assert_eq!(
        check[check_at + 1],
        format!("127.0.0.1:{admin_port}"),
        "the check asks the CMD's admin port"
    );
    let local: Vec<&str> = cmd
        .iter()
        .map(|a| match a.as_str() {
            "6060" => "0",
            a if a.ends_with(&format!(":{admin_port}")) => "127.0.0.1:0",
            a => a,
        })
        .collect();
    let mut args = vec!["--bind", "127.0.0.1"];
    args.extend(&local);
    let mut child = command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut admin = String::new();
    for _ in 0..2 {
        admin.clear();
        std::io::BufRead::read_line(&mut out, &mut admin).unwrap();
    }
    let admin = admin
        .trim()
        .strip_prefix("admin listening on ")
        .expect("admin address")
        .to_owned();
    let mut health: Vec<String> = check[1..].to_vec();
    health[check_at] = admin; // check[check_at + 1], the address
    let status = Command::new(BIN).args(&health).status().unwrap();
    assert!(status.success(), "HEALTHCHECK failed against the CMD");
    support::signal(&child, "-TERM");
    assert_eq!(
        wait_exit(&mut child, Duration::from_secs(5)).code(),
        Some(0)
    );
    let ignore = std::fs::read_to_string(deploy("../.dockerignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l == "target"),
        "build output kept out of the context"
    );
}

#[test]
fn systemd_unit_verifies_and_its_exec_start_runs() {
    let unit = read("udp-relay.service");
    for directive in [
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "LoadCredential=relay-key:",
        "KillSignal=SIGTERM",
    ] {
        assert!(unit.contains(directive), "missing {directive:?}");
    }
    let dir = std::env::temp_dir().join(format!("udp-relay-unit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // verify insists the program exists: point it at the binary under test.
    let local = dir.join("udp-relay.service");
    std::fs::write(&local, unit.replace("/usr/local/bin/udp-relay", BIN)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&local)
        .output()
        .expect("systemd-analyze (systemd) installed");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "systemd-analyze verify: {out:?}"
    );
    // Exposure 2.0 or less is systemd's "OK" band.
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--threshold=20"])
        .arg(&local)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // ExecStart, with the credential directory and loopback ports.
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    std::fs::write(
        dir.join("relay-key"),
        "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n",
    )
    .unwrap();
    let exec = exec.replace("${CREDENTIALS_DIRECTORY}", dir.to_str().unwrap());
    let mut words: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(words.remove(0), "/usr/local/bin/udp-relay");
    let words: Vec<&str> = words
        .into_iter()
        .map(|w| match w {
            "6060" => "0",
            "127.0.0.1:9090" => "127.0.0.1:0",
            w => w,
        })
        .collect();
    let mut args = vec!["--bind", "127.0.0.1"];
    args.extend(words);
    let mut relay = Service::start_with_exactly(&args);
    relay.wait_for_log("handshakes keyed", Duration::from_secs(2));
    relay.signal("-TERM");
    assert_eq!(relay.wait_exit(Duration::from_secs(5)).code(), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn alert_rules_check_pass_their_tests_and_name_served_metrics() {
    let rules = deploy("prometheus/alerts.yml");
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .expect("promtool (Debian's prometheus package) installed");
    assert!(out.status.success(), "{out:?}");
    let out = Command::new("promtool")
        .args(["test", "rules", "alerts.test.yml"])
        .current_dir(deploy("prometheus"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let relay = Service::start(&[]);
    let (_, metrics) = relay.get("/metrics");
    let served: BTreeSet<&str> = metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let text = std::fs::read_to_string(&rules).unwrap();
    let mut named = 0;
    for (i, _) in text.match_indices("udp_relay_") {
        let name: String = text[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(
            served.contains(name.as_str()),
            "alerts.yml names {name}, not in /metrics"
        );
        named += 1;
    }
    assert!(named >= 5);
}
