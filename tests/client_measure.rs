//! Timing relays to pick one, against real relays on loopback: relays farther away (behind
//! a path with added latency) measure slower, a draining relay says so, a relay that does not
//! answer is reported unreachable once the timeout has passed and never holds the call
//! longer, and a client in a channel can measure without disturbing it.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use udp_relay::client::{Client, Reach, measure_relays, nearest};
use udp_relay::probe::RelayState;
use udp_relay::protocol::Guid;

mod client_support;
use client_support::{DelayProxy, RelayThread, config, establish};

fn relay() -> RelayThread {
    RelayThread::start("127.0.0.1:0", Duration::from_secs(30), None)
}

/// An address where nothing answers: a bound socket nobody reads (no ICMP comes back either).
fn black_hole() -> (UdpSocket, SocketAddr) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let a = s.local_addr().unwrap();
    (s, a)
}

#[test]
fn relays_are_ranked_by_round_trip_and_report_their_state() {
    let (near, middle, far, draining) = (relay(), relay(), relay(), relay());
    draining.drain();
    let middle_path = DelayProxy::new(middle.addr, Duration::from_millis(60));
    let far_path = DelayProxy::new(far.addr, Duration::from_millis(160));
    let (_hole, hole) = black_hole();
    // Wait for the drain to be taken (the relay thread polls every few ms).
    std::thread::sleep(Duration::from_millis(50));

    let list = [
        far_path.addr,
        hole,
        near.addr,
        draining.addr,
        middle_path.addr,
    ];
    let timeout = Duration::from_millis(1500);
    let start = Instant::now();
    let got = measure_relays(&list, 3, timeout).unwrap();
    let took = start.elapsed();

    assert_eq!(
        got.iter().map(|m| m.relay).collect::<Vec<_>>(),
        list,
        "in the order given"
    );
    let rtt = |i: usize| got[i].rtt().unwrap_or_else(|| panic!("{:?}", got[i]));
    let (far_rtt, near_rtt, middle_rtt) = (rtt(0), rtt(2), rtt(4));
    assert!(near_rtt < middle_rtt && middle_rtt < far_rtt, "{got:#?}");
    assert!(middle_rtt >= Duration::from_millis(60), "{got:#?}");
    assert!(far_rtt >= Duration::from_millis(160), "{got:#?}");
    for i in [0, 2, 4] {
        assert_eq!(got[i].state(), Some(RelayState::Accepting));
        assert_eq!((got[i].probes_sent, got[i].replies), (3, 3), "{:?}", got[i]);
    }
    assert_eq!(got[3].state(), Some(RelayState::Draining));
    assert_eq!(got[1].reach, Reach::Unreachable);
    assert_eq!((got[1].probes_sent, got[1].replies), (3, 0));
    // The unreachable relay holds the call for the timeout, and no longer (with room for a
    // busy machine's scheduling: this bounds a hang, it does not time anything).
    assert!(took >= timeout, "{took:?}");
    assert!(took < timeout + Duration::from_secs(2), "{took:?}");
    assert_eq!(nearest(&got).map(|m| m.relay), Some(near.addr));
    assert!(near.stats().probes_answered >= 3);
}

#[test]
fn all_answering_relays_end_the_call_before_the_timeout() {
    let (a, b) = (relay(), relay());
    let start = Instant::now();
    let got = measure_relays(&[a.addr, b.addr], 4, Duration::from_secs(20)).unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "waited for the timeout although every probe was answered"
    );
    assert!(got.iter().all(|m| m.replies == 4 && m.probes_sent == 4));
}

/// The probes leave from a socket of the call's own, so a client in a channel on the relay
/// measures it (its own address would make a probe the channel's data), and its peer hears
/// nothing of it.
#[test]
fn a_client_in_a_channel_measures_without_disturbing_it() {
    let r = relay();
    let guid = Guid(0x51);
    let mut a = Client::connect(config(r.addr, guid)).unwrap();
    let mut b = Client::connect(config(r.addr, guid)).unwrap();
    establish(&mut a, &mut b, Duration::from_secs(5));
    let got = measure_relays(&[r.addr], 2, Duration::from_secs(2)).unwrap();
    assert_eq!(got[0].state(), Some(RelayState::Accepting));
    for _ in 0..10 {
        a.poll(Duration::from_millis(5)).unwrap();
        b.poll(Duration::from_millis(5)).unwrap();
    }
    assert_eq!(a.queued() + b.queued(), 0, "a probe reached a peer");
}

#[test]
fn ipv4_and_ipv6_relays_are_measured_together() {
    let v6 = match udp_relay::relay::Relay::bind(udp_relay::relay::Config {
        bind: "[::1]:0".parse().unwrap(),
        ..Default::default()
    }) {
        Ok(probe_bind) => {
            drop(probe_bind);
            RelayThread::start("[::1]:0", Duration::from_secs(30), None)
        }
        Err(e) => {
            eprintln!("SKIPPED: no IPv6 loopback here ({e})");
            return;
        }
    };
    let v4 = relay();
    let got = measure_relays(&[v6.addr, v4.addr], 2, Duration::from_secs(2)).unwrap();
    assert!(
        got.iter().all(|m| m.state() == Some(RelayState::Accepting)),
        "{got:#?}"
    );
}

#[test]
fn bad_arguments_are_refused_and_an_empty_list_returns_at_once() {
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    for (attempts, timeout, wanted) in [
        (0, 100, "attempts is 0"),
        (17, 100, "attempts is 17"),
        (3, 0, "timeout is 0 ms"),
        (3, 60_001, "timeout is 60001 ms"),
    ] {
        let e = measure_relays(&[addr], attempts, Duration::from_millis(timeout)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains(wanted), "{e}");
    }
    let start = Instant::now();
    assert!(
        measure_relays(&[], 3, Duration::from_secs(10))
            .unwrap()
            .is_empty()
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}
