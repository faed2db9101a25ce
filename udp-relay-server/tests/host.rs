//! The `udp-relay` binary: starts, relays between two v0.8 peers, drains on SIGTERM, stops on
//! SIGINT, reads its key as documented and refuses bad settings with exit status 2.
#![cfg(unix)]

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::{Service, command, exchange, not_paired, wait_exit};
use udp_relay::protocol::{Guid, V08_DEFAULT_KEY};

#[test]
fn relays_and_drains_on_sigterm() {
    let mut relay = Service::start(&["--inactivity-timeout-ms", "300"]);
    exchange(relay.addr, Guid(0xC0FFEE), None);
    relay.signal("-TERM");
    let status = relay.wait_exit(Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
    let log = relay.log();
    for needle in [
        "allocated by",
        "established:",
        "SIGTERM: draining",
        "closed (idle)",
        "a->b 1 dgrams",
        "stopping: drained",
        "stats uptime_secs=",
    ] {
        assert!(log.contains(needle), "missing {needle:?} in:\n{log}");
    }
}

/// With a coalescing window the relay still pairs peers and relays both ways, and says so.
#[test]
fn relays_with_a_coalescing_window() {
    let mut relay = Service::start(&["--coalesce-us", "500"]);
    exchange(relay.addr, Guid(0xC0A1E5CE), None);
    relay.signal("-INT");
    let status = relay.wait_exit(Duration::from_secs(2));
    assert!(status.success(), "{status:?}");
    let log = relay.log();
    assert!(log.contains("coalescing window 500 us"), "{log}");
}

#[test]
fn takes_key_from_env_and_stops_on_sigint() {
    use base64::Engine;
    let key = b"0123456789abcdef0123456789abcdef";
    let b64 = base64::engine::general_purpose::STANDARD.encode(key);
    let mut relay = Service::start_with(&[], |cmd| {
        cmd.env("UDP_RELAY_SECRET_KEY", &b64);
    });
    exchange(relay.addr, Guid(0xC0FFEE), Some(key));
    relay.signal("-INT");
    let status = relay.wait_exit(Duration::from_secs(2));
    assert!(status.success(), "{status:?}");
    assert!(relay.log().contains("SIGINT: stopping now"));
}

#[test]
fn rejects_bad_key_and_busy_port() {
    let out = command(&["--secret-key", "not base64!"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid base64"));
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = command(&["--bind", "127.0.0.1", "--port", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen"));
}

/// An empty key, from the flag or the environment, means unkeyed (as in v0.8.2): the mac is
/// not checked, so zero-mac peers and peers using the v0.8.2 default key are both paired.
#[test]
fn an_empty_key_is_unkeyed() {
    for (flags, env_key) in [(&["--secret-key", ""][..], None), (&[][..], Some(""))] {
        let mut relay = Service::start_with(flags, |cmd| {
            if let Some(k) = env_key {
                cmd.env("UDP_RELAY_SECRET_KEY", k);
            }
        });
        exchange(relay.addr, Guid(1), None);
        exchange(relay.addr, Guid(2), Some(V08_DEFAULT_KEY));
        relay.signal("-INT");
        let status = relay.wait_exit(Duration::from_secs(2));
        assert!(status.success(), "{flags:?} {env_key:?}: {status:?}");
        let log = relay.log();
        assert!(log.contains("handshakes not keyed"), "{log}");
    }
}

/// `--v08-default-key` admits peers using the v0.8.2 default key and refuses zero-mac ones,
/// and says the key is public.
#[test]
fn the_v08_default_key() {
    let mut relay = Service::start(&["--v08-default-key"]);
    not_paired(relay.addr, Guid(1), None);
    exchange(relay.addr, Guid(2), Some(V08_DEFAULT_KEY));
    relay.signal("-INT");
    let status = relay.wait_exit(Duration::from_secs(2));
    assert!(status.success(), "{status:?}");
    let log = relay.log();
    for needle in [
        "handshakes keyed",
        "default key: it is public",
        "handshakes_rejected=2",
    ] {
        assert!(log.contains(needle), "missing {needle:?} in:\n{log}");
    }
}

#[test]
fn refuses_the_v08_default_key_with_another_key_or_tokens() {
    for (args, env) in [
        (&["--v08-default-key", "--secret-key", "AAAA"][..], None),
        (
            &["--v08-default-key", "--secret-key-file", "/nonexistent"],
            None,
        ),
        (&["--v08-default-key"], Some("")),
        (&["--v08-default-key", "--require-tokens"], None),
        (&["--secret-key", "", "--require-tokens"], None),
    ] {
        let mut cmd = command(args);
        if let Some(value) = env {
            cmd.env("UDP_RELAY_SECRET_KEY", value);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("cannot be used with")
                || stderr.contains("require_tokens needs")
                || stderr.contains("--require-tokens needs"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn refuses_settings_out_of_range_naming_the_field() {
    for (flags, field) in [
        (&["--max-tracked-sources", "0"][..], "max_tracked_sources"),
        (
            &["--inactivity-timeout-ms", "18446744073709551615"][..],
            "inactivity_timeout",
        ),
        (&["--inactivity-timeout-ms", "0"][..], "inactivity_timeout"),
        (&["--require-tokens"][..], "require_tokens"),
        (
            &["--handshake-burst-per-source", "0"][..],
            "handshake_burst_per_source",
        ),
        (
            &["--recv-buffer-bytes", "2000000000"][..],
            "recv_buffer_bytes",
        ),
        (&["--coalesce-us", "5001"][..], "coalesce_window"),
    ] {
        let mut child = command(&["--bind", "127.0.0.1", "--port", "0"])
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_exit(&mut child, Duration::from_secs(5));
        assert_eq!(status.code(), Some(2), "{flags:?}");
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert!(
            err.contains(&format!("invalid configuration: {field}")),
            "{flags:?}: {err}"
        );
    }
}
