//! The deployment files under deploy/, checked without a container runtime or a running
//! systemd (neither is available here):
//! - the Dockerfile is multi-stage, runs as a non-root user, and its CMD and HEALTHCHECK run
//!   for real against the binary (with loopback ports) and report healthy;
//! - the systemd unit passes `systemd-analyze verify` and the offline security check, and its
//!   ExecStart starts the relay with a key credential and drains on SIGTERM;
//! - the Prometheus alert rules pass `promtool check rules` and their unit tests, and name
//!   only metrics that /metrics serves (promtool comes with Debian's prometheus package,
//!   installed by .ci/install-deps.sh);
//! - the Kubernetes manifests (the Agones Fleet and FleetAutoscaler, the hostNetwork
//!   DaemonSet) parse as YAML and hold the settings the relay relies on (ports, health
//!   checks against the relay's 2 s pings, the grace period against the drain, one core per
//!   relay, the counter and its capacity), every flag they pass is one `udp-relay --help`
//!   lists, and their arguments start the relay on loopback ports and drain on SIGTERM.
#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{BIN, Service, command, wait_exit};
use udp_relay_server::agones::HEALTH_EVERY;
use udp_relay_server::cli::parse_duration;

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

/// A YAML manifest under deploy/, as JSON values.
fn manifest(file: &str) -> Value {
    serde_yaml::from_str(&read(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The value at `pointer` (a JSON pointer), which must be there.
fn at<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{pointer} missing in {value:#}"))
}

fn int(value: &Value, pointer: &str) -> u64 {
    at(value, pointer)
        .as_u64()
        .unwrap_or_else(|| panic!("{pointer} is not a count"))
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    at(value, pointer)
        .as_str()
        .unwrap_or_else(|| panic!("{pointer} is not a string"))
}

/// A container's `args`.
fn args(container: &Value) -> Vec<String> {
    at(container, "/args")
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().expect("args are strings").to_owned())
        .collect()
}

/// The value after `flag` in `args`.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1).map(String::as_str)
}

/// Every flag in `args` is one `udp-relay --help` lists.
fn assert_flags_exist(file: &str, args: &[String]) {
    let help = command(&["--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let listed: BTreeSet<&str> = help
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter(|w| w.starts_with("--"))
        .collect();
    let passed: Vec<&String> = args.iter().filter(|a| a.starts_with("--")).collect();
    assert!(!passed.is_empty());
    for flag in passed {
        assert!(
            listed.contains(flag.as_str()),
            "{file} passes {flag}, which udp-relay --help does not list"
        );
    }
}

/// The drain timeout `args` set, plus the Agones Shutdown call's bound, fits in the pod's
/// grace period with room to spare.
fn assert_grace_covers_the_drain(file: &str, pod: &Value, args: &[String]) {
    let drain = parse_duration(flag(args, "--drain-timeout").unwrap_or("25s")).unwrap();
    let grace = int(pod, "/terminationGracePeriodSeconds");
    assert!(
        grace >= drain.as_secs() + 3 + 5,
        "{file}: terminationGracePeriodSeconds {grace} s does not cover a {drain:?} drain"
    );
}

/// Runs the relay with a manifest's `args` on loopback ports (its UDP port and admin address
/// replaced, `--bind 127.0.0.1` added), with a key in the environment as the Secret gives
/// it, and drains it with SIGTERM.
fn run_args(file: &str, args: &[String], env: &[(&str, &str)]) {
    let mut local = vec!["--bind".to_owned(), "127.0.0.1".to_owned()];
    let mut words = args.iter();
    while let Some(word) = words.next() {
        local.push(word.clone());
        match word.as_str() {
            "--port" => {
                words.next();
                local.push("0".into());
            }
            "--admin-addr" => {
                words.next();
                local.push("127.0.0.1:0".into());
            }
            _ => {}
        }
    }
    let local: Vec<&str> = local.iter().map(String::as_str).collect();
    let mut relay = Service::spawn(command(&local), |cmd| {
        cmd.env(
            "UDP_RELAY_SECRET_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        );
        for (name, value) in env {
            cmd.env(name, value);
        }
    });
    assert_eq!(relay.get("/ready").0, 200, "{file}: {}", relay.log());
    relay.signal("-TERM");
    assert_eq!(
        relay.wait_exit(Duration::from_secs(10)).code(),
        Some(0),
        "{file}: {}",
        relay.log()
    );
    let log = relay.log();
    assert!(log.contains("handshakes keyed"), "{file}: {log}");
}

#[test]
fn agones_fleet_runs_one_relay_per_core_with_health_and_the_channels_counter() {
    let file = "agones/fleet.yaml";
    let fleet = manifest(file);
    assert_eq!(text(&fleet, "/apiVersion"), "agones.dev/v1");
    assert_eq!(text(&fleet, "/kind"), "Fleet");
    let gs = at(&fleet, "/spec/template/spec");
    let pod = at(gs, "/template/spec");
    let containers = at(pod, "/containers").as_array().unwrap();
    let name = text(gs, "/container");
    let relay = containers
        .iter()
        .find(|c| c["name"] == name)
        .expect("the GameServer's container");
    let args = args(relay);
    assert_flags_exist(file, &args);
    // One relay per core: --agones with one worker, a whole CPU requested and capped.
    assert!(args.iter().any(|a| a == "--agones"), "{args:?}");
    assert_eq!(flag(&args, "--workers"), Some("1"));
    assert_eq!(text(relay, "/resources/requests/cpu"), "1");
    assert_eq!(text(relay, "/resources/limits/cpu"), "1");
    assert_eq!(
        at(relay, "/resources/requests/memory"),
        at(relay, "/resources/limits/memory"),
        "requests equal to limits: the Guaranteed class"
    );
    // The relay's UDP port, mapped by Agones.
    let ports = at(gs, "/ports").as_array().unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(text(&ports[0], "/portPolicy"), "Dynamic");
    assert_eq!(text(&ports[0], "/protocol"), "UDP");
    assert_eq!(
        int(&ports[0], "/containerPort").to_string(),
        flag(&args, "--port").expect("--port")
    );
    // Health checks against pings every 2 s: a period holds at least two pings.
    assert_eq!(at(gs, "/health/disabled"), &Value::Bool(false));
    let period = int(gs, "/health/periodSeconds");
    assert!(
        period >= 2 * HEALTH_EVERY.as_secs(),
        "periodSeconds {period}"
    );
    let threshold = int(gs, "/health/failureThreshold");
    assert!((1..=5).contains(&threshold), "failureThreshold {threshold}");
    let delay = int(gs, "/health/initialDelaySeconds");
    assert!((1..=30).contains(&delay), "initialDelaySeconds {delay}");
    assert!(
        ["OnUpgrade", "Never"].contains(&text(gs, "/eviction/safe")),
        "eviction.safe"
    );
    assert_grace_covers_the_drain(file, pod, &args);
    // The counter the relay keeps, with the relay's own channel cap as its capacity.
    assert_eq!(int(gs, "/counters/channels/count"), 0);
    assert_eq!(
        int(gs, "/counters/channels/capacity").to_string(),
        flag(&args, "--max-channels").expect("--max-channels")
    );
    assert_eq!(text(&fleet, "/spec/priorities/0/key"), "channels");
    // A fleet relay: its own relay id from the pod's name, relay-bound tokens only.
    assert_eq!(flag(&args, "--relay-id-from-name"), Some("$(POD_NAME)"));
    let env = at(relay, "/env").as_array().unwrap();
    assert!(
        env.iter().any(|e| e["name"] == "POD_NAME"
            && e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"),
        "POD_NAME from the pod's name"
    );
    for required in ["--require-tokens", "--require-token-v2"] {
        assert!(args.iter().any(|a| a == required), "{required}: {args:?}");
    }
    // Its arguments start a relay (the SDK is away here: the relay retries it and relays).
    run_args(file, &args, &[("AGONES_SDK_HTTP_PORT", "1")]);
}

#[test]
fn agones_fleet_autoscaler_scales_on_the_channels_counter() {
    let fleet = manifest("agones/fleet.yaml");
    let scaler = manifest("agones/fleetautoscaler.yaml");
    assert_eq!(text(&scaler, "/apiVersion"), "autoscaling.agones.dev/v1");
    assert_eq!(text(&scaler, "/kind"), "FleetAutoscaler");
    assert_eq!(
        text(&scaler, "/spec/fleetName"),
        text(&fleet, "/metadata/name")
    );
    assert_eq!(text(&scaler, "/spec/policy/type"), "Counter");
    let counter = at(&scaler, "/spec/policy/counter");
    assert_eq!(text(counter, "/key"), "channels");
    let capacity = int(&fleet, "/spec/template/spec/counters/channels/capacity");
    let buffer = int(counter, "/bufferSize");
    let (min, max) = (int(counter, "/minCapacity"), int(counter, "/maxCapacity"));
    assert!(buffer >= capacity, "a buffer of at least one relay");
    assert!(buffer <= min && min < max, "{buffer} <= {min} < {max}");
    assert_eq!(min % capacity, 0, "whole relays");
    assert_eq!(max % capacity, 0, "whole relays");
}

#[test]
fn daemonset_runs_a_worker_per_core_on_the_host_network() {
    let file = "daemonset.yaml";
    let set = manifest(file);
    assert_eq!(text(&set, "/apiVersion"), "apps/v1");
    assert_eq!(text(&set, "/kind"), "DaemonSet");
    let pod = at(&set, "/spec/template/spec");
    assert_eq!(at(pod, "/hostNetwork"), &Value::Bool(true));
    let relay = at(pod, "/containers/0");
    let args = args(relay);
    assert_flags_exist(file, &args);
    let workers = flag(&args, "--workers").expect("--workers");
    assert!(
        workers == "auto" || workers.parse::<u32>().is_ok_and(|n| n > 1),
        "--workers {workers}"
    );
    assert!(
        at(relay, "/resources/limits").get("cpu").is_none(),
        "no CPU quota under the workers"
    );
    let admin = flag(&args, "--admin-addr").expect("--admin-addr");
    let admin_port = admin.rsplit_once(':').unwrap().1;
    let ports = at(relay, "/ports").as_array().unwrap();
    let port_named = |name: &str| {
        ports
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("port {name}"))
    };
    assert_eq!(
        int(port_named("relay"), "/containerPort").to_string(),
        flag(&args, "--port").unwrap()
    );
    assert_eq!(text(port_named("relay"), "/protocol"), "UDP");
    assert_eq!(
        int(port_named("admin"), "/containerPort").to_string(),
        admin_port
    );
    for (probe, path) in [("readinessProbe", "/ready"), ("livenessProbe", "/live")] {
        assert_eq!(text(relay, &format!("/{probe}/httpGet/path")), path);
        assert_eq!(text(relay, &format!("/{probe}/httpGet/port")), "admin");
    }
    assert_grace_covers_the_drain(file, pod, &args);
    run_args(file, &args, &[]);
}
