//! The relay loop: one UDP socket, a channel table keyed by GUID and by peer address, and
//! expiry of idle channels. Single-threaded: the host calls [`Relay::poll`] from its own loop.
//!
//! Rules (v0.8): the first valid handshake for a GUID allocates a channel with peer A; a valid
//! handshake with that GUID from another address makes it peer B and establishes the channel;
//! from then on every datagram from one peer goes to the other, handshakes included. No third
//! address joins or takes over a channel, and an address that is not paired never gets an
//! answer, so the relay cannot be used to reflect or amplify traffic.

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::admission::{Admission, Limits};
use crate::cookie::{self, CookieKey};
use crate::net;
use crate::net::batch::{self, DatagramBatch};
use crate::protocol::{self, Guid};
use crate::token::{self, HandshakeVerifier, Rejection, SeatBook, TokenError};

mod admit;
mod deadlines;
mod sans_io;
mod table;

use deadlines::Deadlines;
use table::{ChannelTable, PeerAddr};

/// How the relay is set up. [`Config::default`] binds dual-stack `[::]:6060`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind; `[::]` is dual-stack and accepts IPv4 peers too.
    pub bind: SocketAddr,
    /// A channel, pending or established, closes after this long without a datagram.
    pub inactivity_timeout: Duration,
    /// Raw HMAC key; `None` (or an empty key) accepts handshakes without checking their mac
    /// field. [`crate::protocol::V08_DEFAULT_KEY`] makes the relay behave as a v0.8.2 relay
    /// run with its defaults, and secures nothing: that key is public.
    pub secret_key: Option<Vec<u8>>,
    /// New GUIDs are refused (and counted) while this many channels are open.
    pub max_channels: usize,
    /// SO_RCVBUF / SO_SNDBUF to ask for; 0 keeps the system default.
    pub recv_buffer_bytes: usize,
    pub send_buffer_bytes: usize,
    /// Most datagrams handled in one `poll`, so one call never runs unbounded.
    pub max_datagrams_per_poll: usize,
    /// Most channels expired in one `poll`; the rest go in the next calls.
    pub max_expiries_per_poll: usize,
    /// Events kept for [`Relay::next_event`]; beyond this they are counted and dropped.
    pub max_pending_events: usize,
    /// Per-source handshake rate and half-open cap, per-channel bandwidth cap (see
    /// `SECURITY.md`).
    pub limits: Limits,
    /// Admit only handshakes carrying a valid seat token (see [`crate::token`]); needs
    /// `secret_key`. When false, plain v0.8 handshakes are admitted too.
    pub require_tokens: bool,
    /// Plain handshakes too must prove their return path (echo the relay's cookie, see
    /// [`crate::cookie`]) before they are admitted; token handshakes always must. Clients of
    /// this library answer the relay's challenge; other v0.8 clients cannot, so with this on
    /// they are not admitted. Off by default.
    pub require_return_path: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 6060),
            inactivity_timeout: Duration::from_millis(30_000),
            secret_key: None,
            max_channels: 100_000,
            recv_buffer_bytes: 4 << 20,
            send_buffer_bytes: 4 << 20,
            max_datagrams_per_poll: 4096,
            max_expiries_per_poll: 1024,
            max_pending_events: 4096,
            limits: Limits::default(),
            require_tokens: false,
            require_return_path: false,
        }
    }
}

/// Traffic of one channel. "A" is the peer that allocated it, "B" the one that joined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelCounters {
    pub datagrams_a_to_b: u64,
    pub bytes_a_to_b: u64,
    pub datagrams_b_to_a: u64,
    pub bytes_b_to_a: u64,
    /// Datagrams from a member that could not be forwarded (no peer yet, or send failed).
    pub dropped: u64,
}

/// Why a channel closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// No traffic for the inactivity timeout.
    Expired,
    /// One of its peers sent a valid handshake for another GUID and moved there.
    PeerMoved,
}

/// Something the host may want to log or count. Drained with [`Relay::next_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Allocated {
        guid: Guid,
        peer_a: SocketAddr,
    },
    Established {
        guid: Guid,
        peer_a: SocketAddr,
        peer_b: SocketAddr,
    },
    Closed {
        guid: Guid,
        reason: CloseReason,
        /// Peer B is `None` if the channel never got established.
        peer_a: SocketAddr,
        peer_b: Option<SocketAddr>,
        counters: ChannelCounters,
        /// Time since allocation; the start is kept to the second, so this may read up to
        /// 1 s long.
        lifetime: Duration,
    },
    /// [`Relay::drain`] was called and the last channel has closed.
    Drained,
}

/// Relay-wide counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub datagrams_in: u64,
    pub bytes_in: u64,
    pub datagrams_out: u64,
    pub bytes_out: u64,
    /// Received and not forwarded, accepted handshakes of pending channels excepted.
    pub datagrams_dropped: u64,
    /// From an unpaired address and not a valid handshake (short, bad magic, zero GUID, bad mac).
    pub handshakes_rejected: u64,
    /// Valid handshakes that allocated, refreshed or established a channel.
    pub handshakes_accepted: u64,
    /// Valid handshakes refused: third address, `max_channels` reached, or draining.
    pub handshakes_refused: u64,
    pub channels_open: u64,
    pub channels_established: u64,
    pub channels_allocated_total: u64,
    pub channels_expired_total: u64,
    pub recv_errors: u64,
    pub send_errors: u64,
    pub events_dropped: u64,
    /// Handshakes over their source's rate, dropped before any verification.
    pub handshakes_rate_limited: u64,
    /// New GUIDs refused because `max_channels` channels were open (in `handshakes_refused`).
    pub handshakes_refused_full: u64,
    /// New GUIDs refused because their source held `max_pending_per_source` half-open
    /// channels (in `handshakes_refused`).
    pub handshakes_refused_pending: u64,
    /// Handshakes let through untracked because the rate-limit table was full of active
    /// sources.
    pub rate_limit_untracked: u64,
    /// Datagrams over their channel's bandwidth cap (in `datagrams_dropped`).
    pub datagrams_over_bandwidth: u64,
    /// Token malformed or not verifying, or missing where required (in `handshakes_rejected`).
    pub tokens_invalid: u64,
    /// Token expired (in `handshakes_rejected`).
    pub tokens_expired: u64,
    /// Valid token for a seat held elsewhere with no fresh sequence, or for the other seat
    /// of the sender (in `handshakes_refused`).
    pub tokens_replayed: u64,
    /// Seats moved to a new address by a fresh token handshake (NAT rebinding).
    pub peers_rebound: u64,
    /// Admissible handshakes answered with a return-path challenge (no valid cookie yet).
    pub handshakes_challenged: u64,
}

/// A snapshot of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelInfo {
    pub guid: Guid,
    pub peer_a: SocketAddr,
    pub peer_b: Option<SocketAddr>,
    pub counters: ChannelCounters,
    pub idle: Duration,
}

/// Channels expired between two looks at the socket during a mass expiry.
const EXPIRY_CHUNK: usize = 64;
/// Below this many slots the table is not worth shrinking.
const MIN_SHRINK_SLOTS: usize = 1024;

/// What the relay logic decided for one datagram; the socket loop carries it out. The
/// decision never depends on I/O, which is what lets tests and fuzzers drive the logic
/// through [`Relay::sans_io_datagram`].
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the datagram, unchanged, to the sender's paired peer.
    Forward(Forward),
    /// A handshake the relay took (allocated, refreshed or re-seated a pending channel).
    Absorbed,
    /// Not forwarded; counted in `datagrams_dropped` and under its reason.
    Dropped,
    /// An admissible handshake without a valid return-path cookie: answer its sender (and
    /// no one else) with this challenge, no larger than the handshake.
    Challenge(Challenge),
}

/// A return-path challenge to send (see [`crate::cookie`]).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    /// Always the sender of the handshake it answers.
    pub to: SocketAddr,
    pub datagram: [u8; cookie::CHALLENGE_LEN],
}

/// Where a datagram goes, and which channel's counters it belongs to.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    /// Always the sender's paired peer, never the sender.
    pub to: SocketAddr,
    slot: u32,
    stamp: u32,
    a_to_b: bool,
}

impl Forward {
    /// What a queued send carries back if it fails: the channel's slot and stamp (so a
    /// channel closed in the meantime is almost surely not touched, and at worst one of its
    /// counters is off by one datagram) and the direction.
    fn tag(self) -> u64 {
        (u64::from(self.slot) << 33) | (u64::from(self.stamp) << 1) | u64::from(self.a_to_b)
    }

    fn untag(tag: u64) -> (u32, u32, bool) {
        ((tag >> 33) as u32, (tag >> 1) as u32, tag & 1 == 1)
    }
}

/// Why a handshake-looking datagram did not pass [`Relay::screen`].
enum Screen {
    RateLimited,
    Rejected(Rejection),
}

/// The relay. See the module documentation for its rules.
pub struct Relay {
    socket: UdpSocket,
    socket_is_v6: bool,
    local_addr: SocketAddr,
    effective_buffers: (usize, usize),
    verifier: HandshakeVerifier,
    /// Issues and checks return-path cookies; random per relay.
    cookies: CookieKey,
    admission: Admission,
    seats: SeatBook,
    /// Wall-clock time at `epoch`, for token expiry.
    epoch_unix_ms: u64,
    config: Config,
    /// The channels, indexed by GUID and by peer address.
    channels: ChannelTable,
    /// Min-heap of (deadline ms, slot): one entry per slot marked queued, which every open
    /// channel is. An entry whose channel saw traffic since is pushed back with its new
    /// deadline, so a poll only touches channels whose deadline has passed. The entry of a
    /// closed channel stays and serves the slot's next channel (whose deadline is later).
    deadlines: Deadlines,
    events: VecDeque<Event>,
    stats: Stats,
    draining: bool,
    drained_reported: bool,
    epoch: Instant,
    /// Expiries not yet summarised in the log, and when the last summary was written.
    expired_unlogged: u64,
    expiry_logged_ms: u64,
    /// Received datagrams and the sends that forward them from the same buffers. Lent out
    /// (`None`) while a batch is handled, so the decision logic can borrow the relay.
    io: Option<DatagramBatch>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("local_addr", &self.local_addr)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// Binds the socket and returns an idle relay.
    pub fn bind(mut config: Config) -> io::Result<Relay> {
        // A key of zero bytes means unkeyed, as in v0.8.2 and the C ABI.
        if config.secret_key.as_ref().is_some_and(Vec::is_empty) {
            config.secret_key = None;
        }
        if config.inactivity_timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "inactivity timeout must be > 0",
            ));
        }
        if config.max_channels == 0 || config.max_datagrams_per_poll == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "max_channels and max_datagrams_per_poll must be > 0",
            ));
        }
        if config.require_tokens && config.secret_key.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "require_tokens needs a secret_key to check tokens with",
            ));
        }
        let bound = net::bind_udp(
            config.bind,
            config.recv_buffer_bytes,
            config.send_buffer_bytes,
        )?;
        let gro = batch::enable_gro(&bound.socket);
        log::info!(
            "relay bound to {} (receive buffer {} B, send buffer {} B, UDP GRO {}{})",
            bound.local_addr,
            bound.recv_buffer,
            bound.send_buffer,
            if gro { "on" } else { "off" },
            if config.secret_key.is_some() {
                ", handshakes keyed"
            } else {
                ", handshakes not keyed"
            }
        );
        Ok(Relay {
            socket: bound.socket,
            socket_is_v6: bound.is_v6,
            local_addr: bound.local_addr,
            effective_buffers: (bound.recv_buffer, bound.send_buffer),
            verifier: HandshakeVerifier::new(config.secret_key.as_deref(), config.require_tokens),
            cookies: CookieKey::random().map_err(io::Error::other)?,
            admission: Admission::new(&config.limits),
            seats: SeatBook::default(),
            epoch_unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            config,
            channels: ChannelTable::default(),
            deadlines: Deadlines::default(),
            events: VecDeque::new(),
            stats: Stats::default(),
            draining: false,
            drained_reported: false,
            epoch: Instant::now(),
            expired_unlogged: 0,
            expiry_logged_ms: 0,
            io: Some(DatagramBatch::new()),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// SO_RCVBUF and SO_SNDBUF as granted by the kernel.
    pub fn socket_buffers(&self) -> (usize, usize) {
        self.effective_buffers
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Refuse new channels from now on; a [`Event::Drained`] follows when the last
    /// open channel closes (at once if none is open).
    pub fn drain(&mut self) {
        if !self.draining {
            log::info!(
                "draining: refusing new channels, {} still open",
                self.stats.channels_open
            );
        }
        self.draining = true;
        self.report_drained();
    }

    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// True once draining and no channel is open.
    pub fn is_drained(&self) -> bool {
        self.draining && self.stats.channels_open == 0
    }

    /// The next queued event, oldest first.
    pub fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Looks up a channel by GUID.
    pub fn channel(&self, guid: Guid) -> Option<ChannelInfo> {
        let slot = self.channels.by_guid(guid)?;
        let ch = self.channels.record(slot);
        let now = self.now_ms();
        Some(ChannelInfo {
            guid,
            peer_a: self.channels.addr(ch.peer_a),
            peer_b: ch.is_established().then(|| self.channels.addr(ch.peer_b)),
            counters: self.channels.counters(slot),
            idle: Duration::from_millis(now - ch.last_seen_ms(now)),
        })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Waits at most `timeout` for traffic, relays what is pending (at most
    /// `max_datagrams_per_poll` datagrams), expires idle channels and returns how many
    /// datagrams were handled. Socket errors are counted, not returned: a hostile or departed
    /// peer cannot stop the loop.
    pub fn poll(&mut self, timeout: Duration) -> io::Result<usize> {
        let mut now = self.now_ms();
        let mut handled = self.receive_batch(now);
        if handled == 0 && !timeout.is_zero() && !self.expiry_due(now) {
            let wait = match self.deadlines.peek() {
                Some((deadline, _)) => {
                    timeout.min(Duration::from_millis(deadline.saturating_sub(now).max(1)))
                }
                None => timeout,
            };
            if batch::wait_readable(&self.socket, wait)? {
                now = self.now_ms();
                handled = self.receive_batch(now);
            } else {
                now = self.now_ms();
            }
        }
        // A mass expiry is done in small chunks with the socket read in between, so traffic
        // of live channels is not held up behind it.
        let mut expired = 0;
        while expired < self.config.max_expiries_per_poll {
            let chunk = EXPIRY_CHUNK.min(self.config.max_expiries_per_poll - expired);
            let closed = self.expire(now, chunk);
            expired += closed;
            if closed < chunk {
                break;
            }
            handled += self.receive_batch(now);
        }
        self.after_expiry(expired, now);
        Ok(handled)
    }

    fn expiry_due(&self, now: u64) -> bool {
        matches!(self.deadlines.peek(), Some((d, _)) if d <= now)
    }

    fn receive_batch(&mut self, now: u64) -> usize {
        let Some(mut datagrams) = self.io.take() else {
            return 0;
        };
        let mut handled = 0;
        while handled < self.config.max_datagrams_per_poll {
            let max = self.config.max_datagrams_per_poll - handled;
            let n = match datagrams.recv(&self.socket, max) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ICMP errors surfaced by some platforms (ECONNREFUSED, WSAECONNRESET)
                    // say a peer went away; they must not stop the relay.
                    self.stats.recv_errors += 1;
                    handled += 1;
                    log::debug!("receive error (counted, continuing): {e}");
                    continue;
                }
            };
            for i in 0..n {
                let src = net::normalize(datagrams.source(i));
                // Several datagrams when GRO coalesced a sender's run: each is decided on its
                // own, exactly as if it had been read alone.
                let segments = datagrams.segments(i);
                for k in 0..segments {
                    let datagram = datagrams.datagram(i, k);
                    let len = datagram.len();
                    match self.on_datagram(datagram, src, now) {
                        Verdict::Forward(fwd) => {
                            // Counted as sent now; `flush` takes it back if the kernel
                            // refuses it.
                            self.record_forward(fwd, len, true);
                            let to = net::to_socket_family(fwd.to, self.socket_is_v6);
                            datagrams.queue(i, k, to, fwd.tag());
                        }
                        Verdict::Challenge(c) => self.send_challenge(&c),
                        Verdict::Absorbed | Verdict::Dropped => {}
                    }
                }
                handled += segments;
            }
            self.flush(&mut datagrams);
            if n < batch::BATCH.min(max) {
                break; // the socket is drained
            }
        }
        self.io = Some(datagrams);
        handled
    }

    /// Sends a return-path challenge at once: they are rare (one per admission at most, each
    /// charged to its source's handshake budget), so they skip the batch.
    fn send_challenge(&mut self, c: &Challenge) {
        let to = net::to_socket_family(c.to, self.socket_is_v6);
        if let Err(e) = self.socket.send_to(&c.datagram, to) {
            log::trace!("challenge to {} failed (counted): {e}", c.to);
            self.stats.send_errors += 1;
        }
    }

    /// Sends what the last batch queued and accounts for the datagrams the kernel refused.
    fn flush(&mut self, datagrams: &mut DatagramBatch) {
        let (channels, stats) = (&mut self.channels, &mut self.stats);
        let (sent, bytes) = datagrams.flush(&self.socket, |tag, len, e| {
            // ECONNREFUSED from an earlier ICMP, ENOBUFS, EAGAIN: counted, the loop goes on.
            log::trace!("send failed (counted): {e}");
            count_send(stats, len, false);
            let (slot, stamp, a_to_b) = Forward::untag(tag);
            if channels.live_mut(slot, stamp).is_some() {
                channels.update_counters(slot, |c| {
                    // Saturating: a stamp only tells channels apart with near certainty.
                    let len = len as u64;
                    if a_to_b {
                        c.datagrams_a_to_b = c.datagrams_a_to_b.saturating_sub(1);
                        c.bytes_a_to_b = c.bytes_a_to_b.saturating_sub(len);
                    } else {
                        c.datagrams_b_to_a = c.datagrams_b_to_a.saturating_sub(1);
                        c.bytes_b_to_a = c.bytes_b_to_a.saturating_sub(len);
                    }
                    c.dropped += 1;
                });
            }
        });
        self.stats.datagrams_out += sent;
        self.stats.bytes_out += bytes;
    }

    fn unix_now_secs(&self, now: u64) -> u64 {
        (self.epoch_unix_ms + now) / 1000
    }

    /// The decision logic for one datagram from `src` (normalised).
    fn on_datagram(&mut self, datagram: &[u8], src: SocketAddr, now: u64) -> Verdict {
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += datagram.len() as u64;
        let member = self
            .channels
            .peer(src)
            .and_then(|p| Some((p, self.channels.by_addr(p)?)));
        let Some((peer, slot)) = member else {
            return self.on_unpaired(datagram, src, now);
        };
        let (guid, established) = {
            let ch = self.channels.record(slot);
            (ch.guid(), ch.is_established())
        };
        if protocol::looks_like_handshake(datagram) {
            if protocol::peek_guid(datagram) == guid {
                // Its own channel's handshake: a retry, an answer or a keep-alive. Checked
                // only where that matters (a pending channel is refreshed only by a valid
                // one; a token handshake's sequence is noted) and never charged to the
                // source's budget.
                let check =
                    !established || (token::has_token_flag(datagram) && self.seats.has(guid));
                let valid = check && self.verify_own(datagram, guid, src, now);
                if !established {
                    return if valid {
                        self.channels.record_mut(slot).touch(now);
                        self.stats.handshakes_accepted += 1;
                        Verdict::Absorbed
                    } else {
                        self.drop_member_datagram(slot)
                    };
                }
            } else if let Some(verdict) = self.member_moves(slot, datagram, src, now) {
                return verdict;
            }
        }
        if !established {
            // Only peer A is here: anything but its handshake has no one to go to.
            return self.drop_member_datagram(slot);
        }
        let ch = self.channels.record_mut(slot);
        ch.touch(now);
        let from_a = ch.peer_a == peer;
        let dst = if from_a { ch.peer_b } else { ch.peer_a };
        if !self
            .admission
            .meters
            .allow(slot, from_a, datagram.len(), now)
        {
            self.channels.update_counters(slot, |c| c.dropped += 1);
            self.stats.datagrams_over_bandwidth += 1;
            self.stats.datagrams_dropped += 1;
            self.admission.log.refusal(
                now,
                format_args!("{guid}: datagram from {src} over the channel's bandwidth cap"),
            );
            return Verdict::Dropped;
        }
        let dst = self.channels.addr(dst);
        self.forward(slot, src, dst, from_a)
    }

    /// A member's datagram that looks like a handshake for another GUID. It leaves its
    /// channel for that GUID only when the handshake is *verified* (a keyed HMAC or a seat
    /// token: on an unkeyed relay any game payload that starts with the magic would pass)
    /// and the relay will admit it there; the check is made before the channel is given
    /// up. Otherwise (`None`) it is the channel's data like any other datagram.
    fn member_moves(
        &mut self,
        slot: u32,
        datagram: &[u8],
        src: SocketAddr,
        now: u64,
    ) -> Option<Verdict> {
        if !self.verifier.authenticates() {
            return None;
        }
        let v = self.screen(datagram, src, now).ok()?;
        let plan = self.plan(&v, src).ok()?;
        if !self.return_path_proven(&v, datagram, src, now) {
            return Some(self.challenge(v.guid, src, now));
        }
        self.close(slot, CloseReason::PeerMoved, now);
        Some(self.apply(plan, &v, datagram.len(), src, now))
    }

    fn drop_member_datagram(&mut self, slot: u32) -> Verdict {
        self.channels.update_counters(slot, |c| c.dropped += 1);
        self.stats.datagrams_dropped += 1;
        Verdict::Dropped
    }

    /// A decision to forward to `to`, the sender's partner; never back to the sender.
    fn forward(&mut self, slot: u32, src: SocketAddr, to: SocketAddr, a_to_b: bool) -> Verdict {
        if to == src {
            debug_assert!(false, "relay logic chose to send a datagram back to {src}");
            self.stats.datagrams_dropped += 1;
            return Verdict::Dropped;
        }
        Verdict::Forward(Forward {
            to,
            slot,
            stamp: self.channels.record(slot).stamp(),
            a_to_b,
        })
    }

    /// Counts a forward the socket loop carried out (or failed to) on its channel.
    fn record_forward(&mut self, fwd: Forward, len: usize, sent: bool) {
        if self.channels.live_mut(fwd.slot, fwd.stamp).is_none() {
            return; // closed since the decision (a batched send)
        }
        if sent {
            self.channels.count_forwarded(fwd.slot, fwd.a_to_b, len);
        } else {
            self.channels.update_counters(fwd.slot, |c| c.dropped += 1);
        }
    }

    fn on_unpaired(&mut self, datagram: &[u8], src: SocketAddr, now: u64) -> Verdict {
        match self.screen(datagram, src, now) {
            Ok(v) => self.admit(v, datagram, src, now),
            Err(Screen::RateLimited) => self.rate_limited(datagram.len(), src, now),
            Err(Screen::Rejected(why)) => {
                self.stats.handshakes_rejected += 1;
                self.stats.datagrams_dropped += 1;
                match why {
                    Rejection::Token(TokenError::Expired) => self.stats.tokens_expired += 1,
                    Rejection::Token(_) | Rejection::TokenRequired => {
                        self.stats.tokens_invalid += 1
                    }
                    Rejection::Handshake(_) => {}
                }
                let len = datagram.len();
                self.admission.log.refusal(
                    now,
                    format_args!("dropped {len} B from unpaired {src}: {why}"),
                );
                Verdict::Dropped
            }
        }
    }

    /// Opens a channel planned by [`Relay::plan`] (which checked that it may).
    fn allocate(&mut self, guid: Guid, src: SocketAddr, now: u64) -> Verdict {
        let Some(peer) = self.channels.intern(src) else {
            debug_assert!(false, "planned allocation for {src} without a scope");
            return self.refused(admit::Refusal::Scopes, guid, src, now);
        };
        let slot = self.channels.allocate(guid, peer, now);
        // A slot still queued keeps its entry: it comes up before this channel's deadline.
        let entry = self.channels.record_mut(slot);
        if !entry.queued() {
            entry.set_queued(true);
            self.deadlines.push(now + self.timeout_ms(), slot);
        }
        self.admission.pending.opened(src.ip());
        self.admission.meters.reset(slot, now);
        self.stats.handshakes_accepted += 1;
        self.stats.channels_open += 1;
        self.stats.channels_allocated_total += 1;
        log::debug!("channel {guid} allocated by {src}");
        self.push_event(Event::Allocated { guid, peer_a: src });
        Verdict::Absorbed
    }

    /// Makes `src` peer B of the pending channel in `slot`, as planned by [`Relay::plan`].
    fn join(
        &mut self,
        slot: u32,
        peer: PeerAddr,
        len: usize,
        src: SocketAddr,
        now: u64,
    ) -> Verdict {
        let guid = self.channels.record(slot).guid();
        self.channels.join(slot, peer);
        let ch = self.channels.record_mut(slot);
        ch.touch(now);
        let peer_a = ch.peer_a;
        let peer_a = self.channels.addr(peer_a);
        self.admission.pending.settled(peer_a.ip());
        self.stats.handshakes_accepted += 1;
        self.stats.channels_established += 1;
        log::debug!("channel {guid} established: {peer_a} <-> {src} ({len} B handshake)");
        self.push_event(Event::Established {
            guid,
            peer_a,
            peer_b: src,
        });
        // B's handshake goes on to A: that is how A learns the channel is up.
        self.forward(slot, src, peer_a, false)
    }

    fn timeout_ms(&self) -> u64 {
        (self.config.inactivity_timeout.as_millis() as u64).max(1)
    }

    /// Closes up to `limit` channels whose inactivity timeout has passed; returns how many.
    fn expire(&mut self, now: u64, limit: usize) -> usize {
        let timeout = self.timeout_ms();
        let mut closed = 0;
        while closed < limit {
            let Some((deadline, slot)) = self.deadlines.peek() else {
                break;
            };
            if deadline > now {
                break;
            }
            self.deadlines.pop();
            let entry = self.channels.record_mut(slot);
            if !entry.is_open() {
                entry.set_queued(false); // closed earlier for another reason
                continue;
            }
            let due = entry.last_seen_ms(now) + timeout;
            if due > now {
                self.deadlines.push(due, slot);
            } else {
                entry.set_queued(false);
                self.close(slot, CloseReason::Expired, now);
                closed += 1;
            }
        }
        closed
    }

    /// Accounting, a log summary at most once a second, housekeeping of the admission
    /// tables, and giving memory back once most of the channel table has expired.
    fn after_expiry(&mut self, expired: usize, now: u64) {
        if expired > 0 {
            self.stats.channels_expired_total += expired as u64;
            self.expired_unlogged += expired as u64;
            if self.channels.slots() > MIN_SHRINK_SLOTS
                && (self.stats.channels_open as usize) < self.channels.slots() / 8
            {
                self.shrink(now);
            }
        }
        if self.expired_unlogged > 0 && now.saturating_sub(self.expiry_logged_ms) >= 1000 {
            log::debug!(
                "{} idle channels expired in the last {} ms, {} open",
                self.expired_unlogged,
                now.saturating_sub(self.expiry_logged_ms),
                self.stats.channels_open
            );
            self.expired_unlogged = 0;
            self.expiry_logged_ms = now;
        }
        self.admission.maintain(now);
        self.report_drained();
    }

    fn close(&mut self, slot: u32, reason: CloseReason, now: u64) {
        let (ch, counters) = self.channels.remove(slot);
        let guid = ch.guid();
        let peer_a = self.channels.addr(ch.peer_a);
        let peer_b = ch.is_established().then(|| self.channels.addr(ch.peer_b));
        if peer_b.is_some() {
            self.stats.channels_established -= 1;
        } else {
            self.admission.pending.settled(peer_a.ip());
        }
        self.seats.remove(guid);
        self.stats.channels_open -= 1;
        let lifetime = Duration::from_millis(ch.lifetime_ms(now));
        // Expiries come in masses and are summarised once a second; one line each is trace.
        let level = match reason {
            CloseReason::Expired => log::Level::Trace,
            CloseReason::PeerMoved => log::Level::Debug,
        };
        log::log!(
            level,
            "channel {guid} closed ({reason:?}) after {lifetime:?}: {counters:?}",
        );
        self.push_event(Event::Closed {
            guid,
            reason,
            peer_a,
            peer_b,
            counters,
            lifetime,
        });
    }

    /// Renumbers the open channels into a table sized for them and frees the rest, so the
    /// memory of a mass expiry goes back to the allocator (and from there to the OS: the
    /// large blocks are unmapped). Costs one pass over the old table, which is why it only
    /// runs once the table is at least 7/8 empty, and never while sends are queued (their
    /// tags name slots).
    fn shrink(&mut self, now: u64) {
        let open = self.channels.open();
        let timeout = self.timeout_ms();
        let mut moves = Vec::with_capacity(open);
        self.channels = self.channels.compacted(&mut moves);
        self.deadlines = Deadlines::with_capacity(open);
        for &(_, slot) in &moves {
            let entry = self.channels.record_mut(slot);
            entry.set_queued(true);
            let due = entry.last_seen_ms(now) + timeout;
            self.deadlines.push(due, slot);
        }
        self.events.shrink_to_fit();
        self.admission.meters.renumber(&moves);
        drop(moves);
        net::memory::release_free_memory();
        log::debug!("channel table shrunk to {open} open channels");
    }

    fn report_drained(&mut self) {
        if self.is_drained() && !self.drained_reported {
            self.drained_reported = true;
            log::info!("drained: no channel open");
            self.push_event(Event::Drained);
        }
    }

    fn push_event(&mut self, event: Event) {
        if self.events.len() >= self.config.max_pending_events {
            self.stats.events_dropped += 1;
        } else {
            self.events.push_back(event);
        }
    }
}

/// Counts one send the kernel took (or refused); returns `sent`.
fn count_send(stats: &mut Stats, len: usize, sent: bool) -> bool {
    if sent {
        stats.datagrams_out += 1;
        stats.bytes_out += len as u64;
    } else {
        stats.send_errors += 1;
        stats.datagrams_dropped += 1;
    }
    sent
}
