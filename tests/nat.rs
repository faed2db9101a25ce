//! Peers behind real NATs: Linux network namespaces joined by veth pairs, nftables
//! `masquerade` in the NAT namespaces, the relay in its own namespace and library-owned
//! clients on hosts behind the NATs, all in this process (see `nat_lab`). Covers pairing
//! through two NATs and through one (the relay hairpins), 500 peers behind one NAT with the
//! relay's default limits, port-randomising (symmetric) NATs, a NAT that rebinds a peer
//! mid-session with and without seat tokens, and NAT mapping timeouts against the client's
//! keep-alive interval.
//!
//! Needs root, `ip`, `nft` and `conntrack`; without them every test prints a SKIPPED warning
//! and passes, except under `CI=true`, where that is a failure.
#![cfg(target_os = "linux")]

mod client_support;
mod nat_lab;
mod netns;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use client_support::{check, datagram, establish, exchange, quiet_then_ping, unix_now};
use nat_lab::{Host, NatLab, RELAY_ADDR, in_netns};
use udp_relay::client::{Client, ClientConfig, ClientError, State, Timing};
use udp_relay::protocol::Guid;
use udp_relay::relay;
use udp_relay::token::{Role, TokenKey};

const KEY: &[u8] = b"relay key shared with the peers";
const SECRET: &[u8] = b"relay secret shared with the matchmaker only";

fn len_of(seq: u32) -> usize {
    8 + (seq as usize * 37) % 1200
}

fn relay_config(secret_key: Option<&[u8]>) -> relay::Config {
    relay::Config {
        secret_key: secret_key.map(<[u8]>::to_vec),
        ..relay::Config::default()
    }
}

fn client_config(guid: Guid, key: Option<&[u8]>, timing: Timing) -> ClientConfig {
    let mut cfg = ClientConfig::new(RELAY_ADDR, guid);
    cfg.secret_key = key.map(<[u8]>::to_vec);
    cfg.timing = timing;
    cfg
}

/// The address `client` has on its host's LAN, as the NAT sees it.
fn private_addr(host: &Host, client: &Client) -> SocketAddr {
    SocketAddr::new(host.ip.into(), client.local_addr().port())
}

/// Polls both clients and hands what `a` receives to `on_a` (its sequence number), for
/// `period`.
fn poll_both(a: &mut Client, b: &mut Client, period: Duration, mut on_a: impl FnMut(u32)) {
    let until = Instant::now() + period;
    let mut buf = vec![0u8; 2048];
    while Instant::now() < until {
        a.poll(Duration::from_millis(1)).unwrap();
        b.poll(Duration::from_millis(1)).unwrap();
        while let Ok(n) = a.recv(&mut buf) {
            on_a(check(&buf[..n]));
        }
        while b.recv(&mut buf).is_ok() {}
    }
}

#[test]
fn peers_behind_two_nats_exchange_ten_thousand_datagrams() {
    let Some(mut lab) = NatLab::new("two") else {
        return;
    };
    let (mut nat1, mut nat2) = (lab.nat("masquerade"), lab.nat("masquerade"));
    let (host_a, host_b) = (lab.host(&mut nat1), lab.host(&mut nat2));
    let relay = lab.start_relay(relay_config(Some(KEY)));
    let guid = Guid::random().unwrap();
    let cfg = client_config(guid, Some(KEY), Timing::default());
    let mut a = host_a.connect(cfg.clone());
    let mut b = host_b.connect(cfg);
    establish(&mut a, &mut b, Duration::from_secs(5));
    // Each reached the relay from its NAT's public address.
    let public_a = lab.mapping(&nat1, private_addr(&host_a, &a)).unwrap();
    let public_b = lab.mapping(&nat2, private_addr(&host_b, &b)).unwrap();
    assert_eq!(
        (public_a.ip(), public_b.ip()),
        (nat1.wan.into(), nat2.wan.into())
    );

    // `exchange` keeps at most 64 datagrams in flight each way, far below any buffer on
    // the path, so a single loss fails the test.
    let start = Instant::now();
    exchange(&mut a, &mut b, 10_000, len_of);
    eprintln!(
        "10 000 datagrams each way through two NATs in {:?}",
        start.elapsed()
    );
    assert_eq!(a.stats().datagrams_received, 10_000);
    assert_eq!(b.stats().datagrams_received, 10_000);
    drop((a, b));
    let stats = relay.stop();
    assert_eq!(stats.channels_allocated_total, 1, "{stats:?}");
    assert_eq!(stats.datagrams_dropped, 0, "{stats:?}");
}

#[test]
fn peers_behind_the_same_nat_pair_through_the_relay() {
    let Some(mut lab) = NatLab::new("same") else {
        return;
    };
    let mut nat = lab.nat("masquerade");
    let (host_a, host_b) = (lab.host(&mut nat), lab.host(&mut nat));
    let relay = lab.start_relay(relay_config(None));
    let cfg = client_config(Guid::random().unwrap(), None, Timing::default());
    let mut a = host_a.connect(cfg.clone());
    let mut b = host_b.connect(cfg);
    establish(&mut a, &mut b, Duration::from_secs(5));
    // The relay sees one public address with two ports, and sends each peer's datagrams
    // back out to the NAT they came from.
    let public_a = lab.mapping(&nat, private_addr(&host_a, &a)).unwrap();
    let public_b = lab.mapping(&nat, private_addr(&host_b, &b)).unwrap();
    assert_eq!(
        (public_a.ip(), public_b.ip()),
        (nat.wan.into(), nat.wan.into())
    );
    assert_ne!(public_a.port(), public_b.port());
    exchange(&mut a, &mut b, 1_000, len_of);
    drop((a, b));
    let stats = relay.stop();
    assert_eq!(stats.channels_allocated_total, 1, "{stats:?}");
    assert_eq!(stats.datagrams_dropped, 0, "{stats:?}");
}

#[test]
fn five_hundred_peers_behind_one_nat_pair_with_the_default_limits() {
    const PAIRS: usize = 250;
    let Some(mut lab) = NatLab::new("crowd") else {
        return;
    };
    let mut nat = lab.nat("masquerade");
    let host = lab.host(&mut nat);
    // Default limits: every handshake of the 500 peers counts against one source, the NAT's
    // public address, and every half-open channel too.
    let relay = lab.start_relay(relay_config(None));
    let timing = Timing::default();
    let guids: Vec<Guid> = (0..PAIRS).map(|_| Guid::random().unwrap()).collect();
    // All 500 start at once, in an order that leaves many matches half-open for a while:
    // `seats[k]` is the match of the k-th client.
    let mut seats: Vec<usize> = (0..PAIRS).flat_map(|m| [m, m]).collect();
    shuffle(&mut seats);
    let mut seen = vec![false; PAIRS];
    let first_of_match: Vec<bool> = seats
        .iter()
        .map(|&m| !std::mem::replace(&mut seen[m], true))
        .collect();
    let configs = seats
        .iter()
        .map(|&m| client_config(guids[m], None, timing))
        .collect();
    let start = Instant::now();
    let mut clients = host.connect_all(configs);
    let mut established = 0;
    while established < clients.len() {
        established = 0;
        for c in &mut clients {
            match c.poll(Duration::ZERO).unwrap() {
                State::Established => established += 1,
                State::Handshaking => {}
                other => {
                    let stats = relay.stats();
                    panic!(
                        "a peer ended {other:?} after {:?} with {established} established: {stats:?}",
                        start.elapsed()
                    );
                }
            }
        }
        assert!(
            start.elapsed() < timing.handshake_timeout + Duration::from_secs(1),
            "{established} of {} established",
            clients.len()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let stats = relay.stats();
    eprintln!(
        "{} peers behind one NAT paired in {:?}: {} handshakes rate-limited, {} refused",
        clients.len(),
        start.elapsed(),
        stats.handshakes_rate_limited,
        stats.handshakes_refused
    );
    assert_eq!(stats.channels_established, PAIRS as u64, "{stats:?}");

    // Every peer is paired with its own match: the first peer of each match sends it its
    // number, the other checks it.
    for (k, c) in clients.iter_mut().enumerate() {
        if first_of_match[k] {
            c.send(&datagram(seats[k] as u32, 16)).unwrap();
        }
    }
    let mut buf = [0u8; 64];
    let deadline = Instant::now() + Duration::from_secs(5);
    for (k, c) in clients.iter_mut().enumerate() {
        if first_of_match[k] {
            continue;
        }
        let m = seats[k];
        let got = loop {
            c.poll(Duration::from_millis(10)).unwrap();
            match c.recv(&mut buf) {
                Ok(n) => break check(&buf[..n]),
                Err(ClientError::WouldBlock) => {}
                Err(e) => panic!("second peer of match {m}: {e}"),
            }
            assert!(
                Instant::now() < deadline,
                "match {m}: nothing from its first peer"
            );
        };
        assert_eq!(got, m as u32, "match {m} got another match's datagram");
    }
}

/// A fixed pseudo-random permutation (Fisher-Yates on a 64-bit LCG), so a failure replays.
fn shuffle<T>(items: &mut [T]) {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in (1..items.len()).rev() {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        items.swap(i, (x >> 33) as usize % (i + 1));
    }
}

#[test]
fn port_randomising_nats_still_pair() {
    let Some(mut lab) = NatLab::new("random") else {
        return;
    };
    // `random` draws a new port for every mapping; `fully-random,persistent` too, with its
    // own generator, and keeps one public address per host.
    let mut nat1 = lab.nat("masquerade random");
    let mut nat2 = lab.nat("masquerade fully-random,persistent");
    let (host_a, host_b) = (lab.host(&mut nat1), lab.host(&mut nat2));

    // The NAT is symmetric: one socket gets a different public port for each destination,
    // so the address one server sees is no use to any other.
    let observers = in_netns(&lab.relay_ns(), || {
        [0, 1].map(|_| {
            let s = UdpSocket::bind((RELAY_ADDR.ip(), 0)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            s
        })
    });
    let probe = in_netns(&host_a.ns, || UdpSocket::bind("0.0.0.0:0")).unwrap();
    let seen = observers.each_ref().map(|o| {
        probe.send_to(b"probe", o.local_addr().unwrap()).unwrap();
        o.recv_from(&mut [0u8; 16])
            .expect("probe through the NAT")
            .1
    });
    assert_eq!(
        (seen[0].ip(), seen[1].ip()),
        (nat1.wan.into(), nat1.wan.into())
    );
    assert_ne!(
        seen[0].port(),
        seen[1].port(),
        "one socket, two destinations, one public port: the NAT is not symmetric"
    );

    let relay = lab.start_relay(relay_config(Some(KEY)));
    let cfg = client_config(Guid::random().unwrap(), Some(KEY), Timing::default());
    let mut a = host_a.connect(cfg.clone());
    let mut b = host_b.connect(cfg);
    establish(&mut a, &mut b, Duration::from_secs(5));
    exchange(&mut a, &mut b, 1_000, len_of);
    eprintln!(
        "random NAT mappings: probe {} -> {seen:?}, A {} -> {:?}, B {} -> {:?}",
        probe.local_addr().unwrap(),
        a.local_addr(),
        lab.mapping(&nat1, private_addr(&host_a, &a)),
        b.local_addr(),
        lab.mapping(&nat2, private_addr(&host_b, &b)),
    );
    drop((a, b));
    let stats = relay.stop();
    assert_eq!(stats.channels_allocated_total, 1, "{stats:?}");
}

/// Public ports NAT 1 maps to before and after the rebinding. Both lie outside the hosts'
/// ephemeral range (32768-60999), so the NAT never keeps a host's own port.
const PORTS_BEFORE: &str = "meta l4proto udp masquerade to :20000-20999";
const PORTS_AFTER: &str = "meta l4proto udp masquerade to :21000-21999";

/// Datagrams B streams to A while A's NAT rebinds it (and, where asked, A to B: a busy game
/// still sends its keep-alives when it has a token).
const STREAM_PERIOD: Duration = Duration::from_millis(10);
const KEEPALIVE: Duration = Duration::from_millis(300);

/// What happened to B's stream to A across the rebinding.
struct Rebinding {
    /// The first sequence number B sent after A's mapping was deleted.
    first_after: u32,
    /// When the mapping was deleted.
    at: Instant,
    /// When A first received a datagram sent after that, if it did, and its number.
    resumed: Option<(Instant, u32)>,
    /// Datagrams A received in all.
    received: u32,
}

/// B streams to A. Once `before` has passed, right after A's next keep-alive, NAT 1 gets new
/// ports and forgets A's mapping, so A's next datagram (its next keep-alive, almost a whole
/// interval later) leaves from a new public address. Streams on (while B is not lost) until
/// `stop` says so or `limit` passes. With `a_streams`, A streams to B all along too.
#[allow(clippy::too_many_arguments)]
fn stream_across_rebinding(
    lab: &NatLab,
    nat: &nat_lab::Nat,
    host_a: &Host,
    (a, b): (&mut Client, &mut Client),
    a_streams: bool,
    before: Duration,
    limit: Duration,
    stop: impl Fn(&Rebinding, &mut Client, &mut Client) -> bool,
) -> Rebinding {
    let start = Instant::now();
    let mut seq = 0u32;
    let mut next_send = start;
    let mut r = Rebinding {
        first_after: u32::MAX,
        at: start,
        resumed: None,
        received: 0,
    };
    let mut buf = vec![0u8; 2048];
    let mut b_lost = false;
    let mut a_handshakes = a.stats().handshakes_sent;
    while start.elapsed() < limit && !stop(&r, a, b) {
        if !b_lost && Instant::now() >= next_send {
            match b.send(&datagram(seq, 64)) {
                Ok(()) => seq += 1,
                Err(ClientError::PeerLost) => b_lost = true,
                Err(e) => panic!("B send: {e}"),
            }
            if a_streams {
                match a.send(&datagram(seq, 64)) {
                    Ok(()) | Err(ClientError::PeerLost) => {}
                    Err(e) => panic!("A send: {e}"),
                }
            }
            next_send += STREAM_PERIOD;
        }
        a.poll(Duration::from_millis(1)).unwrap();
        b.poll(Duration::from_millis(1)).unwrap();
        while let Ok(n) = a.recv(&mut buf) {
            r.received += 1;
            let got = check(&buf[..n]);
            if got >= r.first_after && r.resumed.is_none() {
                r.resumed = Some((Instant::now(), got));
            }
        }
        while b.recv(&mut buf).is_ok() {}
        let keepalive_sent = a.stats().handshakes_sent > a_handshakes;
        a_handshakes = a.stats().handshakes_sent;
        if r.first_after == u32::MAX && start.elapsed() >= before && keepalive_sent {
            lab.set_rule(nat, PORTS_AFTER);
            lab.forget_mappings(nat, host_a);
            r.at = Instant::now();
            r.first_after = seq;
        }
    }
    r
}

#[test]
fn with_seat_tokens_the_channel_follows_a_rebound_peer() {
    let Some(mut lab) = NatLab::new("rebind_token") else {
        return;
    };
    let mut nat1 = lab.nat(PORTS_BEFORE);
    let mut nat2 = lab.nat("masquerade");
    let (host_a, host_b) = (lab.host(&mut nat1), lab.host(&mut nat2));
    let relay = lab.start_relay(relay::Config {
        require_tokens: true,
        ..relay_config(Some(SECRET))
    });
    let guid = Guid::random().unwrap();
    let key = TokenKey::new(SECRET);
    let timing = Timing {
        keepalive_interval: Some(KEEPALIVE),
        ..Timing::default()
    };
    let connect = |host: &Host, role| {
        let mut cfg = client_config(Guid::ZERO, None, timing);
        cfg.token = Some(key.mint(guid, role, unix_now() + 3600));
        host.connect(cfg)
    };
    let mut a = connect(&host_a, Role::A);
    let mut b = connect(&host_b, Role::B);
    establish(&mut a, &mut b, Duration::from_secs(5));
    let private_a = private_addr(&host_a, &a);
    let old = lab.mapping(&nat1, private_a).unwrap();
    assert!((20_000..21_000).contains(&old.port()), "{old}");
    let challenged = relay.stats().handshakes_challenged;

    let r = stream_across_rebinding(
        &lab,
        &nat1,
        &host_a,
        (&mut a, &mut b),
        true,
        Duration::from_millis(500),
        Duration::from_secs(5),
        |r, _, _| {
            r.resumed
                .is_some_and(|(t, _)| t.elapsed() > Duration::from_millis(200))
        },
    );
    let (resumed_at, resumed_seq) = r.resumed.expect("B's datagrams never reached A again");
    let resumed = resumed_at - r.at;
    let lost = resumed_seq - r.first_after;
    eprintln!(
        "with tokens, B's stream reached A again {resumed:?} after its NAT rebound it \
         ({lost} datagrams lost in between)"
    );
    assert!(lost > 0, "the rebinding did not cut A off at all");
    // A's next keep-alive, at most one interval after its last send, draws a return-path
    // challenge to the new address; A echoes it at once, which re-seats it, and B's next
    // datagram goes to the new address.
    assert!(
        resumed <= KEEPALIVE + STREAM_PERIOD + Duration::from_millis(250),
        "{resumed:?}"
    );
    let new = lab.mapping(&nat1, private_a).unwrap();
    assert!((21_000..22_000).contains(&new.port()), "{new}");
    let stats = relay.stats();
    assert!(stats.handshakes_challenged > challenged, "{stats:?}");

    // Both directions work from the new address, nothing lost.
    poll_both(&mut a, &mut b, Duration::from_millis(100), |_| {});
    exchange(&mut a, &mut b, 500, len_of);
    drop((a, b));
    let stats = relay.stop();
    assert_eq!(stats.peers_rebound, 1, "{stats:?}");
    assert_eq!(stats.channels_allocated_total, 1, "{stats:?}");
    assert_eq!(stats.channels_expired_total, 0, "{stats:?}");
    assert_eq!(stats.tokens_replayed + stats.tokens_invalid, 0, "{stats:?}");
}

#[test]
fn without_tokens_a_rebound_peer_is_refused_and_the_channel_expires() {
    let Some(mut lab) = NatLab::new("rebind_plain") else {
        return;
    };
    let mut nat1 = lab.nat(PORTS_BEFORE);
    let mut nat2 = lab.nat("masquerade");
    let (host_a, host_b) = (lab.host(&mut nat1), lab.host(&mut nat2));
    let inactivity = Duration::from_millis(1_500);
    let relay = lab.start_relay(relay::Config {
        inactivity_timeout: inactivity,
        ..relay_config(Some(KEY))
    });
    let peer_timeout = Duration::from_secs(1);
    let timing = Timing {
        keepalive_interval: Some(KEEPALIVE),
        peer_timeout: Some(peer_timeout),
        ..Timing::default()
    };
    let cfg = client_config(Guid::random().unwrap(), Some(KEY), timing);
    let mut a = host_a.connect(cfg.clone());
    let mut b = host_b.connect(cfg);
    establish(&mut a, &mut b, Duration::from_secs(5));
    let private_a = private_addr(&host_a, &a);

    let r = stream_across_rebinding(
        &lab,
        &nat1,
        &host_a,
        (&mut a, &mut b),
        false,
        Duration::from_millis(500),
        Duration::from_secs(5),
        |_, a, b| a.state() == State::Lost && b.state() == State::Lost,
    );
    assert!(r.received > 0, "nothing reached A before the rebinding");
    // The relay pairs addresses: A's new public address is a third one, and its keep-alives
    // from there are refused. B's datagrams still go to the old address, which the NAT no
    // longer maps, so A never hears from B again.
    assert_eq!(r.resumed, None, "B's stream reached A's new address");
    let new = lab
        .mapping(&nat1, private_a)
        .expect("A's keep-alives made a new mapping");
    assert!((21_000..22_000).contains(&new.port()), "{new}");
    // Each side hears nothing for its peer timeout and gives up; then nothing keeps the
    // channel alive and the relay expires it.
    assert_eq!((a.state(), b.state()), (State::Lost, State::Lost));
    let lost_after = r.at.elapsed();
    let stats = relay.wait_for_stats("channel expiry", Duration::from_secs(5), |s| {
        s.channels_expired_total == 1
    });
    eprintln!(
        "without tokens: both peers lost {lost_after:?} after the rebinding, channel expired \
         {:?} after it",
        r.at.elapsed()
    );
    assert!(stats.handshakes_refused >= 1, "{stats:?}");
    assert_eq!(stats.peers_rebound, 0, "{stats:?}");
    assert_eq!(stats.channels_allocated_total, 1, "{stats:?}");
    assert_eq!(stats.channels_open, 0, "{stats:?}");
}

/// The NAT mapping timeout the next two tests give NAT 1, scaled down from the distribution
/// default (30 s for UDP, printed by the first test) so the tests stay short.
const MAPPING_TIMEOUT_SECS: u32 = 1;

#[test]
fn a_mapping_timeout_below_the_keepalive_interval_cuts_the_peer_off() {
    let Some(mut lab) = NatLab::new("timeout_short") else {
        return;
    };
    let mut nat1 = lab.nat("masquerade");
    let mut nat2 = lab.nat("masquerade");
    // The distribution default, printed here: 30 s, and 120 s once a mapping has carried
    // traffic both ways for over 2 s. The client's default 5 s keep-alive refreshes a
    // mapping long before either passes; this test scales the timeout down to 1 s instead
    // of waiting that long.
    let [udp, stream] = lab.udp_timeouts(&nat1);
    eprintln!(
        "fresh namespace: nf_conntrack_udp_timeout = {udp} s, \
         nf_conntrack_udp_timeout_stream = {stream} s"
    );
    lab.set_udp_timeouts(&nat1, MAPPING_TIMEOUT_SECS);
    assert_eq!(lab.udp_timeouts(&nat1), [MAPPING_TIMEOUT_SECS; 2]);
    let (host_a, host_b) = (lab.host(&mut nat1), lab.host(&mut nat2));
    let relay = lab.start_relay(relay_config(Some(KEY)));
    // The default timing: a keep-alive after 5 s without sending.
    let timing = Timing::default();
    let cfg = client_config(Guid::random().unwrap(), Some(KEY), timing);
    let mut a = host_a.connect(cfg.clone());
    let mut b = host_b.connect(cfg);
    establish(&mut a, &mut b, Duration::from_secs(5));
    exchange(&mut a, &mut b, 100, len_of);
    let private_a = private_addr(&host_a, &a);
    assert!(lab.mapping(&nat1, private_a).is_some());

    // Both quiet for well over the mapping timeout, well under the keep-alive interval.
    let sent = a.stats().handshakes_sent + b.stats().handshakes_sent;
    poll_both(&mut a, &mut b, Duration::from_millis(2_500), |seq| {
        panic!("A got datagram {seq} while B was quiet")
    });
    assert_eq!(
        a.stats().handshakes_sent + b.stats().handshakes_sent,
        sent,
        "a keep-alive went out early"
    );
    assert_eq!(
        lab.mapping(&nat1, private_a),
        None,
        "A's mapping outlived its timeout"
    );

    // B's datagram reaches the relay and goes on to A's public address, where the NAT has
    // no mapping left: it is dropped, and A hears nothing until it sends again.
    let forwarded = relay.stats().datagrams_out;
    b.send(&datagram(7, 16)).unwrap();
    let mut got = None;
    poll_both(&mut a, &mut b, Duration::from_millis(1_000), |seq| {
        got = Some(seq)
    });
    assert_eq!(
        got, None,
        "B's datagram reached A after its mapping expired"
    );
    assert!(
        relay.stats().datagrams_out > forwarded,
        "the relay did not forward it"
    );
    // Had A spoken in the meantime (a keep-alive: the test ran slowly), the NAT would have
    // mapped it again and the loss would prove nothing.
    assert_eq!(
        a.stats().handshakes_sent + b.stats().handshakes_sent,
        sent,
        "a keep-alive went out before the end"
    );
}

#[test]
fn a_keepalive_below_the_mapping_timeout_keeps_the_channel_alive() {
    let Some(mut lab) = NatLab::new("timeout_kept") else {
        return;
    };
    let mut nat1 = lab.nat("masquerade");
    let mut nat2 = lab.nat("masquerade");
    for nat in [&nat1, &nat2] {
        lab.set_udp_timeouts(nat, MAPPING_TIMEOUT_SECS);
    }
    let (host_a, host_b) = (lab.host(&mut nat1), lab.host(&mut nat2));
    let relay = lab.start_relay(relay_config(Some(KEY)));
    let timing = Timing {
        keepalive_interval: Some(KEEPALIVE),
        ..Timing::default()
    };
    let cfg = client_config(Guid::random().unwrap(), Some(KEY), timing);
    let mut a = host_a.connect(cfg.clone());
    let mut b = host_b.connect(cfg);
    establish(&mut a, &mut b, Duration::from_secs(5));
    let mapped = [
        lab.mapping(&nat1, private_addr(&host_a, &a)).unwrap(),
        lab.mapping(&nat2, private_addr(&host_b, &b)).unwrap(),
    ];
    // Three mapping timeouts without game traffic: the keep-alives hold both mappings.
    let (a_got, b_got) = quiet_then_ping(
        &mut a,
        &mut b,
        Duration::from_secs(3 * u64::from(MAPPING_TIMEOUT_SECS)),
        Duration::from_secs(1),
    );
    assert!(a_got && b_got, "a got pong: {a_got}, b got ping: {b_got}");
    assert_eq!(
        [
            lab.mapping(&nat1, private_addr(&host_a, &a)).unwrap(),
            lab.mapping(&nat2, private_addr(&host_b, &b)).unwrap(),
        ],
        mapped
    );
    assert!(a.stats().handshakes_sent >= 5, "{:?}", a.stats());
    drop((a, b));
    let stats = relay.stop();
    assert_eq!(stats.channels_allocated_total, 1, "{stats:?}");
}
