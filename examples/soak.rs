//! Churn soak: channels open and close continuously under load for a while, then the load
//! stops; the relay's channel table must come back to empty and its memory (RSS) must stop
//! growing rather than climb with the number of channels ever served.
//!
//!     cargo run --release --example soak -- --secs 180 --concurrent 400
//!
//! The relay runs on its own thread in this process, on 127.0.0.1; the load generator keeps
//! `--concurrent` pairs of peers alive, each living 1-4 s while exchanging a datagram each
//! way every `--interval-ms`, then vanishing (its channel expires after
//! `--inactivity-timeout-ms`) and being replaced by a new pair on new ports and a new GUID.
//! RSS is the whole process's (relay + generator) from /proc/self/status, so Linux only.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use udp_relay::admission::Limits;
use udp_relay::protocol::{Guid, write_handshake};
use udp_relay::relay::{Config, Relay, Stats};

/// Channel churn under load, reporting the channel table and RSS once a second.
#[derive(Parser, Debug)]
struct Args {
    /// How long to run the load.
    #[arg(long, default_value_t = 180)]
    secs: u64,
    /// Pairs (channels) alive at any time.
    #[arg(long, default_value_t = 400)]
    concurrent: usize,
    /// Each peer sends one datagram this often.
    #[arg(long, default_value_t = 100)]
    interval_ms: u64,
    /// The relay closes a channel after this long without traffic.
    #[arg(long, default_value_t = 1000)]
    inactivity_timeout_ms: u64,
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

struct Pair {
    guid: u128,
    a: UdpSocket,
    b: UdpSocket,
    dies_at: Instant,
    next_send: Instant,
    sent: u64,
}

fn handshake(guid: u128) -> [u8; 56] {
    let mut hs = [0u8; 56];
    write_handshake(&mut hs, Guid(guid), 0, &[], None).expect("non-zero GUID");
    hs
}

fn new_pair(relay: SocketAddr, guid: u128, now: Instant, lifetime: Duration) -> Pair {
    let bind = || {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind peer");
        s.set_nonblocking(true).unwrap();
        s
    };
    let (a, b) = (bind(), bind());
    let hs = handshake(guid);
    // B's handshake may overtake A's on the relay's queue; both are resent below anyway.
    a.send_to(&hs, relay).unwrap();
    b.send_to(&hs, relay).unwrap();
    Pair {
        guid,
        a,
        b,
        dies_at: now + lifetime,
        next_send: now,
        sent: 0,
    }
}

fn drain(s: &UdpSocket, buf: &mut [u8]) -> u64 {
    let mut n = 0;
    while s.recv_from(buf).is_ok() {
        n += 1;
    }
    n
}

fn main() {
    let args = Args::parse();
    let baseline_rss = rss_kib();
    let mut relay = Relay::bind(Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        inactivity_timeout: Duration::from_millis(args.inactivity_timeout_ms),
        // All load comes from 127.0.0.1: one source, so its limits are opened up here.
        limits: Limits {
            handshake_rate_per_source: 1_000_000,
            handshake_burst_per_source: 1_000_000,
            max_pending_per_source: 0,
            ..Limits::default()
        },
        ..Config::default()
    })
    .expect("bind relay");
    let relay_addr = relay.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<Stats>();
    let relay_thread = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut next_report = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                relay.poll(Duration::from_millis(5)).expect("poll");
                while relay.next_event().is_some() {}
                if Instant::now() >= next_report {
                    next_report += Duration::from_secs(1);
                    let _ = tx.send(relay.stats());
                }
            }
            relay
                .core()
                .check_invariants()
                .expect("relay consistent at the end");
        })
    };

    println!(
        "soak: {} s, {} concurrent channels, a datagram each way every {} ms, timeout {} ms",
        args.secs, args.concurrent, args.interval_ms, args.inactivity_timeout_ms
    );
    println!("baseline RSS {} KiB", fmt(baseline_rss));
    println!(
        "{:>5} {:>8} {:>8} {:>10} {:>10} {:>12} {:>9}",
        "t(s)", "open", "estab", "allocated", "expired", "relayed", "RSS(KiB)"
    );
    let start = Instant::now();
    let end = start + Duration::from_secs(args.secs);
    let interval = Duration::from_millis(args.interval_ms);
    let mut buf = vec![0u8; 2048];
    let mut pairs: Vec<Pair> = Vec::new();
    let mut next_guid: u128 = 1;
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut received = 0u64;
    let mut peak_rss = 0u64;
    let mut peak_open = 0u64;
    let mut last = Stats::default();
    let report = |t: f64, s: &Stats, rss: Option<u64>| {
        println!(
            "{:>5.0} {:>8} {:>8} {:>10} {:>10} {:>12} {:>9}",
            t,
            s.channels_open,
            s.channels_established,
            s.channels_allocated_total,
            s.channels_expired_total,
            s.datagrams_out,
            fmt(rss)
        );
    };
    while Instant::now() < end {
        let now = Instant::now();
        pairs.retain(|p| p.dies_at > now);
        while pairs.len() < args.concurrent {
            // xorshift: lifetimes spread over 1-4 s so channels close all the time.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let lifetime = Duration::from_millis(1000 + seed % 3000);
            pairs.push(new_pair(relay_addr, next_guid, now, lifetime));
            next_guid += 1;
        }
        for p in &mut pairs {
            received += drain(&p.a, &mut buf) + drain(&p.b, &mut buf);
            if p.next_send <= now {
                p.next_send = now + interval;
                if p.sent < 2 {
                    // Repeat the handshakes, as clients do until they see the channel up.
                    let hs = handshake(p.guid);
                    let _ = p.a.send_to(&hs, relay_addr);
                    let _ = p.b.send_to(&hs, relay_addr);
                }
                let _ = p.a.send_to(b"soak payload a->b", relay_addr);
                let _ = p.b.send_to(b"soak payload b->a", relay_addr);
                p.sent += 1;
            }
        }
        while let Ok(s) = rx.try_recv() {
            let rss = rss_kib();
            peak_rss = peak_rss.max(rss.unwrap_or(0));
            peak_open = peak_open.max(s.channels_open);
            report(start.elapsed().as_secs_f64(), &s, rss);
            last = s;
        }
        thread::sleep(Duration::from_millis(2));
    }
    let loaded_rss = rss_kib();
    pairs.clear();
    println!("load stopped; waiting for every channel to expire");
    let settle = Instant::now() + Duration::from_millis(args.inactivity_timeout_ms * 3 + 2000);
    while Instant::now() < settle {
        while let Ok(s) = rx.try_recv() {
            report(start.elapsed().as_secs_f64(), &s, rss_kib());
            last = s;
        }
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    relay_thread.join().expect("relay thread");
    let final_rss = rss_kib();
    println!(
        "summary: {} channels served, peak {} open, {} datagrams relayed ({} received by peers); \
         table now {} open",
        last.channels_allocated_total, peak_open, last.datagrams_out, received, last.channels_open
    );
    println!(
        "RSS KiB: baseline {}, peak {}, end of load {}, after expiry {}",
        fmt(baseline_rss),
        peak_rss,
        fmt(loaded_rss),
        fmt(final_rss)
    );
    assert_eq!(last.channels_open, 0, "every channel expired");
}

fn fmt(v: Option<u64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| v.to_string())
}
