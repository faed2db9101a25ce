//! The relay without a socket: the channel table, admission, return-path cookies, expiry and
//! events, driven by what its owner hands it (a datagram, the address it came from and the
//! local address it was sent to, the time) and answering with what to send where
//! ([`Verdict`]). The socket relay ([`super::Relay`]) is a thin shell over it; an engine that
//! owns its socket (its game port, io_uring, a platform socket layer) drives it the same way,
//! as do the property tests and the fuzzer.
//!
//! Time is the owner's: milliseconds on any monotonic clock that never goes back (since the
//! relay started, since boot...). A time earlier than one already given counts as that one.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::admit;
use super::deadlines::Deadlines;
use super::seats::SeatBook;
use super::table::{ChannelTable, PeerAddr};
use super::wall_clock::WallClock;
use super::{
    CHANNEL_EVENTS_LOG_TARGET, ChannelInfo, CloseReason, Config, Event, Forward, ProbeReply,
    Screen, Stats, Verdict,
};
use crate::admission::{Admission, RateVerdict};
use crate::cookie::CookieKey;
use crate::net;
use crate::probe::{self, RelayState};
use crate::protocol::{self, Guid};
use crate::token::{self, HandshakeVerifier, Rejection, TokenError};

/// Below this many slots the table is not worth shrinking.
const MIN_SHRINK_SLOTS: usize = 1024;

/// How the relay checks handshakes: its keys (current and, during a rotation, previous, each
/// with its id), its relay id, and which handshakes it requires.
fn verifier(config: &Config) -> HandshakeVerifier {
    let verifier = HandshakeVerifier::new(config.secret(), config.require_tokens)
        .with_key_id(config.key_id)
        .with_relay_id(config.relay_id)
        .requiring_token_v2(config.require_token_v2);
    match config.previous_secret() {
        Some(previous) => verifier.with_previous_key(previous, config.previous_key_id),
        None => verifier,
    }
}

/// The socket-free relay. See the module documentation.
pub struct RelayCore {
    pub(super) verifier: HandshakeVerifier,
    /// Issues and checks return-path cookies; random per relay.
    pub(super) cookies: CookieKey,
    pub(super) admission: Admission,
    pub(super) seats: SeatBook,
    /// What token expiry is judged by.
    pub(super) wall_clock: WallClock,
    pub(super) config: Config,
    /// The channels, indexed by GUID and by peer address.
    pub(super) channels: ChannelTable,
    /// Min-heap of (deadline ms, slot): one entry per slot marked queued, which every open
    /// channel is. An entry whose channel saw traffic since is pushed back with its new
    /// deadline, so a timeout only touches channels whose deadline has passed. The entry of a
    /// closed channel stays and serves the slot's next channel (whose deadline is later).
    pub(super) deadlines: Deadlines,
    pub(super) events: VecDeque<Event>,
    pub(super) stats: Stats,
    pub(super) draining: bool,
    pub(super) drained_reported: bool,
    /// Expiries not yet summarised in the log, and when the last summary was written.
    pub(super) expired_unlogged: u64,
    pub(super) expiry_logged_ms: u64,
    /// The latest time the owner gave (ms), for channels' idle times.
    pub(super) clock_ms: u64,
}

impl std::fmt::Debug for RelayCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayCore")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl RelayCore {
    /// Checks `config` ([`Config::validate`]: an error of kind `InvalidInput` carrying the
    /// [`super::ConfigError`]) and returns an idle relay. `config.bind` and the socket buffer
    /// sizes are not used: the owner has the socket.
    pub fn new(config: Config) -> io::Result<RelayCore> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(RelayCore {
            verifier: verifier(&config),
            cookies: CookieKey::random().map_err(io::Error::other)?,
            admission: Admission::new(&config.limits),
            seats: SeatBook::default(),
            wall_clock: WallClock::default(),
            config,
            channels: ChannelTable::default(),
            deadlines: Deadlines::default(),
            events: VecDeque::new(),
            stats: Stats::default(),
            draining: false,
            drained_reported: false,
            expired_unlogged: 0,
            expiry_logged_ms: 0,
            clock_ms: 0,
        })
    }

    /// Decides what to do with one datagram that arrived from `src` at `now_ms`, sent to the
    /// local address `local` (`None` when the owner does not know it; replies then leave from
    /// whatever address the system picks). A [`Verdict::Forward`] is counted as sent: report a
    /// failed send with [`RelayCore::report_send_failure`].
    pub fn handle_datagram(
        &mut self,
        now_ms: u64,
        src: SocketAddr,
        local: Option<IpAddr>,
        datagram: &[u8],
    ) -> Verdict {
        let now = self.advance(now_ms);
        let local = local.map(|ip| ip.to_canonical());
        let verdict = self.on_datagram(datagram, net::normalize(src), local, now);
        match verdict {
            Verdict::Forward(fwd) => {
                self.record_forward(fwd, datagram.len(), true);
                self.stats.datagrams_out += 1;
                self.stats.bytes_out += datagram.len() as u64;
            }
            Verdict::Absorbed | Verdict::Challenge(_) | Verdict::ProbeReply(_) => {
                self.stats.datagrams_consumed += 1
            }
            Verdict::Dropped => {}
        }
        verdict
    }

    /// The forward `forward` of `len` bytes could not be sent (the OS refused it): it is
    /// counted as a send error and a drop instead of a datagram out.
    pub fn report_send_failure(&mut self, forward: &Forward, len: usize) {
        self.send_failed(forward.tag(), len);
    }

    /// [`RelayCore::report_send_failure`] for a forward known by its tag (batched sends).
    pub(crate) fn send_failed(&mut self, tag: u64, len: usize) {
        let stats = &mut self.stats;
        stats.datagrams_out = stats.datagrams_out.saturating_sub(1);
        stats.bytes_out = stats.bytes_out.saturating_sub(len as u64);
        stats.send_errors += 1;
        stats.datagrams_dropped += 1;
        let (slot, stamp, a_to_b) = Forward::untag(tag);
        if self.channels.live_mut(slot, stamp).is_some() {
            self.channels.update_counters(slot, |c| {
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
    }

    /// When [`RelayCore::handle_timeout`] next has work (a channel may have fallen idle), on
    /// the owner's clock; `None` while no channel is open.
    pub fn next_timeout(&self) -> Option<u64> {
        self.deadlines.peek().map(|(deadline, _)| deadline)
    }

    /// Expires the channels idle since before `now_ms` (at most `max_expiries_per_poll`;
    /// the rest at the next call, which [`RelayCore::next_timeout`] says is due at once)
    /// and does the housekeeping. Returns how many closed.
    pub fn handle_timeout(&mut self, now_ms: u64) -> usize {
        let now = self.advance(now_ms);
        let expired = self.expire(now, self.config.max_expiries_per_poll);
        self.after_expiry(expired, now);
        expired
    }

    /// Moves the core's clock to `now_ms` (never back) and returns it.
    pub(super) fn advance(&mut self, now_ms: u64) -> u64 {
        self.clock_ms = self.clock_ms.max(now_ms);
        self.clock_ms
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

    /// Looks up a channel by GUID (idle time as of the latest time the core was given).
    pub fn channel(&self, guid: Guid) -> Option<ChannelInfo> {
        self.channel_at(guid, self.clock_ms)
    }

    /// [`RelayCore::channel`] with its idle time at `now` (never before the core's clock).
    pub(super) fn channel_at(&self, guid: Guid, now: u64) -> Option<ChannelInfo> {
        let now = now.max(self.clock_ms);
        let slot = self.channels.by_guid(guid)?;
        let ch = self.channels.record(slot);
        Some(ChannelInfo {
            guid,
            peer_a: self.channels.addr(ch.peer_a),
            peer_b: ch.is_established().then(|| self.channels.addr(ch.peer_b)),
            counters: self.channels.counters(slot),
            idle: Duration::from_millis(now - ch.last_seen_ms(now)),
        })
    }

    pub(super) fn expiry_due(&self, now: u64) -> bool {
        matches!(self.deadlines.peek(), Some((d, _)) if d <= now)
    }

    /// Wall-clock Unix seconds to judge a token's expiry by, read now.
    pub(super) fn unix_now_secs(&self) -> u64 {
        self.wall_clock.unix_secs()
    }

    /// The decision logic for one datagram from `src` (normalised).
    pub(super) fn on_datagram(
        &mut self,
        datagram: &[u8],
        src: SocketAddr,
        local: Option<IpAddr>,
        now: u64,
    ) -> Verdict {
        self.stats.datagrams_in += 1;
        self.stats.bytes_in += datagram.len() as u64;
        let member = self
            .channels
            .peer(src)
            .and_then(|p| Some((p, self.channels.by_addr(p)?)));
        let Some((peer, slot)) = member else {
            return self.on_unpaired(datagram, src, local, now);
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
                let valid = check && self.verify_own(datagram, guid, src);
                if !established {
                    return if valid {
                        self.channels.record_mut(slot).touch(now);
                        self.stats.handshakes_accepted += 1;
                        Verdict::Absorbed
                    } else {
                        self.drop_member_datagram(slot)
                    };
                }
            } else if let Some(verdict) = self.member_moves(slot, datagram, src, local, now) {
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
    pub(super) fn member_moves(
        &mut self,
        slot: u32,
        datagram: &[u8],
        src: SocketAddr,
        local: Option<IpAddr>,
        now: u64,
    ) -> Option<Verdict> {
        if !self.verifier.authenticates() {
            return None;
        }
        let v = self.screen(datagram, src, now).ok()?;
        let plan = self.plan(&v, src).ok()?;
        if !self.return_path_proven(&v, datagram, src, now) {
            return Some(self.challenge(v.guid, src, local, now));
        }
        self.close(slot, CloseReason::PeerMoved, now);
        Some(self.apply(plan, &v, datagram.len(), src, local, now))
    }

    pub(super) fn drop_member_datagram(&mut self, slot: u32) -> Verdict {
        self.channels.update_counters(slot, |c| c.dropped += 1);
        self.stats.datagrams_dropped += 1;
        Verdict::Dropped
    }

    /// A decision to forward to `to`, the sender's partner; never back to the sender. It
    /// leaves from the local address the partner sends to.
    pub(super) fn forward(
        &mut self,
        slot: u32,
        src: SocketAddr,
        to: SocketAddr,
        a_to_b: bool,
    ) -> Verdict {
        if to == src {
            debug_assert!(false, "relay logic chose to send a datagram back to {src}");
            self.stats.datagrams_dropped += 1;
            return Verdict::Dropped;
        }
        Verdict::Forward(Forward {
            to,
            from: self.channels.local_of(slot, a_to_b),
            slot,
            stamp: self.channels.record(slot).stamp(),
            a_to_b,
        })
    }

    /// Counts a forward the socket loop carried out (or failed to) on its channel.
    pub(super) fn record_forward(&mut self, fwd: Forward, len: usize, sent: bool) {
        if self.channels.live_mut(fwd.slot, fwd.stamp).is_none() {
            return; // closed since the decision (a batched send)
        }
        if sent {
            self.channels.count_forwarded(fwd.slot, fwd.a_to_b, len);
        } else {
            self.channels.update_counters(fwd.slot, |c| c.dropped += 1);
        }
    }

    pub(super) fn on_unpaired(
        &mut self,
        datagram: &[u8],
        src: SocketAddr,
        local: Option<IpAddr>,
        now: u64,
    ) -> Verdict {
        if let Some(timestamp) = probe::read_probe(datagram) {
            return self.answer_probe(timestamp, src, local, now);
        }
        match self.screen(datagram, src, now) {
            Ok(v) => self.admit(v, datagram, src, local, now),
            Err(Screen::RateLimited) => self.rate_limited(datagram.len(), src, now),
            Err(Screen::Rejected(why)) => {
                self.stats.handshakes_rejected += 1;
                self.stats.datagrams_dropped += 1;
                match why {
                    Rejection::Token(TokenError::Expired) => self.stats.tokens_expired += 1,
                    Rejection::Token(TokenError::WrongRelay { .. }) => {
                        self.stats.handshakes_wrong_relay += 1
                    }
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

    /// A probe from outside any channel: answered with the relay's state, within the
    /// source's handshake budget.
    fn answer_probe(
        &mut self,
        timestamp: u64,
        src: SocketAddr,
        local: Option<IpAddr>,
        now: u64,
    ) -> Verdict {
        match self.admission.limiter.check(src.ip(), now) {
            RateVerdict::Limited => return self.rate_limited(probe::PROBE_LEN, src, now),
            RateVerdict::Untracked => self.stats.rate_limit_untracked += 1,
            RateVerdict::Allowed => {}
        }
        let state = if self.draining {
            RelayState::Draining
        } else if self.stats.channels_open as usize >= self.config.max_channels {
            RelayState::Full
        } else {
            RelayState::Accepting
        };
        self.stats.probes_answered += 1;
        Verdict::ProbeReply(ProbeReply {
            to: src,
            from: local,
            datagram: probe::write_reply(state, timestamp),
        })
    }

    /// Opens a channel planned by [`RelayCore::plan`] (which checked that it may).
    pub(super) fn allocate(
        &mut self,
        guid: Guid,
        src: SocketAddr,
        local: Option<IpAddr>,
        now: u64,
    ) -> Verdict {
        let Some(peer) = self.channels.intern(src) else {
            debug_assert!(false, "planned allocation for {src} without a scope");
            return self.refused(admit::Refusal::Scopes, guid, src, now);
        };
        let slot = self.channels.allocate(guid, peer, local, now);
        // A slot still queued keeps its entry: it comes up before this channel's deadline.
        let entry = self.channels.record_mut(slot);
        if !entry.queued() {
            entry.set_queued(true);
            self.deadlines
                .push(now.saturating_add(self.timeout_ms()), slot);
        }
        self.admission.pending.opened(src.ip());
        self.admission.meters.reset(slot, now);
        self.stats.handshakes_accepted += 1;
        self.stats.channels_open += 1;
        self.stats.channels_allocated_total += 1;
        log::debug!(target: CHANNEL_EVENTS_LOG_TARGET, "channel {guid} allocated by {src}");
        self.push_event(Event::Allocated { guid, peer_a: src });
        Verdict::Absorbed
    }

    /// Makes `src` peer B of the pending channel in `slot`, as planned by [`RelayCore::plan`].
    pub(super) fn join(
        &mut self,
        slot: u32,
        peer: PeerAddr,
        len: usize,
        src: SocketAddr,
        local: Option<IpAddr>,
        now: u64,
    ) -> Verdict {
        let guid = self.channels.record(slot).guid();
        self.channels.join(slot, peer, local);
        let ch = self.channels.record_mut(slot);
        ch.touch(now);
        let peer_a = ch.peer_a;
        let peer_a = self.channels.addr(peer_a);
        self.admission.pending.settled(peer_a.ip());
        self.stats.handshakes_accepted += 1;
        self.stats.channels_established += 1;
        log::debug!(
            target: CHANNEL_EVENTS_LOG_TARGET,
            "channel {guid} established: {peer_a} <-> {src} ({len} B handshake)"
        );
        self.push_event(Event::Established {
            guid,
            peer_a,
            peer_b: src,
        });
        // B's handshake goes on to A: that is how A learns the channel is up.
        self.forward(slot, src, peer_a, false)
    }

    /// The inactivity timeout in ms: 1 ms to a day ([`Config::validate`]).
    pub(super) fn timeout_ms(&self) -> u64 {
        u64::try_from(self.config.inactivity_timeout.as_millis()).unwrap_or(u64::MAX)
    }

    /// Closes up to `limit` channels whose inactivity timeout has passed; returns how many.
    pub(super) fn expire(&mut self, now: u64, limit: usize) -> usize {
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
            let due = entry.last_seen_ms(now).saturating_add(timeout);
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
    pub(super) fn after_expiry(&mut self, expired: usize, now: u64) {
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

    pub(super) fn close(&mut self, slot: u32, reason: CloseReason, now: u64) {
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
            target: CHANNEL_EVENTS_LOG_TARGET,
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

    /// Renumbers the open channels into a table sized for them and frees the rest, with the
    /// seat book and the per-source half-open counts, so the memory of a mass expiry goes
    /// back to the allocator (and from there to the OS: the large blocks are unmapped).
    /// Costs one pass over the old tables, which is why it only runs once the channel table
    /// is at least 7/8 empty, and never while sends are queued (their tags name slots).
    pub(super) fn shrink(&mut self, now: u64) {
        let open = self.channels.open();
        let timeout = self.timeout_ms();
        let mut moves = Vec::with_capacity(open);
        self.channels = self.channels.compacted(&mut moves);
        self.deadlines = Deadlines::with_capacity(open);
        for &(_, slot) in &moves {
            let entry = self.channels.record_mut(slot);
            entry.set_queued(true);
            let due = entry.last_seen_ms(now).saturating_add(timeout);
            self.deadlines.push(due, slot);
        }
        self.events.shrink_to_fit();
        // The tables that hold an entry per channel (seats) or per source of a half-open
        // channel free their peak with it.
        self.seats.shrink_to_fit();
        self.admission.pending.shrink_to_fit();
        self.admission.meters.renumber(&moves);
        drop(moves);
        net::memory::release_free_memory();
        log::debug!("channel table shrunk to {open} open channels");
    }

    pub(super) fn report_drained(&mut self) {
        if self.is_drained() && !self.drained_reported {
            self.drained_reported = true;
            log::info!("drained: no channel open");
            self.push_event(Event::Drained);
        }
    }

    pub(super) fn push_event(&mut self, event: Event) {
        if self.events.len() >= self.config.max_pending_events {
            self.stats.events_dropped += 1;
        } else {
            self.events.push_back(event);
        }
    }
}
