//! A peer that leaves without a word: the relay's next datagram to its closed port comes back
//! as an ICMP port-unreachable. On Windows a UDP socket then fails its next `recvfrom` with
//! WSAECONNRESET unless `SIO_UDP_CONNRESET` is turned off (src/net/connreset.rs), which
//! would cost the relay a receive per departed peer. Whatever the platform, the relay must
//! keep relaying the other channels and count no receive error.
//!
//! Run on Linux natively and on Windows under Wine (`scripts/cross-test.sh`). Wine 8 accepts
//! `SIO_UDP_CONNRESET` but reports no ICMP error on UDP sockets at all, so there this shows the
//! call is made without complaint and departures are harmless; the WSAECONNRESET it suppresses
//! only happens on a real Windows kernel.

use std::sync::Mutex;
use std::time::Duration;

use udp_relay::relay::Relay;

mod relay_loop;
use relay_loop::{establish, peer, pump, relay_on};

/// Every warning the library logs, to catch "cannot disable SIO_UDP_CONNRESET".
struct Warnings(Mutex<Vec<String>>);

impl log::Log for Warnings {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

static WARNINGS: Warnings = Warnings(Mutex::new(Vec::new()));

/// Sends `payload` from `from` and polls until `to` has it.
fn relayed(
    relay: &mut Relay,
    from: &std::net::UdpSocket,
    to: &std::net::UdpSocket,
    payload: &[u8],
) {
    from.send_to(payload, relay.local_addr()).unwrap();
    assert_eq!(pump(relay, to, 1), vec![payload.to_vec()]);
}

#[test]
fn a_departed_peer_does_not_stop_the_relay() {
    log::set_logger(&WARNINGS).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let mut relay = relay_on("127.0.0.1:0");
    let (a, b) = (peer(), peer());
    let (c, d) = (peer(), peer());
    establish(&mut relay, &a, &b);
    establish(&mut relay, &c, &d);
    relayed(&mut relay, &a, &b, b"before");

    // B leaves; A's next datagrams go to a closed port and bounce.
    drop(b);
    for round in 0..5u8 {
        a.send_to(&[round; 32], relay.local_addr()).unwrap();
        relay.poll(Duration::from_millis(20)).unwrap();
        // The other channel goes on between the bounces, both ways.
        relayed(&mut relay, &c, &d, &[b'c', round]);
        relayed(&mut relay, &d, &c, &[b'd', round]);
    }

    // A new pair still gets a channel.
    let (e, f) = (peer(), peer());
    establish(&mut relay, &e, &f);
    relayed(&mut relay, &f, &e, b"new pair");

    let stats = relay.stats();
    assert_eq!(stats.recv_errors, 0, "{stats:?}");
    assert!(stats.datagrams_out >= 5 + 10, "{stats:?}");
    let warnings = WARNINGS.0.lock().unwrap();
    assert!(
        !warnings.iter().any(|w| w.contains("SIO_UDP_CONNRESET")),
        "{warnings:?}"
    );
}
