//! Runs of datagrams larger than the path MTU (Linux). Sent alone, such a datagram leaves the
//! relay cut into IP fragments and arrives whole. Sent in a run, the relay would group it with
//! its neighbours into one UDP GSO message, which the kernel refuses when a segment does not
//! fit the MTU: every datagram of the run must still arrive, and such runs must not switch
//! GSO off for everyone else.
//!
//! Loopback's MTU (64 KiB) is far above these datagrams, so each test runs in a private
//! network namespace whose loopback has an Ethernet MTU; the host's loopback is untouched.
#![cfg(target_os = "linux")]

use std::net::UdpSocket;
use std::time::Duration;

use udp_relay::net::batch::enable_gro;
use udp_relay::relay::Relay;

mod netns;
mod relay_loop;
use relay_loop::{establish, peer_on, pump, relay_on};

/// Ethernet's MTU.
const MTU: u32 = 1500;
/// Above the MTU for IPv4 and IPv6 alike, well below the largest UDP payload.
const LARGE: usize = 2000;

/// A run of `n` distinct datagrams of `len` bytes, marked by `tag`.
fn run(tag: u8, n: usize, len: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut d = vec![tag; len];
            d[0] = i as u8;
            d
        })
        .collect()
}

/// Sends `datagrams` back to back, before the relay reads any: it reads them in one batch
/// and forwards them as one run.
fn send_back_to_back(from: &UdpSocket, datagrams: &[Vec<u8>], relay: &Relay) {
    for d in datagrams {
        assert_eq!(from.send_to(d, relay.local_addr()).unwrap(), d.len());
    }
}

/// A relay and two paired peers on `bind`; large datagrams alone, then in runs both ways,
/// then a run of small ones that must still leave as one GSO message.
fn large_datagrams_arrive_in_runs_as_they_do_alone(bind: &str) {
    let mut relay = relay_on(bind);
    let (a, b) = (peer_on(bind), peer_on(bind));
    let guid = establish(&mut relay, &a, &b);

    for (i, d) in run(0xA0, 8, LARGE).into_iter().enumerate() {
        send_back_to_back(&a, std::slice::from_ref(&d), &relay);
        assert!(pump(&mut relay, &b, 1) == [d], "lone datagram {i}");
    }

    // More runs than the refusals (8) that switch GSO off for good when they mean no GSO:
    // these must not count as such.
    let mut expected = 8;
    for (r, n) in [8, 16, 12, 16, 8, 16, 12, 16, 8, 16]
        .into_iter()
        .enumerate()
    {
        let (from, to) = if r % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let datagrams = run(r as u8, n, LARGE);
        send_back_to_back(from, &datagrams, &relay);
        let got = pump(&mut relay, to, n);
        assert_eq!(
            got.len(),
            n,
            "run {r} of {n} datagrams of {LARGE} bytes: {} arrived",
            got.len()
        );
        assert!(got == datagrams, "run {r}: in order and intact");
        expected += n;
    }
    let s = relay.stats();
    assert_eq!(s.send_errors, 0);
    let c = relay.channel(guid).unwrap().counters;
    assert_eq!(
        c.datagrams_a_to_b + c.datagrams_b_to_a,
        expected as u64 + 1,
        "every datagram counted as forwarded (B's handshake too)"
    );
    assert_eq!(c.dropped, 0);

    // With GRO on, B reads a GSO message the relay sent on loopback as one coalesced read:
    // the relay still groups runs of datagrams that fit the MTU.
    assert!(enable_gro(&b), "UDP GRO on the receiving peer");
    let small = run(0x5A, 8, 100);
    send_back_to_back(&a, &small, &relay);
    std::thread::sleep(Duration::from_millis(20)); // all queued before the relay reads
    let got = pump(&mut relay, &b, 1);
    assert_eq!(
        got.iter().map(Vec::len).collect::<Vec<_>>(),
        [small.len() * 100],
        "a run of small datagrams still leaves as one GSO message (one read of them all)"
    );
    assert!(got[0] == small.concat(), "in order and intact");
}

#[test]
fn runs_above_the_path_mtu_arrive_over_ipv4() {
    netns::with_loopback_mtu(MTU, || {
        large_datagrams_arrive_in_runs_as_they_do_alone("127.0.0.1:0")
    });
}

#[test]
fn runs_above_the_path_mtu_arrive_over_ipv6() {
    netns::with_loopback_mtu(MTU, || {
        if UdpSocket::bind("[::1]:0").is_err() {
            eprintln!("WARNING: no IPv6 loopback in the namespace; IPv6 test skipped");
            return;
        }
        large_datagrams_arrive_in_runs_as_they_do_alone("[::1]:0")
    });
}
