//! Shared by the tests that tick a [`Relay`] by hand over loopback sockets: a relay and peers
//! on a loopback address, a v0.8 handshake, a pump that polls the relay until a peer has
//! heard enough, and two peers brought to an established channel.
//!
//! Each test crate uses a different part of this module, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use udp_relay::protocol::{Guid, write_handshake};
use udp_relay::relay::{Config, Relay};

/// A relay with the default configuration bound to `bind` (a loopback address).
pub fn relay_on(bind: &str) -> Relay {
    Relay::bind(Config {
        bind: bind.parse().unwrap(),
        ..Config::default()
    })
    .unwrap()
}

/// A peer socket on `bind` whose reads give up after 20 ms.
pub fn peer_on(bind: &str) -> UdpSocket {
    let s = UdpSocket::bind(bind).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    s
}

pub fn peer() -> UdpSocket {
    peer_on("127.0.0.1:0")
}

/// Polls the relay until `socket` has received `n` datagrams (or 5 s pass).
pub fn pump(relay: &mut Relay, socket: &UdpSocket, n: usize) -> Vec<Vec<u8>> {
    pump_for(relay, socket, n, Duration::from_secs(5))
}

/// Polls the relay until `socket` has received `n` datagrams (or `wait` passes).
pub fn pump_for(relay: &mut Relay, socket: &UdpSocket, n: usize, wait: Duration) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65_536];
    let deadline = Instant::now() + wait;
    while got.len() < n && Instant::now() < deadline {
        relay.poll(Duration::from_millis(5)).unwrap();
        while let Ok((len, _)) = socket.recv_from(&mut buf) {
            got.push(buf[..len].to_vec());
            if got.len() == n {
                break;
            }
        }
    }
    got
}

/// A v0.8 handshake for `guid`, without extensions or MAC.
pub fn handshake(guid: Guid) -> Vec<u8> {
    let mut b = [0u8; 56];
    write_handshake(&mut b, guid, 0, &[], None).unwrap();
    b.to_vec()
}

/// Brings `a` and `b` to an established channel of a fresh GUID; `a` has heard `b`'s
/// handshake and nothing else is pending.
pub fn establish(relay: &mut Relay, a: &UdpSocket, b: &UdpSocket) -> Guid {
    let to = relay.local_addr();
    let guid = Guid::random().unwrap();
    a.send_to(&handshake(guid), to).unwrap();
    relay.poll(Duration::from_millis(50)).unwrap();
    b.send_to(&handshake(guid), to).unwrap();
    assert_eq!(
        pump(relay, a, 1),
        vec![handshake(guid)],
        "A learns B joined"
    );
    guid
}
