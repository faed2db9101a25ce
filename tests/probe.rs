//! The relay probe over loopback: any address gets one reply, no larger than its probe,
//! saying whether the relay accepts new channels, is draining or is full, with its timestamp
//! echoed; beyond its source's handshake budget a prober gets nothing; inside a channel a
//! probe-looking datagram is the channel's data.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use udp_relay::admission::Limits;
use udp_relay::probe::{PROBE_LEN, RelayState, read_reply, write_probe};
use udp_relay::relay::{Config, Relay};

#[path = "relay_loop/mod.rs"]
mod relay_loop;

fn relay(tune: impl FnOnce(&mut Config)) -> Relay {
    let mut config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    tune(&mut config);
    Relay::bind(config).unwrap()
}

/// Sends a probe stamped `t` and returns the reply, if one comes within 300 ms.
fn probe(r: &mut Relay, s: &UdpSocket, t: u64) -> Option<(RelayState, u64, usize)> {
    s.send_to(&write_probe(t), r.local_addr()).unwrap();
    s.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 256];
    let end = Instant::now() + Duration::from_millis(300);
    while Instant::now() < end {
        r.poll(Duration::from_millis(5)).unwrap();
        if let Ok((n, from)) = s.recv_from(&mut buf) {
            assert_eq!(from, r.local_addr());
            let (state, echo) = read_reply(&buf[..n]).expect("a reply");
            return Some((state, echo, n));
        }
    }
    None
}

#[test]
fn a_probe_gets_the_relays_state_and_its_timestamp_back_no_larger() {
    let mut r = relay(|c| c.max_channels = 1);
    let s = relay_loop::peer();
    assert_eq!(
        probe(&mut r, &s, 42),
        Some((RelayState::Accepting, 42, PROBE_LEN))
    );
    // One channel open: full.
    let (a, b) = (relay_loop::peer(), relay_loop::peer());
    relay_loop::establish(&mut r, &a, &b);
    assert_eq!(
        probe(&mut r, &s, 43),
        Some((RelayState::Full, 43, PROBE_LEN))
    );
    r.drain();
    assert_eq!(
        probe(&mut r, &s, 44),
        Some((RelayState::Draining, 44, PROBE_LEN))
    );
    let st = r.stats();
    assert_eq!(st.probes_answered, 3);
    assert_eq!(
        st.datagrams_in,
        st.datagrams_out + st.datagrams_dropped + st.datagrams_consumed
    );
}

#[test]
fn probes_beyond_the_sources_budget_go_unanswered() {
    let mut r = relay(|c| {
        c.limits = Limits {
            handshake_rate_per_source: 1,
            handshake_burst_per_source: 3,
            ..Limits::default()
        }
    });
    let s = relay_loop::peer();
    let answered = (0..6).filter(|&t| probe(&mut r, &s, t).is_some()).count();
    assert_eq!(
        answered, 3,
        "the burst, then nothing within the test's second"
    );
    let st = r.stats();
    assert_eq!((st.probes_answered, st.handshakes_rate_limited), (3, 3));
}

#[test]
fn inside_a_channel_a_probe_is_data() {
    let mut r = relay(|_| {});
    let (a, b) = (relay_loop::peer(), relay_loop::peer());
    relay_loop::establish(&mut r, &a, &b);
    a.send_to(&write_probe(9), r.local_addr()).unwrap();
    assert_eq!(
        relay_loop::pump(&mut r, &b, 1),
        vec![write_probe(9).to_vec()]
    );
    assert_eq!(r.stats().probes_answered, 0);
}
