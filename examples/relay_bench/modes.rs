//! The four measurements. Each drives one target from the calling thread (pinned to the load
//! CPU) and returns flat named figures.

use std::collections::BTreeMap;
use std::net::{SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use udp_relay::protocol::{self, Guid, HANDSHAKE_LEN, HandshakeKey};

use crate::sys::{self, RecvBatch, SendBatch, peer_ip};
use crate::target::Target;

pub type Figures = BTreeMap<String, f64>;

const BATCH: usize = 64;
/// First payload byte of generated traffic (never the handshake magic's 0x04).
const DATA: u8 = 0xB5;
const PROBE: u8 = 0xB7;

/// The generator's two sockets: `a` speaks for every peer A (127.16.x.y:port_a), `b` for every
/// peer B (same addresses, port_b). Pair `i` is (peer_ip(i), port_a) <-> (peer_ip(i), port_b).
pub struct Gen {
    pub a: UdpSocket,
    pub b: UdpSocket,
    pub relay: SocketAddrV4,
    send: SendBatch,
    recv: RecvBatch,
    key: Option<HandshakeKey>,
    guid_base: u128,
    a_port: u16,
    b_port: u16,
}

impl Gen {
    pub fn new(relay: SocketAddrV4, key: Option<&[u8]>, slot: usize, gro: bool) -> Gen {
        let a = sys::generator_socket(gro).expect("generator socket");
        let b = sys::generator_socket(gro).expect("generator socket");
        let a_port = a.local_addr().unwrap().port();
        let b_port = b.local_addr().unwrap().port();
        let guid_base = Guid::random().expect("random").0 & !0xFFFF_FFFFu128;
        Gen {
            a,
            b,
            relay,
            send: SendBatch::new(BATCH, slot.max(HANDSHAKE_LEN)),
            recv: RecvBatch::new(BATCH, 65_536),
            key: key.map(HandshakeKey::new),
            guid_base: guid_base.max(1 << 32),
            a_port,
            b_port,
        }
    }

    pub fn ports(&self) -> [u16; 2] {
        [self.a_port, self.b_port]
    }

    fn guid(&self, pair: u32) -> Guid {
        Guid(self.guid_base | u128::from(pair))
    }

    /// Sends the handshakes of `pairs` (at most one batch): A's, then B's.
    fn send_handshakes(&mut self, pairs: &[u32]) {
        let mut hs = [0u8; HANDSHAKE_LEN];
        for side in 0..2 {
            for &pair in pairs {
                protocol::write_handshake(&mut hs, self.guid(pair), 0, &[], self.key.as_ref())
                    .expect("handshake");
                self.send
                    .push(peer_ip(pair), self.relay, HANDSHAKE_LEN, None)
                    .copy_from_slice(&hs);
            }
            let socket = if side == 0 { &self.a } else { &self.b };
            let _ = self.send.send(socket);
        }
    }

    /// Reads what A's socket has: `on_confirm(pair)` for each forwarded B handshake (the
    /// relay's "channel established"), `on_probe` for each probe echo. Returns how many
    /// confirmations there were.
    fn drain_a(&mut self, mut on_confirm: impl FnMut(u32), mut on_probe: impl FnMut(&[u8])) -> u64 {
        let mut confirmed = 0;
        while let Ok(n) = self.recv.recv(&self.a) {
            if n == 0 {
                break;
            }
            for i in 0..n {
                let m = self.recv.get(i);
                if protocol::looks_like_handshake(m.data) {
                    let guid = protocol::peek_guid(m.data).0;
                    if guid & !0xFFFF_FFFF == self.guid_base {
                        confirmed += 1;
                        on_confirm(guid as u32);
                    }
                } else if m.data.first() == Some(&PROBE) {
                    on_probe(m.data);
                }
            }
        }
        confirmed
    }

    /// Opens pairs `range`: sends every handshake, waits up to 1 s for the confirmations,
    /// then up to three times resends for the pairs still missing (handshakes lost while the
    /// relay's socket overflowed) and waits up to 2 s more. Returns the pairs confirmed.
    pub fn open(&mut self, range: std::ops::Range<u32>, mut between: impl FnMut(&mut Gen)) -> u64 {
        let len = (range.end - range.start) as usize;
        let mut done = vec![false; len];
        let first = range.start;
        let mark = |pair: u32, done: &mut Vec<bool>| {
            if let Some(d) = pair
                .checked_sub(first)
                .and_then(|i| done.get_mut(i as usize))
            {
                *d = true;
            }
        };
        for attempt in 0..4 {
            let missing: Vec<u32> = (0..len as u32)
                .filter(|&i| !done[i as usize])
                .map(|i| first + i)
                .collect();
            for chunk in missing.chunks(BATCH) {
                self.send_handshakes(chunk);
                self.drain_a(|p| mark(p, &mut done), |_| {});
                between(self);
            }
            let wait = Duration::from_millis(if attempt == 0 { 1000 } else { 2000 });
            let until = Instant::now() + wait;
            while done.iter().any(|d| !d) && Instant::now() < until {
                sys::wait_readable(&[&self.a], Duration::from_millis(1));
                self.drain_a(|p| mark(p, &mut done), |_| {});
                between(self);
            }
            if done.iter().all(|d| *d) {
                break;
            }
        }
        done.iter().filter(|d| **d).count() as u64
    }
}

pub fn drops(ports: &[u16]) -> u64 {
    let all = sys::udp_drops_by_port();
    ports.iter().map(|p| all.get(p).copied().unwrap_or(0)).sum()
}

fn cpu_us(t: &Target) -> f64 {
    t.cpu().map(|d| d.as_secs_f64() * 1e6).unwrap_or(f64::NAN)
}

pub struct ThroughputArgs {
    pub pairs: u32,
    pub size: usize,
    pub run: usize,
    pub rate: Option<f64>,
    pub duration: Duration,
    /// UDP_GRO on the generator's sockets: runs the relay sends with GSO then stay one
    /// buffer up to the receiving peer instead of being cut up on the way in.
    pub gro: bool,
}

/// Peers A send to peers B as fast as allowed; counts what B receives.
pub fn throughput(t: &Target, p: &ThroughputArgs) -> Figures {
    let run = p.run.clamp(1, 64).min(65_000 / p.size).max(1);
    let mut g = Gen::new(t.addr, None, p.size * run, p.gro);
    let opened = g.open(0..p.pairs, |_| {});
    let relay_port = t.addr.port();
    let drops0 = (drops(&[relay_port]), drops(&g.ports()));
    let warmup = Duration::from_millis(300);
    let begin = Instant::now();
    let mut t0 = None;
    let (mut sent, mut received, mut got_in_window) = (0u64, 0u64, 0u64);
    let (mut cpu0, mut out0) = (0.0, 0u64);
    let mut switches0 = None;
    let mut pair = 0u32;
    let out = |t: &Target| {
        t.shared
            .datagrams_out
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let (t1, cpu1, out1, switches1) = loop {
        let now = Instant::now();
        let elapsed = now - begin;
        if t0.is_none() && elapsed >= warmup {
            t0 = Some(now);
            cpu0 = cpu_us(t);
            out0 = out(t);
            switches0 = t.context_switches();
            got_in_window = received;
        }
        if elapsed >= warmup + p.duration {
            got_in_window = received - got_in_window;
            break (now, cpu_us(t), out(t), t.context_switches());
        }
        let mut budget = BATCH as u64 * run as u64;
        if let Some(rate) = p.rate {
            let allowed = (rate * elapsed.as_secs_f64()) as u64;
            budget = budget.min(allowed.saturating_sub(sent));
            if budget < run as u64 {
                sys::wait_readable(&[&g.b], Duration::from_micros(200));
            }
        }
        while budget >= run as u64 && !g.send.is_full() {
            let seg = (run > 1).then_some(p.size as u16);
            let buf = g.send.push(peer_ip(pair), g.relay, p.size * run, seg);
            for s in 0..run {
                buf[s * p.size] = DATA;
            }
            pair = (pair + 1) % p.pairs;
            budget -= run as u64;
            sent += run as u64;
        }
        if g.send.len() > 0 {
            let _ = g.send.send(&g.a);
        }
        received += drain_count(&mut g.recv, &g.b);
    };
    // Let the queues empty before counting losses.
    let settle = Instant::now() + Duration::from_millis(300);
    while Instant::now() < settle {
        sys::wait_readable(&[&g.b], Duration::from_millis(5));
        received += drain_count(&mut g.recv, &g.b);
    }
    let window = (t1 - t0.expect("warm-up ended")).as_secs_f64();
    let relayed = (out1 - out0) as f64;
    let relayed = if t.in_process() {
        relayed
    } else {
        got_in_window as f64
    };
    let mut f = Figures::new();
    f.insert("pairs_open".into(), opened as f64);
    f.insert("relayed_per_s".into(), relayed / window);
    f.insert("received_per_s".into(), got_in_window as f64 / window);
    f.insert(
        "offered_per_s".into(),
        sent as f64 / (warmup + p.duration).as_secs_f64(),
    );
    f.insert(
        "loss_pct".into(),
        100.0 * (sent.saturating_sub(received)) as f64 / sent.max(1) as f64,
    );
    f.insert(
        "drops_relay_socket".into(),
        (drops(&[relay_port]) - drops0.0) as f64,
    );
    f.insert(
        "drops_generator_sockets".into(),
        (drops(&g.ports()) - drops0.1) as f64,
    );
    f.insert(
        "relay_cpu_us_per_datagram".into(),
        (cpu1 - cpu0) / relayed.max(1.0),
    );
    f.insert("relay_cpu_util".into(), (cpu1 - cpu0) / 1e6 / window);
    if let (Some(a), Some(b)) = (switches0, switches1) {
        f.insert(
            "relay_switches_per_datagram".into(),
            b.saturating_sub(a) as f64 / relayed.max(1.0),
        );
    }
    if let Some(rss) = t.rss() {
        f.insert("rss_mib".into(), rss as f64 / 1048576.0);
    }
    f
}

fn drain_count(recv: &mut RecvBatch, socket: &UdpSocket) -> u64 {
    let mut n = 0;
    while let Ok(k) = recv.recv(socket) {
        if k == 0 {
            break;
        }
        for i in 0..k {
            n += recv.get(i).datagrams() as u64;
        }
    }
    n
}

/// Timestamped probes from A to B, echoed by B, timed at A.
pub struct Probe {
    first: u32,
    pairs: u32,
    interval: Duration,
    size: usize,
    epoch: Instant,
    next: Instant,
    turn: u32,
    pub record: Option<(Instant, Instant)>,
    pub rtts_ns: Vec<u64>,
    pub sent: u64,
    pub sent_recorded: u64,
    pub received: u64,
}

impl Probe {
    pub fn new(first: u32, pairs: u32, rate: f64, size: usize, capacity: usize) -> Probe {
        let now = Instant::now();
        Probe {
            first,
            pairs: pairs.max(1),
            interval: Duration::from_secs_f64(1.0 / rate),
            size: size.max(24),
            epoch: now,
            next: now,
            turn: 0,
            record: None,
            rtts_ns: Vec::with_capacity(capacity),
            sent: 0,
            sent_recorded: 0,
            received: 0,
        }
    }

    fn recording(&self, at: Instant) -> bool {
        matches!(self.record, Some((from, to)) if at >= from && at < to)
    }

    /// Sends due probes, echoes at B, records RTTs at A. Never blocks.
    pub fn tick(&mut self, g: &mut Gen) {
        let now = Instant::now();
        let mut due = 0;
        while self.next <= now && due < BATCH {
            let pair = self.first + self.turn % self.pairs;
            self.turn += 1;
            // Stamped when actually sent: the RTT is the network path's, not the generator's
            // lateness in catching up with its schedule.
            let ns = self.epoch.elapsed().as_nanos() as u64;
            let buf = g.send.push(peer_ip(pair), g.relay, self.size, None);
            buf[0] = PROBE;
            buf[4..8].copy_from_slice(&pair.to_le_bytes());
            buf[8..16].copy_from_slice(&ns.to_le_bytes());
            if self.recording(now) {
                self.sent_recorded += 1;
            }
            self.next += self.interval;
            self.sent += 1;
            due += 1;
        }
        if due > 0 {
            let _ = g.send.send(&g.a);
        }
        // B echoes what it got, from the address it was sent to.
        while let Ok(n) = g.recv.recv(&g.b) {
            if n == 0 {
                break;
            }
            for i in 0..n {
                let m = g.recv.get(i);
                if m.data.first() == Some(&PROBE) && m.src == g.relay {
                    let pair = peer_of_probe(m.data);
                    let len = m.data.len();
                    let mut copy = [0u8; 64];
                    let k = len.min(64);
                    copy[..k].copy_from_slice(&m.data[..k]);
                    let buf = g.send.push(peer_ip(pair), g.relay, len, None);
                    buf[..k].copy_from_slice(&copy[..k]);
                    if g.send.is_full() {
                        let _ = g.send.send(&g.b);
                    }
                }
            }
            if g.send.len() > 0 {
                let _ = g.send.send(&g.b);
            }
        }
        let epoch = self.epoch;
        let mut rtts = Vec::new();
        g.drain_a(
            |_| {},
            |d| {
                let ns = u64::from_le_bytes(d[8..16].try_into().unwrap());
                rtts.push((ns, epoch.elapsed().as_nanos() as u64));
            },
        );
        for (sent_ns, now_ns) in rtts {
            self.received += 1;
            if self.recording(epoch + Duration::from_nanos(sent_ns)) {
                if std::env::var_os("BENCH_TRACE").is_some() && now_ns - sent_ns > 1_000_000 {
                    eprintln!(
                        "slow probe at {} ms: {} us",
                        sent_ns / 1_000_000,
                        (now_ns - sent_ns) / 1000
                    );
                }
                self.rtts_ns.push(now_ns.saturating_sub(sent_ns));
            }
        }
    }

    /// Runs the probe until `until`, waking for the next send or a datagram.
    pub fn run_until(&mut self, g: &mut Gen, until: Instant) {
        while Instant::now() < until {
            self.tick(g);
            let wait = self.next.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                sys::wait_readable(&[&g.a, &g.b], wait.min(Duration::from_millis(1)));
            }
        }
    }

    /// Percentiles of what was recorded, then clears it.
    pub fn take(&mut self, prefix: &str, f: &mut Figures) {
        let mut v = std::mem::take(&mut self.rtts_ns);
        v.sort_unstable();
        let pct = |q: f64| {
            if v.is_empty() {
                f64::NAN
            } else {
                v[((v.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0
            }
        };
        f.insert(format!("{prefix}rtt_p50_us"), pct(0.5));
        f.insert(format!("{prefix}rtt_p99_us"), pct(0.99));
        f.insert(format!("{prefix}rtt_p999_us"), pct(0.999));
        f.insert(format!("{prefix}rtt_max_us"), pct(1.0));
        f.insert(
            format!("{prefix}probes_lost"),
            self.sent_recorded.saturating_sub(v.len() as u64) as f64,
        );
        self.sent_recorded = 0;
        self.rtts_ns = v;
        self.rtts_ns.clear();
    }
}

/// The pair a probe belongs to, carried in bytes 4..8 (B's socket serves every pair and does
/// not ask the kernel which of its addresses a datagram was sent to).
fn peer_of_probe(d: &[u8]) -> u32 {
    u32::from_le_bytes(d[4..8].try_into().unwrap())
}

pub struct LatencyArgs {
    pub pairs: u32,
    pub rate: f64,
    pub size: usize,
    pub duration: Duration,
}

pub fn latency(t: &Target, p: &LatencyArgs) -> Figures {
    let mut g = Gen::new(t.addr, None, p.size.max(64), false);
    let opened = g.open(0..p.pairs, |_| {});
    let relay_port = t.addr.port();
    let d0 = (drops(&[relay_port]), drops(&g.ports()));
    let cap = (p.rate * p.duration.as_secs_f64() * 1.2) as usize + 1024;
    let mut probe = Probe::new(0, p.pairs, p.rate, p.size, cap);
    let start = Instant::now() + Duration::from_millis(200);
    let end = start + p.duration;
    probe.record = Some((start, end));
    let out = |t: &Target| {
        t.shared
            .datagrams_out
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let (cpu0, out0, switches0) = (cpu_us(t), out(t), t.context_switches());
    probe.run_until(&mut g, end + Duration::from_millis(200));
    let (cpu1, out1, switches1) = (cpu_us(t), out(t), t.context_switches());
    let relayed = out1.saturating_sub(out0).max(1) as f64;
    let mut f = Figures::new();
    f.insert("pairs_open".into(), opened as f64);
    probe.take("", &mut f);
    f.insert(
        "drops_relay_socket".into(),
        (drops(&[relay_port]) - d0.0) as f64,
    );
    f.insert(
        "drops_generator_sockets".into(),
        (drops(&g.ports()) - d0.1) as f64,
    );
    f.insert(
        "relay_cpu_util".into(),
        (cpu1 - cpu0) / 1e6 / (p.duration.as_secs_f64() + 0.4),
    );
    if t.in_process() {
        f.insert("relay_cpu_us_per_datagram".into(), (cpu1 - cpu0) / relayed);
        if let (Some(a), Some(b)) = (switches0, switches1) {
            f.insert(
                "relay_switches_per_datagram".into(),
                b.saturating_sub(a) as f64 / relayed,
            );
        }
    }
    f
}

pub struct StormArgs {
    pub duration: Duration,
    pub rate: Option<f64>,
    /// The key the target checks handshakes with.
    pub key: Option<Vec<u8>>,
}

/// New channels as fast as allowed: every pair is new (fresh addresses, fresh GUID).
pub fn storm(t: &Target, p: &StormArgs) -> Figures {
    let mut g = Gen::new(t.addr, p.key.as_deref(), HANDSHAKE_LEN, false);
    let relay_port = t.addr.port();
    let d0 = drops(&[relay_port]);
    let begin = Instant::now();
    let cpu0 = cpu_us(t);
    let (mut next, mut confirmed) = (0u32, 0u64);
    while begin.elapsed() < p.duration {
        let mut n = BATCH as u32;
        if let Some(rate) = p.rate {
            let allowed = (rate * begin.elapsed().as_secs_f64()) as u32;
            n = n.min(allowed.saturating_sub(next));
            if n == 0 {
                sys::wait_readable(&[&g.a], Duration::from_micros(200));
                confirmed += g.drain_a(|_| {}, |_| {});
                continue;
            }
        }
        let pairs: Vec<u32> = (next..next + n).collect();
        g.send_handshakes(&pairs);
        next += n;
        confirmed += g.drain_a(|_| {}, |_| {});
    }
    let window = begin.elapsed().as_secs_f64();
    let cpu1 = cpu_us(t);
    let settle = Instant::now() + Duration::from_millis(300);
    while Instant::now() < settle {
        sys::wait_readable(&[&g.a], Duration::from_millis(5));
        confirmed += g.drain_a(|_| {}, |_| {});
    }
    let mut f = Figures::new();
    f.insert("channels_per_s".into(), confirmed as f64 / window);
    f.insert("offered_per_s".into(), f64::from(next) / window);
    f.insert(
        "relay_cpu_us_per_channel".into(),
        (cpu1 - cpu0) / (confirmed.max(1) as f64),
    );
    f.insert(
        "drops_relay_socket".into(),
        (drops(&[relay_port]) - d0) as f64,
    );
    f
}

pub struct IdleArgs {
    pub channels: u32,
    pub probe_pairs: u32,
    pub rate: f64,
    pub size: usize,
    pub timeout: Duration,
}

/// Opens many idle channels while a probe runs, and measures the probe over their expiry
/// against the same probe without them, with the RSS before, at the peak and after.
pub fn idle(t: &Target, p: &IdleArgs) -> Figures {
    let mut g = Gen::new(t.addr, None, p.size.max(64), false);
    let relay_port = t.addr.port();
    let opened_probe = g.open(0..p.probe_pairs, |_| {});
    let window = p.timeout + Duration::from_millis(1500);
    let cap = (p.rate * window.as_secs_f64() * 1.2) as usize + 1024;
    let mut probe = Probe::new(0, p.probe_pairs, p.rate, p.size, cap);
    let mut f = Figures::new();
    f.insert("probe_pairs_open".into(), opened_probe as f64);

    // Reference: the probe alone.
    let start = Instant::now() + Duration::from_millis(200);
    probe.record = Some((start, start + window));
    let d0 = drops(&[relay_port]);
    probe.run_until(&mut g, start + window + Duration::from_millis(100));
    probe.take("ref_", &mut f);
    f.insert(
        "ref_drops_relay_socket".into(),
        (drops(&[relay_port]) - d0) as f64,
    );
    let rss_empty = t.rss();

    // Open the idle channels while the probe keeps its own channels alive (not recorded).
    probe.record = None;
    let opening = Instant::now();
    let first = p.probe_pairs;
    let opened = g.open(first..first + p.channels, |g| probe.tick(g));
    let open_s = opening.elapsed().as_secs_f64();
    if std::env::var_os("BENCH_TRACE").is_some() {
        eprintln!(
            "opened at {} ms, window until {} ms",
            probe.epoch.elapsed().as_millis(),
            (probe.epoch.elapsed() + window).as_millis()
        );
    }
    let rss_peak = t.rss();
    let open_now = t.channels_open();

    // Their expiry, under the probe.
    let start = Instant::now();
    let d1 = drops(&[relay_port]);
    let dg1 = drops(&g.ports());
    probe.record = Some((start, start + window));
    probe.run_until(&mut g, start + window + Duration::from_millis(100));
    probe.take("idle_", &mut f);
    f.insert(
        "idle_drops_relay_socket".into(),
        (drops(&[relay_port]) - d1) as f64,
    );
    f.insert(
        "idle_drops_generator_sockets".into(),
        (drops(&g.ports()) - dg1) as f64,
    );
    let ratio = f["idle_rtt_p999_us"] / f["ref_rtt_p999_us"];
    f.insert("idle_vs_ref_p999_ratio".into(), ratio);
    f.insert("idle_channels_open".into(), opened as f64);
    f.insert("idle_open_per_s".into(), opened as f64 / open_s);
    if let Some(n) = open_now {
        f.insert("channels_open_at_peak".into(), n as f64);
    }
    if let Some(n) = t.channels_open() {
        f.insert("channels_open_after".into(), n as f64);
    }
    if let (Some(e), Some(pk)) = (rss_empty, rss_peak) {
        let after = t.rss().unwrap_or(0);
        f.insert("rss_empty_mib".into(), e as f64 / 1048576.0);
        f.insert("rss_peak_mib".into(), pk as f64 / 1048576.0);
        f.insert("rss_after_mib".into(), after as f64 / 1048576.0);
        f.insert(
            "rss_bytes_per_channel".into(),
            pk.saturating_sub(e) as f64 / opened.max(1) as f64,
        );
    }
    f
}
