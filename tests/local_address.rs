//! On a host with several addresses, a relay bound to the wildcard address answers each peer
//! from the address that peer sent to: a reply from another address would be dropped by the
//! peer's NAT (and by a connected socket). Loopback has 127.0.0.0/8 and ::1 to try it.
#![cfg(target_os = "linux")]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use udp_relay::protocol::{Guid, write_handshake};
use udp_relay::relay::{Config, Relay};

fn relay(bind: &str) -> Relay {
    Relay::bind(Config {
        bind: bind.parse().unwrap(),
        ..Config::default()
    })
    .unwrap()
}

fn handshake(guid: Guid) -> Vec<u8> {
    let mut b = vec![0u8; 56];
    write_handshake(&mut b, guid, 0, &[], None).unwrap();
    b
}

/// Polls until `socket` has a datagram; returns it and where it came from.
fn pump(relay: &mut Relay, socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 2048];
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end {
        relay.poll(Duration::from_millis(5)).unwrap();
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            return (buf[..n].to_vec(), from);
        }
    }
    panic!("{} heard nothing", socket.local_addr().unwrap());
}

/// A at `a_to` and B at `b_to` (the relay's port on two of its addresses): each hears the
/// other from exactly the address it sent to, the handshake that paired them, data, and a
/// return-path challenge alike.
fn replies_come_from_the_address_each_peer_used(relay_bind: &str, a_to: &str, b_to: &str) {
    let mut r = relay(relay_bind);
    let port = r.local_addr().port();
    let a_to: SocketAddr = format!("{a_to}:{port}").parse().unwrap();
    let b_to: SocketAddr = format!("{b_to}:{port}").parse().unwrap();
    let bind_of = |to: &SocketAddr| {
        if to.is_ipv6() {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        }
    };
    let a = UdpSocket::bind(bind_of(&a_to)).unwrap();
    let b = UdpSocket::bind(bind_of(&b_to)).unwrap();
    let guid = Guid::random().unwrap();
    a.send_to(&handshake(guid), a_to).unwrap();
    r.poll(Duration::from_millis(20)).unwrap();
    b.send_to(&handshake(guid), b_to).unwrap();
    let (got, from) = pump(&mut r, &a);
    assert_eq!(got, handshake(guid));
    assert_eq!(from, a_to, "B's handshake reached A from where A sent");
    a.send_to(b"to b", a_to).unwrap();
    let (got, from) = pump(&mut r, &b);
    assert_eq!((got.as_slice(), from), (&b"to b"[..], b_to));
    b.send_to(b"to a", b_to).unwrap();
    let (got, from) = pump(&mut r, &a);
    assert_eq!((got.as_slice(), from), (&b"to a"[..], a_to));
    // A run sent back to back (the relay may read it coalesced and send it as one GSO
    // message): every datagram from the same address.
    for i in 0..16u8 {
        a.send_to(&[i; 100], a_to).unwrap();
    }
    for i in 0..16u8 {
        let (got, from) = pump(&mut r, &b);
        assert_eq!((got, from), (vec![i; 100], b_to), "datagram {i} of the run");
    }
    assert_eq!(r.stats().send_errors, 0);
}

#[test]
fn ipv4_wildcard_relay_answers_from_127_0_0_2_and_127_0_0_3() {
    replies_come_from_the_address_each_peer_used("0.0.0.0:0", "127.0.0.2", "127.0.0.3");
}

#[test]
fn dual_stack_relay_answers_from_an_ipv4_and_the_ipv6_loopback_address() {
    replies_come_from_the_address_each_peer_used("[::]:0", "127.0.0.2", "[::1]");
    replies_come_from_the_address_each_peer_used("[::]:0", "127.0.0.3", "127.0.0.2");
}

/// A return-path challenge leaves from the address the handshake was sent to as well.
#[test]
fn a_challenge_comes_from_the_address_the_handshake_was_sent_to() {
    let mut r = Relay::bind(Config {
        bind: "0.0.0.0:0".parse().unwrap(),
        require_return_path: true,
        ..Config::default()
    })
    .unwrap();
    let to: SocketAddr = format!("127.0.0.3:{}", r.local_addr().port())
        .parse()
        .unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let guid = Guid::random().unwrap();
    peer.send_to(&handshake(guid), to).unwrap();
    let (got, from) = pump(&mut r, &peer);
    assert!(udp_relay::cookie::read_challenge(&got, guid).is_some());
    assert_eq!(from, to);
}
