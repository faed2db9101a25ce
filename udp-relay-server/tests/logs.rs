//! What the service logs: RFC 3339 UTC timestamps, level and module; a RUST_LOG-style filter
//! from the flag or the environment; JSON lines; each channel event once, even at trace
//! level; one warning when a limit starts biting and one when it stops, socket drops
//! included.
#![cfg(unix)]

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::{Service, command, exchange, handshake, peer};
use udp_relay::protocol::Guid;

/// Seconds since the epoch of an RFC 3339 UTC timestamp `YYYY-MM-DDTHH:MM:SS.mmmZ`, checked
/// strictly.
fn parse_time(ts: &str) -> f64 {
    let b = ts.as_bytes();
    assert_eq!(b.len(), 24, "{ts:?}");
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ] {
        assert_eq!(b[i], c, "{ts:?}");
    }
    let n = |r: std::ops::Range<usize>| -> i64 { ts[r].parse().unwrap() };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (H. Hinnant), for years after 1970.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)) as f64
        + n(20..23) as f64 / 1000.0
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn text_lines_and_each_channel_event_once() {
    let mut relay = Service::start(&["--log-level", "trace", "--inactivity-timeout-ms", "200"]);
    let guid = Guid(0x1066);
    exchange(relay.addr, guid, None);
    relay.wait_for_log(&format!("channel {guid} closed"), Duration::from_secs(5));
    relay.signal("-INT");
    assert!(relay.wait_exit(Duration::from_secs(2)).success());
    let log = relay.log();
    for line in log.lines() {
        let (time, rest) = line.split_once(' ').unwrap();
        assert!((parse_time(time) - now()).abs() < 60.0, "{line}");
        let (level, rest) = rest.split_once(' ').unwrap();
        assert!(
            ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&level),
            "{line}"
        );
        let module = rest.trim_start().split(": ").next().unwrap();
        assert!(module.starts_with("udp_relay"), "{line}");
    }
    for event in ["allocated by", "established:", "closed (idle)"] {
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(&format!("channel {guid} ")) && l.contains(event))
            .collect();
        assert_eq!(lines.len(), 1, "{event}: {lines:#?}");
        assert!(
            lines[0].contains(" INFO  udp_relay_server::events: "),
            "{}",
            lines[0]
        );
    }
    assert!(
        !log.lines()
            .any(|l| l.contains("udp_relay::relay: channel ") && l.contains(&guid.to_string())),
        "{log}"
    );
}

#[test]
fn the_filter_comes_from_the_flag_or_rust_log() {
    let run = |flag: Option<&str>, env: Option<&str>| {
        let args: Vec<&str> = flag.map_or(vec![], |f| vec!["--log-level", f]);
        let mut relay = Service::start_with(&args, |cmd| {
            if let Some(env) = env {
                cmd.env("RUST_LOG", env);
            }
        });
        relay.signal("-INT");
        assert!(relay.wait_exit(Duration::from_secs(2)).success());
        relay.log()
    };
    let default = run(None, None);
    assert!(
        default.contains("relay bound to") && default.contains(": stats "),
        "{default}"
    );
    let quiet = run(None, Some("warn,udp_relay_server::stats=info"));
    assert!(
        !quiet.contains("relay bound to") && quiet.contains(": stats "),
        "{quiet}"
    );
    let flag_wins = run(Some("info"), Some("error"));
    assert!(flag_wins.contains("relay bound to"), "{flag_wins}");
    for (args, env, source) in [
        (
            &["--log-level", "x=y"][..],
            None,
            "--log-level: bad log filter",
        ),
        (&[][..], Some("a=b=c"), "RUST_LOG: bad log filter"),
    ] {
        let mut cmd = command(args);
        if let Some(env) = env {
            cmd.env("RUST_LOG", env);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(source),
            "{out:?}"
        );
    }
}

#[test]
fn json_lines() {
    let mut relay = Service::start(&["--log-format", "json", "--log-level", "debug"]);
    exchange(relay.addr, Guid(5), None);
    relay.signal("-INT");
    assert!(relay.wait_exit(Duration::from_secs(2)).success());
    let log = relay.log();
    let mut stats = None;
    for line in log.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            (parse_time(v["time"].as_str().unwrap()) - now()).abs() < 60.0,
            "{line}"
        );
        assert!(
            v["level"].is_string() && v["module"].is_string() && v["message"].is_string(),
            "{line}"
        );
        if v["message"] == "stats" {
            stats = Some(v["fields"].clone());
        }
    }
    let stats = stats.expect("a stats line");
    assert_eq!(stats["datagrams_in"], 4, "{stats}");
    assert_eq!(stats["channels_established"], 1, "{stats}");
    assert_eq!(stats["draining"], 0, "{stats}");
}

#[test]
fn a_limit_warns_when_it_starts_and_when_it_stops_biting() {
    let mut relay = Service::start(&["--max-channels", "1"]);
    let _pair = exchange(relay.addr, Guid(1), None);
    let latecomer = peer();
    for _ in 0..3 {
        latecomer
            .send_to(&handshake(Guid(2), None), relay.addr)
            .unwrap();
    }
    let started = "limit biting: channel table full (--max-channels): 3 new channels refused";
    relay.wait_for_log(started, Duration::from_secs(3));
    // Refusals a little later belong to the same episode.
    std::thread::sleep(Duration::from_millis(1500));
    latecomer
        .send_to(&handshake(Guid(2), None), relay.addr)
        .unwrap();
    let stopped =
        "limit no longer biting: channel table full (--max-channels): 4 new channels refused";
    relay.wait_for_log(stopped, Duration::from_secs(10));
    relay.signal("-INT");
    assert!(relay.wait_exit(Duration::from_secs(2)).success());
    let log = relay.log();
    assert_eq!(log.matches("limit biting").count(), 1, "{log}");
    assert_eq!(log.matches("limit no longer biting").count(), 1, "{log}");
    assert!(
        log.contains("WARN  udp_relay_server::limits: limit biting"),
        "{log}"
    );
}

/// While the process is stopped nothing reads the socket: datagrams past its small receive
/// buffer are dropped by the kernel, counted in /metrics and the stats line, and warned of.
#[test]
fn socket_drops_are_counted_and_warned_of() {
    let mut relay = Service::start(&["--recv-buffer-bytes", "4096"]);
    relay.signal("-STOP");
    let flood = peer();
    for i in 0..300u32 {
        flood.send_to(&i.to_be_bytes(), relay.addr).unwrap();
    }
    relay.signal("-CONT");
    relay.wait_for_log(
        "limit biting: socket receive buffer full",
        Duration::from_secs(5),
    );
    let (status, metrics) = relay.get("/metrics");
    assert_eq!(status, 200);
    let drops: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("udp_relay_socket_drops_total{worker=\"0\"} "))
        .expect("socket drops metric")
        .parse()
        .unwrap();
    assert!(drops > 0 && drops < 300, "{drops}");
    relay.signal("-INT");
    assert!(relay.wait_exit(Duration::from_secs(2)).success());
    let stats = relay.last_stats();
    let logged = stats.iter().find(|(k, _)| k == "socket_drops").unwrap().1;
    assert_eq!(logged, drops);
    let received = stats.iter().find(|(k, _)| k == "datagrams_in").unwrap().1;
    assert_eq!(received + drops, 300, "{stats:?}");
}
