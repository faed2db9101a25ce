//! The example host binary: starts, relays between two v0.8 peers, drains on SIGTERM and
//! stops on SIGINT.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use udp_relay::protocol::{Guid, HandshakeKey, write_handshake};

fn example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples").join(name)
}

fn start_host(extra: &[&str], env_key: Option<&str>) -> (Child, SocketAddr) {
    let mut cmd = Command::new(example("relay_host"));
    cmd.args([
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--stats-interval-secs",
        "1",
    ])
    .args(extra)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .env_remove("UDP_RELAY_SECRET_KEY");
    if let Some(k) = env_key {
        cmd.env("UDP_RELAY_SECRET_KEY", k);
    }
    let mut child = cmd.spawn().expect("examples are built by a plain `cargo test`; with a filter, run `cargo build --examples` first");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    (child, addr)
}

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

fn peer() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

fn exchange(relay: SocketAddr, key: Option<&[u8]>) {
    let key = key.map(HandshakeKey::new);
    let mut hs = [0u8; 56];
    write_handshake(&mut hs, Guid(0xC0FFEE), 0, &[], key.as_ref()).unwrap();
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
    let (mut child, addr) = start_host(&["--inactivity-timeout-ms", "300"], None);
    exchange(addr, None);
    signal(&child, "-TERM");
    let status = wait_exit(&mut child, Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
    let log = stderr_of(&mut child);
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
    let (mut child, addr) = start_host(&[], Some(&b64));
    exchange(addr, Some(key));
    signal(&child, "-INT");
    let status = wait_exit(&mut child, Duration::from_secs(2));
    assert!(status.success(), "{status:?}");
    assert!(stderr_of(&mut child).contains("SIGINT: stopping now"));
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
