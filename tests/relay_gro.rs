//! UDP GRO on the relay's socket (Linux): a sender's run of datagrams sent as one GSO message
//! reaches the relay as one coalesced read. The relay must still treat every datagram of it
//! as the datagram its sender sent: decided on its own, counted on its own, forwarded whole
//! and in order, never glued to its neighbours.
#![cfg(target_os = "linux")]

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use udp_relay::protocol::Guid;
use udp_relay::relay::{Config, Relay};

/// From linux/udp.h.
const UDP_SEGMENT: libc::c_int = 103;

mod relay_loop;
use relay_loop::{establish, handshake, peer, peer_on, pump, pump_for, relay_on};

fn relay() -> Relay {
    relay_on("127.0.0.1:0")
}

/// Sends `datagrams` (equal sizes, the last one possibly shorter) as one UDP GSO message:
/// they leave the socket as one buffer that the kernel cuts into segments.
fn send_run(socket: &UdpSocket, datagrams: &[Vec<u8>], to: SocketAddr) {
    set_segment_size(socket, datagrams[0].len());
    let joined: Vec<u8> = datagrams.concat();
    assert_eq!(socket.send_to(&joined, to).unwrap(), joined.len());
    set_segment_size(socket, 0);
}

/// Sets UDP_SEGMENT on `socket`: every send is cut into datagrams of `size` (0: off).
fn set_segment_size(socket: &UdpSocket, size: usize) {
    let size = size as libc::c_int;
    // SAFETY: a valid socket, an int option value that outlives the call, and its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_UDP,
            UDP_SEGMENT,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "UDP_SEGMENT: {}", std::io::Error::last_os_error());
}

#[test]
fn a_coalesced_run_is_forwarded_datagram_by_datagram() {
    let mut relay = relay();
    let to = relay.local_addr();
    let (a, b) = (peer(), peer());
    let guid = establish(&mut relay, &a, &b);
    let before = relay.stats();

    // 20 datagrams of 300 bytes and a short last one, each distinct.
    let mut run: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 300]).collect();
    run.push(vec![0xAB; 37]);
    send_run(&a, &run, to);
    let got = pump(&mut relay, &b, run.len());
    assert_eq!(
        got.iter().map(Vec::len).collect::<Vec<_>>(),
        run.iter().map(Vec::len).collect::<Vec<_>>(),
        "as many datagrams as were sent, same sizes"
    );
    assert!(got == run, "in order and intact");

    // The other way too, with segments the size of a handshake: still plain payload.
    let back: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i ^ 0x5A; 56]).collect();
    send_run(&b, &back, to);
    assert!(pump(&mut relay, &a, back.len()) == back);

    let s = relay.stats();
    assert_eq!(s.datagrams_in - before.datagrams_in, 29);
    assert_eq!(s.datagrams_out - before.datagrams_out, 29);
    let run_bytes: u64 = run.iter().map(|d| d.len() as u64).sum();
    assert_eq!(s.bytes_in - before.bytes_in, run_bytes + 8 * 56);
    let c = relay.channel(guid).unwrap().counters;
    assert_eq!(
        c.datagrams_a_to_b, 21,
        "the run (A's handshake had no one to go to)"
    );
    assert_eq!(c.datagrams_b_to_a, 1 + 8, "B's handshake and its run");
    assert_eq!(c.dropped, 0);
}

#[test]
fn every_datagram_of_a_coalesced_run_from_a_stranger_is_screened_alone() {
    let mut relay = relay();
    let to = relay.local_addr();
    let (a, b) = (peer(), peer());
    let guid = Guid::random().unwrap();

    // Garbage of handshake size, then a valid handshake: read as one 112-byte datagram it
    // would be rejected (bad magic); datagram by datagram the second one opens a channel.
    let run = vec![vec![0xEEu8; 56], handshake(guid)];
    send_run(&a, &run, to);
    let deadline = Instant::now() + Duration::from_secs(5);
    while relay.stats().datagrams_in < 2 && Instant::now() < deadline {
        relay.poll(Duration::from_millis(5)).unwrap();
    }
    let s = relay.stats();
    assert_eq!(s.datagrams_in, 2);
    assert_eq!(s.handshakes_rejected, 1, "the garbage, alone");
    assert_eq!(s.handshakes_accepted, 1);
    assert_eq!(s.channels_open, 1);

    // B joins with a run of two handshakes: the first establishes the channel and is
    // forwarded to A, the second is forwarded as an established member's datagram.
    send_run(&b, &[handshake(guid), handshake(guid)], to);
    let got = pump(&mut relay, &a, 2);
    assert_eq!(got, vec![handshake(guid), handshake(guid)]);
    assert_eq!(relay.stats().channels_established, 1);
    // A stranger's run gets nothing back, whatever it holds.
    let stranger = peer();
    send_run(&stranger, &[vec![1u8; 100], vec![2u8; 100]], to);
    assert!(pump_for(&mut relay, &stranger, 1, Duration::from_millis(200)).is_empty());
    assert_eq!(relay.stats().handshakes_rejected, 3);
}

#[test]
fn coalesced_runs_over_ipv6_and_ipv4_on_a_dual_stack_relay() {
    let mut relay = relay_on("[::1]:0");
    let (a, b) = (peer_on("[::1]:0"), peer_on("[::1]:0"));
    establish(&mut relay, &a, &b);
    let run: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 700]).collect();
    send_run(&a, &run, relay.local_addr());
    assert!(pump(&mut relay, &b, run.len()) == run);

    // IPv4 peers of an IPv6 (dual-stack) relay socket: their runs arrive v4-mapped.
    let mut dual = relay_on("[::ffff:127.0.0.1]:0");
    let to: SocketAddr = format!("127.0.0.1:{}", dual.local_addr().port())
        .parse()
        .unwrap();
    let (c, d) = (peer(), peer());
    let guid = Guid::random().unwrap();
    c.send_to(&handshake(guid), to).unwrap();
    dual.poll(Duration::from_millis(50)).unwrap();
    d.send_to(&handshake(guid), to).unwrap();
    assert_eq!(pump(&mut dual, &c, 1), vec![handshake(guid)]);
    send_run(&d, &run, to);
    assert!(pump(&mut dual, &c, run.len()) == run);
}

#[test]
fn a_coalesced_run_larger_than_the_poll_budget_is_split_across_polls() {
    const BUDGET: usize = 8;
    let mut relay = Relay::bind(Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        max_datagrams_per_poll: BUDGET,
        ..Config::default()
    })
    .unwrap();
    let to = relay.local_addr();
    let (a, b) = (peer(), peer());
    establish(&mut relay, &a, &b);

    let run: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 200]).collect();
    send_run(&a, &run, to);
    let mut polls = Vec::new();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65_536];
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < run.len() && Instant::now() < deadline {
        let handled = relay.poll(Duration::from_millis(5)).unwrap();
        if handled > 0 {
            polls.push(handled);
        }
        while let Ok((len, _)) = b.recv_from(&mut buf) {
            got.push(buf[..len].to_vec());
        }
    }
    assert!(got == run, "every datagram, in order and intact");
    assert!(
        polls.iter().all(|&n| n <= BUDGET),
        "datagrams handled per poll: {polls:?}"
    );
    assert_eq!(polls.iter().sum::<usize>(), run.len());
}
