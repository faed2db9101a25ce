//! Game-rate mode: what the target costs per player when it is not saturated.
//!
//! # Load
//!
//! `--pairs` pairs of peers (pair `i` is 127.16.x.y:port_a <-> the same address:port_b, as in
//! the other modes: two generator sockets speak for every peer with IP_PKTINFO) open their
//! channels, then every peer of both sides sends `--size`-byte datagrams `--rate-hz` times a
//! second to the target for `--warmup` + `--seconds`. Each peer's sends sit on slots of its own
//! random phase within the period, each moved by up to ±`--jitter-pct` of the period
//! (`schedule.rs`; the seed is fixed, so the relay and each comparison get the same sends).
//! Offered: `2 × pairs × rate-hz` datagrams/s.
//!
//! The generator runs on the calling thread (the load CPU). By default it sends each datagram
//! at its own time: it sleeps while the next send is more than 200 µs away and otherwise
//! waits by reading the clock (no PAUSE loop, which a hypervisor may take for a spinning
//! lock), so datagrams reach the target spread out as from independent players, not in bursts
//! that would batch them for free. `--gen-tick-us N` instead sends what is due every N µs in
//! bursts (a timer wheel), which costs the generator less and shows what bursts do. Either
//! way it never waits on its sockets (so the target's sends wake nobody, as on a real NIC);
//! it reads them with `recvmmsg` every 200 µs (or every tick), and the kernel stamps each
//! datagram when it arrives (`SO_TIMESTAMPNS`; on loopback, the moment the sender sent it),
//! so reading late does not distort any time measured.
//!
//! Whether the generator kept up: `gen_sent_per_s` is what it sent (game datagrams in the
//! window ÷ window), `gen_sent_pct_of_offered` that as a share of the offered rate,
//! `gen_late_p50_us` / `p99` / `max` how long after its slot each send left, and
//! `gen_idle_pct` the share of the window it spent waiting for the next send (near 0: it is
//! the bottleneck). When it sent less than 98 % of the offered rate it says so on stderr; the
//! target's figures then describe the load actually sent.
//!
//! # Figures (window: `--seconds` after the warm-up)
//!
//! - `relayed_per_s`: datagrams the target sent in the window (its own counter; for an
//!   external relay, datagrams the peers received) ÷ window.
//! - `relay_cpu_us_per_datagram`: CPU time (user + system) of the target's thread in the
//!   window, read with `clock_gettime` on its thread CPU clock (for an external relay,
//!   /proc/<pid>/stat), ÷ datagrams it relayed in the window. `relay_cpu_pct`: the same CPU
//!   time ÷ window, in % of one core.
//! - `relay_wakeups_per_s`: voluntary context switches of the target's thread in the window
//!   (`voluntary_ctxt_switches` of /proc/self/task/<tid>/status) ÷ window: each is the
//!   thread going to sleep, so each is followed by one wake-up. `relay_preemptions_per_s`:
//!   its involuntary switches (`nonvoluntary_ctxt_switches`, being preempted) ÷ window.
//!   `relay_wakeups_per_datagram`: voluntary switches ÷ datagrams relayed.
//! - `relay_runqueue_wait_pct` / `gen_runqueue_wait_pct`: time the target's thread / the
//!   generator was runnable but another task had its CPU (second field of
//!   /proc/self/task/<tid>/schedstat) ÷ window. Well above 0, other work on the machine
//!   competed for that CPU during the run, and its figures are suspect.
//! - `loss_pct`: datagrams sent to the target over the whole run (game datagrams and probe
//!   echoes) that no peer received by 300 ms after the last send, in % of those sent.
//!   `drops_relay_socket` / `drops_generator_sockets`: the kernel's drop counters of those
//!   sockets over the run.
//! - Round trips: about `--probe-hz` times a second (every Nth of the A side's game
//!   datagrams, N = the A side's rate ÷ probe-hz rounded, at least 1) a peer A's game
//!   datagram is a probe, stamped with its send time `t0` right before it is sent on its
//!   own; peer B's socket stamps its
//!   arrival `t1`; B sends an echo back the same way, stamped `t2` right before it is sent;
//!   A's socket stamps its arrival `t3`. RTT = (t1 − t0) + (t3 − t2): B's turnaround (up to
//!   one read interval) is left out, so the RTT is the two network legs only. At the same rate
//!   a second probe of the same pair goes the direct path (A's address straight to B's and
//!   back, not through the target), measured the same way in the same run. Echoes through
//!   the target are datagrams beyond the game load (about probe-hz of them a second), and are
//!   counted in `relayed_per_s` like any other.
//!   `rtt_via_target_p50_us` / `p99` / `p999` and `rtt_direct_*` are percentiles (nearest
//!   rank) of the probes sent in the window; `added_rtt_p50_us` / `p99` / `p999` is the
//!   target's percentile minus the direct one (a difference of percentiles, not a percentile
//!   of differences). `probes_via_target` counts the probes measured; `probes_lost_*` the
//!   window's probes whose echo never came back.

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use crate::modes::{Figures, Gen, drops};
use crate::schedule::Schedule;
use crate::sys::{self, RecvBatch, SendBatch, peer_ip};
use crate::target::Target;

/// Smallest datagram: kind, window flag, pair and three timestamps.
pub const MIN_SIZE: usize = 32;

// First payload byte of each kind of datagram (never the handshake magic's 0x04).
/// A game datagram.
const DATA: u8 = 0xB5;
/// A game datagram from A that B echoes, through the target.
const PROBE: u8 = 0xB7;
/// B's answer to a PROBE, through the target.
const ECHO: u8 = 0xB8;
/// A's probe straight to B's address.
const DIRECT_PROBE: u8 = 0xB9;
/// B's answer straight to A's address.
const DIRECT_ECHO: u8 = 0xBA;
// Byte 1: 1 when the probe left inside the window. Bytes 4..8: pair. 8..16: t0, 16..24: t1,
// 24..32: t2 (CLOCK_REALTIME ns, little-endian).

const BATCH: usize = 64;
/// Most `recvmmsg` calls per socket per read, so a read never runs unbounded.
const READS_PER_DRAIN: usize = 16;
/// Fixed, so every target gets the same sends.
const SEED: u64 = 0x6761_6d65_7261_7465;
/// Paced sending sleeps while the next send is further away than this, and wakes this much
/// early (the VM's sleep overshoot), then reads the clock until the send is due.
const SLEEP_ABOVE: Duration = Duration::from_micros(200);
const WAKE_EARLY: Duration = Duration::from_micros(100);
/// How often paced sending reads the sockets.
const READ_EVERY: Duration = Duration::from_micros(200);
/// How long the sockets are read after the last send before losses are counted.
const SETTLE: Duration = Duration::from_millis(300);

pub struct GamerateArgs {
    pub pairs: u32,
    pub rate_hz: f64,
    /// Fraction of the period (0 to 0.5).
    pub jitter: f64,
    pub size: usize,
    pub duration: Duration,
    pub warmup: Duration,
    /// Probes per second on each path.
    pub probe_hz: f64,
    /// Send in bursts every tick instead of each datagram at its own time.
    pub gen_tick: Option<Duration>,
}

/// Round trips of one path.
#[derive(Default)]
struct Path {
    rtts_ns: Vec<u64>,
    sent_in_window: u64,
}

#[derive(Default, Clone, Copy)]
struct Counts {
    /// Game datagrams sent (probes included).
    game_sent: u64,
    /// Everything sent to the target: game datagrams and echoes.
    via_sent: u64,
    /// Everything received from the target.
    via_received: u64,
    /// Time spent waiting for the next send.
    idle: Duration,
}

/// What is read at the window's edges.
struct Snapshot {
    at: Instant,
    cpu_us: f64,
    ctx: Option<(u64, u64)>,
    /// Run-queue waits of the target's thread and of the generator's.
    waits: (Option<Duration>, Option<Duration>),
    out: u64,
    counts: Counts,
}

/// An echo owed by B: kind, pair, window flag, t0, t1.
type Echo = (u8, u32, u8, u64, u64);

struct GameGen {
    g: Gen,
    size: usize,
    /// Batches of game datagrams from A's and B's socket.
    out: [SendBatch; 2],
    /// Probes and echoes, each sent on its own right after it is stamped.
    single: SendBatch,
    recv: RecvBatch,
    echoes: Vec<Echo>,
    via_target: Path,
    direct: Path,
    counts: Counts,
    in_window: bool,
    /// B answers probes (off for the last moments, so no echo is still on its way when
    /// losses are counted).
    answering: bool,
}

impl GameGen {
    fn flush(&mut self, side: usize) {
        if self.out[side].len() > 0 {
            let socket = if side == 0 { &self.g.a } else { &self.g.b };
            let _ = self.out[side].send(socket);
        }
    }

    /// Queues peer `side` of `pair`'s game datagram.
    fn push_game(&mut self, side: usize, pair: u32) {
        let (relay, size) = (self.g.relay, self.size);
        let buf = self.out[side].push(peer_ip(pair), relay, size, None);
        buf[0] = DATA;
        buf[4..8].copy_from_slice(&pair.to_le_bytes());
        if self.out[side].is_full() {
            self.flush(side);
        }
        self.counts.game_sent += 1;
        self.counts.via_sent += 1;
    }

    /// Sends one stamped datagram on its own from `side`'s socket: `t0`, `t1` as given and
    /// `t2` (for echoes) or `t0` (for probes, when `t0` is 0) stamped now.
    fn send_stamped(&mut self, side: usize, dst: SocketAddrV4, e: Echo) {
        let (kind, pair, flag, t0, t1) = e;
        let size = self.size;
        let buf = self.single.push(peer_ip(pair), dst, size, None);
        buf[0] = kind;
        buf[1] = flag;
        buf[4..8].copy_from_slice(&pair.to_le_bytes());
        buf[16..24].copy_from_slice(&t1.to_le_bytes());
        let now = sys::realtime_ns();
        if t0 == 0 {
            buf[8..16].copy_from_slice(&now.to_le_bytes());
        } else {
            buf[8..16].copy_from_slice(&t0.to_le_bytes());
            buf[24..32].copy_from_slice(&now.to_le_bytes());
        }
        let socket = if side == 0 { &self.g.a } else { &self.g.b };
        let _ = self.single.send(socket);
    }

    /// A's game datagram for `pair` as a probe through the target, then the same pair's
    /// probe on the direct path.
    fn send_probes(&mut self, pair: u32) {
        let flag = u8::from(self.in_window);
        let relay = self.g.relay;
        self.send_stamped(0, relay, (PROBE, pair, flag, 0, 0));
        self.counts.game_sent += 1;
        self.counts.via_sent += 1;
        let b = SocketAddrV4::new(peer_ip(pair), self.g.ports()[1]);
        self.send_stamped(0, b, (DIRECT_PROBE, pair, flag, 0, 0));
        if self.in_window {
            self.via_target.sent_in_window += 1;
            self.direct.sent_in_window += 1;
        }
    }

    /// Reads what both sockets have (boundedly), records round trips at A, and answers
    /// probes at B.
    fn drain(&mut self) {
        for side in 0..2 {
            for _ in 0..READS_PER_DRAIN {
                let n = {
                    let socket = if side == 0 { &self.g.a } else { &self.g.b };
                    self.recv.recv(socket).unwrap_or(0)
                };
                if n == 0 {
                    break;
                }
                for i in 0..n {
                    self.take(side, i);
                }
            }
        }
        let relay = self.g.relay;
        let a_port = self.g.ports()[0];
        for e in std::mem::take(&mut self.echoes) {
            let dst = if e.0 == ECHO {
                self.counts.via_sent += 1;
                relay
            } else {
                SocketAddrV4::new(peer_ip(e.1), a_port)
            };
            self.send_stamped(1, dst, e);
        }
    }

    fn take(&mut self, side: usize, i: usize) {
        let m = self.recv.get(i);
        if m.data.len() < MIN_SIZE {
            return; // a late handshake confirmation
        }
        let from_target = m.src == self.g.relay;
        if from_target {
            self.counts.via_received += m.datagrams() as u64;
        }
        let rx = if m.rx_ns == 0 {
            sys::realtime_ns()
        } else {
            m.rx_ns
        };
        let word = |at: usize| u64::from_le_bytes(m.data[at..at + 8].try_into().unwrap());
        let pair = u32::from_le_bytes(m.data[4..8].try_into().unwrap());
        let flag = m.data[1];
        match (side, m.data[0]) {
            (1, PROBE | DIRECT_PROBE) if !self.answering => {}
            (1, PROBE) if from_target => self.echoes.push((ECHO, pair, flag, word(8), rx)),
            (1, DIRECT_PROBE) => self.echoes.push((DIRECT_ECHO, pair, flag, word(8), rx)),
            (0, kind @ (ECHO | DIRECT_ECHO)) if flag == 1 => {
                let (t0, t1, t2) = (word(8), word(16), word(24));
                let rtt = t1.saturating_sub(t0) + rx.saturating_sub(t2);
                let path = if kind == ECHO {
                    &mut self.via_target
                } else {
                    &mut self.direct
                };
                path.rtts_ns.push(rtt);
            }
            _ => {}
        }
    }
}

fn cpu_us(t: &Target) -> f64 {
    t.cpu().map(|d| d.as_secs_f64() * 1e6).unwrap_or(f64::NAN)
}

fn snapshot(t: &Target, counts: Counts) -> Snapshot {
    Snapshot {
        at: Instant::now(),
        cpu_us: cpu_us(t),
        ctx: t.ctx_switches(),
        waits: (t.run_delay(), sys::thread_run_delay(None, sys::own_tid())),
        out: t
            .shared
            .datagrams_out
            .load(std::sync::atomic::Ordering::Relaxed),
        counts,
    }
}

/// Nearest-rank percentile of sorted values, in µs (NaN when empty).
fn percentile_us(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0
}

pub fn gamerate(t: &Target, p: &GamerateArgs) -> Figures {
    let mut g = Gen::new(t.addr, None, p.size, false);
    let opened = g.open(0..p.pairs, |_| {});
    for socket in [&g.a, &g.b] {
        sys::enable_rx_timestamps(socket);
    }
    let drops_before = (drops(&[t.addr.port()]), drops(&g.ports()));
    sys::tighten_timer_slack();
    let mut load = GameGen {
        g,
        size: p.size,
        out: [SendBatch::new(BATCH, p.size), SendBatch::new(BATCH, p.size)],
        single: SendBatch::new(1, p.size),
        recv: RecvBatch::new(BATCH, p.size.max(64)),
        echoes: Vec::new(),
        via_target: Path::default(),
        direct: Path::default(),
        counts: Counts::default(),
        in_window: false,
        answering: true,
    };
    // Whatever the opening left (confirmations) is not part of the load.
    load.drain();
    load.counts = Counts::default();

    let offered = 2.0 * f64::from(p.pairs) * p.rate_hz;
    let a_side_rate = offered / 2.0;
    let probe_every = if p.probe_hz > 0.0 {
        (a_side_rate / p.probe_hz).round().max(1.0) as u64
    } else {
        u64::MAX
    };
    let mut schedule = Schedule::new(2 * p.pairs, p.rate_hz, p.jitter, SEED);
    let read_every = p.gen_tick.unwrap_or(READ_EVERY);
    let (window_start, window_end) = (p.warmup, p.warmup + p.duration);
    let expected = (offered * p.duration.as_secs_f64() * 1.1) as usize;
    let mut late_us: Vec<u32> = Vec::with_capacity(expected.min(1 << 24));
    let mut a_sent = 0u64;
    let mut start: Option<Snapshot> = None;
    let begin = Instant::now();
    let mut next_read = Duration::ZERO;
    let end = loop {
        let now = begin.elapsed();
        if now >= window_end {
            break snapshot(t, load.counts);
        }
        if start.is_none() && now >= window_start {
            start = Some(snapshot(t, load.counts));
            load.in_window = true;
        }
        // Send what is due: each datagram on its own when paced (usually one is due), or
        // the burst of a tick; at most two batches before the sockets are read again.
        let now_ns = now.as_nanos() as u64;
        for _ in 0..2 * BATCH {
            let Some((due, peer)) = schedule.pop_due(now_ns) else {
                break;
            };
            if load.in_window {
                late_us.push(((now_ns - due) / 1000).min(u64::from(u32::MAX)) as u32);
            }
            let (side, pair) = ((peer & 1) as usize, peer >> 1);
            if side == 0 {
                a_sent += 1;
                if a_sent % probe_every == 0 {
                    load.send_probes(pair);
                    continue;
                }
            }
            load.push_game(side, pair);
        }
        load.flush(0);
        load.flush(1);
        if now >= next_read {
            load.drain();
            next_read = now + read_every;
        }
        // Wait for the next send (paced) or the next tick, and for the next read; not at all
        // while sends are overdue.
        let next_send = Duration::from_nanos(schedule.next_due());
        let wake = match p.gen_tick {
            _ if next_send <= now => now,
            Some(tick) => {
                let ticks = now.as_nanos() / tick.as_nanos() + 1;
                Duration::from_nanos((ticks * tick.as_nanos()) as u64)
            }
            None => next_send.min(next_read),
        }
        .min(window_end);
        let now = begin.elapsed();
        if wake > now {
            let waited_from = Instant::now();
            if p.gen_tick.is_some() {
                std::thread::sleep(wake - now);
            } else {
                if wake - now > SLEEP_ABOVE {
                    std::thread::sleep(wake - now - WAKE_EARLY);
                }
                while begin.elapsed() < wake {}
            }
            if load.in_window {
                load.counts.idle += waited_from.elapsed();
            }
        }
    };
    load.in_window = false;
    let start = start.unwrap_or_else(|| snapshot(t, load.counts));
    let settle_from = Instant::now();
    while settle_from.elapsed() < SETTLE {
        std::thread::sleep(Duration::from_millis(1));
        load.answering = settle_from.elapsed() < SETTLE * 2 / 3;
        load.drain();
    }

    let window = (end.at - start.at).as_secs_f64();
    let game_sent = (end.counts.game_sent - start.counts.game_sent) as f64;
    let relayed = if t.in_process() {
        (end.out - start.out) as f64
    } else {
        (end.counts.via_received - start.counts.via_received) as f64
    };
    let cpu = end.cpu_us - start.cpu_us;
    let (vol, invol) = match (start.ctx, end.ctx) {
        (Some(a), Some(b)) => ((b.0 - a.0) as f64, (b.1 - a.1) as f64),
        _ => (f64::NAN, f64::NAN),
    };
    late_us.sort_unstable();
    let late = |q: f64| {
        late_us
            .get(((late_us.len().max(1) - 1) as f64 * q).round() as usize)
            .map_or(f64::NAN, |&v| f64::from(v))
    };
    let mut f = Figures::new();
    f.insert("pairs_open".into(), opened as f64);
    f.insert("offered_per_s".into(), offered);
    f.insert("gen_sent_per_s".into(), game_sent / window);
    let sent_pct = 100.0 * game_sent / window / offered;
    f.insert("gen_sent_pct_of_offered".into(), sent_pct);
    f.insert("gen_late_p50_us".into(), late(0.5));
    f.insert("gen_late_p99_us".into(), late(0.99));
    f.insert("gen_late_max_us".into(), late(1.0));
    f.insert(
        "gen_idle_pct".into(),
        100.0 * (end.counts.idle - start.counts.idle).as_secs_f64() / window,
    );
    f.insert("relayed_per_s".into(), relayed / window);
    f.insert("relay_cpu_us_per_datagram".into(), cpu / relayed.max(1.0));
    f.insert("relay_cpu_pct".into(), 100.0 * cpu / 1e6 / window);
    f.insert("relay_wakeups_per_s".into(), vol / window);
    f.insert("relay_preemptions_per_s".into(), invol / window);
    f.insert("relay_wakeups_per_datagram".into(), vol / relayed.max(1.0));
    let waited_pct = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => 100.0 * b.saturating_sub(a).as_secs_f64() / window,
        _ => f64::NAN,
    };
    f.insert(
        "relay_runqueue_wait_pct".into(),
        waited_pct(start.waits.0, end.waits.0),
    );
    f.insert(
        "gen_runqueue_wait_pct".into(),
        waited_pct(start.waits.1, end.waits.1),
    );
    let c = load.counts;
    f.insert(
        "loss_pct".into(),
        100.0 * c.via_sent.saturating_sub(c.via_received) as f64 / c.via_sent.max(1) as f64,
    );
    f.insert(
        "drops_relay_socket".into(),
        (drops(&[t.addr.port()]) - drops_before.0) as f64,
    );
    f.insert(
        "drops_generator_sockets".into(),
        (drops(&load.g.ports()) - drops_before.1) as f64,
    );
    let mut rtt = |name: &str, path: &mut Path| {
        path.rtts_ns.sort_unstable();
        let v = &path.rtts_ns;
        let pcts = [0.5, 0.99, 0.999].map(|q| percentile_us(v, q));
        for (suffix, x) in ["p50", "p99", "p999"].iter().zip(pcts) {
            f.insert(format!("rtt_{name}_{suffix}_us"), x);
        }
        f.insert(
            format!("probes_lost_{name}"),
            path.sent_in_window.saturating_sub(v.len() as u64) as f64,
        );
        pcts
    };
    let via = rtt("via_target", &mut load.via_target);
    let direct = rtt("direct", &mut load.direct);
    for (suffix, (v, d)) in ["p50", "p99", "p999"].iter().zip(via.iter().zip(direct)) {
        f.insert(format!("added_rtt_{suffix}_us"), v - d);
    }
    f.insert(
        "probes_via_target".into(),
        load.via_target.rtts_ns.len() as f64,
    );
    if sent_pct < 98.0 {
        eprintln!(
            "gamerate against the {}: the generator fell behind, sending {:.0} of {:.0} \
             datagrams/s offered ({sent_pct:.0} %; p99 {:.0} µs late): the figures describe \
             the load it sent",
            t.kind.name(),
            game_sent / window,
            offered,
            late(0.99),
        );
    }
    f
}
