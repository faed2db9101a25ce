//! What both the `relay` fuzz target and `tests/sans_io.rs` use to drive the relay logic
//! without sockets: a small set of source addresses that collide in every way that matters,
//! and one step that feeds a datagram and checks every per-datagram invariant.
//!
//! Each crate that includes it uses a different part, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use udp_relay::relay::{RelayCore, Stats, Verdict};

/// Fifteen sources: two IPv4 hosts with three ports each, IPv6 hosts sharing a /64, one more
/// IPv6 host, and the IPv4-mapped form of the first IPv4 host (the same peer as it).
pub fn address(i: u8) -> SocketAddr {
    let port = 1000 + u16::from(i % 3);
    match i % 15 / 3 {
        0 => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), port),
        1 => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 9)), port),
        2 => SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, u16::from(i))),
            port,
        ),
        3 => SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1)),
            port,
        ),
        _ => SocketAddr::new(
            IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped()),
            port,
        ),
    }
}

/// Feeds one datagram and checks every per-datagram invariant: the indexes agree with the
/// table, a forward goes to the sender's paired peer and never back to the sender, and the
/// datagram is counted exactly once (out, dropped, or consumed), so the relay's counters
/// always add up. Returns the verdict.
pub fn feed(
    relay: &mut RelayCore,
    d: &[u8],
    src: SocketAddr,
    now: Duration,
    send_ok: bool,
) -> Verdict {
    let before: Stats = relay.stats();
    let verdict = relay.sans_io_datagram(d, src, now, send_ok);
    let after = relay.stats();
    relay.check_invariants().unwrap();
    assert_eq!(after.datagrams_in, before.datagrams_in + 1);
    assert_eq!(
        after.datagrams_in,
        after.datagrams_out + after.datagrams_dropped + after.datagrams_consumed,
        "counters do not add up: {after:?}"
    );
    let consumed = after.datagrams_consumed - before.datagrams_consumed;
    let out = after.datagrams_out - before.datagrams_out;
    let dropped = after.datagrams_dropped - before.datagrams_dropped;
    match verdict {
        Verdict::Forward(f) => {
            assert_ne!(
                f.to,
                udp_relay::net::normalize(src),
                "forwarded back to its sender"
            );
            assert_eq!(
                relay.partner_of(src),
                Some(f.to),
                "forwarded to an address that is not the sender's peer"
            );
            if send_ok {
                assert_eq!((out, dropped), (1, 0));
            } else {
                assert_eq!((out, dropped), (0, 1));
                assert_eq!(after.send_errors, before.send_errors + 1);
            }
        }
        Verdict::Dropped => assert_eq!((out, dropped), (0, 1), "{before:?} -> {after:?}"),
        Verdict::Absorbed => assert_eq!((out, dropped, consumed), (0, 0, 1)),
        Verdict::ProbeReply(r) => {
            assert_eq!(
                r.to,
                udp_relay::net::normalize(src),
                "probe reply to a third party"
            );
            assert!(
                r.datagram.len() <= d.len(),
                "probe reply larger than its probe"
            );
            assert_eq!((out, dropped, consumed), (0, 0, 1));
        }
        Verdict::Challenge(c) => {
            // The only answer the relay gives an unproven address: to the sender alone, no
            // larger than what it sent, and nothing allocated or paired.
            assert_eq!(
                c.to,
                udp_relay::net::normalize(src),
                "challenge to a third party"
            );
            assert!(
                c.datagram.len() <= d.len(),
                "challenge larger than its handshake"
            );
            assert_eq!((out, dropped), (0, 0));
            assert_eq!(
                after.handshakes_challenged,
                before.handshakes_challenged + 1
            );
            assert_eq!(
                after.channels_allocated_total,
                before.channels_allocated_total
            );
            assert_eq!(after.channels_established, before.channels_established);
        }
    }
    verdict
}

/// Feeds `token`'s handshake (sequence `sequence`) from `src` the way a client of this
/// library enters: when the relay answers with a return-path challenge, the handshake goes
/// again (sequence + 1) echoing the cookie. Returns the last verdict.
pub fn enter_with_token(
    relay: &mut RelayCore,
    token: &udp_relay::token::Token,
    sequence: u64,
    src: SocketAddr,
    now: Duration,
) -> Verdict {
    use udp_relay::token::write_handshake_with_token_and_cookie as write;
    let mut buf = [0u8; 92];
    let n = write(&mut buf, token, sequence, None).unwrap();
    match relay.sans_io_datagram(&buf[..n], src, now, true) {
        Verdict::Challenge(c) => {
            let cookie = udp_relay::cookie::read_challenge(&c.datagram, token.guid).unwrap();
            let n = write(&mut buf, token, sequence + 1, Some(&cookie)).unwrap();
            relay.sans_io_datagram(&buf[..n], src, now, true)
        }
        v => v,
    }
}
