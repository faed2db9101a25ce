//! The example host binary: starts, relays between two v0.8 peers, drains on SIGTERM and
//! stops on SIGINT.
#![cfg(unix)]

mod example_support;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use example_support::{Host, example};
use udp_relay::protocol::{Guid, HandshakeKey, V08_DEFAULT_KEY, write_handshake};

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let end = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > end {
            child.kill().unwrap();
            panic!("relay_host did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut s).unwrap();
    s
}

fn handshake(guid: Guid, key: Option<&[u8]>) -> [u8; 56] {
    let key = key.map(HandshakeKey::new);
    let mut hs = [0u8; 56];
    write_handshake(&mut hs, guid, 0, &[], key.as_ref()).unwrap();
    hs
}

/// Two peers send handshakes for `guid` made with `key` and are not paired: neither hears
/// the other.
fn not_paired(relay: SocketAddr, guid: Guid, key: Option<&[u8]>) {
    let hs = handshake(guid, key);
    let (a, b) = (peer(), peer());
    for socket in [&a, &b] {
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
    }
    a.send_to(&hs, relay).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    b.send_to(&hs, relay).unwrap();
    let mut buf = [0u8; 128];
    assert!(a.recv_from(&mut buf).is_err(), "A heard from the relay");
    assert!(b.recv_from(&mut buf).is_err(), "B heard from the relay");
}

fn peer() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

/// Two peers send handshakes for `guid` made with `key` (a zero mac for `None`), then
/// exchange a datagram each way.
fn exchange(relay: SocketAddr, guid: Guid, key: Option<&[u8]>) {
    let hs = handshake(guid, key);
    let (a, b) = (peer(), peer());
    a.send_to(&hs, relay).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    b.send_to(&hs, relay).unwrap();
    let mut buf = [0u8; 128];
    let (n, _) = a.recv_from(&mut buf).expect("A hears B's handshake");
    assert_eq!(&buf[..n], &hs);
    a.send_to(b"hello b", relay).unwrap();
    let (n, _) = b.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello b");
    b.send_to(b"hello a", relay).unwrap();
    let (n, _) = a.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello a");
}

#[test]
fn host_relays_and_drains_on_sigterm() {
    let mut host = Host::start(&["--inactivity-timeout-ms", "300"], None);
    exchange(host.addr, Guid(0xC0FFEE), None);
    signal(&host.child, "-TERM");
    let status = wait_exit(&mut host.child, Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
    let log = stderr_of(&mut host.child);
    for needle in [
        "allocated by",
        "established:",
        "SIGTERM: draining",
        "closed (idle)",
        "a->b 1 dgrams",
        "drained",
        "stats: channels",
    ] {
        assert!(log.contains(needle), "missing {needle:?} in:\n{log}");
    }
}

#[test]
fn host_takes_key_from_env_and_stops_on_sigint() {
    use base64::Engine;
    let key = b"0123456789abcdef0123456789abcdef";
    let b64 = base64::engine::general_purpose::STANDARD.encode(key);
    let mut host = Host::start(&[], Some(&b64));
    exchange(host.addr, Guid(0xC0FFEE), Some(key));
    signal(&host.child, "-INT");
    let status = wait_exit(&mut host.child, Duration::from_secs(2));
    assert!(status.success(), "{status:?}");
    assert!(stderr_of(&mut host.child).contains("SIGINT: stopping now"));
}

#[test]
fn host_rejects_bad_key_and_busy_port() {
    let out = Command::new(example("relay_host"))
        .args(["--secret-key", "not base64!"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid base64"));
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(example("relay_host"))
        .args(["--bind", "127.0.0.1", "--port", &port])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen"));
}

/// An empty key, from the flag or the environment, means unkeyed (as in v0.8.2): the mac is
/// not checked, so zero-mac peers and peers using the v0.8.2 default key are both paired.
#[test]
fn host_with_an_empty_key_is_unkeyed() {
    for (flags, env_key) in [(&["--secret-key", ""][..], None), (&[][..], Some(""))] {
        let mut host = Host::start(flags, env_key);
        exchange(host.addr, Guid(1), None);
        exchange(host.addr, Guid(2), Some(V08_DEFAULT_KEY));
        signal(&host.child, "-INT");
        let status = wait_exit(&mut host.child, Duration::from_secs(2));
        assert!(status.success(), "{flags:?} {env_key:?}: {status:?}");
        let log = stderr_of(&mut host.child);
        assert!(log.contains("handshakes not keyed"), "{log}");
    }
}

/// `--v08-default-key` admits peers using the v0.8.2 default key and refuses zero-mac ones,
/// and says the key is public.
#[test]
fn host_with_the_v08_default_key() {
    let mut host = Host::start(&["--v08-default-key"], None);
    not_paired(host.addr, Guid(1), None);
    exchange(host.addr, Guid(2), Some(V08_DEFAULT_KEY));
    signal(&host.child, "-INT");
    let status = wait_exit(&mut host.child, Duration::from_secs(2));
    assert!(status.success(), "{status:?}");
    let log = stderr_of(&mut host.child);
    for needle in [
        "handshakes keyed",
        "default key: it is public",
        "rejected 2",
    ] {
        assert!(log.contains(needle), "missing {needle:?} in:\n{log}");
    }
}

#[test]
fn host_refuses_the_v08_default_key_with_a_secret_key_or_tokens() {
    for args in [
        &["--v08-default-key", "--secret-key", "AAAA"][..],
        &["--v08-default-key", "--require-tokens"],
        &["--secret-key", "", "--require-tokens"],
    ] {
        let out = Command::new(example("relay_host"))
            .args(args)
            .env_remove("UDP_RELAY_SECRET_KEY")
            .output()
            .unwrap();
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
fn host_refuses_settings_out_of_range_naming_the_field() {
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
    ] {
        let mut child = Command::new(example("relay_host"))
            .args(["--bind", "127.0.0.1", "--port", "0"])
            .args(flags)
            .env_remove("UDP_RELAY_SECRET_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_exit(&mut child, Duration::from_secs(5));
        assert_eq!(status.code(), Some(2), "{flags:?}");
        let err = stderr_of(&mut child);
        assert!(
            err.contains(&format!("invalid configuration: {field}")),
            "{flags:?}: {err}"
        );
    }
}
