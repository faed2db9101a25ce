//! Many pairs of [`Client`]s, each client on its own socket, driven from one thread the way a
//! game server would: readiness from `mio` (edge-triggered: a ready socket is read until it
//! would block), a sweep every [`SWEEP`] polling the clients that have something due (a
//! handshake retry, a keep-alive, the peer timeout: [`Client::next_timeout`]), and each
//! client sending one datagram every [`PERIOD_MS`] at a phase of its own (a 1 ms schedule),
//! so the relays see a steady stream, not bursts.
//!
//! A pair sends only while both its clients are established (as polled), and counts what it
//! sends and receives per direction and per epoch (one epoch per relay the pair has used),
//! so every datagram sent is either received or lost, and a loss is pinned to an epoch.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll};
use udp_relay::client::{Client, ClientConfig, ClientError, State, Timing};
use udp_relay::protocol::Guid;
use udp_relay::token::Token;

use super::wire::{self, Stamp};

/// Each client sends a datagram every this many milliseconds: 20 Hz.
pub const PERIOD_MS: u64 = 50;
/// How often the clients with something due are polled, ready or not.
const SWEEP: Duration = Duration::from_millis(50);
/// How often [`Driver::run_until`] asks its condition.
const CHECK: Duration = Duration::from_millis(10);
/// Anomalies kept word for word (all are counted).
const KEPT_ANOMALIES: usize = 20;

/// One relay a pair used, and what went through it.
#[derive(Debug, Clone)]
pub struct Epoch {
    pub relay_id: u32,
    /// When the pair got this epoch's tickets.
    pub began: Instant,
    /// When both clients were first seen established.
    pub established: Option<Instant>,
    /// Per direction (0: A to B, 1: B to A).
    pub sent: [u64; 2],
    pub received: [u64; 2],
    pub first_received: [Option<Instant>; 2],
    /// Datagrams that did not arrive in their direction's order (duplicated or reordered).
    pub out_of_order: u64,
    next_seq: [u64; 2],
    /// Its relay was killed under it: what was in flight then, and what was sent to it
    /// until its clients noticed, is gone, and not counted as a loss.
    pub cut: bool,
}

impl Epoch {
    fn new(relay_id: u32) -> Epoch {
        Epoch {
            relay_id,
            began: Instant::now(),
            established: None,
            sent: [0; 2],
            received: [0; 2],
            first_received: [None; 2],
            out_of_order: 0,
            next_seq: [0; 2],
            cut: false,
        }
    }

    /// Sent but not received, per direction.
    pub fn missing(&self) -> [u64; 2] {
        [0, 1].map(|d| self.sent[d].saturating_sub(self.received[d]))
    }

    /// Every datagram sent was received.
    pub fn settled(&self) -> bool {
        self.sent == self.received
    }

    /// When datagrams had arrived both ways (the later first arrival).
    pub fn relayed_both_ways(&self) -> Option<Instant> {
        Some(self.first_received[0]?.max(self.first_received[1]?))
    }
}

struct Peer {
    client: Client,
    /// As last polled.
    state: State,
    lost_at: Option<Instant>,
}

pub struct Pair {
    pub guid: Guid,
    peers: [Peer; 2],
    /// The last is the current one.
    pub epochs: Vec<Epoch>,
    /// Whether its clients send their datagrams (when both are established).
    pub sending: bool,
}

impl Pair {
    pub fn epoch(&self) -> &Epoch {
        self.epochs.last().expect("a pair has an epoch")
    }

    pub fn epoch_mut(&mut self) -> &mut Epoch {
        self.epochs.last_mut().expect("a pair has an epoch")
    }

    pub fn relay_id(&self) -> u32 {
        self.epoch().relay_id
    }

    pub fn states(&self) -> [State; 2] {
        [0, 1].map(|s| self.peers[s].state)
    }

    pub fn both(&self, state: State) -> bool {
        self.states() == [state; 2]
    }

    /// When each client was seen Lost (since the last ticket).
    pub fn lost_at(&self) -> [Option<Instant>; 2] {
        [0, 1].map(|s| self.peers[s].lost_at)
    }
}

pub struct Driver {
    poll: Poll,
    events: Events,
    ready: Vec<usize>,
    pub pairs: Vec<Pair>,
    timing: Timing,
    start: Instant,
    /// Who sends in each millisecond of the period: (pair, seat).
    wheel: Vec<Vec<(usize, usize)>>,
    next_tick: u64,
    next_sweep: Instant,
    rng: u64,
    buf: Vec<u8>,
    /// What no waiting would mend (a stray datagram, a failed send), word for word up to
    /// [`KEPT_ANOMALIES`].
    pub anomalies: Vec<String>,
    pub anomaly_count: u64,
    /// Milliseconds of the send schedule skipped after a stall (their sends not made).
    pub skipped_ms: u64,
    /// The latest a millisecond of the schedule was served.
    pub max_lag_ms: u64,
    /// The longest time between two turns: how long the clients went unserved at worst.
    pub longest_gap: Duration,
    last_turn: Option<Instant>,
}

impl Driver {
    /// No pairs yet; clients will use `timing`; phases come from `seed`.
    pub fn new(timing: Timing, seed: u64) -> Driver {
        Driver {
            poll: Poll::new().expect("an epoll instance"),
            events: Events::with_capacity(4096),
            ready: Vec::new(),
            pairs: Vec::new(),
            timing,
            start: Instant::now(),
            wheel: vec![Vec::new(); PERIOD_MS as usize],
            next_tick: 0,
            next_sweep: Instant::now(),
            rng: seed,
            buf: vec![0u8; 2048],
            anomalies: Vec::new(),
            anomaly_count: 0,
            skipped_ms: 0,
            max_lag_ms: 0,
            longest_gap: Duration::ZERO,
            last_turn: None,
        }
    }

    /// Connects both clients of a new pair to `relay` with their seats' tokens; returns the
    /// pair's index. The pair sends once both are established.
    pub fn add_pair(
        &mut self,
        relay_id: u32,
        relay: SocketAddr,
        guid: Guid,
        tokens: [Token; 2],
    ) -> usize {
        let p = self.pairs.len();
        let peers = [0, 1].map(|s| {
            let mut config = ClientConfig::new(relay, guid);
            config.token = Some(tokens[s]);
            config.timing = self.timing;
            let client = Client::connect(config).expect("a client");
            self.poll
                .registry()
                .register(
                    &mut SourceFd(&client.socket().as_raw_fd()),
                    mio::Token(p * 2 + s),
                    Interest::READABLE,
                )
                .expect("register a client's socket");
            Peer {
                client,
                state: State::Handshaking,
                lost_at: None,
            }
        });
        for s in 0..2 {
            let phase = (self.random() % PERIOD_MS) as usize;
            self.wheel[phase].push((p, s));
        }
        self.pairs.push(Pair {
            guid,
            peers,
            epochs: vec![Epoch::new(relay_id)],
            sending: true,
        });
        p
    }

    /// Moves pair `p` to `relay` with new tickets: both clients rejoin on their sockets, and
    /// a new epoch begins.
    pub fn rejoin(
        &mut self,
        p: usize,
        relay_id: u32,
        relay: SocketAddr,
        guid: Guid,
        tokens: [Token; 2],
    ) {
        let pair = &mut self.pairs[p];
        for (peer, token) in pair.peers.iter_mut().zip(tokens) {
            peer.client
                .rejoin(relay, guid, Some(token))
                .unwrap_or_else(|e| panic!("pair {p}: rejoin {relay}: {e}"));
            peer.state = State::Handshaking;
            peer.lost_at = None;
        }
        pair.guid = guid;
        pair.epochs.push(Epoch::new(relay_id));
    }

    /// Drives the clients until `done` says so (asked every [`CHECK`]; `Err` says what is
    /// still missing, with counts). Panics with its last word after `limit`. Returns how long
    /// it took.
    pub fn run_until(
        &mut self,
        limit: Duration,
        what: &str,
        mut done: impl FnMut(&mut Driver) -> Result<(), String>,
    ) -> Duration {
        let start = Instant::now();
        let mut next_check = start;
        loop {
            self.turn();
            let now = Instant::now();
            if now >= next_check {
                match done(self) {
                    Ok(()) => return start.elapsed(),
                    Err(missing) if now >= start + limit => panic!(
                        "{what}: not done within {limit:?}: {missing}\n{}",
                        self.census()
                    ),
                    Err(_) => next_check = now + CHECK,
                }
            }
        }
    }

    /// Drives the clients for `span`.
    pub fn run_for(&mut self, span: Duration) {
        let end = Instant::now() + span;
        while Instant::now() < end {
            self.turn();
        }
    }

    /// Clients by state, pairs by relay, traffic and anomalies: for failure messages.
    pub fn census(&self) -> String {
        let mut states = std::collections::BTreeMap::<String, usize>::new();
        let mut relays = std::collections::BTreeMap::<u32, usize>::new();
        let (mut sent, mut received) = (0u64, 0u64);
        for pair in &self.pairs {
            for state in pair.states() {
                *states.entry(format!("{state:?}")).or_default() += 1;
            }
            *relays.entry(pair.relay_id()).or_default() += 1;
            for e in &pair.epochs {
                sent += e.sent.iter().sum::<u64>();
                received += e.received.iter().sum::<u64>();
            }
        }
        format!(
            "{} pairs; clients by state {states:?}; pairs by relay {relays:?}; {sent} datagrams \
             sent, {received} received; {} anomalies {:?}; send schedule {} ms skipped, at \
             most {} ms late; clients unserved for {:?} at most; {:?} into the run",
            self.pairs.len(),
            self.anomaly_count,
            self.anomalies,
            self.skipped_ms,
            self.max_lag_ms,
            self.longest_gap,
            self.start.elapsed()
        )
    }

    /// One turn: wait for readiness (at most until the next millisecond of the schedule or
    /// the next sweep), read every ready client, sweep if due, send what is due.
    fn turn(&mut self) {
        let now = Instant::now();
        if let Some(last) = self.last_turn.replace(now) {
            self.longest_gap = self.longest_gap.max(now - last);
        }
        let tick_at = self.start + Duration::from_millis(self.next_tick);
        let wait = tick_at
            .min(self.next_sweep)
            .saturating_duration_since(Instant::now());
        if let Err(e) = self.poll.poll(&mut self.events, Some(wait)) {
            assert_eq!(e.kind(), ErrorKind::Interrupted, "epoll: {e}");
        }
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        ready.extend(self.events.iter().map(|e| e.token().0));
        for &t in &ready {
            self.service(t / 2, t % 2);
        }
        self.ready = ready;
        if Instant::now() >= self.next_sweep {
            // Only the clients with something due (a retry, a keep-alive, a timeout), or
            // that became final (a send noticed the peer timeout) unseen: the others have
            // nothing to do until their socket is ready.
            for p in 0..self.pairs.len() {
                for s in 0..2 {
                    let peer = &self.pairs[p].peers[s];
                    let due = match peer.client.next_timeout() {
                        Some(wait) => wait.is_zero(),
                        None => matches!(peer.state, State::Handshaking | State::Established),
                    };
                    if due {
                        self.service(p, s);
                    }
                }
            }
            self.next_sweep = Instant::now() + SWEEP;
        }
        self.send_due();
    }

    /// Sends for every millisecond of the schedule that has come. After a stall, at most one
    /// period's worth (one datagram per client), not a burst of every missed one.
    fn send_due(&mut self) {
        let now_ms = self.start.elapsed().as_millis() as u64;
        if now_ms >= self.next_tick {
            self.max_lag_ms = self.max_lag_ms.max(now_ms - self.next_tick);
        }
        if now_ms >= self.next_tick + PERIOD_MS {
            self.skipped_ms += now_ms + 1 - PERIOD_MS - self.next_tick;
            self.next_tick = now_ms + 1 - PERIOD_MS;
        }
        while self.next_tick <= now_ms {
            let slot = (self.next_tick % PERIOD_MS) as usize;
            let due = std::mem::take(&mut self.wheel[slot]);
            for &(p, s) in &due {
                self.send(p, s);
            }
            self.wheel[slot] = due;
            self.next_tick += 1;
        }
    }

    fn send(&mut self, p: usize, s: usize) {
        let Pair {
            peers,
            epochs,
            sending,
            ..
        } = &mut self.pairs[p];
        if !*sending || peers.iter().any(|peer| peer.state != State::Established) {
            return;
        }
        let e = epochs.len() - 1;
        let epoch = &mut epochs[e];
        let stamp = Stamp {
            pair: p as u32,
            dir: s as u8,
            epoch: e as u32,
            seq: epoch.sent[s],
        };
        match peers[s].client.send(&wire::write(stamp)) {
            Ok(()) => epoch.sent[s] += 1,
            // Its relay is gone: the next poll says so.
            Err(ClientError::PeerLost) => {}
            Err(err) => self.anomaly(format!("pair {p} seat {s}: send: {err}")),
        }
    }

    /// Reads everything client (`p`, `s`) has (its socket until it would block), sends what
    /// its handshake machine has due, counts the datagrams, and notes its state.
    fn service(&mut self, p: usize, s: usize) {
        let client = &mut self.pairs[p].peers[s].client;
        // Reads before it looks at the clock, so a peer timeout it reports is silence, not
        // datagrams left unread.
        let state = match client.poll(Duration::ZERO) {
            Ok(state) => state,
            Err(e) => return self.anomaly(format!("pair {p} seat {s}: poll: {e}")),
        };
        while self.pairs[p].peers[s].client.queued() > 0 {
            match self.pairs[p].peers[s].client.recv(&mut self.buf) {
                Ok(n) => self.account(p, s, n),
                Err(e) => return self.anomaly(format!("pair {p} seat {s}: recv: {e}")),
            }
        }
        let pair = &mut self.pairs[p];
        if state == pair.peers[s].state {
            return;
        }
        let now = Instant::now();
        pair.peers[s].state = state;
        if state == State::Lost {
            pair.peers[s].lost_at = Some(now);
        }
        if pair.both(State::Established) && pair.epoch().established.is_none() {
            pair.epoch_mut().established = Some(now);
        }
    }

    /// Counts a datagram client (`p`, `s`) received (in `self.buf`).
    fn account(&mut self, p: usize, s: usize, len: usize) {
        let Some(stamp) = wire::read(&self.buf[..len]) else {
            return self.anomaly(format!("pair {p} seat {s}: {len} bytes not of this test"));
        };
        let epochs = &mut self.pairs[p].epochs;
        if stamp.pair as usize != p
            || stamp.dir as usize == s
            || stamp.epoch as usize >= epochs.len()
        {
            return self.anomaly(format!("pair {p} seat {s}: received {stamp:?}"));
        }
        let epoch = &mut epochs[stamp.epoch as usize];
        let dir = stamp.dir as usize;
        if stamp.seq != epoch.next_seq[dir] {
            epoch.out_of_order += 1;
        }
        epoch.next_seq[dir] = epoch.next_seq[dir].max(stamp.seq + 1);
        epoch.received[dir] += 1;
        epoch.first_received[dir].get_or_insert_with(Instant::now);
    }

    fn anomaly(&mut self, what: String) {
        self.anomaly_count += 1;
        if self.anomalies.len() < KEPT_ANOMALIES {
            self.anomalies.push(what);
        }
    }

    /// splitmix64.
    fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
