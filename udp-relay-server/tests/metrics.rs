//! `/metrics` after a scripted exchange: both formats parse with the Prometheus project's
//! parsers (the Python client's, from Debian's python3-prometheus-client) and the text format
//! passes `promtool check metrics` (Debian's prometheus package), both installed by
//! .ci/install-deps.sh; every counter equals the relay's own stats line and the values the
//! script implies, and no label names a GUID, an address or a channel.
#![cfg(unix)]

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{Service, exchange, handshake, http, peer};
use udp_relay::protocol::Guid;

/// Debian's interpreter, which has the packaged parser (a user's may not).
const PYTHON: &str = "/usr/bin/python3";

/// Sample name and sorted labels -> value.
type Samples = BTreeMap<(String, Vec<(String, String)>), f64>;

/// Parses `text` with the reference parser for `format`; returns the families' types and
/// the samples.
fn parse(text: &str, format: &str) -> (BTreeMap<String, String>, Samples) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/parse_metrics.py");
    let mut child = Command::new(PYTHON)
        .args([script, format])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{PYTHON}: {e} (run .ci/install-deps.sh)"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the {format} parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let families: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut types = BTreeMap::new();
    let mut samples = Samples::new();
    for family in &families {
        types.insert(
            family["name"].as_str().unwrap().to_owned(),
            family["type"].as_str().unwrap().to_owned(),
        );
        for s in family["samples"].as_array().unwrap() {
            let mut labels: Vec<(String, String)> = s["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), canonical(k, v.as_str().unwrap())))
                .collect();
            labels.sort();
            let key = (s["name"].as_str().unwrap().to_owned(), labels);
            assert!(
                samples
                    .insert(key.clone(), s["value"].as_f64().unwrap())
                    .is_none(),
                "{key:?} twice"
            );
        }
    }
    (types, samples)
}

/// A label value as compared here: bucket bounds as numbers (the formats write 1 or 1.0).
fn canonical(label: &str, value: &str) -> String {
    match value.parse::<f64>() {
        Ok(bound) if label == "le" => bound.to_string(),
        _ => value.to_owned(),
    }
}

/// The value of `name` with exactly `labels` besides `worker`; `None` as label value sums
/// every series of the name.
fn value(samples: &Samples, name: &str, label: Option<(&str, &str)>) -> u64 {
    let found: Vec<f64> = samples
        .iter()
        .filter(|((n, labels), _)| {
            let labels: Vec<&(String, String)> =
                labels.iter().filter(|(k, _)| k != "worker").collect();
            n == name
                && match label {
                    Some((k, v)) => labels == [&(k.to_owned(), v.to_owned())],
                    None => true,
                }
        })
        .map(|(_, v)| *v)
        .collect();
    assert!(!found.is_empty(), "no sample {name} {label:?}");
    found.iter().sum::<f64>() as u64
}

/// Which sample of `/metrics` carries each field of the stats line.
fn metric_of(field: &str) -> Option<(&'static str, Option<(&'static str, &'static str)>)> {
    let dropped = "udp_relay_datagrams_dropped_total";
    let rejected = "udp_relay_handshakes_rejected_total";
    let refused = "udp_relay_handshakes_refused_total";
    Some(match field {
        "draining" => ("udp_relay_draining", None),
        "channels_open" => ("udp_relay_channels", None),
        "channels_established" => ("udp_relay_channels", Some(("state", "established"))),
        "channels_allocated_total" => ("udp_relay_channels_opened_total", None),
        "channels_expired_total" => ("udp_relay_channels_expired_total", None),
        "datagrams_in" => ("udp_relay_datagrams_received_total", None),
        "bytes_in" => ("udp_relay_received_bytes_total", None),
        "datagrams_out" => ("udp_relay_datagrams_sent_total", None),
        "bytes_out" => ("udp_relay_sent_bytes_total", None),
        "datagrams_dropped" => (dropped, None),
        "datagrams_over_bandwidth" => (dropped, Some(("reason", "over_bandwidth"))),
        "handshakes_accepted" => ("udp_relay_handshakes_accepted_total", None),
        "handshakes_rejected" => (rejected, None),
        "handshakes_refused" => (refused, None),
        "handshakes_refused_full" => (refused, Some(("reason", "channels_full"))),
        "handshakes_refused_pending" => (refused, Some(("reason", "pending_per_source"))),
        "handshakes_rate_limited" => ("udp_relay_handshakes_rate_limited_total", None),
        "handshakes_challenged" => ("udp_relay_handshakes_challenged_total", None),
        "datagrams_consumed" => ("udp_relay_datagrams_consumed_total", None),
        "probes_answered" => ("udp_relay_probes_answered_total", None),
        "rate_limit_untracked" => ("udp_relay_rate_limit_untracked_total", None),
        "tokens_invalid" => (rejected, Some(("reason", "token_invalid"))),
        "tokens_expired" => (rejected, Some(("reason", "token_expired"))),
        "handshakes_wrong_relay" => (rejected, Some(("reason", "wrong_relay"))),
        "tokens_replayed" => (refused, Some(("reason", "token_replayed"))),
        "peers_rebound" => ("udp_relay_peers_rebound_total", None),
        "recv_errors" => ("udp_relay_socket_errors_total", Some(("op", "receive"))),
        "send_errors" => ("udp_relay_socket_errors_total", Some(("op", "send"))),
        "events_dropped" => ("udp_relay_events_dropped_total", None),
        "socket_drops" => ("udp_relay_socket_drops_total", None),
        _ => return None,
    })
}

#[test]
fn metrics_parse_and_equal_the_relays_stats() {
    let mut relay = Service::start(&["--inactivity-timeout-ms", "3000"]);
    // A channel that lives about 3 s, for the lifetime histogram.
    exchange(relay.addr, Guid(1), None);
    relay.wait_for_log("closed (idle)", Duration::from_secs(10));
    // An established channel, a pending one, a datagram of the pending one with no one to
    // go to, and garbage from an unpaired address.
    let _pair = exchange(relay.addr, Guid(2), None);
    let pending = peer();
    pending
        .send_to(&handshake(Guid(3), None), relay.addr)
        .unwrap();
    pending.send_to(b"hello", relay.addr).unwrap();
    peer().send_to(b"xyz", relay.addr).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let admin = relay.admin.unwrap();
    let (status, head, prometheus) = http(admin, "GET /metrics HTTP/1.1\r\n\r\n");
    assert_eq!(status, 200);
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let (status, head, openmetrics) = http(
        admin,
        "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert!(head.contains("application/openmetrics-text"), "{head}");
    relay.signal("-INT");
    assert!(relay.wait_exit(Duration::from_secs(5)).success());
    let stats = relay.last_stats();

    // Prometheus's own linter of the text format (naming, help, types).
    let mut lint = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package) installed");
    lint.stdin
        .take()
        .unwrap()
        .write_all(prometheus.as_bytes())
        .unwrap();
    let linted = lint.wait_with_output().unwrap();
    assert!(
        linted.status.success(),
        "promtool check metrics: {linted:?}"
    );

    let (om_types, om) = parse(&openmetrics, "openmetrics");
    let (prom_types, prom) = parse(&prometheus, "prometheus");
    for (field, expected) in &stats {
        if field == "uptime_secs" {
            continue;
        }
        let (name, label) = metric_of(field)
            .unwrap_or_else(|| panic!("stats field {field} has no metric in this test's map"));
        assert_eq!(
            value(&prom, name, label),
            *expected,
            "{field} vs {name} {label:?}"
        );
        assert_eq!(
            value(&om, name, label),
            *expected,
            "{field} vs {name} {label:?} (OpenMetrics)"
        );
    }
    // What the script implies.
    let stat = |name: &str| stats.iter().find(|(k, _)| k == name).unwrap().1;
    for (field, expected) in [
        ("datagrams_in", 11),
        ("bytes_in", 2 * (56 + 56 + 7 + 7) + 56 + 5 + 3),
        ("datagrams_out", 6),
        ("bytes_out", 2 * (56 + 7 + 7)),
        ("handshakes_accepted", 5),
        ("handshakes_rejected", 1),
        ("datagrams_dropped", 2),
        ("channels_open", 2),
        ("channels_established", 1),
        ("channels_allocated_total", 3),
        ("channels_expired_total", 1),
        ("socket_drops", 0),
    ] {
        assert_eq!(stat(field), expected, "{field}");
    }
    let dropped = "udp_relay_datagrams_dropped_total";
    assert_eq!(
        value(&prom, dropped, Some(("reason", "handshake_rejected"))),
        1
    );
    assert_eq!(
        value(&prom, dropped, Some(("reason", "no_peer_or_send_failed"))),
        1
    );
    assert_eq!(
        value(&prom, "udp_relay_channels", Some(("state", "pending"))),
        1
    );
    // The channel that closed lived 3 s (up to 1 s more: its start is kept to the second).
    let lifetime = "udp_relay_channel_lifetime_seconds";
    for samples in [&prom, &om] {
        assert_eq!(value(samples, &format!("{lifetime}_count"), None), 1);
        assert_eq!(
            value(samples, &format!("{lifetime}_bucket"), Some(("le", "1"))),
            0
        );
        assert_eq!(
            value(samples, &format!("{lifetime}_bucket"), Some(("le", "5"))),
            1
        );
        assert_eq!(
            value(samples, &format!("{lifetime}_bucket"), Some(("le", "inf"))),
            1
        );
        let sum = samples[&(
            format!("{lifetime}_sum"),
            vec![("worker".to_owned(), "0".to_owned())],
        )];
        assert!((2.9..=4.1).contains(&sum), "lifetime sum {sum}");
        assert_eq!(value(samples, "udp_relay_channels_max", None), 100_000);
        let build = samples
            .keys()
            .find(|(n, _)| n == "udp_relay_build_info")
            .expect("build info");
        assert_eq!(
            build.1,
            vec![("version".to_owned(), env!("CARGO_PKG_VERSION").to_owned())]
        );
    }
    // Types as the reference parsers read them.
    assert_eq!(om_types["udp_relay_datagrams_received"], "counter");
    assert_eq!(om_types["udp_relay_channels"], "gauge");
    assert_eq!(om_types["udp_relay_channel_lifetime_seconds"], "histogram");
    assert_eq!(om_types["udp_relay_build"], "info");
    assert_eq!(prom_types["udp_relay_datagrams_received"], "counter");
    assert_eq!(
        prom_types["udp_relay_channel_lifetime_seconds"],
        "histogram"
    );
    // A fixed set of labels: nothing per GUID, address or channel; every series of the
    // relay is its worker's (the only one, 0).
    for samples in [&prom, &om] {
        for (name, labels) in samples.keys() {
            for (label, _) in labels {
                assert!(
                    ["worker", "reason", "state", "op", "le", "version"].contains(&label.as_str()),
                    "{name} has label {label}"
                );
            }
            if !name.starts_with("udp_relay_build") {
                assert!(
                    labels.contains(&("worker".to_owned(), "0".to_owned())),
                    "{name} {labels:?}"
                );
            }
        }
        assert_eq!(value(samples, "udp_relay_worker_restarts_total", None), 0);
    }
}
