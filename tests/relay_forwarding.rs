//! The relay loop over real loopback sockets: bursts larger than one receive batch arrive
//! complete and in order both ways, the largest datagram is not truncated, a third address
//! gets nothing, and the per-channel counters match what was sent.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use udp_relay::admission::Limits;
use udp_relay::protocol::Guid;
use udp_relay::relay::{Config, Relay};

mod relay_loop;
use relay_loop::{handshake, peer, pump, pump_for};

fn relay() -> Relay {
    relay_loop::relay_on("127.0.0.1:0")
}

#[test]
fn bursts_both_ways_in_order_and_whole() {
    let mut relay = relay();
    let to: SocketAddr = relay.local_addr();
    let (a, b) = (peer(), peer());
    let guid = Guid::random().unwrap();
    a.send_to(&handshake(guid), to).unwrap();
    relay.poll(Duration::from_millis(50)).unwrap();
    b.send_to(&handshake(guid), to).unwrap();
    assert_eq!(
        pump(&mut relay, &a, 1),
        vec![handshake(guid)],
        "A learns B joined"
    );

    // Three receive batches, every datagram a different size (small enough for the
    // default receive buffer of the test sockets).
    let burst: Vec<Vec<u8>> = (0..100u32)
        .map(|i| {
            let mut d = vec![(i % 251) as u8; 1 + (i as usize * 7) % 300];
            d[0] = 0xEE;
            d
        })
        .collect();
    for d in &burst {
        a.send_to(d, to).unwrap();
    }
    let got = pump(&mut relay, &b, burst.len());
    assert_eq!(got.len(), burst.len());
    assert!(got == burst, "A to B in order and intact");
    for d in burst.iter().rev() {
        b.send_to(d, to).unwrap();
    }
    let back: Vec<Vec<u8>> = burst.iter().rev().cloned().collect();
    let got = pump(&mut relay, &a, back.len());
    let lens = |v: &[Vec<u8>]| v.iter().map(|d| d.len()).collect::<Vec<_>>();
    assert_eq!(lens(&got), lens(&back));
    assert!(got == back);

    // Runs of equal size to one peer (sent as one GSO message where the kernel has it)
    // still arrive as the same separate datagrams, a short last one included.
    let mut run: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 500]).collect();
    run.push(vec![0xFF; 100]);
    run.push(vec![0xFE; 500]);
    for d in &run {
        a.send_to(d, to).unwrap();
    }
    let got = pump(&mut relay, &b, run.len());
    assert_eq!(got.len(), run.len());
    assert!(got == run, "a run arrives datagram by datagram");
    let run_bytes: u64 = run.iter().map(|d| d.len() as u64).sum();

    let big = vec![0x5Au8; 60_000];
    a.send_to(&big, to).unwrap();
    let got = pump(&mut relay, &b, 1);
    assert!(got.len() == 1 && got[0] == big, "60 000 bytes intact");

    let c = relay.channel(guid).unwrap().counters;
    let sizes: u64 = burst.iter().map(|d| d.len() as u64).sum();
    assert_eq!(c.datagrams_a_to_b, 101 + run.len() as u64);
    assert_eq!(c.bytes_a_to_b, sizes + run_bytes + big.len() as u64);
    assert_eq!(c.datagrams_b_to_a, 101, "100 datagrams and B's handshake");
    assert_eq!(c.bytes_b_to_a, sizes + 56);
    assert_eq!(c.dropped, 0);

    // A third address with the same GUID is refused and hears nothing.
    let intruder = peer();
    intruder.send_to(&handshake(guid), to).unwrap();
    intruder.send_to(b"hello", to).unwrap();
    assert!(pump_for(&mut relay, &intruder, 1, Duration::from_millis(300)).is_empty());
    assert_eq!(relay.stats().handshakes_refused, 1);
    let s = relay.stats();
    assert_eq!(s.datagrams_out, 1 + 100 + 100 + run.len() as u64 + 1);
    assert_eq!(s.send_errors, 0);
}

#[test]
fn mass_expiry_leaves_live_channels_working() {
    let mut relay = Relay::bind(Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        inactivity_timeout: Duration::from_millis(400),
        // Every idle channel comes from 127.0.0.1: lift the per-source limits.
        limits: Limits {
            handshake_rate_per_source: 0,
            max_pending_per_source: 0,
            ..Limits::default()
        },
        ..Config::default()
    })
    .unwrap();
    let to = relay.local_addr();
    // Opened before any channel exists: 1500 sockets take a few hundred ms under Wine.
    let idle: Vec<UdpSocket> = (0..1500).map(|_| peer()).collect();
    let (a, b) = (peer(), peer());
    let live = Guid::random().unwrap();
    a.send_to(&handshake(live), to).unwrap();
    relay.poll(Duration::from_millis(20)).unwrap();
    b.send_to(&handshake(live), to).unwrap();
    assert_eq!(pump(&mut relay, &a, 1).len(), 1);

    // More pending channels than the table keeps around once they are gone. The live pair
    // talks throughout, however long the 1500 sends take (under Wine, longer than the
    // timeout: the first idle channels may then expire before the last are admitted).
    for (i, s) in idle.iter().enumerate() {
        s.send_to(&handshake(Guid(0xABCD_0000 + i as u128)), to)
            .unwrap();
        if i % 100 == 99 {
            a.send_to(b"tick", to).unwrap();
            assert_eq!(pump(&mut relay, &b, 1), vec![b"tick".to_vec()]);
        }
    }
    while relay.poll(Duration::ZERO).unwrap() > 0 {}
    assert_eq!(relay.stats().channels_allocated_total, 1501);

    // The live pair keeps talking while the others expire.
    let deadline = Instant::now() + Duration::from_secs(5);
    while relay.stats().channels_open > 1 && Instant::now() < deadline {
        a.send_to(b"tick", to).unwrap();
        assert_eq!(pump(&mut relay, &b, 1), vec![b"tick".to_vec()]);
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = relay.stats();
    assert_eq!(s.channels_open, 1);
    assert_eq!(s.channels_expired_total, 1500);
    assert!(relay.channel(Guid(0xABCD_0000)).is_none());
    b.send_to(b"after", to).unwrap();
    assert_eq!(pump(&mut relay, &a, 1), vec![b"after".to_vec()]);
    // A new channel after the shrink gets a working slot too.
    let (c, d) = (peer(), peer());
    let again = Guid::random().unwrap();
    c.send_to(&handshake(again), to).unwrap();
    relay.poll(Duration::from_millis(20)).unwrap();
    d.send_to(&handshake(again), to).unwrap();
    assert_eq!(pump(&mut relay, &c, 1), vec![handshake(again)]);
    d.send_to(b"new", to).unwrap();
    assert_eq!(pump(&mut relay, &c, 1), vec![b"new".to_vec()]);
    assert_eq!(relay.channel(live).unwrap().counters.dropped, 0);
}

#[test]
fn one_poll_handles_at_most_its_budget_during_a_mass_expiry() {
    const BUDGET: usize = 8;
    let mut relay = Relay::bind(Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        inactivity_timeout: Duration::from_millis(100),
        max_datagrams_per_poll: BUDGET,
        limits: Limits {
            handshake_rate_per_source: 0,
            max_pending_per_source: 0,
            ..Limits::default()
        },
        ..Config::default()
    })
    .unwrap();
    let to = relay.local_addr();
    // Idle channels opened at the relay's start (without sockets of their own), so many
    // that expiring them takes every expiry chunk of one poll.
    let expiries = relay.config().max_expiries_per_poll;
    for i in 0..expiries {
        let src = SocketAddr::from(([127, 0, 0, 2], 1024 + i as u16));
        relay.core_mut().sans_io_datagram(
            &handshake(Guid(0xE0_0000 + i as u128)),
            src,
            Duration::ZERO,
            true,
        );
    }
    assert_eq!(relay.stats().channels_open, expiries as u64);
    std::thread::sleep(Duration::from_millis(150));

    // Load waiting in the socket while they expire: more than the budget of many polls.
    let load = peer();
    const QUEUED: usize = 200;
    for i in 0..QUEUED {
        load.send_to(&[0xEE, i as u8], to).unwrap();
    }
    let handled = relay.poll(Duration::ZERO).unwrap();
    let s = relay.stats();
    assert_eq!(
        s.channels_expired_total, expiries as u64,
        "the mass expiry ran"
    );
    assert!(handled <= BUDGET, "one poll handled {handled} datagrams");
    assert!(s.datagrams_in as usize <= expiries + BUDGET, "{s:?}");

    // The rest comes in later polls, never more than the budget at once.
    let mut total = handled;
    let deadline = Instant::now() + Duration::from_secs(5);
    while total < QUEUED && Instant::now() < deadline {
        let handled = relay.poll(Duration::from_millis(5)).unwrap();
        assert!(handled <= BUDGET, "one poll handled {handled} datagrams");
        total += handled;
    }
    assert_eq!(total, QUEUED);
}
