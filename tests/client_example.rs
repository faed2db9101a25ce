//! The line-chat example (`examples/relay_client.rs`) run as two processes through an
//! in-process relay or the host example on loopback: lines go both ways, the key comes from
//! the flag or the environment (empty = unkeyed, or the v0.8.2 default key), and a missing
//! peer ends in a non-zero exit with a clear message.

mod client_support;
mod example_support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use client_support::RelayThread;
use example_support::{Host, example};
use udp_relay::protocol::Guid;

fn spawn(args: &[&str], env_key: Option<&str>) -> Child {
    let mut cmd = Command::new(example("relay_client"));
    cmd.args(args)
        .env_remove("UDP_RELAY_SECRET_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(k) = env_key {
        cmd.env("UDP_RELAY_SECRET_KEY", k);
    }
    cmd.spawn().unwrap()
}

/// Lines of a child's stdout, read on a thread.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn two_chat_clients_talk_through_the_relay() {
    let key = b"chat secret key, 16+ bytes";
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), Some(key));
    let key64 = base64::engine::general_purpose::STANDARD.encode(key);
    let relay_addr = relay.addr.to_string();
    let guid = Guid::random().unwrap().to_string();
    let a = spawn(&["--relay", &relay_addr, "--guid", &guid], Some(&key64));
    let b = spawn(
        &[
            "--relay",
            &relay_addr,
            "--guid",
            &guid,
            "--secret-key",
            &key64,
        ],
        None,
    );
    talk(a, b);
}

/// Two chat clients of one channel exchange lines both ways, then leave cleanly at the end
/// of their input.
fn talk(mut a: Child, mut b: Child) {
    let (from_a, from_b) = (lines_of(&mut a), lines_of(&mut b));
    let mut a_in = a.stdin.take().unwrap();
    let mut b_in = b.stdin.take().unwrap();
    // Typed before the channel is up: sent once it is.
    writeln!(a_in, "hello from a").unwrap();
    writeln!(a_in, "second line, with ünïcode").unwrap();
    let wait = Duration::from_secs(10);
    assert_eq!(from_b.recv_timeout(wait).unwrap(), "hello from a");
    assert_eq!(
        from_b.recv_timeout(wait).unwrap(),
        "second line, with ünïcode"
    );
    writeln!(b_in, "hello from b").unwrap();
    assert_eq!(from_a.recv_timeout(wait).unwrap(), "hello from b");
    // End of input ends each client cleanly.
    drop(a_in);
    drop(b_in);
    let (sa, sb) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        sa.status.success(),
        "{}",
        String::from_utf8_lossy(&sa.stderr)
    );
    assert!(
        sb.status.success(),
        "{}",
        String::from_utf8_lossy(&sb.stderr)
    );
    let stderr = String::from_utf8_lossy(&sa.stderr);
    assert!(stderr.contains("channel established"), "{stderr}");
    // Handshakes and keep-alives never showed up as chat lines.
    assert!(from_a.try_recv().is_err() && from_b.try_recv().is_err());
}

#[test]
fn chat_client_without_a_peer_exits_with_a_clear_message() {
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), None);
    let guid = Guid::random().unwrap().to_string();
    let child = spawn(
        &[
            "--relay",
            &relay.addr.to_string(),
            "--guid",
            &guid,
            "--handshake-timeout-ms",
            "300",
        ],
        None,
    );
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("handshake timed out"), "{stderr}");
    assert!(stderr.contains(&guid), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn chat_client_rejects_bad_arguments() {
    for args in [
        &["--relay", "127.0.0.1:9", "--guid", "not-a-guid"][..],
        &[
            "--relay",
            "no-port",
            "--guid",
            "01234567-89ab-cdef-fedc-ba9876543210",
        ],
        &[
            "--relay",
            "127.0.0.1:9",
            "--guid",
            "01234567-89ab-cdef-fedc-ba9876543210",
            "--secret-key",
            "***",
        ],
        &[
            "--relay",
            "127.0.0.1:9",
            "--guid",
            "01234567-89ab-cdef-fedc-ba9876543210",
            "--secret-key",
            "AAAA",
            "--v08-default-key",
        ],
    ] {
        let out = spawn(args, None).wait_with_output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

/// An empty key means unkeyed in the host and in the client, from the flag or the
/// environment.
#[test]
fn chat_clients_with_an_empty_key_talk_through_a_host_with_an_empty_key() {
    let host = Host::start(&[], Some(""));
    let (relay, guid) = (host.addr.to_string(), Guid::random().unwrap().to_string());
    let a = spawn(&["--relay", &relay, "--guid", &guid], Some(""));
    let b = spawn(
        &["--relay", &relay, "--guid", &guid, "--secret-key", ""],
        None,
    );
    talk(a, b);
}

#[test]
fn chat_clients_with_the_v08_default_key_talk_through_a_host_with_it() {
    let host = Host::start(&["--v08-default-key"], None);
    let (relay, guid) = (host.addr.to_string(), Guid::random().unwrap().to_string());
    let args = ["--relay", &relay, "--guid", &guid, "--v08-default-key"];
    talk(spawn(&args, None), spawn(&args, None));
}

/// As v0.8.2 clients run with their defaults do: an unkeyed relay does not check the mac.
#[test]
fn chat_clients_with_the_v08_default_key_talk_through_an_unkeyed_host() {
    let host = Host::start(&[], None);
    let (relay, guid) = (host.addr.to_string(), Guid::random().unwrap().to_string());
    let args = ["--relay", &relay, "--guid", &guid, "--v08-default-key"];
    talk(spawn(&args, None), spawn(&args, None));
}

/// A host keyed with the v0.8.2 default key refuses the zero mac of unkeyed clients.
#[test]
fn unkeyed_chat_clients_are_refused_by_a_host_with_the_v08_default_key() {
    let host = Host::start(&["--v08-default-key"], None);
    let (relay, guid) = (host.addr.to_string(), Guid::random().unwrap().to_string());
    let args = [
        "--relay",
        &relay,
        "--guid",
        &guid,
        "--handshake-timeout-ms",
        "500",
    ];
    let (a, b) = (spawn(&args, None), spawn(&args, None));
    for client in [a, b] {
        let out = client.wait_with_output().unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("handshake timed out"), "{stderr}");
        assert!(stderr.contains("--v08-default-key"), "{stderr}");
    }
}
