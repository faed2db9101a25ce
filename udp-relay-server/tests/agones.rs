//! `--agones` against a fake SDK sidecar (tests/fake_sdk) on 127.0.0.1: the label and the
//! `channels` counter, then Ready once the relay's socket is bound; Health every 2 s, and
//! none while the relay loop is stalled on purpose (`--debug-fault-injection`); the counter
//! follows channels opened by real handshakes, at most once a second; SIGTERM flips the
//! label, drains, then sends Shutdown; a sidecar that comes up late, fails or stalls is
//! retried with backoff, logged once, and never holds up the relay.
#![cfg(unix)]

mod fake_sdk;
mod support;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use fake_sdk::{Call, FakeSdk};
use support::{Service, command, exchange};
use udp_relay::protocol::Guid;

const LABEL: &str = "/metadata/label";
const COUNTER: &str = "/v1beta1/counters/channels";

/// The relay on 127.0.0.1 (UDP port 0 unless `extra` gives one) with its admin endpoint,
/// `--agones` and `extra`, reporting to `sdk`.
fn relay(sdk: &FakeSdk, extra: &[&str]) -> Service {
    let mut args = vec![
        "--agones",
        "--bind",
        "127.0.0.1",
        "--admin-addr",
        "127.0.0.1:0",
    ];
    if !extra.contains(&"--port") {
        args.extend(["--port", "0"]);
    }
    args.extend(extra);
    let port = sdk.port.to_string();
    Service::spawn(command(&args), |cmd: &mut Command| {
        cmd.env("AGONES_SDK_HTTP_PORT", port);
    })
}

/// A free UDP port on 127.0.0.1 (free when this returns).
fn free_udp_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().port()
}

/// The time between consecutive calls, in seconds.
fn gaps(calls: &[Call]) -> Vec<f64> {
    calls
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_secs_f64())
        .collect()
}

#[test]
fn ready_once_bound_then_health_every_two_seconds_and_the_counter_follows_channels() {
    let sdk = FakeSdk::start();
    let port = free_udp_port();
    sdk.probe_on_ready(SocketAddr::from(([127, 0, 0, 1], port)));
    let started = Instant::now();
    let relay = relay(
        &sdk,
        &[
            "--port",
            &port.to_string(),
            "--inactivity-timeout-ms",
            "60000",
            "--relay-id-from-name",
            "udp-relay-7xk2p-abcde",
        ],
    );
    let ready = sdk.wait_for("POST", "/ready", "", started, Duration::from_secs(5));
    assert_eq!(
        sdk.ready_probe_answered(),
        Some(true),
        "the relay answered a probe on its port when Ready arrived"
    );
    // The label and the counter were set before Ready.
    let labels = sdk.calls_to("PUT", LABEL);
    let id = udp_relay_server::relay_id::from_name("udp-relay-7xk2p-abcde");
    assert_eq!(
        labels[0].body,
        format!(r#"{{"key":"relay-id","value":"{id}"}}"#),
        "the relay id labelled first, for the matchmaker"
    );
    let label = &labels[1];
    assert_eq!(label.body, r#"{"key":"relay-accepting","value":"true"}"#);
    assert!(label.at <= ready.at);
    let counter = sdk.wait_for("PATCH", COUNTER, "", started, Duration::ZERO);
    assert_eq!(counter.body, r#"{"count":"0","capacity":"100000"}"#);
    assert!(counter.at <= ready.at);
    assert_eq!(sdk.calls_to("POST", "/ready").len(), 1);

    // Channels opened with real handshakes: the counter follows.
    let opened = Instant::now();
    let _pairs: Vec<_> = (0..3)
        .map(|i| exchange(relay.addr, Guid(0xA6_0000 + i), None))
        .collect();
    sdk.wait_for(
        "PATCH",
        COUNTER,
        r#""count":"3""#,
        opened,
        Duration::from_secs(3),
    );
    // Health pings at their cadence meanwhile.
    std::thread::sleep(Duration::from_secs(7).saturating_sub(started.elapsed()));
    let health = sdk.calls_to("POST", "/health");
    assert!(health.len() >= 3, "{health:#?}");
    for gap in gaps(&health) {
        assert!((1.5..4.0).contains(&gap), "health pings {gap:.2}s apart");
    }
    // At most one counter update a second, each a change.
    let counters = sdk.calls_to("PATCH", COUNTER);
    for gap in gaps(&counters) {
        assert!(
            gap >= 0.95,
            "counter updates {gap:.2}s apart: {counters:#?}"
        );
    }
    for pair in counters.windows(2) {
        assert_ne!(pair[0].body, pair[1].body, "{counters:#?}");
    }
    assert!(relay.log().contains("Agones: Ready (the relay is bound)"));
}

#[test]
fn sigterm_flips_the_label_drains_then_sends_shutdown() {
    let sdk = FakeSdk::start();
    let mut relay = relay(
        &sdk,
        &["--drain-timeout", "3s", "--inactivity-timeout-ms", "60000"],
    );
    let started = Instant::now();
    sdk.wait_for(
        "POST",
        "/ready",
        "",
        started - Duration::from_secs(5),
        Duration::from_secs(5),
    );
    // An open channel keeps the drain going until its timeout.
    let _pair = exchange(relay.addr, Guid(0x5D), None);
    let signalled = Instant::now();
    relay.signal("-TERM");
    let flipped = sdk.wait_for(
        "PUT",
        LABEL,
        r#""value":"false""#,
        signalled,
        Duration::from_secs(2),
    );
    assert!(flipped.at - signalled < Duration::from_millis(1500));
    let shutdown = sdk.wait_for("POST", "/shutdown", "", signalled, Duration::from_secs(5));
    assert!(
        shutdown.at - signalled >= Duration::from_millis(2900),
        "Shutdown {:?} after SIGTERM, before the drain's end",
        shutdown.at - signalled
    );
    // Health pings went on while the drain ran.
    assert!(
        sdk.calls_to("POST", "/health")
            .iter()
            .any(|c| c.at > signalled && c.at < shutdown.at),
        "{:#?}",
        sdk.calls()
    );
    assert_eq!(relay.wait_exit(Duration::from_secs(5)).code(), Some(0));
    let log = relay.log();
    let drained = log
        .find("stopping: drain timeout (3.0s) reached with 1 channels still open")
        .expect(&log);
    let sent = log.find("Agones: Shutdown sent").expect(&log);
    assert!(drained < sent, "{log}");
    assert_eq!(sdk.calls_to("POST", "/shutdown").len(), 1);
}

#[test]
fn health_pings_stop_while_the_relay_loop_is_stalled() {
    let sdk = FakeSdk::start();
    let relay = relay(&sdk, &["--debug-fault-injection"]);
    let started = Instant::now() - Duration::from_secs(5);
    sdk.wait_for("POST", "/health", "", started, Duration::from_secs(5));
    let stalled = Instant::now();
    assert_eq!(relay.post("/debug/workers/0/stall").0, 200);
    relay.wait_for_status("/live", 503, Duration::from_secs(3));
    std::thread::sleep(Duration::from_secs(5).saturating_sub(stalled.elapsed()));
    let resumed = Instant::now();
    assert_eq!(relay.post("/debug/workers/0/resume").0, 200);
    let after = sdk.wait_for("POST", "/health", "", resumed, Duration::from_secs(3));
    let during: Vec<Call> = sdk
        .calls_to("POST", "/health")
        .into_iter()
        .filter(|c| c.at > stalled + Duration::from_millis(1500) && c.at < resumed)
        .collect();
    assert!(during.is_empty(), "pings while stalled: {during:#?}");
    assert!(after.at - resumed < Duration::from_secs(3));
    let log = relay.wait_for_log("health pings resumed", Duration::from_secs(2));
    assert_eq!(
        log.matches("health pings stopped until it runs again")
            .count(),
        1,
        "{log}"
    );
}

#[test]
fn a_late_or_failing_sdk_is_retried_and_logged_once() {
    let sdk = FakeSdk::start_after(Duration::from_millis(1500));
    sdk.fail_with(500);
    let relay = relay(&sdk, &[]);
    // The relay relays while the sidecar is away.
    exchange(relay.addr, Guid(0x1A7E), None);
    // Listening but failing, then answering.
    let listening = sdk.wait_for(
        "PUT",
        LABEL,
        "",
        Instant::now() - Duration::from_secs(5),
        Duration::from_secs(5),
    );
    std::thread::sleep(Duration::from_secs(1));
    sdk.fail_with(0);
    let ready = sdk.wait_for("POST", "/ready", "", listening.at, Duration::from_secs(5));
    let log = relay.wait_for_log("answering again", Duration::from_secs(2));
    let addr = format!("Agones SDK at 127.0.0.1:{} not answering", sdk.port);
    assert_eq!(log.matches(&addr).count(), 1, "{log}");
    assert_eq!(log.matches("answering again").count(), 1, "{log}");
    assert!(ready.at > listening.at);
    // Failed calls were retried with backoff, not in a tight loop.
    let tries = sdk.calls().len();
    assert!(
        (2..40).contains(&tries),
        "{tries} calls: {:#?}",
        sdk.calls()
    );
    sdk.wait_for("POST", "/health", "", ready.at, Duration::from_secs(3));
}

#[test]
fn a_stalled_sdk_never_holds_up_the_relay() {
    let sdk = FakeSdk::start();
    sdk.stall(true);
    let relay = relay(&sdk, &["--inactivity-timeout-ms", "60000"]);
    let started = Instant::now() - Duration::from_secs(5);
    sdk.wait_for("PUT", LABEL, "", started, Duration::from_secs(5));
    let (a, b) = exchange(relay.addr, Guid(0x57A1), None);
    let mut buf = [0u8; 64];
    for i in 0..50u8 {
        a.send_to(&[i; 8], relay.addr).unwrap();
        let (n, _) = b.recv_from(&mut buf).expect("relayed while the SDK stalls");
        assert_eq!(&buf[..n], &[i; 8]);
    }
    assert_eq!(relay.get("/live").0, 200);
    assert_eq!(relay.get("/ready").0, 200);
    let log = relay.wait_for_log("not answering", Duration::from_secs(3));
    assert!(
        log.contains("timed out")
            || log.contains("Resource temporarily unavailable")
            || log.contains("would block"),
        "{log}"
    );
    sdk.stall(false);
    sdk.wait_for("POST", "/ready", "", started, Duration::from_secs(6));
    assert_eq!(
        relay.log().matches("not answering").count(),
        1,
        "{}",
        relay.log()
    );
}

#[test]
fn a_bad_sdk_port_is_refused() {
    let out = command(&["--agones", "--port", "0"])
        .env("AGONES_SDK_HTTP_PORT", "nine")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("AGONES_SDK_HTTP_PORT=\"nine\" is not a port"),
        "{out:?}"
    );
}
